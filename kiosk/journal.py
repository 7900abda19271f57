"""The scan journal: every scan, its outcome, the outbox and the lead's actions, in SQLite.

CONTRACT STUB: the helper implementing the journal replaces the bodies; the signatures and
the status model below are what the service is written against.

Durability: WAL mode, ``synchronous=FULL``; every write method commits before it returns,
so a scan is on disk before anything is sent or shown.

Scan status model (column ``status``):
- ``sending``  written, an attempt is (or was, at a crash) in flight
- ``pending``  written, waiting in the outbox behind earlier scans, never attempted
- ``queued``   an attempt failed transiently (unreachable, 5xx, 429); waits for the sender
- ``done``     final outcome recorded (ok, rejected, error, operator, ignored, duplicate, ...)
- ``parked``   a replay the vendor refused, or an unknown result under ``on_unknown="park"``
- ``dismissed`` a parked scan a lead dismissed (who and why recorded)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Iterable


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


class Journal:
    @classmethod
    def open(cls, path: Path, retention_days: float = 90) -> "Journal":
        """Open or create; check integrity; prune rows older than retention (by ts)."""
        raise NotImplementedError

    def close(self) -> None: ...

    def add_scan(self, *, scanner: str, source: str, profile: str, station: str, backend: str,
                 operator: str | None, kind: str, text: str, raw: bytes | None, symbology: str | None,
                 status: str, outcome: str | None = None, title: str | None = None,
                 details: Iterable[str] = (), ts: str | None = None) -> int:
        """Insert one scan durably and return its id (ids increase in scan order)."""
        raise NotImplementedError

    def update_scan(self, scan_id: int, **fields: Any) -> None:
        """Set any ScanRow fields except id/ts (details as a sequence); bumps updated_ts; durable."""
        raise NotImplementedError

    def get(self, scan_id: int) -> ScanRow | None: ...

    def outbox(self, backend: str | None = None) -> list[ScanRow]:
        """Rows with status sending, pending or queued, oldest id first."""
        raise NotImplementedError

    def parked(self) -> list[ScanRow]: ...

    def count_status(self, status: str) -> int: ...

    def add_event(self, kind: str, who: str | None, profile: str | None, detail: dict[str, Any] | None = None) -> int:
        """Record a login, logout, profile switch, lead action, dismissal ... durably."""
        raise NotImplementedError

    def events(self, since: str | None = None) -> list[dict[str, Any]]: ...

    def get_setting(self, key: str) -> str | None: ...

    def set_setting(self, key: str, value: str) -> None: ...

    def export(self, out: IO[str], since: str | None = None, fmt: str = "jsonl") -> int:
        """Write scans since ISO time as CSV or JSON lines; return the row count."""
        raise NotImplementedError

    def stats(self, since: str | None = None) -> dict[str, Any]:
        """{"by_outcome": {outcome: n}, "by_hour": {"2026-11-21T23": n}, "total": n}."""
        raise NotImplementedError

    def integrity_check(self) -> str: ...
