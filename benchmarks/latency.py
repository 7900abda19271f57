"""Benchmark 1: scan-to-result latency, headless and on the Textual screen.

Headless: ``kiosk run --headless`` as a subprocess with a pty as its serial scanner. One
scan is written (``CODE\\r``), its JSON line awaited, and so on; the time runs from the
write of the last byte to the line arriving on the benchmark's end of the pipe.

Screen: ``KioskApp.run_test()`` in this process, a ``SerialScanner`` on a pty feeding
``app.submit_event`` (the app's hook for device scanners), from the last byte written to
the first compositor frame (``App._display``; in headless test mode Textual composes the
frame there but writes nothing) composed after the result panel shows ``OK <order>``.

Baseline, interleaved sample by sample with the kiosk in the same run: a bare
``httpx.AsyncClient`` POST of the same check-in to the same simulator, keep-alive.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from benchmarks.harness import (STATION, Headless, PtyPort, Simulator, Workspace, order_code, percentiles,
                                scanner_port, serial_scanner_available, skip_probes, tui_available, wait_ready,
                                write_config)

TARGET_P99_OVERHEAD_MS = 5.0
WARMUP = 20
RESULT_TIMEOUT_S = 10.0


class BareClient:
    """The baseline: the same check-in with a bare keep-alive ``httpx.AsyncClient``."""

    def __init__(self, base_url: str) -> None:
        self.url = f"{base_url}/api/v2/job_track/stations/{STATION}"
        self.client = httpx.AsyncClient(headers={"Accept": "application/json", "User-Agent": "bench"}, timeout=10.0)

    async def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        response = await self.client.post(self.url, json={"order": code})
        response.read()
        elapsed = (time.monotonic() - t0) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"baseline check-in of {code} answered HTTP {response.status_code}")
        return elapsed

    async def aclose(self) -> None:
        await self.client.aclose()


def summary(kiosk_ms: list[float], base_ms: list[float]) -> dict[str, Any]:
    kiosk, base = percentiles(kiosk_ms), percentiles(base_ms)
    return {
        "kiosk_ms": kiosk, "baseline_ms": base,
        "overhead_ms": {p: kiosk[p] - base[p] for p in ("p50", "p95", "p99")},
        "ratio": {p: kiosk[p] / base[p] if base[p] else float("nan") for p in ("p50", "p95", "p99")},
    }


# --- headless ---------------------------------------------------------------------------


def headless_sample(kiosk: Headless, port: PtyPort, code: str) -> tuple[float, float | None]:
    """(ms from last byte written to the result line, the kiosk's own latency_ms)."""
    t0 = port.write(port.frame(code))
    result = kiosk.expect_result(RESULT_TIMEOUT_S, code)
    if result.data.get("scan") != code or result.data.get("outcome") != "ok":
        raise RuntimeError(f"unexpected result for {code}: {result.data}")
    return (result.t - t0) * 1000, result.data.get("latency_ms")


def run_headless(n: int) -> dict[str, Any]:
    with Workspace("latency") as ws, asyncio.Runner() as loop:
        sim = Simulator(ws, n + WARMUP + 10)
        port = scanner_port(ws)
        kiosk = Headless(ws, write_config(ws.path / "kiosk.toml", sim.url, port.path), port)
        wait_ready(kiosk, port, 20.0)
        skip_probes(kiosk)
        bare = BareClient(sim.url)
        kiosk_ms: list[float] = []
        base_ms: list[float] = []
        internal: list[float] = []
        try:
            for i in range(n + WARMUP):
                code = order_code(i)
                base = loop.run(bare.check_in_ms(code))
                end_to_end, own = headless_sample(kiosk, port, code)
                if i >= WARMUP:
                    base_ms.append(base)
                    kiosk_ms.append(end_to_end)
                    if own is not None:
                        internal.append(own)
        finally:
            loop.run(bare.aclose())
        finished = kiosk.stop()
    out = summary(kiosk_ms, base_ms)
    out["peak_rss_mb"] = finished.peak_rss_kb / 1024
    out["kiosk_internal_ms"] = percentiles(internal)
    out["scanner"] = port.kind
    return out


# --- Textual screen ---------------------------------------------------------------------


class FrameWatch:
    """Times the first frame composed after the result panel shows the awaited headline."""

    def __init__(self, app: Any) -> None:
        from kiosk.tui.widgets import ResultPanel

        self.app = app
        self.panel_type = ResultPanel
        self.want: str | None = None
        self.t_frame = 0.0
        self.done = asyncio.Event()
        original = app._display

        def display(screen: Any, renderable: Any) -> None:
            original(screen, renderable)
            if renderable is not None and self.want is not None and self._shown():
                self.t_frame, self.want = time.monotonic(), None
                self.done.set()

        app._display = display  # an instance attribute: this app only

    def _shown(self) -> bool:
        try:
            return self.app.query_one(self.panel_type).headline == self.want
        except Exception:
            return False

    def expect(self, headline: str) -> None:
        self.want = headline
        self.done.clear()

    async def wait(self) -> float:
        await asyncio.wait_for(self.done.wait(), RESULT_TIMEOUT_S)
        return self.t_frame


def start_pty_scanner(port: PtyPort, emit: Any) -> Any:
    from kiosk.config import ScannerConfig
    from kiosk.scanners import build_scanner

    scanner = build_scanner(ScannerConfig(name="bench", kind="serial", port=port.path, baudrate=115200,
                                          terminator="\r"))
    scanner.start(emit)
    return scanner


async def tui_session(config_path: Any, port: PtyPort, base_url: str, n: int) -> tuple[list[float], list[float]]:
    from kiosk.config import load_config
    from kiosk.runtime import build_runtime
    from kiosk.tui.app import KioskApp

    app = KioskApp(build_runtime(load_config(config_path)))
    watch = FrameWatch(app)
    bare = BareClient(base_url)
    tui_ms: list[float] = []
    base_ms: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        scanner = start_pty_scanner(port, app.submit_event)
        try:
            await pilot.pause()
            await _wait_port_open(scanner)
            for i in range(n + WARMUP):
                code = order_code(i)
                base = await bare.check_in_ms(code)
                watch.expect(f"OK {code}")
                t0 = port.write(port.frame(code))
                t_frame = await watch.wait()
                if i >= WARMUP:
                    base_ms.append(base)
                    tui_ms.append((t_frame - t0) * 1000)
        finally:
            scanner.stop()
            await bare.aclose()
    return tui_ms, base_ms


async def _wait_port_open(scanner: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while getattr(scanner.stats, "state", "") != "connected" and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)


def run_tui(n: int) -> dict[str, Any]:
    if not tui_available():
        return {"skipped": "kiosk.tui.app is not there yet (TUI being built)"}
    if not serial_scanner_available():
        return {"skipped": "serial scanner driver not there yet; the TUI latency needs a device scanner"}
    with Workspace("latency-tui") as ws:
        sim = Simulator(ws, n + WARMUP + 10)
        port = PtyPort(ws)
        config = write_config(ws.path / "kiosk.toml", sim.url, None)
        tui_ms, base_ms = asyncio.run(tui_session(config, port, sim.url, n))
    out = summary(tui_ms, base_ms)
    out["method"] = ("in-process KioskApp.run_test(); pty SerialScanner -> app.submit_event; "
                     "time to the first composed frame (App._display) showing 'OK <order>'")
    return out


def run(quick: bool) -> dict[str, Any]:
    n = 50 if quick else 500
    headless = run_headless(n)
    tui = run_tui(30 if quick else 500)
    return {"scans": n, "headless": headless, "tui": tui, "target_p99_overhead_ms": TARGET_P99_OVERHEAD_MS}
