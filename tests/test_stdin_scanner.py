"""stdin scanner: one scan per line from a pipe or a stream, 'ended' at EOF."""

from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import time

from devices.events import ScanEvent, StateEvent, UnreadableEvent
from devices.stdin_scanner import StdinScanner


def collect_until_ended(scanner, timeout=3.0):
    events = queue.Queue()
    scanner.start(events.put)
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.get(timeout=0.05)
        except queue.Empty:
            continue
        seen.append(event)
        if isinstance(event, StateEvent) and event.state == "ended":
            scanner.stop()
            return seen
    scanner.stop()
    raise AssertionError(f"no 'ended' event; seen {seen}")


def test_lines_from_a_pipe():
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"A1\nB2\r\n\n]C1X\x1dY\nLAST")
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as stream:
        seen = collect_until_ended(StdinScanner("in", stream=stream))
    scans = [e for e in seen if isinstance(e, ScanEvent)]
    assert [e.text for e in scans] == ["A1", "B2", "X\x1dY", "LAST"]
    assert scans[2].symbology == "]C1"
    assert seen[0] == StateEvent("in", "connected") and seen[-1].message == "end of input"


def test_a_stream_without_a_file_descriptor():
    seen = collect_until_ended(StdinScanner("in", stream=io.BytesIO(b"\xffbad\nok\n")))
    assert [(e.reason, e.raw) for e in seen if isinstance(e, UnreadableEvent)] == [("decode_error", b"\xffbad")]
    assert [e.text for e in seen if isinstance(e, ScanEvent)] == ["ok"]


def test_stop_is_prompt_while_the_pipe_stays_open():
    read_fd, write_fd = os.pipe()
    try:
        with os.fdopen(read_fd, "rb") as stream:
            events = queue.Queue()
            scanner = StdinScanner("in", stream=stream)
            scanner.start(events.put)
            os.write(write_fd, b"ONE\n")
            deadline = time.monotonic() + 3
            while scanner.stats.frames < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            started = time.monotonic()
            scanner.stop()
            assert time.monotonic() - started < 1.0 and scanner.stats.last_text == "ONE"
    finally:
        os.close(write_fd)


def test_real_stdin_pipe_in_a_subprocess():
    code = (
        "import queue\n"
        "from devices.stdin_scanner import StdinScanner\n"
        "q = queue.Queue(); s = StdinScanner(); s.start(q.put)\n"
        "while True:\n"
        "    e = q.get(timeout=5)\n"
        "    print(type(e).__name__, getattr(e, 'text', getattr(e, 'state', '')))\n"
        "    if getattr(e, 'state', '') == 'ended': break\n"
    )
    result = subprocess.run([sys.executable, "-c", code], input=b"T-1\nT-2\n", capture_output=True, timeout=20,
                            check=False, cwd=os.path.dirname(os.path.dirname(__file__)))
    assert result.stdout.decode().split("\n")[:4] == [
        "StateEvent connected", "ScanEvent T-1", "ScanEvent T-2", "StateEvent ended"]
