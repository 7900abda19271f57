"""Headless kiosk with a serial scanner: a pseudo-terminal behind a by-id style symlink.

The kiosk runs as a real subprocess against the simulator over loopback HTTP. The scanner is
unplugged (master closed, link removed) and plugged back (new pty, link re-pointed): frames
completed before the unplug are processed, the disconnect is reported on stderr, and scans
after the replug are processed too, all in order.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from kiosk.simulators.jobtrack import JobTrackSim, demo_data
from kiosk.simulators.server import SimServer


class Plug:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None

    def plug(self) -> None:
        self.master, self.slave = os.openpty()
        tmp = self.link.with_suffix(".new")
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)

    def unplug(self) -> None:
        assert self.master is not None and self.slave is not None
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = None
        self.link.unlink()

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)


class Lines:
    """Collects a stream's lines on a thread so the test can wait for them with a deadline."""

    def __init__(self, stream) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.all: list[str] = []
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream) -> None:
        for line in stream:
            self.queue.put(line)

    def wait_for(self, predicate, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            self.all.append(line)
            if predicate(line):
                return line
        raise AssertionError(f"timed out; lines so far: {self.all}")


def test_headless_reads_a_serial_scanner_through_unplug_and_replug(tmp_path):
    link = tmp_path / "usb-Honeywell_1900-if00"
    plug = Plug(link)
    plug.plug()
    with SimServer(JobTrackSim(demo_data())) as sim:
        config = tmp_path / "kiosk.toml"
        config.write_text(f"""
[kiosk]
profile = "LP"
[backends.lab]
vendor = "jobtrack"
base_url = "{sim.url}"
[[profiles]]
name = "LP"
backend = "lab"
station = "LP"
duplicate_window_s = 0
[[scanners]]
name = "bench"
kind = "serial"
port = "{link}"
baudrate = 9600
terminator = "\\r"
""", encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        try:
            err.wait_for(lambda line: "scanner bench connected" in line)
            results = []
            for code in ("72544", "101"):
                time.sleep(0.05)
                plug.write(f"]E0{code}\r".encode())
            results.append(json.loads(out.wait_for(lambda line: '"72544"' in line)))
            results.append(json.loads(out.wait_for(lambda line: '"101"' in line)))

            plug.unplug()
            err.wait_for(lambda line: "bench disconnected" in line)
            time.sleep(0.3)
            plug.plug()
            err.wait_for(lambda line: "bench connected again" in line)
            plug.write(b"337178\r")
            results.append(json.loads(out.wait_for(lambda line: '"337178"' in line)))
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
            if plug.master is not None:
                plug.unplug()
        assert code == 0
        assert [(r["scan"], r["outcome"], r["scanner"]) for r in results] == [
            ("72544", "ok", "bench"), ("101", "rejected", "bench"), ("337178", "ok", "bench")]
        assert results[1]["details"] == ["Order on hold"]
        assert [r["id"] for r in results] == sorted(r["id"] for r in results)
        events = [e["order_number"] for e in httpx_events(sim.url)]
        assert events == ["72544", "72544"]  # 72544 by order number, then by its tray 337178
        assert not any(line.startswith("{") for line in err.all), "JSON belongs on stdout only"


def httpx_events(url: str) -> list[dict]:
    import httpx

    return httpx.get(f"{url}/__sim__/events").json()


def test_a_crlf_scanner_on_a_cr_terminator_checks_the_same_tray_in_twice(tmp_path):
    """terminator = "\\r" but the scanner writes CRLF: the LF left over must not start the next scan."""
    link = tmp_path / "usb-Datalogic-if00"
    plug = Plug(link)
    plug.plug()
    with SimServer(JobTrackSim(demo_data())) as sim:
        config = tmp_path / "kiosk.toml"
        config.write_text(f"""
[kiosk]
profile = "LP"
[backends.lab]
vendor = "jobtrack"
base_url = "{sim.url}"
[[profiles]]
name = "LP"
backend = "lab"
station = "LP"
duplicate_window_s = 0
[[scanners]]
name = "bench"
kind = "serial"
port = "{link}"
terminator = "\\r"
""", encoding="utf-8")
        proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        out, err = Lines(proc.stdout), Lines(proc.stderr)
        try:
            err.wait_for(lambda line: "scanner bench connected" in line)
            plug.write(b"337178\r\n")
            first = json.loads(out.wait_for(lambda line: line.startswith("{")))
            plug.write(b"337178\r\n")
            second = json.loads(out.wait_for(lambda line: line.startswith("{")))
            hint = err.wait_for(lambda line: "CRLF" in line)
            plug.write(b"AB\xff\x1b\r\n")  # not UTF-8: answered as unreadable, never sent
            third = json.loads(out.wait_for(lambda line: line.startswith("{")))
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=10)
            plug.unplug()
        assert code == 0
        assert [(r["scan"], r["outcome"]) for r in (first, second)] == [("337178", "ok"), ("337178", "ok")]
        assert 'scanner sends CRLF, set terminator = "\\r\\n"' in hint
        assert (third["outcome"], third["scan"]) == ("unreadable", "AB<xFF><ESC>")
        assert [e["order_number"] for e in httpx_events(sim.url)] == ["72544", "72544"]
