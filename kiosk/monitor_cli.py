"""``kiosk monitor``: watch what the configured scanners send, frame by frame.

Starts the configured scanner(s) (all, or the one named), prints every frame through
``devices.monitor.describe_event`` (visible text, hex, symbology, length, timing), every
unreadable frame, state change and diagnostic, and configuration hints such as
``scanner sends CRLF, set terminator = "\\r\\n"``, until Ctrl-C or SIGTERM (exit 0), or until
every scanner has reached the end of its input. An unknown scanner name exits 2 listing the names.
"""

from __future__ import annotations

import queue
import signal
import sys
import threading
from types import FrameType
from typing import TextIO

from devices.events import DeviceEvent, ScanEvent, StateEvent
from devices.monitor import describe_event
from kiosk.config import Config
from kiosk.scanners import build_scanner


def run_monitor(
    config: Config,
    scanner: str | None = None,
    *,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    stop: threading.Event | None = None,
) -> int:
    """Print scanner traffic until stopped; ``stop`` lets a caller (or a test) end it."""
    chosen = [s for s in config.scanners if scanner is None or s.name == scanner]
    if scanner is not None and not chosen:
        names = ", ".join(s.name for s in config.scanners) or "none configured"
        print(f"unknown scanner {scanner!r}; configured scanners: {names}", file=err)
        return 2
    if not chosen:
        print("no scanners configured (add a [[scanners]] section to the config)", file=err)
        return 2
    stop = stop or threading.Event()
    events: queue.Queue[DeviceEvent] = queue.Queue()
    scanners = [build_scanner(cfg) for cfg in chosen]
    restore = _stop_on_signals(stop)
    try:
        print(f"monitoring {', '.join(s.name for s in scanners)}; press Ctrl-C to stop", file=out, flush=True)
        for s in scanners:
            s.start(events.put)
        _print_events(events, stop, len(scanners), out)
    except KeyboardInterrupt:
        pass
    finally:
        for s in scanners:
            s.stop()
        restore()
    return 0


def _print_events(events: queue.Queue, stop: threading.Event, count: int, out: TextIO) -> None:
    previous: dict[str, float] = {}
    ended: set[str] = set()
    while not stop.is_set() and len(ended) < count:
        try:
            event = events.get(timeout=0.1)
        except queue.Empty:
            continue
        prev = previous.get(event.scanner) if isinstance(event, ScanEvent) else None
        print(describe_event(event, prev), file=out, flush=True)
        if isinstance(event, ScanEvent):
            previous[event.scanner] = event.t_last
        elif isinstance(event, StateEvent) and event.state == "ended":
            ended.add(event.scanner)


def _stop_on_signals(stop: threading.Event):
    """SIGTERM (and SIGINT) set ``stop``; only possible from the main thread."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
