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

``BurstRouter`` is for screens where a widget has the focus (a menu, a list, a PIN field):
it holds character keys while they may still be a scanner burst and says, key by key, which
keys go to the focused widget (a person typed them) and when a burst ended with Enter and is
a scan (its keys, Enter included, never reach the widget). Held keys are released as typing
as soon as the keys stop coming fast (``gap_ms`` without a key: call ``poll`` at
``deadline``), when a key a scanner never sends arrives (backspace, arrows, Escape, function
keys), or at Enter when the whole burst does not classify as ``scanner``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

from devices.aim import split_aim
from devices.events import ScanEvent, Source, UnreadableEvent

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

    def __init__(self, scanner: str = "keyboard", settings: WedgeSettings | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
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
        source: Source = "manual" if corrected or not self._looks_scanned(len(chars), times) else "scanner"
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
            widest = max(b - a for a, b in pairwise(times))
            if widest * 1000 > s.max_gap_ms:
                return False
        return True


# -- routing keys on screens with a focused widget ----------------------------------------

DEFAULT_GAP_MS = 150.0
"""How long ``BurstRouter`` waits for the next key before held keys count as typing."""
MAX_BURST = 512
"""Characters a burst may hold; a longer scanner burst is unreadable (``too_long``)."""


@dataclass(frozen=True)
class Key:
    """One key press as the front end saw it (Textual's ``event.key`` and ``event.character``)."""

    key: str
    character: str | None
    time: float


@dataclass(frozen=True)
class Routing:
    """What ``BurstRouter`` decided for the keys so far."""

    keys: tuple[Key, ...] = ()
    """Give these to the focused widget now, in this order: a person typed them."""
    scan: ScanEvent | UnreadableEvent | None = None
    """A scanner burst ended: process it as a scan wherever the focus is."""


class BurstRouter:
    """Holds keys that may be a scanner burst; releases them as typing or ends them as a scan.

    ``feed`` every key press, in order; when ``deadline`` is not None, call ``poll`` at that
    time (a timer) so a person's typing reaches the widget without waiting for the next key.
    """

    def __init__(
        self,
        scanner: str = "keyboard",
        settings: WedgeSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
        gap_ms: float | None = None,
        max_length: int = MAX_BURST,
    ) -> None:
        self.scanner = scanner
        self.settings = settings or WedgeSettings()
        self._clock = clock
        self._gap_s = (gap_ms if gap_ms is not None else self.settings.max_gap_ms or DEFAULT_GAP_MS) / 1000
        self._max_length = max_length
        self._held: list[Key] = []
        self._overflow = 0  # characters of this burst beyond max_length (not kept)
        self._last: float | None = None  # time of the burst's latest key

    @property
    def deadline(self) -> float | None:
        """When ``poll`` would release the held keys as typing; None when nothing is held."""
        return None if self._last is None else self._last + self._gap_s

    @property
    def held(self) -> str:
        """The characters held so far (not yet given to the widget)."""
        return "".join(k.character or "" for k in self._held)

    def feed(self, key: str, character: str | None = None, now: float | None = None) -> Routing:
        now = self._clock() if now is None else now
        released = self._release_if_quiet(now)
        press = Key(key, character, now)
        if key in ENTER_KEYS or (self.settings.tab_ends_entry and key == "tab"):
            return self._end(press, released)
        if _is_data(character) and key != "backspace":
            if len(self._held) < self._max_length:
                self._held.append(press)
            else:
                self._overflow += 1
            self._last = now
            return Routing(released)
        return Routing(released + self._take_all() + (press,))

    def poll(self, now: float | None = None) -> Routing:
        """Release held keys as typing when no key came for ``gap_ms``."""
        return Routing(self._release_if_quiet(self._clock() if now is None else now))

    def _release_if_quiet(self, now: float) -> tuple[Key, ...]:
        if self._last is not None and now - self._last > self._gap_s:
            return self._take_all()
        return ()

    def _take_all(self) -> tuple[Key, ...]:
        held = tuple(self._held)
        self._held, self._overflow, self._last = [], 0, None
        return held

    def _end(self, enter: Key, released: tuple[Key, ...]) -> Routing:
        overflow = self._overflow
        held = self._take_all()
        if not held:
            return Routing(released + (enter,))
        detector = WedgeDetector(self.scanner, self.settings)
        for press in held:
            detector.feed_key(press.key, press.character, press.time)
        event = detector.feed_key("enter", None, enter.time)
        if event is None or event.source != "scanner":
            return Routing(released + held + (enter,))
        if overflow:
            count = len(held) + overflow
            message = f"keyboard burst of {count} characters discarded (longer than {self._max_length})"
            unreadable = UnreadableEvent(self.scanner, event.raw, "too_long", message, event.t_first, event.t_last)
            return Routing(released, unreadable)
        return Routing(released, event)


def _is_data(character: str | None) -> bool:
    return character is not None and len(character) == 1 and (character.isprintable() or character == "\x1d")
