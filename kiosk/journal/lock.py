"""One kiosk per journal: an exclusive ``flock`` on ``<journal>.lock``, held for the process's life.

Two kiosks on one journal would both replay its outbox (every queued scan sent twice). The
lock is an ``flock`` on a file beside the journal, so the kernel releases it when the holder
exits or crashes; the file holds the holder's PID so the next one can name it. Read-only
readers (``kiosk journal export/stats``) take no lock. The lock file stays on disk: removing
it could let two processes each lock a different file of the same name.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import BinaryIO

from kiosk.journal.errors import JournalError, JournalLocked

# A brief wait covers a lock held for a moment: ``lock_holder`` probing it, or the previous
# kiosk still exiting when a supervisor restarts it.
LOCK_WAIT_S = 1.0
_RETRY_S = 0.02
FILE_MODE = 0o600


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


class JournalLock:
    """The held lock; ``release()`` (or the process ending) lets it go."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        self._file: BinaryIO | None = file
        self.path = path

    @classmethod
    def acquire(cls, journal: Path, wait_s: float = LOCK_WAIT_S) -> JournalLock:
        path = lock_path(journal)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise JournalError(f"{journal}: cannot create the lock file {path.name} ({exc.strerror}): "
                               "make the journal's folder writable for the kiosk user") from None
        file = os.fdopen(fd, "r+b", buffering=0)
        try:
            _restrict(fd)
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        pid = _read_pid(fd)
                        raise JournalLocked(_locked_message(journal, pid), pid) from None
                    time.sleep(_RETRY_S)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except BaseException:
            file.close()
            raise
        return cls(file, path)

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor releases the flock
            self._file = None


def lock_holder(journal: Path) -> int | None:
    """The PID of the process holding ``journal``'s lock (-1 if it has not written it yet),
    or None when no process holds it. For ``kiosk doctor``; takes no lock a kiosk would miss
    (a shared probe for an instant, which ``acquire`` waits out)."""
    try:
        fd = os.open(lock_path(Path(journal)), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int:
    """The PID in the lock file; the holder writes it just after locking, so wait a moment."""
    for _ in range(10):
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return -1
        if text.isdigit():
            return int(text)
        time.sleep(_RETRY_S)
    return -1


def _locked_message(journal: Path, pid: int) -> str:
    holder = f"another kiosk (PID {pid})" if pid > 0 else "another kiosk"
    return (f"{journal}: {holder} is using this journal; stop it first "
            "(one kiosk per journal: a second one would send its queued scans twice)")


def _restrict(fd: int) -> None:
    """Lock file mode 0600 whatever the umask (not possible on a file of another user: let be)."""
    try:
        os.fchmod(fd, FILE_MODE)
    except OSError:
        pass
