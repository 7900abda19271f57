"""Headless mode: the station logic with no screen, one JSON line per processed scan on stdout.

Scans come from the configured scanners, or standard input when none is configured.
Every result, replays included, is printed and flushed at once; log messages and scanner
state changes go to stderr. It ends with status 0 at end of input, after finishing every
scan read (``--drain`` then waits for the outbox), or on SIGTERM/SIGINT, after giving the
scans already read ``STOP_GRACE_S`` to finish: a request still in flight then is cancelled
and journaled as unknown (queued to be sent again, or parked per ``on_unknown``), and
scans not yet processed stay in the journal for the next start. Status 2: the kiosk cannot
start (config, journal, token); status 3: the journal stopped taking writes while running,
so scans are no longer accepted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from typing import Any, BinaryIO, TextIO

from devices.events import DeviceEvent, DiagnosticEvent, StateEvent, UnreadableEvent
from devices.text import visible
from kiosk.config import Config
from kiosk.feedback import Feedback
from kiosk.inbox import ScanInbox
from kiosk.runtime import StartupError, build_runtime
from kiosk.scanners import build_scanners
from kiosk.service import JournalDown
from kiosk.station import Scan

log = logging.getLogger("kiosk.headless")

EXIT_STARTUP = 2
EXIT_JOURNAL = 3
JOURNAL_CHECK_S = 0.5
"""How often an idle kiosk checks whether the sender found the journal down."""
STOP_GRACE_S = 2.0
"""After SIGTERM/SIGINT, how long the scans already read may take before the kiosk stops."""


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
    stopping = asyncio.Event()
    live = {s.name for s in scanners}
    journal_down: list[str] = []

    def on_event(event: DeviceEvent) -> None:
        _report(event, live, err)
        if not live:
            stopping.set()

    def on_refused(scan: Scan | None, reason: str) -> None:
        if not journal_down:
            journal_down.append(reason)
            _journal_down(reason, err)
        stopping.set()

    inbox = ScanInbox(service, on_event=on_event, on_refused=on_refused)
    inbox.attach()
    signalled = asyncio.Event()

    def on_signal() -> None:
        signalled.set()
        stopping.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, on_signal)
        except (NotImplementedError, RuntimeError):
            pass

    try:
        await runtime.start()
        inbox.recover()
    except JournalDown as exc:
        _journal_down(exc, err)
        await runtime.close()
        return EXIT_JOURNAL
    worker = loop.create_task(inbox.run(), name="scans")
    for scanner in scanners:
        scanner.start(inbox.emit)
    print(f"kiosk: ready at station {visible(service.profile.station)} (profile {visible(service.profile.name)}); "
          f"scanners: {', '.join(visible(s.name) for s in scanners)}", file=err, flush=True)
    ticker = loop.create_task(_tick(service))
    while live and not stopping.is_set() and not service.journal_error:
        try:
            await asyncio.wait_for(stopping.wait(), JOURNAL_CHECK_S)
        except TimeoutError:
            pass
    for scanner in scanners:
        scanner.stop()
    # Scans already read when the stop came are processed, never dropped: a reader thread
    # may have handed some over (call_soon_threadsafe) that the loop has not run yet.
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    if not service.journal_error:
        await _finish(inbox, signalled)
    status = EXIT_JOURNAL if service.journal_error else 0
    if service.journal_error and not journal_down:
        _journal_down(service.journal_error, err)
    if status == 0 and drain_s > 0 and not signalled.is_set():
        await _drain(service, drain_s, signalled)
    ticker.cancel()
    worker.cancel()
    try:
        await worker  # a request in flight is cancelled here and its row settled as unknown
    except asyncio.CancelledError:
        pass
    waiting = service.waiting()
    if waiting:
        print(f"kiosk: {waiting} scan(s) still waiting to be sent; they are kept in the journal "
              "and sent at the next start", file=err)
    await runtime.close()
    return status


async def _finish(inbox: ScanInbox, signalled: asyncio.Event) -> None:
    """Until every scan read is processed; once a signal came, for ``STOP_GRACE_S`` at most."""
    idle = asyncio.ensure_future(inbox.idle())
    signal_came = asyncio.ensure_future(signalled.wait())
    try:
        await asyncio.wait({idle, signal_came}, return_when=asyncio.FIRST_COMPLETED)
        if not idle.done():
            await asyncio.wait_for(asyncio.shield(idle), STOP_GRACE_S)
    except TimeoutError:
        log.warning("stopping with a scan still being processed: it is kept in the journal")
    finally:
        idle.cancel()
        signal_came.cancel()


def _journal_down(error: object, err: TextIO) -> None:
    print(f"kiosk: {error}. Scans are NOT being accepted: fix the journal and restart.", file=err)
    err.flush()


def _report(event: DeviceEvent, live: set[str], err: TextIO) -> None:
    """A scanner's state change or diagnostic, on stderr."""
    if isinstance(event, StateEvent):
        if event.state == "ended":
            live.discard(event.scanner)
        elif event.state == "disconnected":
            print(f"kiosk: scanner {visible(event.scanner)} disconnected: {visible(event.message)}", file=err)
        elif event.state == "connected" and event.scanner != "stdin":
            again = " again" if event.reconnects else ""
            print(f"kiosk: scanner {visible(event.scanner)} connected{again}", file=err)
    elif isinstance(event, (DiagnosticEvent, UnreadableEvent)):
        print(f"kiosk: scanner {visible(event.scanner)}: {visible(event.message)}", file=err)
    err.flush()


async def _tick(service: Any) -> None:
    while True:
        await asyncio.sleep(1.0)
        service.tick()


async def _drain(service: Any, limit_s: float, signalled: asyncio.Event) -> None:
    deadline = time.monotonic() + limit_s
    while (service.waiting() and time.monotonic() < deadline and not service.journal_error
           and not signalled.is_set()):
        for lane in service.lanes.values():
            lane.wake()
        await asyncio.sleep(0.05)
