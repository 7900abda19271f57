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

Peak RSS at start-up, for reference: the child's VmHWM just before it is stopped (headless
after 20 scans, the TUI at its first render; not ``ru_maxrss``, which Linux carries over
from the forking parent). The targets on memory are after 1,000 scans: see
``benchmarks.memory``. Baseline in the same run: ``python -c "import textual"`` (spawn to
exit; its VmHWM printed by itself).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from typing import Any

from benchmarks.harness import (
    PYTHON,
    STATION_DESC,
    Headless,
    Simulator,
    TuiProcess,
    Workspace,
    child_env,
    order_code,
    scanner_port,
    skip_probes,
    tui_available,
    wait_ready,
    write_config,
)

TARGET_HEADLESS_S = 1.0
TARGET_TUI_S = 1.5
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


def tui_once(ws: Workspace, sim: Simulator) -> dict[str, float]:
    screen = TuiProcess(ws, write_config(ws.path / "kiosk-tui.toml", sim.url, None), STATION_DESC.encode())
    try:
        t_ready = screen.wait_marker(TUI_READY_TIMEOUT_S)
    finally:
        finished = screen.stop()
    return {"seconds": t_ready - screen.t_spawn, "rss_mb": finished.peak_rss_kb / 1024}


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
                           "targets": {"headless_s": TARGET_HEADLESS_S, "tui_s": TARGET_TUI_S}}
    out["headless"]["method"] = "probe scans every 5 ms through the pty; first one answered"
    if tui:
        out["tui"]["method"] = "subprocess on a pty terminal; first output containing the station description"
    return out
