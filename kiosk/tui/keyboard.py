"""Key presses to scans: the one place the Textual app turns keystrokes into ``Scan`` objects.

The keyboard always acts as a scanner input (a keyboard-wedge scanner types its barcode and
Enter; there is no field to click). ``devices.wedge.WedgeDetector`` collects the keys and
tells a scanner's burst (``source="scanner"``) from a person typing (``source="manual"``);
the station decides whether typed entries are allowed.
"""

from __future__ import annotations

import time
from typing import Callable

from devices.wedge import WedgeDetector, WedgeSettings
from kiosk.station.state import Scan

MAX_LENGTH = 512
"""Characters beyond this are dropped: a stuck key must not grow an entry without end."""


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
