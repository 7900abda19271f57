"""Headless mode as a real subprocess: ``python -m kiosk run --headless --config FILE``.

stdout carries only JSON lines (the contract fields); messages go to stderr, never with a
traceback or raw control characters; exit codes 0 (end of input, SIGTERM), 2 (cannot
start), 3 (journal lost while running). Queued scans print a second line with the same id
and ``"replay": true`` when they are finally delivered, also by the next run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BurstSim, order_code

from kiosk.journal import Journal
from kiosk.results import JSON_FIELDS

REPO = Path(__file__).resolve().parent.parent
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def kiosk_command(config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config), *extra]


def kiosk_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


def run_kiosk(config: Path, stdin: bytes, *extra: str, timeout: float = 20) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(kiosk_command(config, *extra), input=stdin, capture_output=True, timeout=timeout,
                          env=kiosk_env(), cwd=REPO)


def json_lines(stdout: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.decode("ascii").splitlines()]


def fault(url: str, **request: Any) -> None:
    assert httpx.post(f"{url}/__sim__/faults", json=request, timeout=5).status_code == 200


def assert_clean_stderr(stderr: bytes) -> str:
    text = stderr.decode("utf-8")
    assert "Traceback" not in text
    assert not CONTROL.search(text.replace("\n", "")), repr(text)
    return text


def test_json_lines_carry_the_contract_fields(burst_sim: BurstSim, write_config) -> None:
    proc = run_kiosk(write_config(burst_sim.url), f"{order_code(1)}\nH001\n".encode())
    assert proc.returncode == 0, proc.stderr
    lines = json_lines(proc.stdout)
    assert [line["outcome"] for line in lines] == ["ok", "rejected"]
    for line in lines:
        assert set(JSON_FIELDS) <= set(line)
    ok = lines[0]
    assert (ok["scan"], ok["station"], ok["profile"], ok["order_number"]) == (order_code(1), "LP", "LP", order_code(1))
    assert isinstance(ok["id"], int) and isinstance(ok["latency_ms"], float) and ok["ts"].endswith("Z")
    assert lines[1]["details"] == ["Order on hold"] and lines[1]["id"] == ok["id"] + 1
    assert_clean_stderr(proc.stderr)


def test_queued_scans_print_replay_lines_in_this_run_and_the_next(burst_sim: BurstSim, write_config) -> None:
    config = write_config(burst_sim.url)
    fault(burst_sim.url, down=True)
    first = run_kiosk(config, "".join(f"{order_code(n)}\n" for n in range(3)).encode())
    assert first.returncode == 0
    queued = json_lines(first.stdout)
    assert [(q["outcome"], q["waiting"]) for q in queued] == [("queued", 1), ("queued", 2), ("queued", 3)]
    assert "3 scan(s) still waiting" in assert_clean_stderr(first.stderr)
    fault(burst_sim.url, down=False)
    second = run_kiosk(config, f"{order_code(5)}\n".encode(), "--drain", "5")
    assert second.returncode == 0, second.stderr
    lines = json_lines(second.stdout)
    replays = [line for line in lines if line.get("replay")]
    # The new scan may have waited behind the old ones: then it has a replay line of its own.
    assert [(r["id"], r["outcome"]) for r in replays][:3] == [(q["id"], "ok") for q in queued]
    assert {r["outcome"] for r in replays} == {"ok"}
    assert burst_sim.delivered() == [order_code(n) for n in (0, 1, 2, 5)]


def test_sigterm_finishes_every_scan_already_read(burst_sim: BurstSim, write_config) -> None:
    proc = subprocess.Popen(kiosk_command(write_config(burst_sim.url)), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=kiosk_env(), cwd=REPO)
    assert proc.stdin and proc.stdout
    proc.stdin.write(f"{order_code(0)}\n".encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["outcome"] == "ok"  # up and running
    fault(burst_sim.url, delay_s=0.3, count=1)  # the next scan is in flight when SIGTERM comes
    proc.stdin.write("".join(f"{order_code(n)}\n" for n in range(1, 6)).encode())
    proc.stdin.flush()
    deadline = time.monotonic() + 5
    while not burst_sim.recorder.in_flight:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert [line["scan"] for line in json_lines(out)] == [order_code(n) for n in range(1, 6)]
    assert burst_sim.delivered() == [order_code(n) for n in range(6)]
    assert_clean_stderr(err)


def test_broken_config_exits_2_naming_file_and_key(tmp_path: Path, write_config) -> None:
    config = write_config("http://127.0.0.1:9", backend={"timeout_s": -1})
    proc = run_kiosk(config, b"")
    assert proc.returncode == 2 and proc.stdout == b""
    message = assert_clean_stderr(proc.stderr)
    assert str(config) in message and "backends.jt.timeout_s" in message
    assert len(message.strip().splitlines()) == 1


@pytest.mark.parametrize("journal,problem", [
    ("missing/journal.sqlite3", "does not exist"),
    ("garbage.sqlite3", "not a kiosk journal"),
])
def test_unusable_journal_is_a_clear_message(tmp_path: Path, write_config, journal: str, problem: str) -> None:
    (tmp_path / "garbage.sqlite3").write_bytes(b"this is not SQLite\x00" * 100)
    proc = run_kiosk(write_config("http://127.0.0.1:9", journal=journal), b"12345\n")
    assert proc.returncode != 0 and proc.stdout == b""
    message = assert_clean_stderr(proc.stderr)
    assert problem in message and journal.split("/")[-1] in message


def test_journal_lost_while_running_exits_3(burst_sim: BurstSim, write_config, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    config = write_config(burst_sim.url, journal="data/journal.sqlite3")
    proc = subprocess.Popen(kiosk_command(config), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=kiosk_env(), cwd=REPO)
    assert proc.stdin and proc.stdout
    proc.stdin.write(f"{order_code(0)}\n".encode())
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline())["outcome"] == "ok"
    shutil.rmtree(tmp_path / "data")
    proc.stdin.write(f"{order_code(1)}\n{order_code(2)}\n".encode())
    proc.stdin.flush()
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 3 and out == b""
    message = assert_clean_stderr(err)
    assert "Scans are NOT being accepted" in message and "deleted or moved" in message
    assert burst_sim.delivered() == [order_code(0)]


def test_hostile_scans_never_crash_it_nor_reach_stderr_raw(burst_sim: BurstSim, write_config,
                                                           tmp_path: Path) -> None:
    hostile = [b"[bold]x[/]", b"\x1b[31mred\x1b[0m", b"nul\x00byte", b"bad\xff\xfeutf8", b"\x1b]0;title\x07",
               b"\x9b31m", "\u202eevil".encode()]
    proc = run_kiosk(write_config(burst_sim.url), b"\n".join(hostile) + f"\n{order_code(1)}\n".encode())
    assert proc.returncode == 0
    lines = json_lines(proc.stdout)  # ASCII JSON: no raw control character can reach stdout
    assert lines[-1]["outcome"] == "ok" and lines[-1]["scan"] == order_code(1)
    assert "[bold]x[/]" in [line["scan"] for line in lines]
    assert_clean_stderr(proc.stderr)
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        assert [journal.get(line["id"]).text for line in lines] == [line["scan"] for line in lines]


def test_scans_received_but_not_handled_are_processed_first_at_the_next_start(burst_sim: BurstSim,
                                                                              write_config) -> None:
    from kiosk.config import load_config
    from kiosk.runtime import build_runtime
    from kiosk.station import Scan

    config = write_config(burst_sim.url)
    runtime = build_runtime(load_config(config))
    waiting = [runtime.service.receive(Scan(order_code(n), scanner="bench")) for n in (7, 8)]
    runtime.journal.close()  # the previous run stopped before handling them
    proc = run_kiosk(config, f"{order_code(9)}\n".encode())
    assert proc.returncode == 0, proc.stderr
    lines = json_lines(proc.stdout)
    assert [(line["id"], line["scan"], line["scanner"], line["outcome"]) for line in lines] == [
        (waiting[0], order_code(7), "bench", "ok"), (waiting[1], order_code(8), "bench", "ok"),
        (waiting[1] + 1, order_code(9), "stdin", "ok")]
    assert burst_sim.delivered() == [order_code(n) for n in (7, 8, 9)]
