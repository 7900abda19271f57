"""Reading a TOML file for the user: every way it can fail becomes one clear sentence.

Used by the kiosk config and by the vendor simulators' data files; each caller passes the
words for what the file is and the exception type its own callers expect. Only a regular
file of at most ``MAX_TOML_BYTES`` is read (``--config /dev/zero`` or a FIFO is refused,
never read or waited on), and nesting too deep for the parser is an error, not a
RecursionError.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from kiosk.files import FileRefused, read_small_file

MAX_TOML_BYTES = 1024 * 1024
"""A kiosk config is a few KB; simulator data a few hundred KB at most."""


def read_toml(path: Path, what: str, error: type[Exception], *, max_bytes: int = MAX_TOML_BYTES) -> dict[str, Any]:
    """Parse ``path``; raise ``error("PATH: problem")`` for a missing, unreadable or bad file."""
    try:
        text = read_small_file(path, max_bytes).decode("utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except PermissionError:
        raise error(f"{path}: cannot read the {what} (permission denied)") from None
    except FileRefused as exc:
        raise error(f"{path}: {exc} (a {what} must be a regular file)") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{path}: not valid TOML: nested too deeply") from None
