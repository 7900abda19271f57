"""Small files the kiosk reads whole (config, token): bounded, regular files only.

``read_small_file`` checks what the path is before opening it (and what it opened, without
blocking, before reading), so a FIFO, a device (``/dev/zero``) or a folder is refused
instead of hanging start-up or filling memory, and it never reads more than
``max_bytes + 1`` bytes. ``loose_permissions``
says when a secret file can be read by other users, as ssh does for private keys.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class FileRefused(OSError):
    """A file that is not read: not a regular file, or larger than allowed. ``str()`` says which."""


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_small_file(path: Path, max_bytes: int) -> bytes:
    """The whole content of the regular file ``path``, at most ``max_bytes`` long.

    Raises ``FileRefused`` for anything else, and ``OSError`` (FileNotFoundError,
    PermissionError ...) when it cannot be opened or read.
    """
    _refuse_unless_regular(os.stat(path).st_mode)  # a FIFO is never opened (that would wake its writer)
    # Checked again on what was opened, in case the path changed in between.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        _refuse_unless_regular(os.fstat(fd).st_mode)
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise FileRefused(f"is larger than {_size(max_bytes)}")
    return data


def _refuse_unless_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
        raise FileRefused(f"is {kind}, not a regular file")


def loose_permissions(path: Path) -> str | None:
    """Why other users may read ``path`` (e.g. "mode 0644: group and others can read it"), or None."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    who = " and ".join(name for bits, name in ((0o070, "group"), (0o007, "others")) if mode & bits)
    return f"mode {mode:04o}: {who} have access to it"


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"
