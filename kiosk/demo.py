"""``kiosk demo``: every vendor simulator in-process on a free port, and the kiosk against them.

The demo config is written as a real TOML file in a temporary folder (journal and token files
included), so the demo takes exactly the path a station takes. Lead PIN 1234; badges
OP1001/OP1002; a scan starting with LEAD is a lead badge. Each vendor adds one ``DemoVendor``
to ``DEMO_VENDORS``: its simulator, its backend table and its profiles; the first profile of
the first vendor is where the demo starts.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from kiosk.config import load_config
from kiosk.simulators import jobtrack, loadings, movilitas, prodsmart, scantrust
from kiosk.simulators.server import SimApp, SimServer
from kiosk.station.pin import hash_pin

DEMO_PIN = "1234"

TomlValue = str | float | int | bool | list[str] | dict[str, Any]


@dataclass(frozen=True)
class DemoVendor:
    backend: str
    """The backend's name in the demo config."""
    simulator: Callable[[], SimApp]
    backend_keys: dict[str, TomlValue]
    """The backend table's keys besides base_url (vendor first)."""
    profiles: list[dict[str, TomlValue]]
    files: dict[str, str] = field(default_factory=dict)
    """Files written beside the config (token files), name -> content."""


def _jobtrack_profile(name: str, description: str, requires: bool = False) -> dict[str, TomlValue]:
    return {"name": name, "backend": "demo", "station": name, "description": description,
            "operator_pattern": "^OP\\d+$", "ack_barcode": "ACK", "requires_operator": requires}


DEMO_VENDORS: list[DemoVendor] = [
    DemoVendor("demo", lambda: jobtrack.JobTrackSim(jobtrack.demo_data()), {"vendor": "jobtrack", "timeout_s": 3.0}, [
        _jobtrack_profile("LP", "Lens Processing"),
        _jobtrack_profile("AR", "Anti-Reflective Coat"),
        _jobtrack_profile("QC", "Final Inspection"),
        _jobtrack_profile("INSP", "Inspection (operator required)", True),
        _jobtrack_profile("UV", "Rework"),
    ]),
    DemoVendor("pack", movilitas.MovilitasSim,
               {"vendor": "movilitas", "timeout_s": 3.0, "token_file": "movilitas-token",
                "channel_key_file": "movilitas-channel-key"},
               [{"name": "PACK", "backend": "pack", "station": "LINE1", "action": "release-to-line",
                 "description": "Packaging line 1", "ack_barcode": "ACK"}],
               files={"movilitas-token": movilitas.DEMO_TOKEN + "\n",
                      "movilitas-channel-key": movilitas.DEMO_CHANNEL_KEY + "\n"}),
    DemoVendor("print", scantrust.ScantrustSim,
               {"vendor": "scantrust", "timeout_s": 3.0, "token_file": "scantrust-token",
                "substrate": scantrust.DEMO_SUBSTRATE, "equipment": scantrust.DEMO_EQUIPMENT,
                "external_id": scantrust.DEMO_EXTERNAL_ID},
               [{"name": "PRINT", "backend": "print", "station": "PRESS1", "action": "printer-confirm",
                 "description": "Secure-code press 1", "ack_barcode": "ACK"}],
               files={"scantrust-token": scantrust.DEMO_TOKEN + "\n"}),
    DemoVendor("dock", lambda: loadings.LoadingsSim(loadings.demo_data()), {
        "vendor": "loadings", "timeout_s": 3.0,
        "item_units": {u.barcode: {"id": u.id, "name": u.name} for u in loadings.demo_data().item_units if u.barcode},
    }, [
        {"name": "DOCK", "backend": "dock", "station": "DOCK-1", "action": "loading",
         "description": "Loading dock: van VAN-07", "operator_pattern": "^OP\\d+$", "ack_barcode": "ACK",
         "gs1": True, "plain_patterns": ["^LD-", "^SN-"], "duplicate_window_s": 0,
         "params": {"warehouse": loadings.DEMO_VAN, "type": 1, "reason": loadings.DEMO_REASON, "serial_prefix": "SN-"}},
    ]),
    DemoVendor("prodsmart", lambda: prodsmart.ProdsmartSim(prodsmart.demo_data()),
               {"vendor": "prodsmart", "timeout_s": 3.0, "key_file": "prodsmart-key",
                "secret_file": "prodsmart-secret"}, [
        {"name": "PO", "backend": "prodsmart", "station": "PO", "action": "production-order",
         "description": "Production orders (Prodsmart)", "operator_pattern": "^OP\\d+$", "ack_barcode": "ACK"},
        {"name": "CNT", "backend": "prodsmart", "station": "A32", "action": "machine-counter",
         "description": "Press A32: good parts and waste (Prodsmart)", "operator_pattern": "^OP\\d+$",
         "ack_barcode": "ACK", "duplicate_window_s": 0, "params": {"waste_prefix": "WASTE:"}},
        {"name": "DT", "backend": "prodsmart", "station": "A32", "action": "downtime",
         "description": "Press A32: downtime cards (Prodsmart)", "operator_pattern": "^OP\\d+$", "ack_barcode": "ACK"},
    ], files={"prodsmart-key": f"{prodsmart.DEMO_KEY}\n", "prodsmart-secret": f"{prodsmart.DEMO_SECRET}\n"}),
]


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(str(k))} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def demo_config_text(urls: dict[str, str], pin_hash: str) -> str:
    """The demo's config: one backend per vendor (at ``urls[backend]``), all their profiles."""
    first = DEMO_VENDORS[0].profiles[0]["name"]
    lines = [
        "# Written by `kiosk demo`: the built-in simulators and demo data.",
        "[kiosk]",
        f"profile = {_toml(first)}",
        'journal = "demo-journal.sqlite3"',
        "allow_quit = true",
    ]
    for vendor in DEMO_VENDORS:
        lines += ["", f"[backends.{vendor.backend}]", f"vendor = {_toml(vendor.backend_keys['vendor'])}",
                  f"base_url = {_toml(urls[vendor.backend])}"]
        lines += [f"{key} = {_toml(value)}" for key, value in vendor.backend_keys.items() if key != "vendor"]
    lines += ["", "[lead]", f"pin_hash = {_toml(pin_hash)}", 'badge_pattern = "^LEAD"']
    for vendor in DEMO_VENDORS:
        for profile in vendor.profiles:
            lines += ["", "[[profiles]]"] + [f"{key} = {_toml(value)}" for key, value in profile.items()]
    return "\n".join(lines) + "\n"


def run_demo(headless: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as folder, ExitStack() as servers:
        urls = {v.backend: servers.enter_context(SimServer(v.simulator())).url for v in DEMO_VENDORS}
        for vendor in DEMO_VENDORS:
            for name, content in vendor.files.items():
                token = Path(folder) / name
                token.write_text(content, encoding="utf-8")
                token.chmod(0o600)
        path = Path(folder) / "demo.toml"
        path.write_text(demo_config_text(urls, hash_pin(DEMO_PIN)), encoding="utf-8")
        config = load_config(path)
        if headless:
            from kiosk.headless import run_headless

            print(f"kiosk demo: simulators at {', '.join(urls.values())}; type a code and Enter "
                  "(72544, 101, 109 ...)", file=sys.stderr)
            return asyncio.run(run_headless(config))
        from kiosk.tui.app import run_tui

        return asyncio.run(run_tui(config))
