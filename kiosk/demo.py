"""``kiosk demo``: the job-track simulator in-process on a free port, and the kiosk against it.

The demo config is written as a real TOML file in a temporary folder (journal included),
so the demo takes exactly the path a station takes. Lead PIN 1234; badges OP1001/OP1002;
a scan starting with LEAD is a lead badge.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from kiosk.config import load_config
from kiosk.simulators.jobtrack import JobTrackSim, demo_data
from kiosk.simulators.server import SimServer
from kiosk.station.pin import hash_pin

DEMO_PIN = "1234"

_PROFILES = [
    ("LP", "LP", "Lens Processing", False),
    ("AR", "AR", "Anti-Reflective Coat", False),
    ("QC", "QC", "Final Inspection", False),
    ("INSP", "INSP", "Inspection (operator required)", True),
    ("UV", "UV", "Rework", False),
]


def demo_config_text(base_url: str, pin_hash: str) -> str:
    lines = [
        "# Written by `kiosk demo`: the built-in simulator and demo data.",
        "[kiosk]",
        'profile = "LP"',
        'journal = "demo-journal.sqlite3"',
        "allow_quit = true",
        "",
        "[backends.demo]",
        'vendor = "jobtrack"',
        f'base_url = "{base_url}"',
        "timeout_s = 3.0",
        "",
        "[lead]",
        f'pin_hash = "{pin_hash}"',
        'badge_pattern = "^LEAD"',
    ]
    for name, station, description, requires in _PROFILES:
        lines += [
            "",
            "[[profiles]]",
            f'name = "{name}"',
            'backend = "demo"',
            f'station = "{station}"',
            f'description = "{description}"',
            'operator_pattern = "^OP\\\\d+$"',
            'ack_barcode = "ACK"',
            f"requires_operator = {'true' if requires else 'false'}",
        ]
    return "\n".join(lines) + "\n"


def run_demo(headless: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="kiosk-demo-") as folder, \
            SimServer(JobTrackSim(demo_data())) as server:
        path = Path(folder) / "demo.toml"
        path.write_text(demo_config_text(server.url, hash_pin(DEMO_PIN)), encoding="utf-8")
        config = load_config(path)
        if headless:
            from kiosk.headless import run_headless

            print(f"kiosk demo: simulator at {server.url}; type a code and Enter (72544, 101, 109 ...)",
                  file=sys.stderr)
            return asyncio.run(run_headless(config))
        from kiosk.tui.app import run_tui

        return asyncio.run(run_tui(config))
