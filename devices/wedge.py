"""Keyboard-wedge burst detection: tell a scanner's keystroke burst from a person typing.

Pure and clock-injectable (onScan.js style). Feed each key with its time; a terminator key
(Enter, optionally Tab) ends an entry, which is classified over the whole burst:

- ``scanner`` when the entry has at least ``min_length`` characters, the average time per
  character (first key to terminator, divided by the number of characters) is at most
  ``avg_ms_per_char``, and, when ``max_gap_ms`` is set, no gap between keys exceeds it;
- ``manual`` otherwise (the kiosk decides whether typed entries are allowed).

Backspace removes the last character and marks the entry ``manual``: scanners never send
it, so an entry someone corrected was typed. A bare terminator (nothing typed) returns
``None`` so the screen can use Enter for its own purposes (acknowledging an error).
An AIM identifier at the start is split off as for every other scanner kind.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from devices.aim import split_aim
from devices.events import ScanEvent

ENTER_KEYS = frozenset({"enter", "return", "ctrl+m", "ctrl+j"})


@dataclass(frozen=True)
class WedgeSettings:
    avg_ms_per_char: float = 30.0
    min_length: int = 4
    max_gap_ms: float | None = None
    tab_ends_entry: bool = False
    strip_aim: bool = True


class WedgeDetector:
    """Collects keys into entries and classifies each one as ``scanner`` or ``manual``."""

    def __init__(self, scanner: str = "keyboard", settings: WedgeSettings | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.scanner = scanner
        self.settings = settings or WedgeSettings()
        self._clock = clock
        self._chars: list[str] = []
        self._times: list[float] = []
        self._corrected = False

    @property
    def pending(self) -> str:
        """What has been typed of the current entry so far (for an echo on screen)."""
        return "".join(self._chars)

    def reset(self) -> None:
        self._chars, self._times, self._corrected = [], [], False

    def feed_key(self, key: str, character: str | None = None, now: float | None = None) -> ScanEvent | None:
        """One key press (Textual's ``event.key`` and ``event.character``); a ScanEvent when an entry ends."""
        now = self._clock() if now is None else now
        if self._ends_entry(key):
            return self._finish(now)
        if key == "backspace":
            if self._chars:
                self._chars.pop()
                self._times.append(now)  # the correction took time too
            self._corrected = True
            return None
        if character and len(character) == 1 and (character.isprintable() or character == "\x1d"):
            self._chars.append(character)
            self._times.append(now)
        return None

    def feed_text(self, text: str, start: float, ms_per_char: float) -> list[ScanEvent]:
        """Convenience for tests and replays: type ``text`` (``\\r``/``\\n`` = Enter) at a steady pace."""
        events = []
        for i, ch in enumerate(text):
            now = start + i * ms_per_char / 1000
            key = "enter" if ch in "\r\n" else ("tab" if ch == "\t" else ch)
            event = self.feed_key(key, ch if key == ch else None, now)
            if event:
                events.append(event)
        return events

    def _ends_entry(self, key: str) -> bool:
        return key in ENTER_KEYS or (self.settings.tab_ends_entry and key == "tab")

    def _finish(self, now: float) -> ScanEvent | None:
        chars, times, corrected = self._chars, self._times + [now], self._corrected
        self.reset()
        if not chars:
            return None
        text = "".join(chars)
        raw = text.encode("utf-8")
        symbology = None
        if self.settings.strip_aim:
            symbology, rest = split_aim(raw)
            text = rest.decode("utf-8") if symbology else text
        source = "manual" if corrected or not self._looks_scanned(len(chars), times) else "scanner"
        return ScanEvent(
            text=text,
            raw=raw,
            scanner=self.scanner,
            symbology=symbology,
            t_first=times[0],
            t_last=times[-1],
            source=source,
            byte_times=tuple(times[:-1]) if len(raw) == len(chars) else (),
        )

    def _looks_scanned(self, count: int, times: list[float]) -> bool:
        s = self.settings
        if count < s.min_length:
            return False
        average_ms = (times[-1] - times[0]) * 1000 / count
        if average_ms > s.avg_ms_per_char:
            return False
        if s.max_gap_ms is not None:
            widest = max(b - a for a, b in zip(times, times[1:]))
            if widest * 1000 > s.max_gap_ms:
                return False
        return True
