"""``kiosk journal --config FILE export|stats`` as subprocesses, after a real headless run."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import BurstSim, hold_code, order_code

REPO = Path(__file__).resolve().parent.parent


def kiosk(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, timeout=20,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


@pytest.fixture
def journaled(burst_sim: BurstSim, write_config) -> Path:
    """A config whose journal holds one headless run: two check-ins, one refusal, one odd scan."""
    config = write_config(burst_sim.url)
    scans = f"{order_code(1)}\n{hold_code(1)}\n{order_code(2)}\nodd,\"scan\"\n".encode()
    run = kiosk("run", "--headless", "--config", str(config), stdin=scans)
    assert run.returncode == 0, run.stderr
    return config


def test_export_jsonl_has_every_scan_with_its_outcome(journaled: Path) -> None:
    proc = kiosk("journal", "--config", str(journaled), "export")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(r["text"], r["status"], r["outcome"]) for r in rows] == [
        (order_code(1), "done", "ok"), (hold_code(1), "done", "rejected"),
        (order_code(2), "done", "ok"), ('odd,"scan"', "done", "rejected")]
    assert rows[1]["details"] == ["Order on hold"] and rows[0]["order_number"] == order_code(1)


def test_export_csv_round_trips(journaled: Path) -> None:
    proc = kiosk("journal", "--config", str(journaled), "export", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert [r["text"] for r in rows] == [order_code(1), hold_code(1), order_code(2), 'odd,"scan"']
    assert rows[1]["details"] == "Order on hold"


def test_export_since_filters_by_time(journaled: Path) -> None:
    future = kiosk("journal", "--config", str(journaled), "export", "--since", "2999-01-01")
    assert (future.returncode, future.stdout) == (0, "")
    past = kiosk("journal", "--config", str(journaled), "export", "--since", "2000-01-01T00:00")
    assert len(past.stdout.splitlines()) == 4
    bad = kiosk("journal", "--config", str(journaled), "export", "--since", "yesterday")
    assert bad.returncode == 2 and "not an ISO date" in bad.stderr and "Traceback" not in bad.stderr


def test_stats_counts_by_outcome(journaled: Path) -> None:
    proc = kiosk("journal", "--config", str(journaled), "stats")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Scans: 4"
    counts = {line.split()[0]: int(line.split()[-1]) for line in lines if line.split()[:1] in (["ok"], ["rejected"])}
    assert counts == {"ok": 2, "rejected": 2}


def test_journal_command_without_a_journal_says_so(tmp_path: Path, write_config) -> None:
    proc = kiosk("journal", "--config", str(write_config("http://127.0.0.1:9")), "stats")
    assert proc.returncode == 1 and "no journal yet" in proc.stderr and "Traceback" not in proc.stderr
