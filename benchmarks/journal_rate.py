"""Benchmark: durable scans per second through the service's own journal calls.

Not a hand-written loop of journal calls: the real ``StationService`` (and the scan inbox,
where the code has one) handles each scan exactly as it does in the kiosk, with the
journal on disk in its real settings (WAL, ``synchronous=FULL``: an fsync per commit) and an
in-process connector that answers every check-in at once (``benchmarks.inprocess``). So
the figure is what the kiosk's own per-scan path costs, commits included, and it follows
the service when it changes how many commits a scan takes.

Two ways scans arrive: one by one (each when the last has its result: an idle station,
the target's figure) and in bursts of ``BURST`` (arrivals queue behind the one being
processed, so they are journaled on arrival).

Baseline in the same run: the same on a second station whose journal is switched to
``synchronous=OFF`` (no fsync); blocks alternate between the two so machine noise hits both
alike. Commits per scan are counted on a separate short run (SQLite trace callback); the
difference per scan between the two, divided by the commits, is what one fsync'd commit
costs on this disk.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from benchmarks.harness import Workspace
from benchmarks.inprocess import Rig, check_results

TARGET_SCANS_PER_S = 2000.0
BLOCK = 50
BURST = 25
WARMUP = 20
COUNT_SCANS = 40


async def _timed(rig: Rig, mode: str, start: int, count: int) -> float:
    t0 = time.perf_counter()
    if mode == "one_by_one":
        await rig.one_by_one(start, count)
    else:
        for s in range(start, start + count, BURST):
            await rig.burst(s, min(BURST, start + count - s))
    return time.perf_counter() - t0


async def _commits_per_scan(rig: Rig, mode: str, start: int) -> float:
    with rig.commits_during() as counter:
        await _timed(rig, mode, start, COUNT_SCANS)
    return counter.commits / COUNT_SCANS


async def measure(ws: Workspace, n: int, mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {"scans": n}
    async with Rig(ws.path / f"{mode}-full") as full, Rig(ws.path / f"{mode}-off", synchronous="OFF") as off:
        spent = {"full": 0.0, "off": 0.0}
        rigs = {"full": full, "off": off}
        for rig in rigs.values():
            await _timed(rig, mode, 0, WARMUP)
        for start in range(WARMUP, WARMUP + n, BLOCK):
            count = min(BLOCK, WARMUP + n - start)
            for key, rig in rigs.items():
                spent[key] += await _timed(rig, mode, start, count)
        end = WARMUP + n
        out["commits_per_scan"] = await _commits_per_scan(full, mode, end)
        for key, rig in rigs.items():
            out[f"{key}_check"] = check_results(rig.results, 0, end + (COUNT_SCANS if key == "full" else 0))
        out["settings"] = {"journal_mode": full.db.execute("PRAGMA journal_mode").fetchone()[0],
                           "synchronous": full.db.execute("PRAGMA synchronous").fetchone()[0],
                           "baseline_synchronous": off.db.execute("PRAGMA synchronous").fetchone()[0]}
        out["inbox"] = full.inbox is not None
    out["full_scans_per_s"] = n / spent["full"]
    out["off_scans_per_s"] = n / spent["off"]
    out["ratio"] = out["full_scans_per_s"] / out["off_scans_per_s"]
    out["ms_per_scan_full"] = 1000 / out["full_scans_per_s"]
    out["fsync_ms_per_commit"] = (1000 / out["full_scans_per_s"] - 1000 / out["off_scans_per_s"]) / max(
        out["commits_per_scan"], 1.0)
    return out


def run(quick: bool) -> dict[str, Any]:
    n = 100 if quick else 2000
    with Workspace("journal") as ws:
        one = asyncio.run(measure(ws, n, "one_by_one"))
        burst = asyncio.run(measure(ws, n, "burst"))
    return {"scans": n, "one_by_one": one, "burst": burst, "burst_size": BURST,
            "target_scans_per_s": TARGET_SCANS_PER_S,
            # kept at the top level for readers of older reports
            "full_scans_per_s": one["full_scans_per_s"], "off_scans_per_s": one["off_scans_per_s"],
            "method": "StationService (+ ScanInbox when present) with an instant in-process connector"}
