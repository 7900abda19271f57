"""The events every scanner kind delivers: a scan, an unreadable frame, a diagnostic, a state change.

Scanners run their own reader thread and hand events to an ``Emit`` callback; the callback
must be thread-safe (the kiosk wraps it with ``loop.call_soon_threadsafe``).

Every trigger pull that produced bytes gives exactly one ``ScanEvent`` or one
``UnreadableEvent``; ``DiagnosticEvent`` is for what is not a trigger pull (noise between
frames, a configuration hint, a read error).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from devices.text import visible_bytes

Source = Literal["scanner", "manual"]
ScannerState = Literal["connected", "disconnected", "ended"]
UnreadableReason = Literal["too_long", "decode_error", "incomplete", "empty"]

VISIBLE_CHARS = 64
"""``UnreadableEvent.visible_text()`` is cut to this many characters by default."""

CRLF_HINT = 'scanner sends CRLF, set terminator = "\\r\\n"'
"""The ``crlf_mismatch`` diagnostic's message (the TOML spelling the technician types)."""


@dataclass(frozen=True)
class ScanEvent:
    """One completed scan (a frame) from one scanner."""

    text: str
    """Decoded text, with prefix, suffix, terminator, AIM symbology identifier and any CR/LF
    at either end removed. May be only spaces: the kiosk decides what to do with that."""
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
    """A trigger pull whose bytes cannot be taken as a scan: answer it, never send it anywhere."""

    scanner: str
    raw: bytes
    """The frame's bytes (a ``too_long`` frame: only its first ``max_length`` bytes)."""
    reason: UnreadableReason
    """``too_long`` (over max_length), ``decode_error`` (bytes the encoding rejects),
    ``incomplete`` (no terminator: timed out, unplugged, input ended, STX before ETX) or
    ``empty`` (nothing left after prefix, AIM identifier and suffix)."""
    message: str
    """One line for a technician: what was wrong, in plain words."""
    t_first: float = 0.0
    t_last: float = 0.0
    source: Source = "scanner"

    def visible_text(self, limit: int = VISIBLE_CHARS) -> str:
        """The raw bytes as safe, printable text of at most ``limit`` characters (``…`` when cut)."""
        return visible_bytes(self.raw, limit=limit)


@dataclass(frozen=True)
class DiagnosticEvent:
    """Something a technician should know that is not a trigger pull: noise, a hint, a read error."""

    scanner: str
    kind: str
    """Short machine word: ``outside_frame``, ``crlf_mismatch``, ``open_failed``, ``read_error`` ..."""
    message: str
    raw: bytes = b""


HINT_KINDS = frozenset({"crlf_mismatch"})
"""Diagnostic kinds that are advice about the configuration, not errors."""


@dataclass(frozen=True)
class StateEvent:
    """A scanner was connected, lost (unplugged), or reached the end of its input."""

    scanner: str
    state: ScannerState
    message: str = ""
    reconnects: int = 0


DeviceEvent = ScanEvent | UnreadableEvent | DiagnosticEvent | StateEvent
Emit = Callable[[DeviceEvent], None]


@dataclass
class ScannerStats:
    """Live counters a diagnostics view shows for one scanner."""

    state: str = "starting"
    reconnects: int = 0
    frames: int = 0
    """Scans taken."""
    unreadable: int = 0
    """Trigger pulls that gave no usable scan (also counted in ``errors``)."""
    errors: int = 0
    last_raw: bytes = b""
    """Bytes of the last frame, readable or not."""
    last_text: str = ""
    last_error: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    """Free-form facts (port, device path) and ``hint``: configuration advice such as CRLF_HINT."""

    def record(self, event: DeviceEvent) -> None:
        """Update the counters from one event a scanner is about to emit."""
        if isinstance(event, ScanEvent):
            self.frames += 1
            self.last_raw = event.raw
            self.last_text = event.text
        elif isinstance(event, UnreadableEvent):
            self.unreadable += 1
            self.errors += 1
            self.last_raw = event.raw
            self.last_text = ""
            self.last_error = event.message
        elif isinstance(event, DiagnosticEvent):
            if event.kind in HINT_KINDS:
                self.extra["hint"] = event.message
            else:
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
