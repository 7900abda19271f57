"""Connectors are plug-ins: a third-party package registered under the entry-point group
``kiosk.connectors`` is picked up with its own config model and actions, and a profile uses it.

The package is "installed" the way pip installs one: a folder on ``sys.path`` holding the
module and a ``*.dist-info`` with ``entry_points.txt``. The kiosk runs in a subprocess with
that folder on PYTHONPATH, headless, against standard input.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CONNECTOR = '''
"""A plant's own vendor: stamps a part; no network needed for the test."""
from typing import Literal

from kiosk.connectors.base import (ActionSpec, BackendConfig, ConnectorPlugin, DisplayField, Done, Probe,
                                   Rejected, Request)


class AcmeConfig(BackendConfig):
    vendor: Literal["acme"]
    stamp_prefix: str = "A-"


STAMP = ActionSpec("stamp", verb="stamped", queueable=False, idempotent=False, commands=frozenset({"RESET"}))


class AcmeConnector:
    vendor = "acme"
    actions = {STAMP.name: STAMP}

    def __init__(self, name, config, *, base_dir=None, transport=None):
        self.name, self.config = name, config

    async def perform(self, request: Request):
        if request.command == "RESET":
            return Done(title="Counter reset")
        if request.identifier.startswith("BAD"):
            return Rejected("Part scrapped", ("Acme says no",), 409)
        stamp = self.config.stamp_prefix + request.identifier
        return Done(title="Stamped", shown=(DisplayField("stamp", "Stamp", stamp),
                                            DisplayField("station", "Station", request.station)))

    async def probe(self, station=None):
        return Probe(True, f"acme is always there (station {station})")

    async def aclose(self):
        pass


PLUGIN = ConnectorPlugin("acme", AcmeConfig, AcmeConnector, AcmeConnector.actions, "Acme stamping press")
'''


def install_acme(site: Path) -> None:
    (site / "acme_kiosk.py").write_text(CONNECTOR)
    info = site / "acme_kiosk-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-kiosk\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[kiosk.connectors]\nacme = acme_kiosk:PLUGIN\n")


def config_text(tmp: Path, extra_backend: str = "") -> str:
    return textwrap.dedent(f"""\
        [kiosk]
        profile = "PRESS"
        journal = "{tmp / 'journal.sqlite3'}"

        [backends.press]
        vendor = "acme"
        base_url = "http://127.0.0.1:9"
        stamp_prefix = "P7-"
        {extra_backend}

        [[profiles]]
        name = "PRESS"
        backend = "press"
        station = "S1"
        action = "stamp"
        """)


def run_kiosk(site: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=60)


def test_third_party_connector_is_used_by_a_profile(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_acme(site)
    config = tmp_path / "kiosk.toml"
    config.write_text(config_text(tmp_path))
    done = run_kiosk(site, "run", "--headless", "--config", str(config), stdin="X1\nBAD2\nCMD:RESET\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["scan"], line["outcome"], line["title"]) for line in lines] == [
        ("X1", "ok", "Stamped"), ("BAD2", "rejected", "Part scrapped"), ("CMD:RESET", "ok", "Counter reset")]
    assert lines[0]["fields"] == {"stamp": "P7-X1", "station": "S1"} and lines[0]["action"] == "stamp"
    assert lines[1]["details"] == ["Acme says no"]

    doctor = run_kiosk(site, "doctor", "--config", str(config))
    assert "acme" in doctor.stdout and "Acme stamping press" in doctor.stdout and "jobtrack" in doctor.stdout
    assert "acme is always there (station S1)" in doctor.stdout


def test_vendor_keys_belong_to_the_vendors_model(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_acme(site)
    config = tmp_path / "kiosk.toml"
    config.write_text(config_text(tmp_path, 'order_field = "order"'))  # a job-track key, not acme's
    done = run_kiosk(site, "run", "--headless", "--config", str(config))
    assert done.returncode == 2
    assert f"{config}: backends.press.order_field: unknown key" in done.stderr
    assert "Traceback" not in done.stderr

    config.write_text(config_text(tmp_path).replace('action = "stamp"', 'action = "checkin"'))
    done = run_kiosk(site, "run", "--headless", "--config", str(config))
    assert done.returncode == 2
    assert f"{config}: profiles[0].action: the acme connector has no action 'checkin' (it has: stamp)" in done.stderr


def test_a_vendor_that_is_not_installed_is_named(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(config_text(tmp_path))
    done = run_kiosk(tmp_path, "run", "--headless", "--config", str(config))
    assert done.returncode == 2
    assert f"{config}: backends.press.vendor: no connector for vendor 'acme' is installed" in done.stderr
