"""Benchmark 3: start-up time to "ready for the first scan", and peak memory.

Headless: ``kiosk run --headless`` with the pty scanner. The serial driver flushes the
port's input when it opens it, so probe scans are written every 5 ms from the moment the
process is spawned; the first probe that gets a result line was written after the kiosk
was ready. Ready = that probe's write time − spawn time (resolution: the probe interval).
Cross-check: the first result line's arrival minus its own ``latency_ms``. (Headless prints
no "ready" line; a stderr line once the scanners are open would make this exact.)

TUI: ``kiosk run`` (full screen) as a subprocess with a pty as its terminal (120x40);
ready = the first output containing the profile's description, i.e. the first full render
of the main screen.

Peak RSS: the child's VmHWM just before it is stopped (headless after 20 scans; not
``ru_maxrss``, which Linux carries over from the forking parent). Baseline in the same
run: ``python -c "import textual"`` (spawn to exit; its VmHWM printed by itself).
"""

from __future__ import annotations

import fcntl
import os
import statistics
import struct
import subprocess
import termios
import time
from typing import Any

from benchmarks.harness import (PYTHON, STATION_DESC, BenchError, Headless, Simulator, Workspace, child_env,
                                order_code, reap, scanner_port, skip_probes, tui_available, wait_ready,
                                write_config)

TARGET_HEADLESS_S = 1.0
TARGET_TUI_S = 1.5
TARGET_RSS_MB = 80.0
TUI_READY_TIMEOUT_S = 20.0


BASELINE_CODE = "import textual, sys; sys.stdout.write(open('/proc/self/status').read())"
"""``import textual``, then its own VmHWM printed (the process ends too fast to be polled)."""


def baseline_once(ws: Workspace) -> dict[str, float]:
    t0 = time.monotonic()
    proc = subprocess.run([PYTHON, "-c", BASELINE_CODE], env=child_env(), cwd=ws.path, capture_output=True,
                          text=True, timeout=60, check=True)
    seconds = time.monotonic() - t0
    hwm = next(int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("VmHWM:"))
    return {"seconds": seconds, "rss_mb": hwm / 1024}


def headless_once(ws: Workspace, sim: Simulator, first_order: int) -> dict[str, float]:
    port = scanner_port(ws)
    kiosk = Headless(ws, write_config(ws.path / "kiosk.toml", sim.url, port.path), port)
    t_probe, first = wait_ready(kiosk, port, 20.0)
    own_ms = first.data.get("latency_ms") or 0.0
    skip_probes(kiosk, quiet_s=0.3)
    for i in range(20):  # a few real scans, so the RSS is that of a working kiosk
        port.write(port.frame(order_code(first_order + i)))
        kiosk.expect_result(10.0, "a scan after start-up")
    finished = kiosk.stop()
    port_close = getattr(port, "close", None)
    if port_close:
        port_close()
    return {"seconds": t_probe - kiosk.t_spawn,
            "seconds_by_latency": first.t - own_ms / 1000 - kiosk.t_spawn,
            "rss_mb": finished.peak_rss_kb / 1024}


def _terminal(rows: int = 40, cols: int = 120) -> tuple[int, int]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return master, slave


def tui_once(ws: Workspace, sim: Simulator) -> dict[str, float]:
    config = write_config(ws.path / "kiosk-tui.toml", sim.url, None)
    master, slave = _terminal()
    env = child_env() | {"TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    try:
        t0 = time.monotonic()
        proc = subprocess.Popen([PYTHON, "-m", "kiosk", "run", "--config", str(config)], stdin=slave,
                                stdout=slave, stderr=slave, env=env, cwd=ws.path, start_new_session=True)
        os.close(slave)
        slave = -1
        try:
            t_ready = _wait_output(master, STATION_DESC.encode(), proc)
        finally:
            finished = reap(proc, 5.0, pump=lambda: _discard(master))
        return {"seconds": t_ready - t0, "rss_mb": finished.peak_rss_kb / 1024}
    finally:
        for fd in (master, slave):
            if fd >= 0:
                os.close(fd)


def _wait_output(master: int, marker: bytes, proc: subprocess.Popen) -> float:
    seen = b""
    deadline = time.monotonic() + TUI_READY_TIMEOUT_S
    while time.monotonic() < deadline:
        ready = _read_ready(master, 0.05)
        if ready:
            seen = seen[-len(marker):] + ready
            if marker in seen:
                return time.monotonic()
        elif proc.poll() is not None:
            break
    raise BenchError(f"the TUI never showed {marker!r} (exit {proc.poll()}); last output {seen[-300:]!r}")


def _read_ready(fd: int, timeout: float) -> bytes:
    import select

    if select.select([fd], [], [], timeout)[0]:
        try:
            return os.read(fd, 1 << 16)
        except OSError:
            return b""
    return b""


def _discard(fd: int) -> None:
    while _read_ready(fd, 0):
        pass


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _summary(runs: list[dict[str, float]]) -> dict[str, Any]:
    out: dict[str, Any] = {key: _median(runs, key) for key in runs[0]}
    out["runs"] = runs
    return out


def run(quick: bool) -> dict[str, Any]:
    repeats = 1 if quick else 5
    with Workspace("startup") as ws:
        sim = Simulator(ws, 25 * repeats)
        base, headless, tui = [], [], []
        for r in range(repeats):
            base.append(baseline_once(ws))
            headless.append(headless_once(ws, sim, 20 * r))
            if tui_available():
                tui.append(tui_once(ws, sim))
    out: dict[str, Any] = {"repeats": repeats, "baseline_import_textual": _summary(base),
                           "headless": _summary(headless),
                           "tui": _summary(tui) if tui else {"skipped": "kiosk.tui.app is not there yet"},
                           "targets": {"headless_s": TARGET_HEADLESS_S, "tui_s": TARGET_TUI_S,
                                       "rss_mb": TARGET_RSS_MB}}
    out["headless"]["method"] = "probe scans every 5 ms through the pty; first one answered"
    if tui:
        out["tui"]["method"] = "subprocess on a pty terminal; first output containing the station description"
    return out
