"""Benchmark: peak memory of a working kiosk, after 1,000 scans (not at its first render).

Headless: ``kiosk run --headless`` with the pty serial scanner; TUI: ``kiosk run`` (full
screen) on a pseudo-terminal with the same pty scanner configured. Each gets ``n`` check-ins
in batches of ``BATCH`` (the next batch once the last has its results: JSON lines for
headless, the simulator's check-ins for the screen), then its peak RSS (VmHWM) is read just
before it is stopped. The peak right after start-up is reported beside it, so the growth per
1,000 scans shows. Baseline in the same run: ``python -c "import textual"``.

Targets (issue 12): headless <= 50 MB, TUI <= 64 MB after 1,000 scans.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness import (
    STATION_DESC,
    BenchError,
    Headless,
    PtyPort,
    Simulator,
    TuiProcess,
    Workspace,
    order_code,
    scanner_port,
    serial_scanner_available,
    skip_probes,
    tui_available,
    wait_ready,
    write_config,
)
from benchmarks.startup import baseline_once

TARGET_HEADLESS_MB = 50.0
TARGET_TUI_MB = 64.0
BATCH = 20
BATCH_TIMEOUT_S = 30.0
TUI_READY_TIMEOUT_S = 20.0


def headless(n: int) -> dict[str, Any]:
    with Workspace("memory") as ws:
        sim = Simulator(ws, n + 10)
        port = scanner_port(ws)
        kiosk = Headless(ws, write_config(ws.path / "kiosk.toml", sim.url, port.path), port)
        wait_ready(kiosk, port, 20.0)
        skip_probes(kiosk, quiet_s=0.3)
        at_start = _hwm_mb(kiosk.proc.pid)
        ok = 0
        for start in range(0, n, BATCH):
            codes = [order_code(i) for i in range(start, min(n, start + BATCH))]
            port.write(b"".join(port.frame(code) for code in codes))
            for code in codes:
                result = kiosk.expect_result(BATCH_TIMEOUT_S, code)
                ok += result.data.get("outcome") == "ok" and result.data.get("scan") == code
        finished = kiosk.stop()
    return {"scans": n, "ok": ok, "rss_mb_at_start": at_start, "rss_mb": finished.peak_rss_kb / 1024,
            "scanner": port.kind}


def tui(n: int) -> dict[str, Any]:
    if not tui_available():
        return {"skipped": "kiosk.tui.app is not there"}
    if not serial_scanner_available():
        return {"skipped": "no serial scanner driver: the TUI gets no scans without one"}
    with Workspace("memory-tui") as ws:
        sim = Simulator(ws, n + 200)
        port = PtyPort(ws)
        screen = TuiProcess(ws, write_config(ws.path / "kiosk.toml", sim.url, port.path), STATION_DESC.encode())
        screen.wait_marker(TUI_READY_TIMEOUT_S)
        at_start = screen.peak_rss_mb()
        probes = _wait_scanner_open(port, sim, screen, first_probe=n)
        sim.clear()
        for start in range(0, n, BATCH):
            codes = [order_code(i) for i in range(start, min(n, start + BATCH))]
            port.write(b"".join(port.frame(code) for code in codes))
            _wait_checked_in(sim, start + len(codes), screen)
        checked_in = [event["order_number"] for event in sim.events()]
        time.sleep(0.3)  # the last results on screen
        finished = screen.stop()
    return {"scans": n, "ok": sum(1 for code in checked_in if code.startswith("B")),
            "in_order": checked_in == [order_code(i) for i in range(n)], "probes": probes,
            "rss_mb_at_start": at_start, "rss_mb": finished.peak_rss_kb / 1024}


def _hwm_mb(pid: int) -> float:
    from benchmarks.harness import peak_rss_kb

    return peak_rss_kb(pid) / 1024


def _wait_scanner_open(port: PtyPort, sim: Simulator, screen: TuiProcess, first_probe: int) -> int:
    """Scan spare orders until one reaches the simulator: the kiosk's serial port is open
    (the driver flushes input at open, so earlier writes are lost)."""
    deadline = time.monotonic() + TUI_READY_TIMEOUT_S
    k = 0
    while time.monotonic() < deadline and screen.proc.poll() is None:
        port.write(port.frame(order_code(first_probe + k)))
        k += 1
        time.sleep(0.1)
        if sim.events():
            time.sleep(0.3)  # probes still on their way
            return k
    raise BenchError(f"the TUI's scanner never delivered a scan (exit {screen.proc.poll()})")


def _wait_checked_in(sim: Simulator, count: int, screen: TuiProcess) -> None:
    deadline = time.monotonic() + BATCH_TIMEOUT_S
    while time.monotonic() < deadline:
        if len(sim.events()) >= count:
            return
        if screen.proc.poll() is not None:
            raise BenchError(f"the TUI ended (exit {screen.proc.returncode}) after {len(sim.events())} check-ins")
        time.sleep(0.02)
    raise BenchError(f"the TUI checked in only {len(sim.events())} of {count} scans within {BATCH_TIMEOUT_S:g} s")


def run(quick: bool) -> dict[str, Any]:
    n = 100 if quick else 1000
    with Workspace("memory-base") as ws:
        base = baseline_once(ws)
    return {"scans": n, "baseline_import_textual": base, "headless": headless(n), "tui": tui(n),
            "targets": {"headless_mb": TARGET_HEADLESS_MB, "tui_mb": TARGET_TUI_MB}}
