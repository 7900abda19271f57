"""The events every scanner kind delivers: a completed scan, a diagnostic, a state change.

Scanners run their own reader thread and hand events to an ``Emit`` callback; the callback
must be thread-safe (the kiosk wraps it with ``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol, Union

from devices.text import visible_bytes

Source = Literal["scanner", "manual"]
ScannerState = Literal["connected", "disconnected", "ended"]


@dataclass(frozen=True)
class ScanEvent:
    """One completed scan (a frame) from one scanner."""

    text: str
    """Decoded text, with prefix, suffix, terminator and AIM symbology identifier removed."""
    raw: bytes
    """The frame's bytes as they arrived (after framing removed the terminator)."""
    scanner: str
    symbology: str | None = None
    """AIM identifier such as ``]C1`` when the scanner sent one."""
    t_first: float = 0.0
    """``time.monotonic()`` of the frame's first byte or keystroke."""
    t_last: float = 0.0
    """``time.monotonic()`` of the frame's last byte or keystroke."""
    source: Source = "scanner"
    """``manual`` when a person typed it (keyboard burst detection), else ``scanner``."""
    byte_times: tuple[float, ...] = field(default=(), compare=False, repr=False)
    """Arrival time of each byte of ``raw`` (same length) when the scanner kind records it."""


@dataclass(frozen=True)
class UnreadableEvent:
    """A trigger pull whose bytes cannot be used (too long, not text, cut off): the operator
    must still see an answer, so it travels like a scan, not only as a diagnostic."""

    scanner: str
    raw: bytes
    reason: str
    """Short machine word: ``too_long``, ``decode_error``, ``incomplete`` ..."""
    message: str
    t_first: float = 0.0
    t_last: float = 0.0
    source: Source = "scanner"

    def visible_text(self, limit: int = 64) -> str:
        """The bytes as safe visible text, cut to ``limit`` characters."""
        text = visible_bytes(self.raw)
        return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class DiagnosticEvent:
    """Something a technician should know: a frame discarded, bytes that did not decode."""

    scanner: str
    kind: str
    """Short machine word: ``too_long``, ``decode_error``, ``open_failed``, ``read_error`` ..."""
    message: str
    raw: bytes = b""


@dataclass(frozen=True)
class StateEvent:
    """A scanner was connected, lost (unplugged), or reached the end of its input."""

    scanner: str
    state: ScannerState
    message: str = ""
    reconnects: int = 0


DeviceEvent = Union[ScanEvent, UnreadableEvent, DiagnosticEvent, StateEvent]
Emit = Callable[[DeviceEvent], None]


@dataclass
class ScannerStats:
    """Live counters a diagnostics view shows for one scanner."""

    state: str = "starting"
    reconnects: int = 0
    frames: int = 0
    errors: int = 0
    last_raw: bytes = b""
    last_text: str = ""
    last_error: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def record(self, event: "DeviceEvent") -> None:
        """Update the counters from one event a scanner is about to emit."""
        if isinstance(event, ScanEvent):
            self.frames += 1
            self.last_raw = event.raw
            self.last_text = event.text
        elif isinstance(event, DiagnosticEvent):
            self.errors += 1
            self.last_error = event.message
        elif isinstance(event, StateEvent):
            self.state = event.state
            self.reconnects = event.reconnects
            if event.state == "disconnected" and event.message:
                self.last_error = event.message


class Scanner(Protocol):
    """What every scanner kind offers: a reader thread started with an ``Emit`` callback."""

    name: str
    stats: ScannerStats

    def start(self, emit: Emit) -> None: ...

    def stop(self) -> None: ...
