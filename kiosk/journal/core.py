"""``Journal``: the kiosk's one SQLite connection to its journal, and read-only readers.

See the package docstring for what is stored and the guarantees.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Self

from kiosk.journal.errors import JournalError, check_location, corrupt, explain
from kiosk.journal.export import writer_for
from kiosk.journal.lock import FILE_MODE, JournalLock
from kiosk.journal.schema import (
    OWN_TABLES,
    SCHEMA_VERSION,
    create_schema,
    migrate_v1,
    register_functions,
    select_columns,
)
from kiosk.journal.values import (
    LEGACY_NAMES,
    OUTBOX_STATUSES,
    PRUNABLE_STATUSES,
    SCAN_FIELDS,
    ScanRow,
    column_values,
    format_ts,
    parse_time,
    row_to_scan,
    row_values,
    safe_text,
    stored_raw,
    utc_now,
)

BUSY_TIMEOUT_MS = 5000
PRUNE_AT_OPEN = 20_000
"""At most this many scans (and as many events) are pruned while opening, so a journal
that was not opened for months does not hold up the start; ``prune()`` does the rest."""
PROGRESS_EVERY = 1000

Clock = Callable[[], datetime]

_UPDATABLE = (frozenset(SCAN_FIELDS) - {"id", "ts", "updated_ts"}) | LEGACY_NAMES


class Journal:
    """One SQLite connection, guarded by a lock so a background thread may also call in."""

    def __init__(self, conn: sqlite3.Connection, path: Path, clock: Clock, *, readonly: bool = False,
                 lock: JournalLock | None = None) -> None:
        self._conn: sqlite3.Connection | None = conn
        self.path = path
        self.readonly = readonly
        self._clock = clock
        self._lock = threading.RLock()
        self._file_lock = lock
        self._identity: tuple[int, int] | None = None
        self._columns = select_columns(SCHEMA_VERSION)

    # -- opening ----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, retention_days: float = 90, *, clock: Clock | None = None) -> Journal:
        """Open or create the journal for a kiosk: lock it, migrate it, prune old rows (by ts).

        The folder must exist. Raises ``JournalLocked`` while another process holds the
        journal, ``JournalError`` if the file is not a journal, was written by a newer kiosk,
        has a corrupt header, or cannot be written (a write is made at open to prove it).
        The full integrity check is ``check_integrity()``, for after the kiosk is ready."""
        path = Path(path)
        check_location(path)
        file_lock = JournalLock.acquire(path)
        try:
            _create_private(path)
            conn = _connect(str(path), path)
            journal = cls(conn, path, clock or utc_now, lock=file_lock)
            try:
                journal._prepare(retention_days)
            except BaseException:
                conn.close()
                raise
        except BaseException:
            file_lock.release()
            raise
        return journal

    @classmethod
    def open_readonly(cls, path: Path, *, clock: Clock | None = None) -> Journal:
        """Open for reading only (``kiosk journal export/stats``): no lock, no prune, no write,
        so it runs beside a kiosk that is scanning. Reads a v1 journal as v2 rows."""
        path = Path(path)
        check_location(path, write=False)
        conn = _connect(path.resolve().as_uri() + "?mode=ro", path, uri=True)
        journal = cls(conn, path, clock or utc_now, readonly=True)
        try:
            version = journal._check_is_journal()
            if version == 0:
                raise JournalError(f"{path}: {path.name} is not a kiosk journal (it has no tables): "
                                   "check kiosk.journal in the config")
            journal._columns = select_columns(version)
        except sqlite3.Error as exc:
            conn.close()
            raise JournalError(explain(exc, path)) from exc
        except BaseException:
            conn.close()
            raise
        return journal

    def _prepare(self, retention_days: float) -> None:
        conn = self._db()
        try:
            version = self._check_is_journal()
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise JournalError(f"{self.path}: cannot switch the journal to WAL mode (got {mode!r}): "
                                   "put the journal on a local disk")
            conn.execute("PRAGMA synchronous = FULL")
            if version < SCHEMA_VERSION:
                with self._write():
                    if version == 0:
                        create_schema(conn)
                    else:
                        migrate_v1(conn)
            with self._write():
                self._prune(retention_days, PRUNE_AT_OPEN)
                # Proves at open, not at the first scan, that the journal can be written.
                self._put_setting("journal.opened_ts", self._now())
            self._identity = _file_identity(self.path)
        except sqlite3.Error as exc:
            raise JournalError(explain(exc, self.path)) from exc

    def _check_is_journal(self) -> int:
        """The schema version, after refusing a newer schema and other SQLite databases.
        Reading the schema is where SQLite reports a file that is not a database or whose
        header is corrupt, without reading the whole file."""
        conn = self._db()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(f"{self.path}: the journal was written by a newer kiosk (schema {version}, "
                               f"this kiosk knows {SCHEMA_VERSION}): upgrade the kiosk or move the file aside")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")}
        foreign = tables - OWN_TABLES if version else tables
        if foreign:
            raise JournalError(f"{self.path}: {self.path.name} is a SQLite database but not a kiosk journal "
                               f"(tables {', '.join(sorted(foreign))}): "
                               "point kiosk.journal at another file or move it aside and restart")
        return int(version)

    # -- housekeeping -----------------------------------------------------------------

    def prune(self, retention_days: float, limit: int | None = None) -> int:
        """Delete ``done``/``dismissed`` scans and events older than ``retention_days`` (by
        ``ts``, through its index), at most ``limit`` of each in one short transaction; returns
        the number of scans deleted. Call again while it returns ``limit`` to finish."""
        with self._write():
            return self._prune(retention_days, limit)

    def _prune(self, retention_days: float, limit: int | None) -> int:
        cutoff = format_ts(self._clock() - timedelta(days=retention_days))
        conn = self._db()
        cursor = conn.execute(_PRUNE_SCANS, (cutoff, *PRUNABLE_STATUSES, -1 if limit is None else limit))
        conn.execute(_PRUNE_EVENTS, (cutoff, -1 if limit is None else limit))
        return cursor.rowcount

    def check_integrity(self) -> None:
        """``PRAGMA quick_check`` on a read-only connection of its own, so the kiosk goes on
        writing meanwhile (run it in a background thread once the kiosk is ready). Raises
        ``JournalError`` saying what to do when the journal is corrupt."""
        try:
            with closing(_connect(self.path.resolve().as_uri() + "?mode=ro", self.path, uri=True)) as conn:
                result = [r[0] for r in conn.execute("PRAGMA quick_check")]
        except sqlite3.Error as exc:
            raise JournalError(explain(exc, self.path)) from exc
        if result != ["ok"]:
            summary = "; ".join(result[:3]) + (" ..." if len(result) > 3 else "")
            raise JournalError(corrupt(self.path, f"quick_check: {summary}"))

    def integrity_check(self) -> str:
        """The text of ``PRAGMA integrity_check`` (the full, slow check): "ok" when sound."""
        return "\n".join(r[0] for r in self._read("PRAGMA integrity_check"))

    # -- plumbing ---------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._file_lock is not None:
                self._file_lock.release()
                self._file_lock = None

    def __enter__(self) -> Self:
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
            if self.readonly:
                raise JournalError(f"{self.path}: this journal was opened read-only (export/stats): "
                                   "it cannot be written")
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
                raise JournalError(explain(exc, self.path)) from exc

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
                raise JournalError(explain(exc, self.path)) from exc

    # -- scans ------------------------------------------------------------------------

    def add_scan(self, *, scanner: str, source: str, profile: str, station: str, backend: str,
                 operator: str | None, kind: str, text: str, raw: bytes | None, symbology: str | None,
                 status: str, outcome: str | None = None, title: str | None = None,
                 details: Iterable[str] = (), ts: str | None = None,
                 http_status: int | None = None, latency_ms: float | None = None, attempts: int = 0,
                 action: str | None = None, request: Mapping[str, Any] | None = None,
                 fields: Iterable[Any] = (), next_attempt_at: float | None = None,
                 order_number: str | None = None, tray_number: str | None = None,
                 po_number: str | None = None) -> int:
        """Insert one scan durably and return its id (ids increase in scan order).

        ``ts`` may be any ISO time (stored as canonical UTC); default now. The fields after
        ``ts`` let a scan whose outcome is already known be recorded in one write, and a scan
        about to be sent can be written as ``status="sending"`` directly. ``fields`` are
        display fields (mappings or objects with key, label, value); ``request`` the
        request's params. ``order_number``/``tray_number``/``po_number`` are the v1 way to
        give job-track fields, kept until the service passes ``fields``."""
        scan = {"scanner": scanner, "source": source, "profile": profile, "station": station, "backend": backend,
                "operator": operator, "kind": kind, "text": text, "raw": raw, "symbology": symbology,
                "status": status, "outcome": outcome, "title": title, "details": details, "ts": ts,
                "http_status": http_status, "latency_ms": latency_ms, "attempts": attempts, "action": action,
                "request": request, "next_attempt_at": next_attempt_at}
        legacy = {"order_number": order_number, "tray_number": tray_number, "po_number": po_number}
        if any(value is not None for value in legacy.values()):
            scan.update(legacy)
            if fields:
                scan["fields"] = fields  # both ways at once: column_values says so
        else:
            scan["fields"] = fields
        return self.add_scans([scan])[0]

    def add_scans(self, scans: Iterable[Mapping[str, Any]]) -> list[int]:
        """Insert several scans (each the keywords of ``add_scan``) in one commit; their ids,
        in the order given (arrival order). All or none are written."""
        rows = [self._new_row(scan) for scan in scans]
        if not rows:
            return []
        ids = []
        with self._write() as conn:
            for row in rows:
                names = ", ".join(row)
                marks = ", ".join("?" * len(row))
                cursor = conn.execute(f"INSERT INTO scans ({names}) VALUES ({marks})", tuple(row.values()))
                ids.append(int(cursor.lastrowid or 0))
        return ids

    def _new_row(self, scan: Mapping[str, Any]) -> dict[str, Any]:
        required = ("scanner", "source", "profile", "station", "backend", "operator", "kind", "text", "raw",
                    "symbology", "status")
        missing = [name for name in required if name not in scan]
        unknown = set(scan) - _UPDATABLE - {"ts"}
        if missing or unknown:
            raise ValueError(f"add_scans: missing {', '.join(missing) or 'nothing'}; "
                             f"unknown {', '.join(sorted(unknown)) or 'nothing'}")
        values = dict(scan)
        ts = values.pop("ts", None)
        text, raw = safe_text(values["text"], values["raw"])
        values.update(text=text, raw=stored_raw(text, raw))
        now = self._now()
        return {"ts": parse_time(ts, "ts") if ts is not None else now, **column_values(values), "updated_ts": now}

    def update_scan(self, scan_id: int, **changes: Any) -> None:
        """Set any ScanRow fields except id/ts (details and fields as sequences, request as a
        mapping); bumps updated_ts; durable.

        Unknown fields raise ``ValueError`` (``updated_ts`` is always set to now); an
        unknown ``scan_id`` raises ``KeyError``."""
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise ValueError(f"update_scan: cannot set {', '.join(sorted(unknown))}; "
                             f"settable fields are {', '.join(sorted(_UPDATABLE - LEGACY_NAMES))}")
        if not changes:
            return
        values = column_values(changes)
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
        text, raw = safe_text(values.get("text", old_text), raw)
        return {"text": text, "raw": stored_raw(text, raw)}

    def get(self, scan_id: int) -> ScanRow | None:
        rows = self._read(f"SELECT {self._columns} FROM scans WHERE id = ?", (scan_id,))
        return row_to_scan(rows[0]) if rows else None

    def outbox(self, backend: str | None = None, limit: int | None = None) -> list[ScanRow]:
        """Rows with status sending, pending or queued, oldest id first (at most ``limit``)."""
        where, params = self._outbox_where(backend)
        sql = f"SELECT {self._columns} FROM scans WHERE {where} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [row_to_scan(r) for r in self._read(sql, params)]

    def outbox_count(self, backend: str | None = None) -> int:
        """How many rows ``outbox(backend)`` would return, without reading them."""
        where, params = self._outbox_where(backend)
        return int(self._read(f"SELECT count(*) FROM scans WHERE {where}", params)[0][0])

    def outbox_counts(self) -> dict[str, int]:
        """Outbox rows per backend, in one query (backends with none are absent): to seed
        in-memory waiting counts once at start instead of counting on every scan."""
        where, params = self._outbox_where(None)
        return dict(self._read(f"SELECT backend, count(*) FROM scans WHERE {where} GROUP BY backend", params))

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
        return [row_to_scan(r) for r in
                self._read(f"SELECT {self._columns} FROM scans WHERE status = ? ORDER BY id", (status,))]

    def count_status(self, status: str) -> int:
        return int(self._read("SELECT count(*) FROM scans WHERE status = ?", (status,))[0][0])

    # -- drafts -----------------------------------------------------------------------

    def get_draft(self, key: str) -> dict[str, Any] | None:
        """A multi-scan action's draft: {"key", "action", "profile", "data", "updated_ts"}, or None."""
        rows = self._read("SELECT key, action, profile, data, updated_ts FROM drafts WHERE key = ?", (key,))
        if not rows:
            return None
        key, action, profile, data, updated_ts = rows[0]
        return {"key": key, "action": action, "profile": profile, "data": json.loads(data), "updated_ts": updated_ts}

    def put_draft(self, key: str, action: str, profile: str, data: Mapping[str, Any]) -> None:
        """Create or replace the draft ``key`` durably; ``data`` must be a JSON object."""
        if not isinstance(data, Mapping):
            raise TypeError(f"draft data must be a mapping (a JSON object), not {type(data).__name__}")
        try:
            text = json.dumps(dict(data), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"draft {key!r}: data is not JSON: {exc}") from None
        with self._write() as conn:
            conn.execute("INSERT INTO drafts (key, action, profile, data, updated_ts) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET action = excluded.action, profile = excluded.profile, "
                         "data = excluded.data, updated_ts = excluded.updated_ts",
                         (key, action, profile, text, self._now()))

    def delete_draft(self, key: str) -> bool:
        """Remove the draft ``key``; True if there was one."""
        with self._write() as conn:
            return conn.execute("DELETE FROM drafts WHERE key = ?", (key,)).rowcount > 0

    # -- events and settings ----------------------------------------------------------

    def add_event(self, kind: str, who: str | None, profile: str | None, detail: dict[str, Any] | None = None) -> int:
        """Record a login, logout, profile switch, lead action, dismissal ... durably."""
        detail_json = json.dumps(detail or {}, ensure_ascii=False, default=str)
        with self._write() as conn:
            cursor = conn.execute("INSERT INTO events (ts, kind, who, profile, detail) VALUES (?, ?, ?, ?, ?)",
                                  (self._now(), kind, who, profile, detail_json))
            return int(cursor.lastrowid or 0)

    def events(self, since: str | None = None) -> list[dict[str, Any]]:
        """Events since an ISO time (all if None), oldest first, ``detail`` as a dict."""
        sql = "SELECT id, ts, kind, who, profile, detail FROM events"
        params: tuple = ()
        if since is not None:
            sql, params = sql + " WHERE ts >= ?", (parse_time(since, "since"),)
        return [{"id": i, "ts": ts, "kind": kind, "who": who, "profile": profile, "detail": json.loads(detail)}
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

    def export(self, out: IO[str], since: str | None = None, fmt: str = "jsonl", *,
               progress: Callable[[int], None] | None = None) -> int:
        """Write scans since ISO time as CSV or JSON lines, oldest first; return the row count.

        Streams: memory stays flat however many rows. ``progress(count)`` is called every
        ``PROGRESS_EVERY`` rows. CSV (open ``out`` with ``newline=""``): a header row,
        ``details`` joined with " | ", ``fields`` as "Label: value | ...", ``request`` as JSON,
        ``raw`` as hex, every text cell safe for a spreadsheet (see ``journal.export``).
        JSON lines: every value exact, ``raw`` hex or null, ASCII only."""
        write = writer_for(out, fmt)
        where, params = self._since(since)
        count = 0
        with self._lock:
            try:
                for row in self._db().execute(f"SELECT {self._columns} FROM scans{where} ORDER BY id", params):
                    write(row_values(row))
                    count += 1
                    if progress is not None and count % PROGRESS_EVERY == 0:
                        progress(count)
            except sqlite3.Error as exc:
                raise JournalError(explain(exc, self.path)) from exc
        return count

    def count_scans(self, since: str | None = None) -> int:
        """How many scans ``export(since=...)`` would write."""
        where, params = self._since(since)
        return int(self._read(f"SELECT count(*) FROM scans{where}", params)[0][0])

    def stats(self, since: str | None = None) -> dict[str, Any]:
        """{"by_outcome": {outcome: n}, "by_hour": {"2026-11-21T23": n}, "total": n}.

        Scans without an outcome yet count under their status in parentheses, e.g.
        ``"(queued)"``. Hours are UTC. With ``since`` only the rows from then on are read."""
        where, params = self._since(since)
        by_outcome = self._read("SELECT coalesce(outcome, '(' || status || ')') AS o, count(*) "
                                f"FROM scans{where} GROUP BY o ORDER BY count(*) DESC, o", params)
        by_hour = self._read(f"SELECT substr(ts, 1, 13) AS h, count(*) FROM scans{where} GROUP BY h ORDER BY h",
                             params)
        return {"total": sum(n for _, n in by_outcome), "by_outcome": dict(by_outcome), "by_hour": dict(by_hour)}

    @staticmethod
    def _since(since: str | None) -> tuple[str, tuple[Any, ...]]:
        if since is None:
            return "", ()
        return " WHERE ts >= ?", (parse_time(since, "since"),)


# The subqueries walk the ts index from its oldest end; without INDEXED BY, SQLite prefers
# the (status, id) index and reads every done row of the journal.
_PRUNE_SCANS = (f"DELETE FROM scans WHERE id IN (SELECT id FROM scans INDEXED BY scans_ts WHERE ts < ? "
                f"AND status IN ({', '.join('?' * len(PRUNABLE_STATUSES))}) ORDER BY ts LIMIT ?)")
_PRUNE_EVENTS = ("DELETE FROM events WHERE id IN "
                 "(SELECT id FROM events INDEXED BY events_ts WHERE ts < ? ORDER BY ts LIMIT ?)")


def _connect(database: str, path: Path, *, uri: bool = False) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                               check_same_thread=False, uri=uri)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    except sqlite3.Error as exc:
        raise JournalError(explain(exc, path)) from exc
    register_functions(conn)
    return conn


def _create_private(path: Path) -> None:
    """Create a new journal file 0600 (whatever the umask): it holds operators' and leads'
    scans. SQLite gives its -wal and -shm files the journal file's mode."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise JournalError(f"{path}: cannot create the journal ({exc.strerror}): check that the kiosk user "
                           f"may create files in {path.parent}") from None
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino
