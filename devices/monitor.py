"""Frames and events described for a technician: visible text, hex, symbology, timing.

Everything that comes from a scanner goes through ``devices.text`` first, so an ESC in a
barcode can never act on the technician's terminal.
"""

from __future__ import annotations

from itertools import pairwise

from devices.aim import describe_aim
from devices.events import (
    HINT_KINDS,
    DeviceEvent,
    DiagnosticEvent,
    ScanEvent,
    StateEvent,
    UnreadableEvent,
)
from devices.text import visible, visible_bytes


def hex_bytes(raw: bytes, limit: int = 64) -> str:
    shown = " ".join(f"{b:02x}" for b in raw[:limit])
    return shown + (f" ... (+{len(raw) - limit} bytes)" if len(raw) > limit else "")


def chunk_gaps_ms(byte_times: tuple[float, ...]) -> list[float]:
    """Gaps between consecutive arrivals (bytes of one chunk share a time, so only real gaps count)."""
    return [(b - a) * 1000 for a, b in pairwise(byte_times) if b != a]


def describe_timing(event: ScanEvent, prev_t_last: float | None = None) -> str:
    parts = [f"took {(event.t_last - event.t_first) * 1000:.1f} ms"]
    gaps = chunk_gaps_ms(event.byte_times)
    if gaps:
        shown = ", ".join(f"{g:.1f}" for g in gaps[:12]) + (" ..." if len(gaps) > 12 else "")
        parts.append(f"{len(gaps) + 1} chunks, gaps {shown} ms (max {max(gaps):.1f})")
    elif event.byte_times:
        parts.append("1 chunk")
    if prev_t_last is not None:
        parts.append(f"{event.t_first - prev_t_last:.3f} s after the previous frame")
    return "; ".join(parts)


def describe_frame(event: ScanEvent, prev_t_last: float | None = None) -> str:
    """A multi-line description of one scan; ``prev_t_last`` is the previous frame's t_last."""
    head = (f"[{visible(event.scanner)}] scan  len={len(event.text)} chars/{len(event.raw)} bytes  "
            f"symbology={describe_aim(event.symbology)}")
    if event.source != "scanner":
        head += f"  source={event.source}"
    return "\n".join(
        [
            head,
            f"  text   {visible(event.text)}",
            f"  raw    {visible_bytes(event.raw)}",
            f"  hex    {hex_bytes(event.raw)}",
            f"  timing {describe_timing(event, prev_t_last)}",
        ]
    )


def describe_event(event: DeviceEvent, prev_t_last: float | None = None) -> str:
    """Any device event as text for the monitor."""
    if isinstance(event, ScanEvent):
        return describe_frame(event, prev_t_last)
    if isinstance(event, UnreadableEvent):
        return "\n".join(
            [
                f"[{visible(event.scanner)}] unreadable {event.reason}: {visible(event.message)}",
                f"  raw    {visible_bytes(event.raw)}",
                f"  hex    {hex_bytes(event.raw)}",
                f"  timing took {(event.t_last - event.t_first) * 1000:.1f} ms",
            ]
        )
    if isinstance(event, DiagnosticEvent):
        if event.kind in HINT_KINDS:
            return f"[{visible(event.scanner)}] hint: {visible(event.message)}"
        lines = [f"[{visible(event.scanner)}] problem {visible(event.kind)}: {visible(event.message)}"]
        if event.raw:
            lines.append(f"  raw    {visible_bytes(event.raw)}")
            lines.append(f"  hex    {hex_bytes(event.raw)}")
        return "\n".join(lines)
    if isinstance(event, StateEvent):
        line = f"[{visible(event.scanner)}] {event.state}"
        if event.message:
            line += f": {visible(event.message)}"
        if event.reconnects:
            line += f" (reconnects: {event.reconnects})"
        return line
    return f"unknown event {visible(repr(event))}"
