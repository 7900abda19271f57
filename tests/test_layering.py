"""The layering rules hold: the core imports no textual, connectors import no station logic."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def loaded_modules(module: str) -> set[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return {name.split(".")[0] if not name.startswith("kiosk") else name for name in json.loads(out.stdout)}


@pytest.mark.parametrize("module", ["kiosk.station", "kiosk.journal", "kiosk.connectors.jobtrack",
                                    "kiosk.service", "kiosk.headless", "kiosk.config"])
def test_core_imports_no_textual(module):
    assert "textual" not in loaded_modules(module)


@pytest.mark.parametrize("module", ["kiosk.connectors.jobtrack", "kiosk.connectors.movilitas",
                                    "kiosk.connectors.scantrust"])
def test_connectors_know_nothing_of_station_logic_or_journal(module):
    modules = loaded_modules(module)
    assert not {m for m in modules if m.startswith(("kiosk.station", "kiosk.journal", "kiosk.service"))}
    assert "textual" not in modules


def test_station_logic_does_no_io():
    modules = loaded_modules("kiosk.station")
    assert not {"httpx", "sqlite3", "textual", "serial"} & modules


def test_gs1_parsing_is_loaded_only_by_gs1_stations():
    """biip costs about 15 MB and 0.1 s of start-up: a station that reads no GS1 never loads it."""
    for module in ("kiosk.headless", "kiosk.tui.app", "kiosk.config", "kiosk.connectors.loadings"):
        assert "biip" not in loaded_modules(module), module
