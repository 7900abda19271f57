"""The scan journal: every scan, its outcome, the outbox and the lead's actions, in SQLite.

The kiosk writes each scan here before anything is sent or shown; the sender works from
the outbox; the lead's screens and ``kiosk journal export`` / ``stats`` read it back.

Durability: WAL mode, ``synchronous=FULL``; every write method commits before it returns,
so a scan is on disk before anything is sent or shown (``add_scans`` puts several arrivals
in one commit). A journal that cannot be opened, checked or written raises
``JournalError`` whose text says what is wrong and what to do.

One kiosk per journal: ``Journal.open`` takes an exclusive lock (``<journal>.lock``, the
holder's PID inside) for the process's life; a second opener gets ``JournalLocked``.
``Journal.open_readonly`` (export, stats) takes no lock and never writes. The journal,
its -wal/-shm and the lock file are created mode 0600.

Scan status model (column ``status``):
- ``received`` written on arrival, not yet handled by the station logic (it had to wait,
  e.g. behind an error screen); handled first after a restart
- ``sending``  written, an attempt is (or was, at a crash) in flight
- ``pending``  written, waiting in the outbox behind earlier scans, never attempted
- ``queued``   an attempt failed transiently (unreachable, 5xx, 429); waits for the sender
- ``done``     final outcome recorded (ok, rejected, error, operator, ignored, duplicate, ...)
- ``parked``   a replay the vendor refused, or an unknown result under ``on_unknown="park"``
- ``dismissed`` a parked scan a lead dismissed (who and why recorded)

Only ``done`` and ``dismissed`` rows are ever pruned (after ``retention_days``, by ``ts``,
through its index); events are pruned by age too, settings and drafts never.

Tables (schema v2, ``PRAGMA user_version``; a v1 journal is migrated in place at open):
``scans`` (one row per scan, ids AUTOINCREMENT so they are never reused; ``action``, the
``request`` params as JSON and the vendor's display ``fields`` as JSON), ``events``
(logins, logouts, profile switches, lead actions, dismissals), ``settings`` (key/value,
e.g. the active profile) and ``drafts`` (a multi-scan action's work in progress, kept
across restarts). Times are ISO 8601 UTC with milliseconds and ``Z``.
"""

from kiosk.journal.core import BUSY_TIMEOUT_MS, PRUNE_AT_OPEN, Journal
from kiosk.journal.errors import JournalError, JournalLocked
from kiosk.journal.export import format_stats
from kiosk.journal.lock import lock_holder, lock_path
from kiosk.journal.schema import SCHEMA_VERSION
from kiosk.journal.values import (
    OUTBOX_STATUSES,
    PRUNABLE_STATUSES,
    SCAN_FIELDS,
    STATUSES,
    ScanRow,
    format_ts,
    parse_time,
)

__all__ = [
    "BUSY_TIMEOUT_MS", "OUTBOX_STATUSES", "PRUNABLE_STATUSES", "PRUNE_AT_OPEN", "SCAN_FIELDS", "SCHEMA_VERSION",
    "STATUSES", "Journal", "JournalError", "JournalLocked", "ScanRow", "format_stats", "format_ts", "lock_holder",
    "lock_path", "parse_time",
]
