"""Headless mode: the station logic with no screen, one JSON line per processed scan on stdout.

Scans come from the configured scanners, or standard input when none is configured.
Every result, replays included, is printed and flushed at once; log messages and scanner
state changes go to stderr. It ends with status 0 at end of input or on SIGTERM/SIGINT,
after finishing the scans already read (``--drain`` waits for the outbox only at end of
input). Status 2: the kiosk cannot start (config, journal, token); status 3: the journal
stopped taking writes while running, so scans are no longer accepted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import Any, BinaryIO, TextIO

from devices.events import DeviceEvent, DiagnosticEvent, ScanEvent, StateEvent
from devices.text import visible
from kiosk.config import Config
from kiosk.feedback import Feedback
from kiosk.runtime import StartupError, build_runtime
from kiosk.scanners import build_scanners
from kiosk.service import JournalDown
from kiosk.station import Scan

log = logging.getLogger("kiosk.headless")

EXIT_STARTUP = 2
EXIT_JOURNAL = 3
JOURNAL_CHECK_S = 0.5
"""How often an idle kiosk checks whether the sender found the journal down."""


async def run_headless(config: Config, *, stdin: BinaryIO | None = None, stdout: TextIO | None = None,
                       drain_s: float = 0.0) -> int:
    out = stdout or sys.stdout
    err = sys.stderr
    try:
        scanners = build_scanners(config, screen=False, stdin=stdin)
        runtime = build_runtime(config)
    except (StartupError, ValueError) as exc:
        print(f"kiosk: {exc}", file=err)
        return EXIT_STARTUP
    service = runtime.service
    feedback = Feedback(config, bell=None)

    def on_result(result: Any) -> None:
        out.write(result.as_json() + "\n")
        out.flush()
        feedback.play(result.outcome, service.profile)

    service.subscribe(on_result)
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[DeviceEvent | Scan | None] = asyncio.Queue()
    stopping = asyncio.Event()

    def arrive(event: DeviceEvent) -> None:
        if not isinstance(event, ScanEvent):
            events.put_nowait(event)
            return
        scan = Scan.from_event(event)
        try:
            service.receive(scan)  # on disk on arrival, ids in arrival order
        except JournalDown:
            pass  # processing it reports the journal failure and stops the kiosk
        events.put_nowait(scan)

    def emit(event: DeviceEvent) -> None:
        loop.call_soon_threadsafe(arrive, event)

    def on_signal() -> None:
        stopping.set()
        events.put_nowait(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):
            pass

    try:
        await runtime.start()
        for scan in service.recover_received():
            events.put_nowait(scan)
    except JournalDown as exc:
        _journal_down(exc, err)
        await runtime.close()
        return EXIT_JOURNAL
    for scanner in scanners:
        scanner.start(emit)
    print(f"kiosk: ready at station {visible(service.profile.station)} (profile {visible(service.profile.name)}); "
          f"scanners: {', '.join(visible(s.name) for s in scanners)}", file=err, flush=True)
    ticker = loop.create_task(_tick(service))
    status = 0
    live = {s.name for s in scanners}
    try:
        while live and not stopping.is_set():
            try:
                event = await asyncio.wait_for(events.get(), JOURNAL_CHECK_S)
            except asyncio.TimeoutError:
                if service.journal_error:
                    _journal_down(service.journal_error, err)
                    status = EXIT_JOURNAL
                    break
                continue
            if event is None:
                break
            if not await _handle(event, service, live, err):
                status = EXIT_JOURNAL
                break
    finally:
        for scanner in scanners:
            scanner.stop()
    # Scans already read when the stop came are processed, never dropped: a reader thread
    # may have handed some over (call_soon_threadsafe) that the loop has not run yet.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    while status == 0 and not events.empty():
        event = events.get_nowait()
        if event is not None and not await _handle(event, service, set(), err):
            status = EXIT_JOURNAL
    if status == 0 and drain_s > 0 and not stopping.is_set():
        await _drain(service, drain_s)
    ticker.cancel()
    waiting = _safe_waiting(service)
    if waiting:
        print(f"kiosk: {waiting} scan(s) still waiting to be sent; they are kept in the journal "
              "and sent at the next start", file=err)
    await runtime.close()
    return status


def _journal_down(error: object, err: TextIO) -> None:
    print(f"kiosk: {error}. Scans are NOT being accepted: fix the journal and restart.", file=err)
    err.flush()


def _safe_waiting(service: Any) -> int:
    try:
        return service.waiting()
    except Exception:
        return 0


async def _handle(event: DeviceEvent | Scan, service: Any, live: set[str], err: TextIO) -> bool:
    """Process one device event; False when the journal is down and scans must stop."""
    if isinstance(event, Scan):
        try:
            await service.process(event)
        except JournalDown as exc:
            _journal_down(exc, err)
            return False
    elif isinstance(event, StateEvent):
        if event.state == "ended":
            live.discard(event.scanner)
        elif event.state == "disconnected":
            print(f"kiosk: scanner {visible(event.scanner)} disconnected: {visible(event.message)}", file=err)
        elif event.state == "connected" and event.scanner != "stdin":
            again = " again" if event.reconnects else ""
            print(f"kiosk: scanner {visible(event.scanner)} connected{again}", file=err)
    elif isinstance(event, DiagnosticEvent):
        print(f"kiosk: scanner {visible(event.scanner)}: {visible(event.message)}", file=err)
    err.flush()
    return True


async def _tick(service: Any) -> None:
    while True:
        await asyncio.sleep(1.0)
        service.tick()


async def _drain(service: Any, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while _safe_waiting(service) and time.monotonic() < deadline and not service.journal_error:
        for sender in service.senders.values():
            sender.wake()
        await asyncio.sleep(0.05)
