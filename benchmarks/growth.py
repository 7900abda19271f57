"""Benchmark: the kiosk as its journal grows (``--journal-rows``; default 1k, 100k and 1M rows).

For each size a journal pre-filled with a year of scans (``benchmarks.prefill``, in the
journal's own schema) is used by the real kiosk, all against one simulator:

- **start-up to ready**, headless, warm (the file in the page cache; median of several
  starts) and once cold (the journal's files dropped from the page cache first): ready = the
  first probe scan answered (``benchmarks.harness.wait_ready``);
- **per-scan overhead**: in the last warm run, ``SETTLE_S`` after ready (start-up
  housekeeping done), scans interleaved with a bare sync ``httpx.Client`` POST of the same
  check-in (the latency benchmark's method);
- ``Journal.check_integrity`` (where the code has it: the check that left the open path and
  runs in the background after ready) timed on its own;
- **the service's own path** in-process at that size (``benchmarks.inprocess``): scans/s
  through ``StationService`` with an instant connector, and ``Journal.open`` time;
- ``kiosk journal stats`` (its default period, and the whole year with ``--since``) and
  ``kiosk journal export`` (JSON lines to a pipe the benchmark drains): wall time from spawn
  to exit and peak RSS;
- **scans beside stats/export**: a headless kiosk on that journal scans steadily (one scan
  every ``PERIOD_S``, each when the last has its result): alone for a few seconds; while
  ``stats --since`` and then ``export`` run in another process on a *copy* of the journal
  (the same work on another file: what the machine's CPU and disk alone cost the kiosk);
  and while they run on the kiosk's own journal. The delay of a scan is its latency minus
  the median alone. The figure is what sharing the journal adds: the worst delay beside
  the commands on the kiosk's journal minus the worst beside them on the copy, in the
  worse of two runs (each run's is reported; the orders alternate). The raw worst delays
  are reported beside it. The pre-filled journal and its copy are fsync'd before the kiosk
  opens them: otherwise the kiosk's first WAL checkpoint (about 150 scans in) writes the
  benchmark's own dirty pages and one scan takes 120-170 ms at 1M rows.

Targets (issue 12): start-up at the largest size <= 1.5 x start-up at the smallest (warm;
1M vs 1k in the default run), and no scan delayed by more than 20 ms by stats/export.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks import prefill
from benchmarks.harness import (
    JOURNAL_NAME,
    PYTHON,
    BenchError,
    Headless,
    Simulator,
    Workspace,
    child_env,
    order_code,
    percentiles,
    reap,
    scanner_port,
    skip_probes,
    wait_ready,
    write_config,
)
from benchmarks.inprocess import Rig
from benchmarks.latency import SyncClient

FULL_SIZES = (1_000, 100_000, 1_000_000)
QUICK_SIZES = (1_000,)
TARGET_STARTUP_RATIO = 1.5
TARGET_DELAY_MS = 20.0
ORDERS = 500
PERIOD_S = 0.02
SETTLE_S = 2.0
"""After "ready", before per-scan figures: the kiosk's start-up housekeeping (integrity
check, pruning) runs off the path to ready and competes for the machine meanwhile."""
RESULT_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 600.0


class Size:
    """One pre-filled journal and the configs that point at it."""

    def __init__(self, ws: Workspace, sim: Simulator, rows: int) -> None:
        self.ws, self.sim, self.rows = ws, sim, rows
        self.folder = ws.path / f"rows-{rows}"
        self.folder.mkdir()
        self.journal = self.folder / JOURNAL_NAME
        self.build = prefill.build(self.journal, rows)
        self.config = write_config(self.folder / "tools.toml", sim.url, None, retention_days=prefill.RETENTION_DAYS)
        self.starts = 0

    def copy(self) -> Path:
        """A config for a copy of the journal: the same work for stats/export, on another file."""
        folder = self.folder / "copy"
        folder.mkdir(exist_ok=True)
        shutil.copyfile(self.journal, folder / JOURNAL_NAME)
        prefill.flush(folder / JOURNAL_NAME)
        return write_config(folder / "tools.toml", self.sim.url, None, retention_days=prefill.RETENTION_DAYS)

    def kiosk(self) -> tuple[Headless, Any]:
        port = scanner_port(self.ws)
        self.starts += 1
        config = write_config(self.folder / f"kiosk-{self.starts}.toml", self.sim.url, port.path,
                              retention_days=prefill.RETENTION_DAYS)
        return Headless(self.ws, config, port), port


def startup_once(size: Size) -> tuple[float, Headless, Any]:
    kiosk, port = size.kiosk()
    t_probe, _ = wait_ready(kiosk, port, 60.0)
    skip_probes(kiosk, quiet_s=0.3)
    return t_probe - kiosk.t_spawn, kiosk, port


def per_scan(kiosk: Headless, port: Any, base_url: str, n: int) -> dict[str, Any]:
    sync = SyncClient(base_url)
    kiosk_ms: list[float] = []
    base_ms: list[float] = []
    try:
        for i in range(n + 10):
            code = order_code(i % ORDERS)
            base = sync.check_in_ms(code)
            t0 = port.write(port.frame(code))
            result = kiosk.expect_result(RESULT_TIMEOUT_S, code)
            if result.data.get("scan") != code or result.data.get("outcome") != "ok":
                raise BenchError(f"unexpected result for {code}: {result.data}")
            if i >= 10:
                kiosk_ms.append((result.t - t0) * 1000)
                base_ms.append(base)
    finally:
        sync.close()
    k, b = percentiles(kiosk_ms), percentiles(base_ms)
    return {"kiosk_ms": k, "baseline_ms": b, "overhead_ms": {p: k[p] - b[p] for p in ("p50", "p95", "p99")}}


async def service_path(size: Size, n: int, settle_s: float) -> dict[str, Any]:
    async with Rig(size.folder, retention_days=prefill.RETENTION_DAYS) as rig:
        await asyncio.sleep(settle_s)
        await rig.one_by_one(0, 10)
        t0 = time.perf_counter()
        await rig.one_by_one(10, n)
        spent = time.perf_counter() - t0
        return {"scans": n, "scans_per_s": n / spent, "journal_open_s": rig.open_s}


class Command:
    """``python -m kiosk journal --config C ACTION ...`` as a child; its output drained and counted."""

    def __init__(self, size: Size, *args: str, stdout_to_pipe: bool = True, config: Path | None = None) -> None:
        self.args = ["journal", "--config", str(config or size.config), *args]
        self.err = size.folder / f"cmd-{time.monotonic_ns()}.stderr"
        self.lines = 0
        with self.err.open("wb") as err:
            self.t0 = time.monotonic()
            self.proc = subprocess.Popen([PYTHON, "-m", "kiosk", *self.args], env=child_env(), cwd=size.folder,
                                         stdout=subprocess.PIPE if stdout_to_pipe else subprocess.DEVNULL,
                                         stderr=err)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        if self.proc.stdout is None:
            return
        for chunk in iter(lambda: self.proc.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            self.lines += chunk.count(b"\n")

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self) -> dict[str, Any]:
        finished = reap(self.proc, COMMAND_TIMEOUT_S, terminate=False)
        seconds = time.monotonic() - self.t0
        self._reader.join(10.0)
        if self.proc.stdout:
            self.proc.stdout.close()
        if finished.returncode != 0:
            raise BenchError(f"kiosk {' '.join(self.args[3:])} exited {finished.returncode}: "
                             f"{self.err.read_text(errors='replace')[-400:]!r}")
        out: dict[str, Any] = {"seconds": seconds, "lines": self.lines}
        if finished.peak_rss_kb:  # seen only when it was still running when finish() began
            out["rss_mb"] = finished.peak_rss_kb / 1024
        return out


def year_ago() -> str:
    return (datetime.now(UTC) - timedelta(days=prefill.RETENTION_DAYS)).strftime("%Y-%m-%d")


def tools(size: Size) -> dict[str, Any]:
    """Wall time and peak RSS of stats (default period, whole year) and export (whole journal)."""
    out = {}
    for key, args in (("stats", ("stats",)), ("stats_year", ("stats", "--since", year_ago())),
                      ("export", ("export", "--format", "jsonl"))):
        out[key] = Command(size, *args).finish()
    return out


def beside(size: Size, quiet_s: float, repeats: int, settle_s: float) -> dict[str, Any]:
    """Scan latencies alone, beside stats/export on a copy of the journal (the same work on
    another file: the machine's share of any delay), and beside stats/export on the kiosk's
    own journal; ``repeats`` times on one kiosk, the two orders alternating."""
    copy = size.copy()
    kiosk, port = size.kiosk()
    wait_ready(kiosk, port, 60.0)
    skip_probes(kiosk, quiet_s=0.3)
    time.sleep(settle_s)
    i = 0

    def scan_one(into: list[float]) -> tuple[float, float]:
        """One scan; (when it was written, its latency in ms)."""
        nonlocal i
        code = order_code(i % ORDERS)
        i += 1
        t0 = port.write(port.frame(code))
        result = kiosk.expect_result(RESULT_TIMEOUT_S, code)
        if result.data.get("scan") != code:
            raise BenchError(f"result for {result.data.get('scan')!r} while waiting for {code}")
        into.append((result.t - t0) * 1000)
        time.sleep(max(0.0, t0 + PERIOD_S - time.monotonic()))
        return t0, into[-1]

    def commands(config: Path, into: list[float], worst: dict[str, Any]) -> float:
        """stats --since, then export, scanning meanwhile; ``worst`` says where the slowest scan was."""
        t0 = time.monotonic()
        for args in (("stats", "--since", year_ago()), ("export", "--format", "jsonl")):
            command = Command(size, *args, stdout_to_pipe=False, config=config)
            while True:
                running = command.running()
                t_scan, ms = scan_one(into)  # the last one: a scan that waited on the command's last moment
                if ms > worst.get("ms", -1.0):
                    worst.update(ms=ms, command=args[0], after_start_s=t_scan - command.t0,
                                 while_running=running)
                if not running:
                    break
            command.finish()
        return time.monotonic() - t0

    runs: list[dict[str, Any]] = []
    for r in range(repeats):
        phases: dict[str, list[float]] = {"alone": [], "copy": [], "journal": []}
        seconds = {}
        slowest: dict[str, dict[str, Any]] = {"copy": {}, "journal": {}}
        end = time.monotonic() + quiet_s
        while time.monotonic() < end:
            scan_one(phases["alone"])
        for key in (("copy", "journal") if r % 2 == 0 else ("journal", "copy")):
            seconds[key] = commands(copy if key == "copy" else size.config, phases[key], slowest[key])
        alone = percentiles(phases["alone"])
        runs.append({"alone_ms": alone, "copy_ms": percentiles(phases["copy"]),
                     "journal_ms": percentiles(phases["journal"]), "command_s": seconds, "slowest_scan": slowest,
                     "worst_delay_ms": max(phases["journal"]) - alone["p50"],
                     "copy_worst_delay_ms": max(phases["copy"]) - alone["p50"],
                     "alone_worst_delay_ms": alone["max"] - alone["p50"]})
    kiosk.stop()
    for run in runs:
        run["sharing_delay_ms"] = run["worst_delay_ms"] - run["copy_worst_delay_ms"]
    worst = max(runs, key=lambda run: run["sharing_delay_ms"])
    return {"period_ms": PERIOD_S * 1000, "alone_s": quiet_s, "repeats": repeats, "runs": runs,
            "sharing_delay_ms": worst["sharing_delay_ms"],
            "sharing_delays_ms": [run["sharing_delay_ms"] for run in runs],
            "worst_delay_ms": worst["worst_delay_ms"], "copy_worst_delay_ms": worst["copy_worst_delay_ms"],
            "alone_worst_delay_ms": max(run["alone_worst_delay_ms"] for run in runs),
            "alone_p50_ms": worst["alone_ms"]["p50"]}


def integrity_s(size: Size) -> float | None:
    """The background integrity check's time at this size (None before it left the open path)."""
    from kiosk.journal import Journal

    if not hasattr(Journal, "check_integrity"):
        return None
    journal = Journal.open_readonly(size.journal)
    try:
        t0 = time.perf_counter()
        journal.check_integrity()
        return time.perf_counter() - t0
    finally:
        journal.close()


def one_size(ws: Workspace, sim: Simulator, rows: int, quick: bool) -> dict[str, Any]:
    print(f"  journal with {rows} rows ...", flush=True, file=sys.stderr)
    size = Size(ws, sim, rows)
    repeats = 1 if quick else 3
    settle = 0.0 if quick else SETTLE_S
    warm: list[float] = []
    scan = None
    for r in range(repeats):
        seconds, kiosk, port = startup_once(size)
        warm.append(seconds)
        if r == repeats - 1:
            time.sleep(settle)
            scan = per_scan(kiosk, port, sim.url, 20 if quick else 200)
        kiosk.stop()
    out: dict[str, Any] = {"rows": rows, "build": size.build, "startup_warm_s": statistics.median(warm),
                           "startup_warm_runs": warm, "per_scan": scan, "integrity_check_s": integrity_s(size)}
    if not quick:
        out["cold_evicted"] = prefill.evict(size.journal)
        seconds, kiosk, _ = startup_once(size)
        kiosk.stop()
        out["startup_cold_s"] = seconds
    out["service"] = asyncio.run(service_path(size, 100 if quick else 500, settle))
    out["tools"] = tools(size)
    out["beside"] = beside(size, 0.5 if quick else 5.0, 1 if quick else 2, settle)
    return out


def run(quick: bool, journal_rows: Sequence[int] | None = None) -> dict[str, Any]:
    sizes = sorted(set(journal_rows or (QUICK_SIZES if quick else FULL_SIZES)))
    with Workspace("growth") as ws:
        sim = Simulator(ws, ORDERS)
        results = [one_size(ws, sim, rows, quick) for rows in sizes]
    small, large = results[0], results[-1]
    ratio = large["startup_warm_s"] / small["startup_warm_s"]
    worst = max(results, key=lambda r: r["beside"]["sharing_delay_ms"])
    return {"sizes": sizes, "by_size": {str(r["rows"]): r for r in results},
            "startup_ratio": {"small": small["rows"], "large": large["rows"], "ratio": ratio},
            "worst_delay": {"rows": worst["rows"], "ms": worst["beside"]["sharing_delay_ms"]},
            "targets": {"startup_ratio": TARGET_STARTUP_RATIO, "delay_ms": TARGET_DELAY_MS}}
