"""Key presses to scans: the one place the Textual app turns keystrokes into ``Scan`` objects.

The keyboard always acts as a scanner input (a keyboard-wedge scanner types its barcode and
Enter). ``devices.wedge.WedgeDetector`` tells a scanner's burst (``source="scanner"``) from a
person typing (``source="manual"``) by the average time per character over the whole entry.

- ``KeyboardScans``: on screens without a field (main, error screens) every entry is a scan;
  the station decides whether typed entries are allowed.
- ``ScannerBursts``: on screens whose widget takes keys (the lead menu, the PIN field, lists)
  printable keys are held back for a moment. A held run that ends in Enter fast enough to be
  a scanner's burst is a scan and the widget never sees it; anything else (a person typing,
  arrows, Escape, a pause) is handed on to the widget in the order it was typed.

Both take an injected clock, so tests type "fast" and "slow" without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from devices.wedge import WedgeDetector, WedgeSettings
from kiosk.station.state import Scan

MAX_LENGTH = 512
"""Characters beyond this are dropped: a stuck key must not grow an entry without end."""

HOLD_S = 0.1
"""A key not followed by another within this time was typed by a person: it goes on to the
widget. Scanners type their whole burst far faster (a few ms per character)."""

Key = tuple[str, "str | None"]
"""A key press as Textual names it: ``(event.key, event.character)``."""


class KeyboardScans:
    def __init__(self, clock: Callable[[], float] = time.monotonic, scanner: str = "keyboard",
                 settings: WedgeSettings | None = None) -> None:
        self._wedge = WedgeDetector(scanner, settings, clock)

    @property
    def text(self) -> str:
        """What has been typed of the current entry (for an echo on screen)."""
        return self._wedge.pending

    def key(self, key: str, character: str | None = None) -> None:
        """A key that does not end the entry (a printable character or backspace)."""
        if len(self._wedge.pending) < MAX_LENGTH or key == "backspace":
            self._wedge.feed_key(key, character)

    def clear(self) -> None:
        self._wedge.reset()

    def end(self) -> Scan | None:
        """Enter was pressed: the scan typed so far, or None when nothing was typed."""
        event = self._wedge.feed_key("enter")
        return Scan.from_event(event) if event is not None else None


@dataclass
class Route:
    """What to do with one key under a screen whose widget takes keys."""

    release: list[Key] = field(default_factory=list)
    """Keys held earlier, to hand to the widget now (before this key, in typing order)."""
    taken: bool = False
    """This key was taken (held, or it ended a scanner's burst): the widget must not see it."""
    scan: Scan | None = None
    """The scan a scanner's burst ended with."""


class ScannerBursts:
    def __init__(self, clock: Callable[[], float] = time.monotonic, scanner: str = "keyboard",
                 settings: WedgeSettings | None = None, hold_s: float = HOLD_S) -> None:
        self._clock = clock
        self._wedge = WedgeDetector(scanner, settings, clock)
        self.hold_s = hold_s
        self._held: list[Key] = []
        self._last = 0.0

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def key(self, key: str, character: str | None) -> Route:
        now = self._clock()
        if key != "enter" and character and len(character) == 1 and character.isprintable():
            route = Route(self._release() if self._held and now - self._last > self.hold_s else [], True)
            if len(self._held) < MAX_LENGTH:
                self._held.append((key, character))
                self._wedge.feed_key(key, character, now)
            self._last = now
            return route
        if key == "enter" and self._held:
            event = self._wedge.feed_key("enter", None, now)
            if event is not None and event.source == "scanner":
                self._held = []
                return Route([], True, Scan.from_event(event))
            return Route(self._release(), False)
        return Route(self._release(), False)

    def quiet(self) -> list[Key]:
        """Held keys to hand on because no key followed them within ``hold_s``."""
        if self._held and self._clock() - self._last >= self.hold_s:
            return self._release()
        return []

    def clear(self) -> None:
        """Forget held keys (the screen they were typed into is gone)."""
        self._held = []
        self._wedge.reset()

    def _release(self) -> list[Key]:
        held, self._held = self._held, []
        self._wedge.reset()
        return held
