"""The journal as it grows: open, prune, migration, integrity check, stats and export at
1k / 100k / 1M rows, and the commits a scan costs; the v1 journal code as baseline in the same run.

    python -m benchmarks.journal_growth [--rows 1000,100000,1000000] [--baseline c34a746]

``--baseline REV`` loads ``kiosk/journal.py`` of that git revision (the v1 journal) and times
the same operations with it on a v1 file of the same rows. Files are filled directly with
rows spread over the 80 days before now (inside the 90-day retention, so nothing is pruned
unless said), all ``done`` but 50 ``queued``. Warm cache (the files were just written).
Times are the median of a few runs, in milliseconds.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

from kiosk.journal import Journal, format_ts

REPO = Path(__file__).resolve().parents[1]
RETENTION_DAYS = 90
QUEUED = 50


def median_ms(action: Callable[[], Any], runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        action()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def load_baseline(rev: str) -> ModuleType:
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{rev}:kiosk/journal.py"], capture_output=True,
                            text=True, check=True).stdout
    folder = Path(tempfile.mkdtemp(prefix="journal-baseline-"))
    (folder / "journal_v1.py").write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("journal_v1", folder / "journal_v1.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["journal_v1"] = module
    spec.loader.exec_module(module)
    return module


def rows(n: int, now: datetime, old: int = 0) -> Any:
    """(ts, text, status) oldest first; the first ``old`` rows are older than the retention."""
    span = timedelta(days=80).total_seconds()
    for i in range(n):
        if i < old:
            moment = now - timedelta(days=RETENTION_DAYS + 1, seconds=old - i)
        else:
            moment = now - timedelta(seconds=span * (n - i) / n)
        yield format_ts(moment), f"J{i:07d}", "queued" if i >= n - QUEUED else "done"


def fill(path: Path, n: int, now: datetime, version: int, old: int = 0) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
        if version == 1:
            db.executemany(
                "INSERT INTO scans (ts, scanner, source, profile, station, backend, kind, text, status, outcome,"
                " title, order_number, tray_number, po_number, attempts, updated_ts)"
                " VALUES (?, 'bench', 'scanner', 'LP', 'LP', 'jt', 'job', ?, ?, 'ok', 'Checked in', ?, '', '', 1, ?)",
                ((ts, text, status, text, ts) for ts, text, status in rows(n, now, old)))
        else:
            db.executemany(
                "INSERT INTO scans (ts, scanner, source, profile, station, backend, kind, action, text, status,"
                " outcome, title, fields, attempts, updated_ts)"
                " VALUES (?, 'bench', 'scanner', 'LP', 'LP', 'jt', 'job', 'checkin', ?, ?, 'ok', 'Checked in', ?, 1, ?)",
                ((ts, text, status, json.dumps([{"key": "order_number", "label": "Order", "value": text}]), ts)
                 for ts, text, status in rows(n, now, old)))
        db.execute("COMMIT")


class Null(io.StringIO):
    def write(self, text: str) -> int:
        return len(text)


def rolled_back_ms(path: Path, sql: str, params: tuple) -> float:
    """A statement's time inside a transaction that is rolled back (the file is unchanged)."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        def once() -> None:
            db.execute("BEGIN IMMEDIATE")
            db.execute(sql, params)
            db.execute("ROLLBACK")
        return median_ms(once)


PRUNE_V1 = "DELETE FROM scans WHERE ts < ? AND status IN ('done', 'dismissed')"
PRUNE_V2 = ("DELETE FROM scans WHERE id IN (SELECT id FROM scans INDEXED BY scans_ts WHERE ts < ? "
            "AND status IN ('done', 'dismissed') ORDER BY ts LIMIT -1)")


def measure(n: int, folder: Path, baseline: ModuleType | None) -> dict[str, float]:
    now = datetime.now(UTC)
    cutoff = format_ts(now - timedelta(days=RETENTION_DAYS))
    out: dict[str, float] = {}
    v2 = folder / f"v2-{n}.sqlite3"
    Journal.open(v2).close()
    fill(v2, n, now, 2)
    out["open (new)"] = median_ms(lambda: Journal.open(v2, RETENTION_DAYS).close())
    out["prune, nothing old (new query)"] = rolled_back_ms(v2, PRUNE_V2, (cutoff,))
    out["prune, nothing old (v1 query)"] = rolled_back_ms(v2, PRUNE_V1, (cutoff,))
    with Journal.open(v2) as j:
        out["check_integrity (quick_check, off the open path)"] = median_ms(j.check_integrity, 1)
    midnight = format_ts(datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0))
    with Journal.open_readonly(v2) as j:
        out["open_readonly"] = median_ms(lambda: Journal.open_readonly(v2).close())
        out["stats today (read-only, the CLI default)"] = median_ms(lambda: j.stats(since=midnight))
        out["stats all (read-only)"] = median_ms(lambda: j.stats(), 1)
        out["export all jsonl (read-only)"] = median_ms(lambda: j.export(Null(), fmt="jsonl"), 1)
        out["outbox_counts"] = median_ms(j.outbox_counts)
    if baseline is not None:
        v1 = folder / f"v1-{n}.sqlite3"
        baseline.Journal.open(v1).close()
        fill(v1, n, now, 1)
        out["open (v1 code, v1 file)"] = median_ms(lambda: baseline.Journal.open(v1, RETENTION_DAYS).close())

        def old_stats() -> None:  # what `kiosk journal stats` did: open as the kiosk does, then stats
            with baseline.Journal.open(v1, RETENTION_DAYS) as j:
                j.stats()
        out["stats all (v1 code: write open + prune + stats)"] = median_ms(old_stats, 1)
        with baseline.Journal.open(v1, RETENTION_DAYS) as j:
            out["export all jsonl (v1 code)"] = median_ms(lambda: j.export(Null(), fmt="jsonl"), 1)
        copy = folder / f"v1-copy-{n}.sqlite3"
        shutil.copyfile(v1, copy)
        out["first open of a v1 journal (migration to v2)"] = median_ms(lambda: Journal.open(copy).close(), 1)
        copy.unlink()
        v1.unlink()
    old = folder / f"v2-old-{n}.sqlite3"
    Journal.open(old).close()
    fill(old, n, now, 2, old=min(3000, n // 2))
    out["prune 3000 old rows (new query)"] = rolled_back_ms(old, PRUNE_V2, (cutoff,))
    out["prune 3000 old rows (v1 query)"] = rolled_back_ms(old, PRUNE_V1, (cutoff,))
    old.unlink()
    v2.unlink()
    return out


def per_scan(folder: Path, scans: int = 600) -> dict[str, float]:
    """Durable scans per second through the calls a service makes, each variant on its own
    journal, alternating blocks so machine noise hits all alike."""
    journals = {name: Journal.open(folder / f"rate-{name}.sqlite3") for name in ("3 commits", "2 commits", "burst of 10")}
    spent = dict.fromkeys(journals, 0.0)
    common: dict[str, Any] = {"scanner": "bench", "source": "scanner", "profile": "LP", "station": "LP", "backend": "jt",
              "operator": None, "kind": "job", "raw": None, "symbology": None}
    outcome: dict[str, Any] = {"status": "done", "outcome": "ok", "title": "Checked in", "attempts": 1, "latency_ms": 2.0,
               "fields": [{"key": "order_number", "label": "Order", "value": "J1"}]}
    try:
        for block in range(scans // 10):
            j = journals["3 commits"]
            t0 = time.perf_counter()
            for i in range(10):
                row = j.add_scan(**common, text=f"J{block}-{i}", status="received")
                j.update_scan(row, status="sending", action="checkin")
                j.update_scan(row, **outcome)
            spent["3 commits"] += time.perf_counter() - t0
            j = journals["2 commits"]
            t0 = time.perf_counter()
            for i in range(10):
                row = j.add_scan(**common, text=f"J{block}-{i}", status="sending", action="checkin")
                j.update_scan(row, **outcome)
            spent["2 commits"] += time.perf_counter() - t0
            j = journals["burst of 10"]
            t0 = time.perf_counter()
            ids = j.add_scans([{**common, "text": f"J{block}-{i}", "status": "received"} for i in range(10)])
            for row in ids:
                j.update_scan(row, **outcome)
            spent["burst of 10"] += time.perf_counter() - t0
    finally:
        for j in journals.values():
            j.close()
    return {f"{name} per scan: scans/s": scans / s for name, s in spent.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="1000,100000,1000000")
    parser.add_argument("--baseline", help="git revision whose kiosk/journal.py is the v1 baseline, e.g. c34a746")
    args = parser.parse_args()
    baseline = load_baseline(args.baseline) if args.baseline else None
    with tempfile.TemporaryDirectory(prefix="journal-growth-") as tmp:
        folder = Path(tmp)
        results = {n: measure(n, folder, baseline) for n in (int(r) for r in args.rows.split(","))}
        rates = per_scan(folder)
    names = list(next(iter(results.values())))
    width = max(len(name) for name in names)
    print(f"{'ms (median)':<{width}}  " + "  ".join(f"{n:>10,}" for n in results))
    for name in names:
        print(f"{name:<{width}}  " + "  ".join(f"{results[n][name]:>10.1f}" for n in results))
    print()
    for name, rate in rates.items():
        print(f"{name:<{width}}  {rate:>10,.0f}")


if __name__ == "__main__":
    main()
