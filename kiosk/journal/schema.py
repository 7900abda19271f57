"""The journal's tables (schema v2), the in-place migration from v1, and reading v1 read-only.

``PRAGMA user_version`` holds the schema version. v1 (the first kiosk) had one column each
for the job-track order, tray and PO numbers; v2 replaces them with ``action``, ``request``
(JSON object) and ``fields`` (JSON list of display fields), and adds ``drafts``.
"""

from __future__ import annotations

import sqlite3

from kiosk.journal.values import SCAN_FIELDS, legacy_fields_json

SCHEMA_VERSION = 2

_SCANS_COLUMNS = """
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ts              TEXT NOT NULL,
    scanner         TEXT NOT NULL,
    source          TEXT NOT NULL,
    profile         TEXT NOT NULL,
    station         TEXT NOT NULL,
    backend         TEXT NOT NULL,
    operator        TEXT,
    kind            TEXT NOT NULL,
    action          TEXT,
    text            TEXT NOT NULL,
    raw             BLOB,
    symbology       TEXT,
    status          TEXT NOT NULL,
    outcome         TEXT,
    title           TEXT,
    details         TEXT NOT NULL DEFAULT '[]',
    fields          TEXT NOT NULL DEFAULT '[]',
    request         TEXT,
    http_status     INTEGER,
    latency_ms      REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL,
    updated_ts      TEXT NOT NULL
"""

_INDEXES_AND_OTHER_TABLES = [
    "CREATE INDEX scans_outbox ON scans (status, id)",
    "CREATE INDEX scans_ts ON scans (ts)",
    """CREATE TABLE IF NOT EXISTS events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    ts      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    who     TEXT,
    profile TEXT,
    detail  TEXT NOT NULL DEFAULT '{}'
)""",
    "CREATE INDEX IF NOT EXISTS events_ts ON events (ts)",
    """CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS drafts (
    key        TEXT PRIMARY KEY,
    action     TEXT NOT NULL,
    profile    TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    updated_ts TEXT NOT NULL
)""",
]

OWN_TABLES = frozenset({"scans", "events", "settings", "drafts", "sqlite_sequence"})

# Column expressions that read a v1 ``scans`` table as v2 rows (read-only opens, the migration).
_V1_AS_V2 = {
    "action": "CASE WHEN kind = 'job' THEN 'checkin' END",
    "request": "NULL",
    "fields": "kiosk_v1_fields(order_number, tray_number, po_number)",
}


def select_columns(version: int) -> str:
    """The SELECT list that reads ``scans`` as ``ScanRow`` fields in a journal of ``version``."""
    if version == 1:
        return ", ".join(f"{_V1_AS_V2[name]} AS {name}" if name in _V1_AS_V2 else name for name in SCAN_FIELDS)
    return ", ".join(SCAN_FIELDS)


def register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("kiosk_v1_fields", 3, legacy_fields_json, deterministic=True)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the v2 tables in an empty database (inside the caller's transaction)."""
    conn.execute(f"CREATE TABLE scans ({_SCANS_COLUMNS})")
    for statement in _INDEXES_AND_OTHER_TABLES:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def migrate_v1(conn: sqlite3.Connection) -> None:
    """v1 -> v2 in place, inside the caller's (one) transaction: every row and id kept.

    The order, tray and PO numbers become display fields (only those not empty), job rows
    get the action "checkin" (the only one v1 knew). ``scans`` is rebuilt under its own name,
    so a migrated journal has exactly the layout of a new one; the id sequence is carried
    over so ids are never reused."""
    (sequence,) = conn.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'scans'").fetchone()
    conn.execute(f"CREATE TABLE scans_v2 ({_SCANS_COLUMNS})")
    names = ", ".join(SCAN_FIELDS)
    conn.execute(f"INSERT INTO scans_v2 ({names}) SELECT {select_columns(1)} FROM scans ORDER BY id")
    conn.execute("DROP TABLE scans")
    conn.execute("ALTER TABLE scans_v2 RENAME TO scans")
    conn.execute("DELETE FROM sqlite_sequence WHERE name IN ('scans', 'scans_v2')")
    conn.execute("INSERT INTO sqlite_sequence (name, seq) "
                 "SELECT 'scans', max(?, coalesce((SELECT max(id) FROM scans), 0))", (sequence,))
    for statement in _INDEXES_AND_OTHER_TABLES:
        conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
