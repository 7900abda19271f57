"""Benchmark 4: durable scan records per second in the journal.

Each scan is recorded the way the service records a live check-in: ``add_scan`` (status
``sending``) then ``update_scan`` with the outcome, each a committed transaction. The
journal runs with its real settings (WAL, ``synchronous=FULL``: an fsync per commit).
Baseline in the same run: the same calls on a second journal switched to
``synchronous=OFF`` (no fsync), alternating blocks of scans between the two so machine
noise hits both alike. The ratio FULL/OFF is the price of durability.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from benchmarks.harness import BACKEND, STATION, Workspace, order_code
from kiosk.journal import Journal

BLOCK = 50


def record_scan(journal: Journal, i: int) -> None:
    """One live check-in's journal writes, as ``StationService`` makes them."""
    code = order_code(i)
    row = journal.add_scan(scanner="bench", source="scanner", profile=STATION, station=STATION, backend=BACKEND,
                           operator=None, kind="job", text=code, raw=None, symbology=None, status="sending")
    journal.update_scan(row, status="done", outcome="ok", title="Checked in", details=(), http_status=200,
                        order_number=code, tray_number="", po_number="", attempts=1, latency_ms=2.0)


def timed_block(journal: Journal, start: int, count: int) -> float:
    t0 = time.perf_counter()
    for i in range(start, start + count):
        record_scan(journal, i)
    return time.perf_counter() - t0


def open_journal(path: Path, synchronous: str) -> Journal:
    journal = Journal.open(path)
    if synchronous != "FULL":
        journal._db().execute(f"PRAGMA synchronous = {synchronous}")  # the baseline only
    return journal


def run(quick: bool) -> dict[str, Any]:
    n = 200 if quick else 2000
    with Workspace("journal") as ws:
        full = open_journal(ws.path / "full.sqlite3", "FULL")
        ws.callback(full.close)
        off = open_journal(ws.path / "off.sqlite3", "OFF")
        ws.callback(off.close)
        spent = {"full": 0.0, "off": 0.0}
        for start in range(0, n, BLOCK):
            count = min(BLOCK, n - start)
            spent["full"] += timed_block(full, start, count)
            spent["off"] += timed_block(off, start, count)
        mode = full._db().execute("PRAGMA journal_mode").fetchone()[0]
        sync = full._db().execute("PRAGMA synchronous").fetchone()[0]
    full_rate, off_rate = n / spent["full"], n / spent["off"]
    return {"scans": n, "full_scans_per_s": full_rate, "off_scans_per_s": off_rate,
            "ratio": full_rate / off_rate, "ms_per_scan_full": 1000 / full_rate,
            "settings": {"journal_mode": mode, "synchronous": sync}}
