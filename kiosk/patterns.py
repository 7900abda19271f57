"""Scan patterns (operator_pattern, job_patterns, the lead badge_pattern) in linear time.

Patterns run on every scan, so no pattern may take more than linear time in the scan's
length: Python's ``re`` backtracks, and ``(a+)+$`` against 41 characters takes minutes. Every
pattern is compiled here with RE2 (the google-re2 package), whose automata match in time
linear in the text by construction; a pattern RE2 cannot compile is refused with its reason,
never handed to a backtracking engine. ``compile_pattern`` is the one way to build a pattern:
config validation uses it, and so does the station's classifier.

What RE2 refuses, and Python's ``re`` would take: back-references (``\\1``), look-around
(``(?=``, ``(?!``, ``(?<=``), atomic and possessive forms, repetition counts over 1000.
Where they differ on what matches: ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only, and
``$`` matches only at the very end of the scan (Python's also before a final newline).
"""

from __future__ import annotations

import re
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print its own complaint to stderr
_OPTIONS.never_capture = True  # only "does it match" is asked; no group bookkeeping

_PROBES = ("", "\x1f kiosk probe \x7f")


class PatternError(ValueError):
    """A pattern that cannot be used; ``str()`` says why in the config's words."""


class Pattern:
    """A compiled scan pattern; ``search(scan)`` is True when it matches anywhere in the scan."""

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str, compiled: Any) -> None:
        self.text = text
        self._compiled = compiled

    def search(self, scan: str) -> bool:
        # Bytes in, so the wrapper skips mapping byte offsets back to characters.
        return self._compiled.search(scan.encode("utf-8", "surrogatepass")) is not None

    @property
    def matches_everything(self) -> bool:
        """True when it matches the empty text and an arbitrary one: every scan would match."""
        return all(self.search(probe) for probe in _PROBES)

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"


def compile_pattern(text: str) -> Pattern:
    """Compile ``text`` for linear-time matching, or raise ``PatternError`` saying why not."""
    if text == "":
        raise PatternError("an empty pattern matches every scan (leave the key out instead)")
    try:
        compiled = re2.compile(text, _OPTIONS)
    except re2.error as exc:
        try:
            re.compile(text)  # only to tell a typo from a feature RE2 leaves out; never used to match
        except (re.error, RecursionError, OverflowError) as syntax:
            raise PatternError(f"not a valid regular expression ({syntax})") from None
        raise PatternError(f"uses what the kiosk cannot run in linear time ({_reason(exc)}): "
                           "back-references, look-around and repetition over 1000 are not supported") from None
    return Pattern(text, compiled)


def _reason(exc: Exception) -> str:
    detail = exc.args[0] if exc.args else ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    return str(detail) or "RE2 refused it"
