"""``kiosk journal export|stats``: read the scan journal, also while the kiosk is running.

Both open the journal read-only: no lock, no prune, no write, so a running kiosk is not held
up. ``stats`` counts since local midnight unless ``--since`` says otherwise (``all``: the
whole journal); ``export`` writes every scan (or those since ``--since``) to stdout as it
reads them, and shows its progress on stderr only when stderr is a terminal.
Exit codes: 0 done, 1 no journal yet, 2 bad argument, 3 the journal cannot be read.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from typing import TextIO

from kiosk.config import Config
from kiosk.journal import Journal, JournalError, format_stats, format_ts

ALL = "all"
PROGRESS_INTERVAL_S = 0.2


def run_journal(config: Config, command: str, since: str | None, fmt: str = "jsonl", *,
                out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    path = config.journal_path
    if not path.exists():
        print(f"kiosk: {path}: no journal yet (the kiosk has not run with this config)", file=err)
        return 1
    try:
        journal = Journal.open_readonly(path)
    except JournalError as exc:
        print(f"kiosk: {exc}", file=err)
        return 3
    try:
        if command == "export":
            return _export(journal, None if since == ALL else since, fmt, out, err)
        start, period = today_or(since)
        print(format_stats(journal.stats(since=start), period), file=out)
        return 0
    except ValueError as exc:
        print(f"kiosk: {exc}", file=err)
        return 2
    except JournalError as exc:
        print(f"kiosk: {exc}", file=err)
        return 3
    finally:
        journal.close()


def today_or(since: str | None) -> tuple[str | None, str]:
    """The ``since`` for stats and a line saying which scans were counted: by default those
    since local midnight (a fast answer on a journal of a million rows)."""
    if since == ALL:
        return None, "Period: the whole journal"
    if since is not None:
        return since, f"Period: since {since}"
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    return format_ts(midnight), (f"Period: today, since {midnight:%Y-%m-%d %H:%M} local time "
                                 "(--since all for the whole journal)")


def _export(journal: Journal, since: str | None, fmt: str, out: TextIO, err: TextIO) -> int:
    progress = Progress(journal.count_scans(since), err) if err.isatty() else None
    try:
        count = journal.export(out, since=since, fmt=fmt, progress=progress)
        out.flush()
    except BrokenPipeError:
        # The reader stopped early (e.g. ``| head``): not an error; keep Python quiet at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())
        return 0
    if progress is not None:
        progress.done(count)
    return 0


class Progress:
    """"exported 120,000 of 1,000,000 scans (12 %)" on one terminal line, a few times a second."""

    def __init__(self, total: int, err: TextIO) -> None:
        self.total = total
        self.err = err
        self._shown = 0.0

    def __call__(self, count: int) -> None:
        now = time.monotonic()
        if now - self._shown >= PROGRESS_INTERVAL_S:
            self._shown = now
            self._show(count)

    def done(self, count: int) -> None:
        self._show(count, "\n")

    def _show(self, count: int, end: str = "") -> None:
        total = max(self.total, count)  # the kiosk may have written more meanwhile
        percent = count * 100 // total if total else 100
        self.err.write(f"\rkiosk: exported {count:,} of {total:,} scans ({percent} %)" + end)
        self.err.flush()
