"""``kiosk journal --config FILE export|stats`` as subprocesses, after a real headless run."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from conftest import BurstSim, hold_code, kiosk_config_text, order_code

REPO = Path(__file__).resolve().parent.parent


def kiosk(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, timeout=20,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO, check=False)
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
    assert rows[1]["details"] == ["Order on hold"]
    assert [f["value"] for f in rows[0]["fields"] if f["label"] == "Order"] == [order_code(1)]


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


# -- read-only beside a running kiosk, one kiosk per journal (issues 11, 12) -------------------------

def test_a_second_kiosk_is_refused_while_export_and_stats_read_beside_the_first(burst_sim: BurstSim,
                                                                                write_config) -> None:
    config = write_config(burst_sim.url)
    first = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert first.stderr is not None and first.stdin is not None and first.stdout is not None
        assert first.stderr.readline().startswith(b"kiosk: ready")
        first.stdin.write(f"{order_code(5)}\n".encode())
        first.stdin.flush()
        assert json.loads(first.stdout.readline())["outcome"] == "ok"

        second = kiosk("run", "--headless", "--config", str(config), stdin=f"{order_code(6)}\n".encode())
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert f"another kiosk (PID {first.pid}) is using this journal; stop it first" in second.stderr
        assert burst_sim.delivered() == [order_code(5)]  # the second one sent nothing

        export = kiosk("journal", "--config", str(config), "export")
        assert export.returncode == 0, export.stderr
        assert [json.loads(line)["text"] for line in export.stdout.splitlines()] == [order_code(5)]
        stats = kiosk("journal", "--config", str(config), "stats")
        assert stats.returncode == 0 and stats.stdout.startswith("Scans: 1\n"), stats.stdout + stats.stderr
    finally:
        first.kill()
        first.wait()


def test_stats_counts_today_by_default_and_everything_with_since_all(journaled: Path) -> None:
    from kiosk.config import load_config
    from kiosk.journal import Journal

    with Journal.open(load_config(journaled).journal_path) as journal:
        journal.add_scan(scanner="s", source="scanner", profile="LP", station="LP", backend="jt", operator=None,
                         kind="job", text="OLD", raw=None, symbology=None, status="done", outcome="ok",
                         ts="2026-01-05T10:00:00Z")
    today = kiosk("journal", "--config", str(journaled), "stats")
    assert today.returncode == 0, today.stderr
    assert today.stdout.splitlines()[:2] == [
        "Scans: 4",
        f"Period: today, since {datetime.now():%Y-%m-%d} 00:00 local time (--since all for the whole journal)"]
    every = kiosk("journal", "--config", str(journaled), "stats", "--since", "all")
    assert every.stdout.splitlines()[:2] == ["Scans: 5", "Period: the whole journal"]
    assert "2026-01-05T10" in every.stdout and "2026-01-05T10" not in today.stdout
    since = kiosk("journal", "--config", str(journaled), "stats", "--since", "2026-01-01")
    assert since.stdout.splitlines()[:2] == ["Scans: 5", "Period: since 2026-01-01"]


def test_export_shows_progress_on_a_terminal_and_nothing_on_a_pipe(journaled: Path) -> None:
    piped = kiosk("journal", "--config", str(journaled), "export")
    assert piped.returncode == 0 and len(piped.stdout.splitlines()) == 4 and piped.stderr == ""

    controller, terminal = os.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "kiosk", "journal", "--config", str(journaled), "export"],
                              stdout=subprocess.PIPE, stderr=terminal, timeout=20, cwd=REPO, check=False,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the terminal's other end is closed
            while chunk := os.read(controller, 4096):
                shown += chunk
    finally:
        os.close(controller)
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 4
    assert b"kiosk: exported 4 of 4 scans (100 %)" in shown


def test_export_to_a_reader_that_stops_early_is_quiet(journaled: Path) -> None:
    """``kiosk journal export | head -1``: no traceback, no broken-pipe noise."""
    proc = subprocess.run(f"{sys.executable} -m kiosk journal --config {journaled} export | head -c 10",
                          shell=True, capture_output=True, timeout=20, cwd=REPO, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert len(proc.stdout) == 10 and proc.stderr == b""


# -- CSV for spreadsheets (issue 10) ------------------------------------------------------------------

def test_csv_export_escapes_controls_neutralises_formulas_and_fills_raw(burst_sim: BurstSim, tmp_path: Path) -> None:
    """A latin-1 scanner ending frames with CR: hostile scans go through a real headless run,
    then ``kiosk journal export --format csv`` must be safe to open in a spreadsheet."""
    config = tmp_path / "kiosk.toml"
    config.write_text(kiosk_config_text(burst_sim.url) + '\n[[scanners]]\nname = "in"\nkind = "stdin"\n'
                      'terminator = "\\r"\nencoding = "latin-1"\n', encoding="utf-8")
    scans = [b'=HYPERLINK("http://evil.example","x")', b"\x1b[31mred", b"01\x1d21\tx", b"@SUM(A1)", b"-5",
             b"+1", b"J\xfc1"]
    run = kiosk("run", "--headless", "--config", str(config), stdin=b"\r".join(scans) + b"\r")
    assert run.returncode == 0, run.stderr

    proc = kiosk("journal", "--config", str(config), "export", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stdout
    rows = list(csv.DictReader(io.StringIO(proc.stdout, newline="")))
    assert [r["text"] for r in rows] == ['\'=HYPERLINK("http://evil.example","x")', "<ESC>[31mred", "01<GS>21<TAB>x",
                                         "'@SUM(A1)", "'-5", "'+1", "Jü1"]
    for row in rows:
        for value in row.values():
            assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value), row
            assert not value.startswith(("=", "+", "-", "@")), row
    # raw: hex of the scanner's bytes wherever they differ from the text's UTF-8
    assert [r["raw"] for r in rows] == ["", "", "", "", "", "", "4afc31"]

    exact = kiosk("journal", "--config", str(config), "export")  # JSON lines keep every value exact
    lines = [json.loads(line) for line in exact.stdout.splitlines()]
    assert [line["text"] for line in lines] == [s.decode("latin-1") for s in scans]
    assert lines[-1]["raw"] == "4afc31"
