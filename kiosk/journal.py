"""The scan journal: every scan, its outcome, the outbox and the lead's actions, in SQLite.

The kiosk writes each scan here before anything is sent or shown; the sender works from
the outbox; the lead's screens and ``kiosk export`` / ``kiosk stats`` read it back.

Durability: WAL mode, ``synchronous=FULL``; every write method commits before it returns,
so a scan is on disk before anything is sent or shown. A journal that cannot be opened,
checked or written raises ``JournalError`` whose text says what is wrong and what to do.

Scan status model (column ``status``):
- ``received`` written on arrival, not yet handled by the station logic (it had to wait,
  e.g. behind an error screen); handled first after a restart
- ``sending``  written, an attempt is (or was, at a crash) in flight
- ``pending``  written, waiting in the outbox behind earlier scans, never attempted
- ``queued``   an attempt failed transiently (unreachable, 5xx, 429); waits for the sender
- ``done``     final outcome recorded (ok, rejected, error, operator, ignored, duplicate, ...)
- ``parked``   a replay the vendor refused, or an unknown result under ``on_unknown="park"``
- ``dismissed`` a parked scan a lead dismissed (who and why recorded)

Only ``done`` and ``dismissed`` rows are ever pruned (after ``retention_days``, by ``ts``);
events are pruned by age too, settings never.

Tables: ``scans`` (one row per scan, ids AUTOINCREMENT so they are never reused),
``events`` (logins, logouts, profile switches, lead actions, dismissals) and ``settings``
(key/value, e.g. the active profile). Times are ISO 8601 UTC with milliseconds and ``Z``.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Iterable

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 5000

STATUSES = ("received", "sending", "pending", "queued", "done", "parked", "dismissed")
OUTBOX_STATUSES = ("sending", "pending", "queued")
PRUNABLE_STATUSES = ("done", "dismissed")

Clock = Callable[[], datetime]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scans (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts              TEXT NOT NULL,
    scanner         TEXT NOT NULL,
    source          TEXT NOT NULL,
    profile         TEXT NOT NULL,
    station         TEXT NOT NULL,
    backend         TEXT NOT NULL,
    operator        TEXT,
    kind            TEXT NOT NULL,
    text            TEXT NOT NULL,
    raw             BLOB,
    symbology       TEXT,
    status          TEXT NOT NULL,
    outcome         TEXT,
    title           TEXT,
    details         TEXT NOT NULL DEFAULT '[]',
    http_status     INTEGER,
    latency_ms      REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    order_number    TEXT,
    tray_number     TEXT,
    po_number       TEXT,
    next_attempt_at REAL,
    updated_ts      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scans_outbox ON scans (status, id);
CREATE INDEX IF NOT EXISTS scans_ts ON scans (ts);
CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    who     TEXT,
    profile TEXT,
    detail  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
_OWN_TABLES = {"scans", "events", "settings", "sqlite_sequence"}


class JournalError(Exception):
    """The journal cannot be opened or written; ``str()`` says what and what to do."""


@dataclass(frozen=True)
class ScanRow:
    id: int
    ts: str  # ISO 8601 UTC with milliseconds, e.g. 2026-11-21T23:40:00.123Z
    scanner: str
    source: str  # scanner | manual
    profile: str
    station: str
    backend: str
    operator: str | None
    kind: str  # job | operator | lead | command | unknown
    text: str
    raw: bytes | None  # only where it differs from text.encode()
    symbology: str | None
    status: str
    outcome: str | None
    title: str | None
    details: tuple[str, ...]
    http_status: int | None
    latency_ms: float | None
    attempts: int
    order_number: str | None
    tray_number: str | None
    po_number: str | None
    next_attempt_at: float | None  # wall-clock epoch seconds
    updated_ts: str


SCAN_FIELDS = tuple(f.name for f in fields(ScanRow))
_UPDATABLE = frozenset(SCAN_FIELDS) - {"id", "ts", "updated_ts"}
_COLUMNS = ", ".join(SCAN_FIELDS)


# -- time helpers -------------------------------------------------------------------------

def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_ts(moment: datetime) -> str:
    """``2026-11-21T23:40:00.123Z``; a naive datetime counts as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str, what: str = "time") -> str:
    """Any ISO date/time (``2026-11-21``, ``2026-11-21T10:00``, Z or offset, naive = UTC)
    as the journal's canonical UTC text, so it compares correctly with stored ``ts``."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError, TypeError):
        raise ValueError(
            f"{what} {value!r} is not an ISO date or time; "
            "use e.g. 2026-11-21, 2026-11-21T10:00 or 2026-11-21T10:00:00Z (no zone = UTC)"
        ) from None
    return format_ts(moment)


# -- value helpers ------------------------------------------------------------------------

def _safe_text(text: str, raw: bytes | None) -> tuple[str, bytes | None]:
    """Text SQLite can store (valid UTF-8) and the raw bytes to keep beside it.

    A scan is never refused for its text: lone surrogates (e.g. from ``surrogateescape``
    decoding) are replaced in ``text`` and the original bytes kept in ``raw``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if raw is None:
            raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass")
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text, raw


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _stored_raw(text: str, raw: bytes | None) -> bytes | None:
    if raw is None or bytes(raw) == text.encode("utf-8"):
        return None
    return bytes(raw)


def _details_json(details: Iterable[str]) -> str:
    if isinstance(details, (str, bytes)):
        raise ValueError("details must be a sequence of strings, not a single string")
    return json.dumps([str(d) for d in details], ensure_ascii=False)


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown scan status {status!r}; expected one of {', '.join(STATUSES)}")


def _row_to_scan(row: tuple) -> ScanRow:
    values = dict(zip(SCAN_FIELDS, row))
    values["details"] = tuple(json.loads(values["details"]))
    return ScanRow(**values)


def _explain(exc: sqlite3.Error, path: Path) -> str:
    """What a SQLite error means for the kiosk's user, and what to do about it."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    name = path.name
    if code == "SQLITE_NOTADB":
        return f"{path}: {name} is not a kiosk journal (file is not a database): move it aside and restart"
    if code.startswith("SQLITE_CORRUPT"):
        return (f"{path}: the journal is corrupt ({exc}): move {name} (and any {name}-wal, {name}-shm) "
                "aside, keep it for recovery (sqlite3 .recover), and restart to start a new journal")
    if code.startswith("SQLITE_READONLY") or code == "SQLITE_PERM":
        return (f"{path}: cannot write the journal ({exc}): make {name} and its folder writable "
                "by the kiosk user and restart")
    if code.startswith("SQLITE_CANTOPEN"):
        return (f"{path}: cannot open the journal ({exc}): check that the folder exists and that the "
                f"kiosk user may create {name}, {name}-wal and {name}-shm in it")
    if code.startswith("SQLITE_BUSY") or code.startswith("SQLITE_LOCKED"):
        return (f"{path}: the journal is locked by another process ({exc}): "
                "is another kiosk running on the same journal? Stop it and retry")
    if code == "SQLITE_FULL":
        return f"{path}: the disk is full ({exc}): free space, then restart"
    if code.startswith("SQLITE_IOERR"):
        return f"{path}: disk I/O error on the journal ({exc}): check the disk and restart"
    return f"{path}: journal error ({exc})"


# -- the journal --------------------------------------------------------------------------

class Journal:
    """One SQLite connection, guarded by a lock so a background thread may also call in."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock) -> None:
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self._clock = clock
        self._lock = threading.RLock()
        self._identity: tuple[int, int] | None = None

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, retention_days: float = 90, *, clock: Clock | None = None) -> "Journal":
        """Open or create; check integrity; prune rows older than retention (by ts).

        The folder must exist. Raises ``JournalError`` if the file is not a journal, is
        corrupt, or cannot be written (a write is made at open to prove it)."""
        path = Path(path)
        _check_location(path)
        try:
            conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise JournalError(_explain(exc, path)) from exc
        journal = cls(conn, path, clock or _utc_now)
        try:
            journal._prepare(retention_days)
        except BaseException:
            conn.close()
            raise
        return journal

    def _prepare(self, retention_days: float) -> None:
        conn = self._db()
        try:
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            self._check_is_journal(version)
            self._check_quick()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise JournalError(f"{self.path}: cannot switch the journal to WAL mode (got {mode!r}): "
                                   "put the journal on a local disk")
            conn.execute("PRAGMA synchronous = FULL")
            with self._write():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._prune(retention_days)
                # Proves at open, not at the first scan, that the journal can be written.
                self._put_setting("journal.opened_ts", self._now())
            self._identity = _file_identity(self.path)
        except sqlite3.Error as exc:
            raise JournalError(_explain(exc, self.path)) from exc

    def _check_is_journal(self, version: int) -> None:
        if version > SCHEMA_VERSION:
            raise JournalError(f"{self.path}: the journal was written by a newer kiosk (schema {version}, "
                               f"this kiosk knows {SCHEMA_VERSION}): upgrade the kiosk or move the file aside")
        tables = {r[0] for r in self._db().execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        if version == 0 and tables - _OWN_TABLES:
            raise JournalError(f"{self.path}: {self.path.name} is a SQLite database but not a kiosk journal "
                               f"(tables {', '.join(sorted(tables - _OWN_TABLES))}): "
                               "point kiosk.journal at another file or move it aside and restart")

    def _check_quick(self) -> None:
        result = [r[0] for r in self._db().execute("PRAGMA quick_check")]
        if result != ["ok"]:
            summary = "; ".join(result[:3]) + (" ..." if len(result) > 3 else "")
            raise JournalError(f"{self.path}: the journal is corrupt (quick_check: {summary}): move "
                               f"{self.path.name} (and any -wal/-shm files) aside, keep it for recovery "
                               "(sqlite3 .recover), and restart to start a new journal")

    def _prune(self, retention_days: float) -> None:
        cutoff = format_ts(self._clock() - timedelta(days=retention_days))
        marks = ", ".join("?" * len(PRUNABLE_STATUSES))
        self._db().execute(f"DELETE FROM scans WHERE ts < ? AND status IN ({marks})",
                           (cutoff, *PRUNABLE_STATUSES))
        self._db().execute("DELETE FROM events WHERE ts < ?", (cutoff,))

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JournalError(f"{self.path}: the journal is closed")
        return self._conn

    def _now(self) -> str:
        return format_ts(self._clock())

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction; SQLite errors become ``JournalError``."""
        with self._lock:
            conn = self._db()
            self._check_not_moved()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise JournalError(_explain(exc, self.path)) from exc

    def _check_not_moved(self) -> None:
        """SQLite goes on writing to a journal file that was deleted or moved away (in WAL
        mode it does not notice), and those scans would be gone at the next start."""
        if self._identity is not None and _file_identity(self.path) != self._identity:
            raise JournalError(f"{self.path}: the journal file was deleted or moved while the kiosk was running: "
                               "cannot write the journal; restore the file or its folder and restart")

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db().execute(sql, tuple(params)).fetchall()
            except sqlite3.Error as exc:
                raise JournalError(_explain(exc, self.path)) from exc

    # -- scans ------------------------------------------------------------------------

    def add_scan(self, *, scanner: str, source: str, profile: str, station: str, backend: str,
                 operator: str | None, kind: str, text: str, raw: bytes | None, symbology: str | None,
                 status: str, outcome: str | None = None, title: str | None = None,
                 details: Iterable[str] = (), ts: str | None = None,
                 http_status: int | None = None, latency_ms: float | None = None, attempts: int = 0,
                 order_number: str | None = None, tray_number: str | None = None,
                 po_number: str | None = None, next_attempt_at: float | None = None) -> int:
        """Insert one scan durably and return its id (ids increase in scan order).

        ``ts`` may be any ISO time (stored as canonical UTC); default now. The fields after
        ``ts`` let a scan whose outcome is already known be recorded in one write."""
        _check_status(status)
        text, raw = _safe_text(text, raw)
        now = self._now()
        row = dict(ts=parse_time(ts, "ts") if ts is not None else now, scanner=scanner, source=source,
                   profile=profile, station=station, backend=backend, operator=operator, kind=kind,
                   text=text, raw=_stored_raw(text, raw), symbology=symbology, status=status,
                   outcome=outcome, title=title, details=_details_json(details), http_status=http_status,
                   latency_ms=latency_ms, attempts=attempts, order_number=order_number,
                   tray_number=tray_number, po_number=po_number, next_attempt_at=next_attempt_at,
                   updated_ts=now)
        names = ", ".join(row)
        marks = ", ".join("?" * len(row))
        with self._write() as conn:
            cursor = conn.execute(f"INSERT INTO scans ({names}) VALUES ({marks})", tuple(row.values()))
            return int(cursor.lastrowid)

    def update_scan(self, scan_id: int, **fields: Any) -> None:
        """Set any ScanRow fields except id/ts (details as a sequence); bumps updated_ts; durable.

        Unknown fields raise ``ValueError`` (``updated_ts`` is always set to now); an
        unknown ``scan_id`` raises ``KeyError``."""
        unknown = set(fields) - _UPDATABLE
        if unknown:
            raise ValueError(f"update_scan: cannot set {', '.join(sorted(unknown))}; "
                             f"settable fields are {', '.join(sorted(_UPDATABLE))}")
        if not fields:
            return
        values = dict(fields)
        if "status" in values:
            _check_status(values["status"])
        if "details" in values:
            values["details"] = _details_json(values["details"])
        with self._write() as conn:
            if "text" in values or "raw" in values:
                values.update(self._text_and_raw(conn, scan_id, values))
            values["updated_ts"] = self._now()
            assignments = ", ".join(f"{name} = ?" for name in values)
            cursor = conn.execute(f"UPDATE scans SET {assignments} WHERE id = ?", (*values.values(), scan_id))
            if cursor.rowcount == 0:
                raise KeyError(f"no scan with id {scan_id} in the journal")

    @staticmethod
    def _text_and_raw(conn: sqlite3.Connection, scan_id: int, values: dict[str, Any]) -> dict[str, Any]:
        """Keep ``raw`` meaning "the bytes, where they differ from text" when either changes."""
        current = conn.execute("SELECT text, raw FROM scans WHERE id = ?", (scan_id,)).fetchone()
        if current is None:
            raise KeyError(f"no scan with id {scan_id} in the journal")
        old_text, old_raw = current
        raw = values["raw"] if "raw" in values else (old_raw if old_raw is not None else old_text.encode())
        text, raw = _safe_text(values.get("text", old_text), raw)
        return {"text": text, "raw": _stored_raw(text, raw)}

    def get(self, scan_id: int) -> ScanRow | None:
        rows = self._read(f"SELECT {_COLUMNS} FROM scans WHERE id = ?", (scan_id,))
        return _row_to_scan(rows[0]) if rows else None

    def outbox(self, backend: str | None = None, limit: int | None = None) -> list[ScanRow]:
        """Rows with status sending, pending or queued, oldest id first (at most ``limit``)."""
        where, params = self._outbox_where(backend)
        sql = f"SELECT {_COLUMNS} FROM scans WHERE {where} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_row_to_scan(r) for r in self._read(sql, params)]

    def outbox_count(self, backend: str | None = None) -> int:
        """How many rows ``outbox(backend)`` would return, without reading them."""
        where, params = self._outbox_where(backend)
        return self._read(f"SELECT count(*) FROM scans WHERE {where}", params)[0][0]

    @staticmethod
    def _outbox_where(backend: str | None) -> tuple[str, list[Any]]:
        where = f"status IN ({', '.join('?' * len(OUTBOX_STATUSES))})"
        params: list[Any] = list(OUTBOX_STATUSES)
        if backend is not None:
            where += " AND backend = ?"
            params.append(backend)
        return where, params

    def parked(self) -> list[ScanRow]:
        """Parked rows (waiting for a lead), oldest id first."""
        return self._with_status("parked")

    def received(self) -> list[ScanRow]:
        """Rows taken in but not yet handled by the station logic, oldest id first."""
        return self._with_status("received")

    def _with_status(self, status: str) -> list[ScanRow]:
        return [_row_to_scan(r) for r in
                self._read(f"SELECT {_COLUMNS} FROM scans WHERE status = ? ORDER BY id", (status,))]

    def count_status(self, status: str) -> int:
        return self._read("SELECT count(*) FROM scans WHERE status = ?", (status,))[0][0]

    # -- events and settings ----------------------------------------------------------

    def add_event(self, kind: str, who: str | None, profile: str | None, detail: dict[str, Any] | None = None) -> int:
        """Record a login, logout, profile switch, lead action, dismissal ... durably."""
        detail_json = json.dumps(detail or {}, ensure_ascii=False, default=str)
        with self._write() as conn:
            cursor = conn.execute("INSERT INTO events (ts, kind, who, profile, detail) VALUES (?, ?, ?, ?, ?)",
                                  (self._now(), kind, who, profile, detail_json))
            return int(cursor.lastrowid)

    def events(self, since: str | None = None) -> list[dict[str, Any]]:
        """Events since an ISO time (all if None), oldest first, ``detail`` as a dict."""
        sql = "SELECT id, ts, kind, who, profile, detail FROM events"
        params: tuple = ()
        if since is not None:
            sql, params = sql + " WHERE ts >= ?", (parse_time(since, "since"),)
        return [dict(id=i, ts=ts, kind=kind, who=who, profile=profile, detail=json.loads(detail))
                for i, ts, kind, who, profile, detail in self._read(sql + " ORDER BY id", params)]

    def get_setting(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: str) -> None:
        with self._write():
            self._put_setting(key, value)

    def _put_setting(self, key: str, value: str) -> None:
        self._db().execute("INSERT INTO settings (key, value) VALUES (?, ?) "
                           "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, str(value)))

    # -- reading out ------------------------------------------------------------------

    def export(self, out: IO[str], since: str | None = None, fmt: str = "jsonl") -> int:
        """Write scans since ISO time as CSV or JSON lines; return the row count.

        CSV: a header row, ``details`` joined with " | ", ``raw`` as hex (open ``out``
        with ``newline=""``). JSON lines: ``details`` a list, ``raw`` hex or null, ASCII
        only so no character in the data can split a line. Text is exported exactly."""
        if fmt not in ("csv", "jsonl"):
            raise ValueError(f"unknown export format {fmt!r}; use 'csv' or 'jsonl'")
        sql, params = f"SELECT {_COLUMNS} FROM scans", ()
        if since is not None:
            sql, params = sql + " WHERE ts >= ?", (parse_time(since, "since"),)
        writer = csv.writer(out) if fmt == "csv" else None
        if writer:
            writer.writerow(SCAN_FIELDS)
        count = 0
        with self._lock:
            try:
                rows = self._db().execute(sql + " ORDER BY id", params)
                for row in rows:
                    scan = _row_to_scan(row)
                    if writer:
                        writer.writerow(_csv_values(scan))
                    else:
                        out.write(json.dumps(_json_values(scan)) + "\n")
                    count += 1
            except sqlite3.Error as exc:
                raise JournalError(_explain(exc, self.path)) from exc
        return count

    def stats(self, since: str | None = None) -> dict[str, Any]:
        """{"by_outcome": {outcome: n}, "by_hour": {"2026-11-21T23": n}, "total": n}.

        Scans without an outcome yet count under their status in parentheses, e.g.
        ``"(queued)"``. Hours are UTC."""
        where, params = "", ()
        if since is not None:
            where, params = " WHERE ts >= ?", (parse_time(since, "since"),)
        by_outcome = self._read("SELECT coalesce(outcome, '(' || status || ')') AS o, count(*) "
                                f"FROM scans{where} GROUP BY o ORDER BY count(*) DESC, o", params)
        by_hour = self._read(f"SELECT substr(ts, 1, 13) AS h, count(*) FROM scans{where} GROUP BY h ORDER BY h",
                             params)
        return {"total": sum(n for _, n in by_outcome), "by_outcome": dict(by_outcome), "by_hour": dict(by_hour)}

    def integrity_check(self) -> str:
        """The text of ``PRAGMA integrity_check``: "ok" when the journal is sound."""
        return "\n".join(r[0] for r in self._read("PRAGMA integrity_check"))


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_location(path: Path) -> None:
    """Say plainly what is wrong with where the journal should be, before SQLite does."""
    folder = path.parent
    if not folder.exists():
        raise JournalError(f"{path}: the folder {folder} does not exist: create it (the kiosk does not "
                           "create folders) or fix kiosk.journal in the config")
    if not folder.is_dir():
        raise JournalError(f"{path}: {folder} is not a folder: fix kiosk.journal in the config")
    if path.is_dir():
        raise JournalError(f"{path} is a folder, not a journal file: fix kiosk.journal in the config")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise JournalError(f"{path}: {path.name} is read-only or unreadable for the kiosk user: "
                           "make it readable and writable (chmod u+rw) and restart")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise JournalError(f"{path}: the folder {folder} is not writable for the kiosk user (the journal "
                           f"needs to create {path.name}-wal and -shm there): fix its permissions and restart")


def _csv_values(scan: ScanRow) -> list[Any]:
    values = []
    for name in SCAN_FIELDS:
        value = getattr(scan, name)
        if name == "details":
            value = " | ".join(value)
        elif name == "raw":
            value = value.hex() if value is not None else ""
        values.append("" if value is None else value)
    return values


def _json_values(scan: ScanRow) -> dict[str, Any]:
    values = {name: getattr(scan, name) for name in SCAN_FIELDS}
    values["details"] = list(scan.details)
    values["raw"] = scan.raw.hex() if scan.raw is not None else None
    return values


def format_stats(stats: dict[str, Any]) -> str:
    """A readable table of ``Journal.stats()`` for the terminal."""
    lines = [f"Scans: {stats['total']}"]
    for title, table in (("Outcome", stats["by_outcome"]), ("Hour (UTC)", stats["by_hour"])):
        if not table:
            continue
        width = max(len(title), *(len(str(k)) for k in table))
        count_width = max(5, *(len(str(n)) for n in table.values()))
        lines += ["", f"{title:<{width}}  {'Count':>{count_width}}", f"{'-' * width}  {'-' * count_width}"]
        lines += [f"{str(key):<{width}}  {n:>{count_width}}" for key, n in table.items()]
    return "\n".join(lines)
