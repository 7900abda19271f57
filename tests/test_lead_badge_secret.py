"""A lead badge grants lead authority, so its value is a secret: scanning it leaves no trace of
the value in the journal (scans, events), the JSON lines or the exports; only a short tag of
its hash, "lead (badge …TAG)". Operator badges are identities, not secrets, and stay as they are.
Through the real path: the headless kiosk in a subprocess, the journal file, the export CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import BurstSim, order_code

from kiosk.station.state import lead_label

REPO = Path(__file__).resolve().parent.parent
BADGE = "LEAD-7F3Q-SECRET"


def kiosk(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_lead_badge_value_is_never_stored_or_printed(burst_sim: BurstSim, write_config, tmp_path: Path) -> None:
    config = write_config(burst_sim.url)
    run = kiosk("run", "--headless", "--config", str(config),
                stdin=f"{BADGE}\nCMD:PROFILE:BC\n{order_code(1)}\nOP1001\n")
    assert run.returncode == 0, run.stderr
    assert BADGE not in run.stdout and BADGE not in run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert (lines[0]["scan"], lines[0]["outcome"]) == (lead_label(BADGE), "lead")
    assert lines[-1]["scan"] == "OP1001"  # any other scan is shown exactly as scanned

    journal_bytes = b"".join(p.read_bytes() for p in tmp_path.glob("journal.sqlite3*"))
    assert BADGE.encode() not in journal_bytes
    for fmt in ("jsonl", "csv"):
        export = kiosk("journal", "--config", str(config), "export", "--since", "all", "--format", fmt)
        assert export.returncode == 0, export.stderr
        assert BADGE not in export.stdout
        assert lead_label(BADGE) in (export.stdout if fmt == "csv" else export.stdout.encode().decode("unicode_escape"))
