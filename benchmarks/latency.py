"""Benchmark 1: scan-to-result latency, headless and on the Textual screen.

Headless: ``kiosk run --headless`` as a subprocess with a pty as its serial scanner. One
scan is written (``CODE\\r``), its JSON line awaited, and so on; the time runs from the
write of the last byte to the line arriving on the benchmark's end of the pipe.

Screen: ``KioskApp.run_test()`` in this process, a ``SerialScanner`` on a pty feeding
``app.submit_event`` (the app's hook for device scanners), from the last byte written to
the first compositor frame (``App._display``; in headless test mode Textual composes the
frame there but writes nothing) composed after the result panel shows ``OK <order>``.

Baselines, interleaved sample by sample with the kiosk in the same run, each a bare
keep-alive POST of the same check-in to the same simulator: ``httpx.Client`` (sync: the
target's baseline), ``http.client`` (the standard library's, sync) and ``httpx.AsyncClient``.
The overhead over each is reported.

Targets (issue 12): headless overhead over the bare sync POST p50 <= 1.2 ms and p99 <= 3 ms;
the screen's p99 <= two frames + 5 ms (38.3 ms at Textual's 60 frames/s).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from typing import Any

import httpx

from benchmarks.harness import (
    STATION,
    Headless,
    PtyPort,
    Simulator,
    StdinPort,
    Workspace,
    order_code,
    percentiles,
    scanner_port,
    serial_scanner_available,
    skip_probes,
    tui_available,
    wait_ready,
    write_config,
)

TARGET_HEADLESS_OVERHEAD_MS = {"p50": 1.2, "p99": 3.0}
"""Headless overhead over the bare sync POST (``httpx.Client``)."""
TARGET_FRAMES = 2
TARGET_FRAME_SLACK_MS = 5.0
WARMUP = 20
RESULT_TIMEOUT_S = 10.0
PERCENTILES = ("p50", "p95", "p99")


def frame_ms() -> float:
    """One frame at Textual's frame rate (``TEXTUAL_FPS``, default 60)."""
    try:
        from textual import constants

        fps = constants.MAX_FPS
    except ImportError:
        fps = 60
    return 1000.0 / fps


def tui_target_ms() -> float:
    return TARGET_FRAMES * frame_ms() + TARGET_FRAME_SLACK_MS


def check_in_path() -> str:
    return f"/api/v2/job_track/stations/{STATION}"


def _body(code: str) -> bytes:
    return json.dumps({"order": code}).encode()


HEADERS = {"Accept": "application/json", "User-Agent": "bench", "Content-Type": "application/json"}


class BareClient:
    """A baseline: the same check-in with a bare keep-alive ``httpx.AsyncClient``."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + check_in_path()
        self.client = httpx.AsyncClient(headers=HEADERS, timeout=10.0)

    async def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        response = await self.client.post(self.url, content=_body(code))
        response.read()
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(response.status_code, code)
        return elapsed

    async def aclose(self) -> None:
        await self.client.aclose()


class SyncClient:
    """A baseline: the same check-in with a bare keep-alive ``httpx.Client`` (sync)."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url + check_in_path()
        self.client = httpx.Client(headers=HEADERS, timeout=10.0)

    def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        response = self.client.post(self.url, content=_body(code))
        response.read()
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(response.status_code, code)
        return elapsed

    def close(self) -> None:
        self.client.close()


class StdlibClient:
    """A baseline: the same check-in with ``http.client`` on one kept-alive connection."""

    def __init__(self, base_url: str) -> None:
        url = httpx.URL(base_url)
        self.connection = http.client.HTTPConnection(url.host, url.port, timeout=10.0)
        self.path = check_in_path()

    def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        self.connection.request("POST", self.path, _body(code), HEADERS)
        response = self.connection.getresponse()
        response.read()
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(response.status, code)
        return elapsed

    def close(self) -> None:
        self.connection.close()


def _expect_200(status: int, code: str) -> None:
    if status != 200:
        raise RuntimeError(f"baseline check-in of {code} answered HTTP {status}")


class Baselines:
    """The three bare clients, one sample each per kiosk sample (order rotated)."""

    NAMES = ("sync_httpx", "sync_stdlib", "async_httpx")

    def __init__(self, base_url: str) -> None:
        self.sync = SyncClient(base_url)
        self.stdlib = StdlibClient(base_url)
        self.async_ = BareClient(base_url)
        self.samples: dict[str, list[float]] = {name: [] for name in self.NAMES}

    async def sample(self, code: str, keep: bool) -> None:
        got = {"sync_httpx": self.sync.check_in_ms(code), "sync_stdlib": self.stdlib.check_in_ms(code),
               "async_httpx": await self.async_.check_in_ms(code)}
        if keep:
            for name, value in got.items():
                self.samples[name].append(value)

    async def aclose(self) -> None:
        self.sync.close()
        self.stdlib.close()
        await self.async_.aclose()


def summary(kiosk_ms: list[float], baselines: dict[str, list[float]], main: str = "sync_httpx") -> dict[str, Any]:
    """Percentiles of the kiosk and of each baseline, and the overhead over each.

    ``baseline_ms``/``overhead_ms``/``ratio`` are those over ``main`` (the targets' baseline)."""
    kiosk = percentiles(kiosk_ms)
    out: dict[str, Any] = {"kiosk_ms": kiosk, "baseline": main, "baselines": {}}
    for name, values in baselines.items():
        base = percentiles(values)
        out["baselines"][name] = {
            "ms": base,
            "overhead_ms": {p: kiosk[p] - base[p] for p in PERCENTILES},
            "ratio": {p: kiosk[p] / base[p] if base[p] else float("nan") for p in PERCENTILES},
        }
    chosen = out["baselines"][main]
    out["baseline_ms"], out["overhead_ms"], out["ratio"] = chosen["ms"], chosen["overhead_ms"], chosen["ratio"]
    return out


# --- headless ---------------------------------------------------------------------------


def headless_sample(kiosk: Headless, port: PtyPort | StdinPort, code: str) -> tuple[float, float | None]:
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
        bare = Baselines(sim.url)
        kiosk_ms: list[float] = []
        internal: list[float] = []
        try:
            for i in range(n + WARMUP):
                code = order_code(i)
                loop.run(bare.sample(code, keep=i >= WARMUP))
                end_to_end, own = headless_sample(kiosk, port, code)
                if i >= WARMUP:
                    kiosk_ms.append(end_to_end)
                    if own is not None:
                        internal.append(own)
        finally:
            loop.run(bare.aclose())
        finished = kiosk.stop()
    out = summary(kiosk_ms, bare.samples)
    out["peak_rss_mb"] = finished.peak_rss_kb / 1024
    out["kiosk_internal_ms"] = percentiles(internal)
    out["scanner"] = port.kind
    out["targets_overhead_ms"] = TARGET_HEADLESS_OVERHEAD_MS
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
        from textual.css.query import QueryError

        try:
            return self.app.query_one(self.panel_type).headline == self.want
        except QueryError:  # another screen (e.g. a full-screen error) is on top
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

    scanner = build_scanner(ScannerConfig.model_validate(
        {"name": "bench", "kind": "serial", "port": port.path, "baudrate": 115200, "terminator": "\r"}))
    scanner.start(emit)
    return scanner


async def tui_session(config_path: Any, port: PtyPort, base_url: str,
                      n: int) -> tuple[list[float], dict[str, list[float]]]:
    from kiosk.config import load_config
    from kiosk.runtime import build_runtime
    from kiosk.tui.app import KioskApp

    app = KioskApp(build_runtime(load_config(config_path)))
    watch = FrameWatch(app)
    bare = Baselines(base_url)
    tui_ms: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        scanner = start_pty_scanner(port, app.submit_event)
        try:
            await pilot.pause()
            await _wait_port_open(scanner)
            for i in range(n + WARMUP):
                code = order_code(i)
                await bare.sample(code, keep=i >= WARMUP)
                watch.expect(f"OK {code}")
                t0 = port.write(port.frame(code))
                t_frame = await watch.wait()
                if i >= WARMUP:
                    tui_ms.append((t_frame - t0) * 1000)
        finally:
            scanner.stop()
            await bare.aclose()
    return tui_ms, bare.samples


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
    out["frame_ms"] = frame_ms()
    out["target_p99_ms"] = tui_target_ms()
    out["method"] = ("in-process KioskApp.run_test(); pty SerialScanner -> app.submit_event; "
                     "time to the first composed frame (App._display) showing 'OK <order>'")
    return out


def run(quick: bool) -> dict[str, Any]:
    n = 50 if quick else 500
    headless = run_headless(n)
    tui = run_tui(30 if quick else 500)
    return {"scans": n, "headless": headless, "tui": tui, "targets": {
        "headless_overhead_ms": TARGET_HEADLESS_OVERHEAD_MS, "headless_baseline": "sync_httpx",
        "tui_p99_ms": tui_target_ms(), "tui_rule": f"{TARGET_FRAMES} frames + {TARGET_FRAME_SLACK_MS:g} ms"}}
