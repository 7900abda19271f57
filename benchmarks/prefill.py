"""A pre-filled journal: ``rows`` scans spread over the past year, in the journal's own schema.

The kiosk's own ``Journal.open`` creates the file (so the schema, indexes and version are
exactly those of the code under test, v1 or v2), then one transaction of ``executemany``
inserts the rows through plain SQLite: the column list is read from the table, so the
filler follows the schema (``order_number``/``tray_number``/``po_number`` in v1;
``action``/``request``/``fields`` in v2; a column it does not know gets its default, or an
empty value when it has none). Rows are what a year at a busy station leaves: ids and
``ts`` ascending over ``days`` days, about 95 % checked in, 3 % refused, 2 % errors, a few
operator badges, all final (``done``; nothing waits in the outbox), plus a login event per
100 scans. ``days`` stays inside the kiosk's retention so nothing is pruned at start.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import BACKEND, STATION

DAYS = 360
"""Spread of the rows; the benchmark config keeps ``RETENTION_DAYS`` so none is pruned."""
RETENTION_DAYS = 400
OPERATOR = "OP1234"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _fields_json(order: str, tray: str, po: str) -> str:
    return json.dumps([{"key": "order_number", "label": "Order", "value": order},
                       {"key": "tray_number", "label": "Tray", "value": tray},
                       {"key": "po_number", "label": "PO", "value": po},
                       {"key": "station", "label": "Station", "value": STATION}])


def _row(i: int, ts: str) -> dict[str, Any]:
    """Column values of the i-th scan (by column name; the caller picks what the table has)."""
    kind = "operator" if i % 200 == 0 else "job"
    order, tray, po = f"J{i:07d}", f"T{i % 997:03d}", f"PO-{i % 5000}"
    if kind == "operator":
        outcome, title, details, status_code = "operator", "Operator signed in", "[]", None
    elif i % 50 == 1:
        outcome, title, details, status_code = "error", "Server not reachable", '["Connection refused"]', None
    elif i % 33 == 2:
        outcome, title, details, status_code = "rejected", "Order not found", '["No active order ' + order + '"]', 404
    else:
        outcome, title, details, status_code = "ok", "Checked in", "[]", 200
    ok = outcome == "ok"
    return {
        "ts": ts, "scanner": "bench", "source": "scanner", "profile": STATION, "station": STATION,
        "backend": BACKEND, "operator": OPERATOR, "kind": kind, "text": OPERATOR if kind == "operator" else order,
        "raw": None, "symbology": None, "status": "done", "outcome": outcome, "title": title,
        "details": details, "http_status": status_code, "latency_ms": 2.0 if status_code else None,
        "attempts": 1 if kind == "job" else 0, "next_attempt_at": None, "updated_ts": ts,
        "order_number": order if ok else None, "tray_number": tray if ok else None, "po_number": po if ok else None,
        "action": "checkin" if kind == "job" else None, "request": None,
        "fields": _fields_json(order, tray, po) if ok else "[]",
    }


def _columns(db: sqlite3.Connection, table: str) -> list[tuple[str, str, bool, bool]]:
    """(name, type, not null, has default) of each column but the id."""
    return [(name, kind.upper(), bool(notnull), default is not None)
            for _, name, kind, notnull, default, pk in db.execute(f"PRAGMA table_info({table})") if not pk]


def _empty(kind: str) -> Any:
    return 0 if kind in ("INTEGER", "REAL") else ""


def _inserter(columns: list[tuple[str, str, bool, bool]]) -> tuple[list[str], Callable[[dict[str, Any]], tuple]]:
    known = set(_row(0, "x"))
    names = [name for name, _, notnull, has_default in columns if name in known or (notnull and not has_default)]
    blanks = {name: _empty(kind) for name, kind, _, _ in columns if name not in known}

    def values(row: dict[str, Any]) -> tuple:
        return tuple(row[name] if name in row else blanks[name] for name in names)

    return names, values


def _times(rows: int, days: float, now: datetime) -> Iterator[str]:
    start = now - timedelta(days=days)
    step = timedelta(days=days) / max(rows, 1)
    for i in range(rows):
        yield _ts(start + step * i)


def build(path: Path, rows: int, *, days: float = DAYS, now: datetime | None = None) -> dict[str, Any]:
    """Create ``path`` with ``rows`` scans; return how long it took and what it holds."""
    from kiosk.journal import Journal

    t0 = time.monotonic()
    Journal.open(path, RETENTION_DAYS).close()
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        db.execute("PRAGMA synchronous = OFF")
        names, values = _inserter(_columns(db, "scans"))
        marks = ", ".join("?" * len(names))
        moment = now or datetime.now(UTC)
        db.execute("BEGIN")
        db.executemany(f"INSERT INTO scans ({', '.join(names)}) VALUES ({marks})",
                       (values(_row(i, ts)) for i, ts in enumerate(_times(rows, days, moment))))
        db.executemany("INSERT INTO events (ts, kind, who, profile, detail) VALUES (?, 'login', ?, ?, '{}')",
                       ((ts, OPERATOR, STATION) for ts in _times(max(1, rows // 100), days, moment)))
        db.execute("COMMIT")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        count = db.execute("SELECT count(*) FROM scans").fetchone()[0]
    finally:
        db.close()
    flush(path)
    return {"rows": count, "schema_version": version, "seconds": time.monotonic() - t0,
            "bytes": path.stat().st_size, "days": days}


def flush(path: Path) -> None:
    """Write the file's dirty pages to disk now. Built without fsync, the journal would leave
    hundreds of MB for the kiosk's first fsync (its first WAL checkpoint) to write: a
    120-170 ms scan at 1M rows that is the benchmark's doing, not the kiosk's."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def evict(path: Path) -> bool:
    """Drop the journal's files from the page cache (a cold start without root); True if done."""
    done = False
    for name in (path.name, path.name + "-wal", path.name + "-shm"):
        target = path.with_name(name)
        try:
            fd = os.open(target, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            done = True
        finally:
            os.close(fd)
    return done
