"""Framing: turning a byte stream with arrival times into scans (pure, no I/O).

Every scanner kind feeds its bytes to a ``Framer``; it never sleeps and never reads a
clock, the caller passes ``now`` with each chunk. Frames end at the configured terminator:

- ``"\\r"``, ``"\\n"``, ``"\\t"``, ``"etx"``: that one byte ends a frame. In ``etx`` mode an
  STX at the start of a frame is dropped too (scanners often send STX...ETX anyway).
- ``"\\r\\n"``: CR or LF ends a frame and empty frames are dropped, so CRLF, a lone CR and a
  lone LF all give one frame each. A scanner set to send only CR still works.
- ``"stx-etx"``: a frame is the bytes between STX and ETX. CR and LF between frames are
  ignored silently; other bytes outside a frame are reported as one ``outside_frame``
  diagnostic (when the next STX arrives, after 256 such bytes, or at idle/flush). An STX
  inside a frame restarts the frame (the partial one is ``incomplete``).
- ``"none"``: a frame ends after an idle gap (``idle_gap_s``) with no byte.

Line ends are never data. CR and LF that arrive before a frame's first byte are not part of
the frame, and CR/LF at either end of the text are removed (``raw`` keeps the bytes as they
came). So a scanner that sends CRLF while ``terminator = "\\r"`` (or ``"\\n"``) gives the
same scans as with ``"\\r\\n"``, and when the framer sees it (an LF right after a CR
terminator, or a CR right before an LF terminator) it says so once with a ``crlf_mismatch``
diagnostic: ``scanner sends CRLF, set terminator = "\\r\\n"``. This holds for every
terminator mode and so for every scanner kind.

Then a prefix, an AIM identifier (``]C1``) and a suffix are taken off when present, and the
rest decodes strictly. GS (0x1D) and every other byte that is not a terminator or a line
end at the edge is data and stays in ``text``; a text of only spaces is still a scan (the
kiosk decides to ignore it).

Every trigger pull that produced bytes gives one event: a ``ScanEvent`` or an
``UnreadableEvent`` (nothing raises, nothing is altered silently):

- a frame longer than ``max_length`` (counted before stripping) → ``too_long``, holding its
  first ``max_length`` bytes; reading resumes at the next terminator;
- bytes the encoding rejects → ``decode_error`` with the whole frame;
- a frame that is empty only after stripping prefix/AIM/suffix → ``empty``;
- in terminator modes, a partial frame with no byte for ``partial_timeout_s`` → ``incomplete``
  (usually a terminator mismatch: the bytes are kept for the technician);
- ``discard()`` (the scanner was unplugged), a new STX before ETX, or the end of input before
  ETX → ``incomplete`` with the partial frame.

What is not a trigger pull gives no ``UnreadableEvent``: a bare terminator (an empty frame)
and line ends between frames are dropped silently; in ``stx-etx`` mode other bytes outside
a frame are line noise, reported to the technician as one ``outside_frame`` diagnostic.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.aim import split_aim
from devices.events import (
    CRLF_HINT,
    DeviceEvent,
    DiagnosticEvent,
    ScanEvent,
    UnreadableEvent,
    UnreadableReason,
)
from devices.text import visible_bytes

STX = 0x02
ETX = 0x03
CR = 0x0D
LF = 0x0A

TERMINATOR_MODES = ("\r", "\n", "\r\n", "\t", "etx", "stx-etx", "none")
_ENDING_BYTES = {"\r": {CR}, "\n": {LF}, "\r\n": {CR, LF}, "\t": {0x09}, "etx": {ETX}, "stx-etx": {ETX}, "none": set()}
_OUTSIDE_LIMIT = 256
_LINE_ENDS = b"\r\n"
_SHOWN = 64  # characters of a frame quoted in a message


@dataclass(frozen=True)
class FramingSpec:
    """How one scanner's bytes become frames."""

    terminator: str = "\r"
    idle_gap_s: float = 0.05
    """``none`` mode: a gap this long ends a frame."""
    prefix: bytes = b""
    suffix: bytes = b""
    encoding: str = "utf-8"
    max_length: int = 256
    strip_aim: bool = True
    partial_timeout_s: float | None = 2.0
    """Terminator modes: a partial frame idle this long is discarded (None: kept forever)."""

    def __post_init__(self) -> None:
        if self.terminator not in TERMINATOR_MODES:
            raise ValueError(f"unknown terminator {self.terminator!r}; use one of {TERMINATOR_MODES}")
        if self.max_length <= 0:
            raise ValueError("max_length must be positive")


def terminator_label(mode: str) -> str:
    return {"\r": "CR", "\n": "LF", "\r\n": "CRLF", "\t": "TAB", "etx": "ETX", "stx-etx": "STX...ETX",
            "none": "idle gap"}[mode]


class Framer:
    """Stateful framer for one scanner: ``feed`` bytes, ``poll`` for timeouts, ``flush`` at EOF."""

    def __init__(self, scanner: str, spec: FramingSpec | None = None) -> None:
        self.scanner = scanner
        self.spec = spec or FramingSpec()
        self._ends = _ENDING_BYTES[self.spec.terminator]
        self._stx_mode = self.spec.terminator == "stx-etx"
        self._idle_mode = self.spec.terminator == "none"
        self._buf = bytearray()
        self._times: list[float] = []
        self._length = 0  # bytes seen in this frame, including any beyond max_length
        self._inside = False  # stx-etx mode: between STX and ETX
        self._outside = bytearray()
        self._t_last: float | None = None
        self._prev: int | None = None  # the byte taken before this one
        self._hinted = False  # crlf_mismatch said once

    # -- public API -------------------------------------------------------------------

    @property
    def pending(self) -> bytes:
        """Bytes of the frame being read (at most ``max_length``)."""
        return bytes(self._buf)

    def feed(self, data: bytes, now: float) -> list[DeviceEvent]:
        out: list[DeviceEvent] = []
        if (self._idle_mode and self._has_partial() and self._t_last is not None
                and now - self._t_last >= self.spec.idle_gap_s):
            out += self._end_frame()
        for byte in data:
            self._take(byte, now, out)
        if data:
            self._t_last = now
        return out

    def poll(self, now: float) -> list[DeviceEvent]:
        """Close what an idle period closes: a ``none``-mode frame, a stale partial frame."""
        if self._t_last is None:
            return []
        idle = now - self._t_last
        if self._idle_mode:
            return self._end_frame() if self._has_partial() and idle >= self.spec.idle_gap_s else []
        out: list[DeviceEvent] = []
        timeout = self.spec.partial_timeout_s
        if timeout is not None and idle >= timeout:
            out += self._report_outside()
            if self._has_partial():
                out += self._drop_partial(f"no {terminator_label(self.spec.terminator)} for {timeout:g} s")
        return out

    def flush(self, now: float) -> list[DeviceEvent]:
        """End of input: a partial frame counts as ended (except an STX frame without ETX)."""
        out = self._report_outside()
        if self._stx_mode and self._inside:
            out += self._drop_partial("input ended before ETX")
        elif self._has_partial():
            out += self._end_frame()
        return out

    def discard(self, reason: str) -> list[DeviceEvent]:
        """Drop a partial frame (e.g. at unplug), reporting its bytes; completed frames are unaffected."""
        return self._report_outside() + (self._drop_partial(reason) if self._has_partial() or self._inside else [])

    # -- byte handling ----------------------------------------------------------------

    def _take(self, byte: int, now: float, out: list[DeviceEvent]) -> None:
        self._check_crlf(byte, out)
        self._prev = byte
        if self._stx_mode:
            self._take_stx(byte, now, out)
        elif byte in self._ends:
            out += self._end_frame()
        elif byte == STX and self.spec.terminator == "etx" and self._length == 0:
            pass
        else:
            self._add(byte, now)

    def _check_crlf(self, byte: int, out: list[DeviceEvent]) -> None:
        """CR then LF while only one of them is the terminator: the scanner sends CRLF."""
        if self._hinted or byte != LF or self._prev != CR or self.spec.terminator not in ("\r", "\n"):
            return
        self._hinted = True
        out.append(DiagnosticEvent(scanner=self.scanner, kind="crlf_mismatch", message=CRLF_HINT))

    def _take_stx(self, byte: int, now: float, out: list[DeviceEvent]) -> None:
        if byte == STX:
            out += self._report_outside()
            if self._inside and self._has_partial():
                out += self._drop_partial("STX arrived before ETX")
            self._inside = True
        elif not self._inside:
            if byte not in (CR, LF):
                self._outside.append(byte)
                if len(self._outside) >= _OUTSIDE_LIMIT:
                    out += self._report_outside()
        elif byte == ETX:
            self._inside = False
            out += self._end_frame()
        else:
            self._add(byte, now)

    def _add(self, byte: int, now: float) -> None:
        if self._length == 0 and byte in _LINE_ENDS:
            return  # a line end left over from the previous frame's terminator
        self._length += 1
        if self._length <= self.spec.max_length:
            self._buf.append(byte)
            self._times.append(now)
        elif self._length == self.spec.max_length + 1:
            self._times.append(now)  # keep only the last byte's time from here on
        else:
            self._times[-1] = now

    def _has_partial(self) -> bool:
        return self._length > 0

    def _reset(self) -> None:
        self._buf = bytearray()
        self._times = []
        self._length = 0

    # -- frame completion -------------------------------------------------------------

    def _end_frame(self) -> list[DeviceEvent]:
        if self._length == 0:
            return []
        raw, times, length = bytes(self._buf), self._times, self._length
        self._reset()
        if length > self.spec.max_length:
            message = f"frame of {length} bytes discarded (longer than max_length {self.spec.max_length})"
            return [self._unreadable("too_long", message, raw, times)]
        return [self._build(raw, times)]

    def _build(self, raw: bytes, times: list[float]) -> DeviceEvent:
        spec = self.spec
        body = raw.rstrip(_LINE_ENDS)
        if spec.prefix and body.startswith(spec.prefix):
            body = body[len(spec.prefix):]
        symbology = None
        if spec.strip_aim:
            symbology, body = split_aim(body)
        head = len(raw) - len(body)
        if spec.suffix and body.endswith(spec.suffix):
            body = body[: -len(spec.suffix)]
        try:
            text = body.decode(spec.encoding)
        except UnicodeDecodeError as exc:
            message = (f"byte {head + exc.start} is not valid {spec.encoding}: "
                       f"frame discarded ({visible_bytes(raw, _SHOWN)})")
            return self._unreadable("decode_error", message, raw, times)
        except LookupError:
            return self._unreadable("decode_error", f"unknown encoding {spec.encoding!r}: frame discarded", raw, times)
        text = text.strip("\r\n")
        if not text:
            message = f"frame has no data after prefix/identifier/suffix ({visible_bytes(raw, _SHOWN)})"
            return self._unreadable("empty", message, raw, times)
        return ScanEvent(
            text=text,
            raw=raw,
            scanner=self.scanner,
            symbology=symbology,
            t_first=times[0],
            t_last=times[-1],
            byte_times=tuple(times[: len(raw)]),
        )

    def _drop_partial(self, reason: str) -> list[DeviceEvent]:
        raw, times, length = bytes(self._buf), self._times, self._length
        self._reset()
        self._inside = False
        if length == 0:
            return []
        return [self._unreadable("incomplete", f"partial frame of {length} bytes discarded: {reason}", raw, times)]

    def _report_outside(self) -> list[DeviceEvent]:
        if not self._outside:
            return []
        raw = bytes(self._outside)
        self._outside = bytearray()
        message = f"{len(raw)} bytes outside STX...ETX discarded"
        return [DiagnosticEvent(scanner=self.scanner, kind="outside_frame", message=message, raw=raw)]

    def _unreadable(self, reason: UnreadableReason, message: str, raw: bytes, times: list[float]) -> UnreadableEvent:
        return UnreadableEvent(
            scanner=self.scanner,
            raw=raw,
            reason=reason,
            message=message,
            t_first=times[0] if times else 0.0,
            t_last=times[-1] if times else 0.0,
        )
