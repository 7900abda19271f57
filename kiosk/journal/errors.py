"""What can go wrong with a journal, said so that the person at the kiosk knows what to do."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


class JournalError(Exception):
    """The journal cannot be opened or written; ``str()`` says what and what to do."""


class JournalLocked(JournalError):
    """Another process (a kiosk) holds the journal's lock; ``pid`` is its process id (-1: unknown)."""

    def __init__(self, message: str, pid: int) -> None:
        super().__init__(message)
        self.pid = pid


def explain(exc: sqlite3.Error, path: Path) -> str:
    """What a SQLite error means for the kiosk's user, and what to do about it."""
    code = getattr(exc, "sqlite_errorname", "") or ""
    name = path.name
    if code == "SQLITE_NOTADB":
        return f"{path}: {name} is not a kiosk journal (file is not a database): move it aside and restart"
    if code.startswith("SQLITE_CORRUPT"):
        return corrupt(path, str(exc))
    if code.startswith("SQLITE_READONLY") or code == "SQLITE_PERM":
        return (f"{path}: cannot write the journal ({exc}): make {name} and its folder writable "
                "by the kiosk user and restart")
    if code.startswith("SQLITE_CANTOPEN"):
        return (f"{path}: cannot open the journal ({exc}): check that the folder exists and that the "
                f"kiosk user may create {name}, {name}-wal and {name}-shm in it")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (f"{path}: the journal is locked by another process ({exc}): "
                "is another kiosk running on the same journal? Stop it and retry")
    if code == "SQLITE_FULL":
        return f"{path}: the disk is full ({exc}): free space, then restart"
    if code.startswith("SQLITE_IOERR"):
        return f"{path}: disk I/O error on the journal ({exc}): check the disk and restart"
    return f"{path}: journal error ({exc})"


def corrupt(path: Path, what: str) -> str:
    name = path.name
    return (f"{path}: the journal is corrupt ({what}): move {name} (and any {name}-wal, {name}-shm) "
            "aside, keep it for recovery (sqlite3 .recover), and restart to start a new journal")


def check_location(path: Path, *, write: bool = True) -> None:
    """Say plainly what is wrong with where the journal should be, before SQLite does."""
    folder = path.parent
    if not folder.exists():
        raise JournalError(f"{path}: the folder {folder} does not exist: create it (the kiosk does not "
                           "create folders) or fix kiosk.journal in the config")
    if not folder.is_dir():
        raise JournalError(f"{path}: {folder} is not a folder: fix kiosk.journal in the config")
    if path.is_dir():
        raise JournalError(f"{path} is a folder, not a journal file: fix kiosk.journal in the config")
    if not write:
        if not path.exists():
            raise JournalError(f"{path}: no journal there (the kiosk has not run with this config)")
        if not os.access(path, os.R_OK):
            raise JournalError(f"{path}: {path.name} is not readable for this user: run as the kiosk user")
        return
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise JournalError(f"{path}: {path.name} is read-only or unreadable for the kiosk user: "
                           "make it readable and writable (chmod u+rw) and restart")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise JournalError(f"{path}: the folder {folder} is not writable for the kiosk user (the journal "
                           f"needs to create {path.name}-wal and -shm there): fix its permissions and restart")
