"""The scan inbox: everything from "a scanner produced a frame" to "the service has a result".

Both front ends use it, so the screen and headless mode cannot drift apart:
- scanner threads hand over events with ``emit`` (thread-safe); the keyboard front end calls
  ``arrive`` on the loop;
- scans are processed one at a time, in arrival order, by ``run``;
- a scan that has to wait its turn (another is being processed, earlier ones wait, or the
  front end has ``pause``\\ d the inbox behind an error screen) is journaled the moment it
  arrives; one that can go at once is journaled by the service as it is processed, so an
  idle station writes a scan once before sending it, never twice;
- scans a previous run took in but never processed come first after a restart (``recover``);
- while the journal is down every scan is refused (``on_refused``) and none is lost silently;
- a frame that could not be read (``UnreadableEvent``) is answered in its turn like a scan;
- other device events (connected, disconnected, diagnostics) go to ``on_event`` at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from typing import Callable, Union

from devices.events import DeviceEvent, ScanEvent, UnreadableEvent
from kiosk.journal import JournalError
from kiosk.outcomes import Outcome
from kiosk.results import ScanResult
from kiosk.service import JournalDown, StationService, iso_now
from kiosk.station import Scan

log = logging.getLogger(__name__)

Item = Union[Scan, UnreadableEvent]


def _nothing(*_: object) -> None:
    return None


class ScanInbox:
    def __init__(self, service: StationService, *,
                 on_event: Callable[[DeviceEvent], None] = _nothing,
                 on_refused: Callable[[Scan | None, str], None] = _nothing,
                 intercept: Callable[[Scan], bool] | None = None) -> None:
        self.service = service
        self.on_event = on_event
        """Device events other than scans, at once (status lines, stderr)."""
        self.on_refused = on_refused
        """A scan not taken because the journal is down (None: the journal just went down)."""
        self.intercept = intercept
        """Takes a scan before it is journaled, e.g. the acknowledge barcode under an error screen."""
        self._queue: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._open = asyncio.Event()
        self._open.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self.processing: Item | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None

    # --- taking scans in -----------------------------------------------------------

    def attach(self) -> None:
        """Bind to the running loop, so scanner threads can hand events over."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    def emit(self, event: DeviceEvent) -> None:
        """A scanner's ``Emit`` callback: safe from any thread, never blocks."""
        if self._loop is not None and threading.get_ident() != self._thread:
            self._loop.call_soon_threadsafe(self._take, event)
        else:
            self._take(event)

    def _take(self, event: DeviceEvent) -> None:
        if isinstance(event, ScanEvent):
            self.arrive(Scan.from_event(event))
        elif isinstance(event, UnreadableEvent):
            self.arrive(event)
            self.on_event(event)
        else:
            self.on_event(event)

    def arrive(self, item: Item) -> None:
        """Take a scan (on the loop's thread): journaled now if it must wait, then queued."""
        if isinstance(item, Scan) and self.intercept is not None and self.intercept(item):
            return
        if self.service.journal_error:
            self._refuse(item)
            return
        if self._must_wait():
            try:
                self.service.receive_many([i for i in [*self._unwritten(), item] if isinstance(i, Scan)])
            except (JournalDown, JournalError) as exc:
                self._journal_down(str(exc))
                self._refuse(item)
                return
        self._queue.append(item)
        self._idle.clear()
        self._wake.set()

    def _must_wait(self) -> bool:
        return bool(self._queue) or self.processing is not None or not self._open.is_set()

    def _unwritten(self) -> list[Item]:
        """Scans taken for processing at once but not yet journaled: written first, so ids
        stay in arrival order when another scan arrives meanwhile."""
        items = list(self._queue)
        if self.processing is not None:
            items.insert(0, self.processing)
        return [i for i in items if isinstance(i, Scan) and not self.service.has_row(i)]

    def recover(self) -> None:
        """Queue, ahead of anything new, the scans a previous run took in but never processed."""
        scans = self.service.recover_received()
        self._queue.extendleft(reversed(scans))
        if scans:
            self._idle.clear()
            self._wake.set()

    # --- holding -------------------------------------------------------------------

    def pause(self) -> None:
        """Hold scans (journaled on arrival) until ``resume``: an error screen is up."""
        self._open.clear()

    def resume(self) -> None:
        self._open.set()

    @property
    def paused(self) -> bool:
        return not self._open.is_set()

    @property
    def pending(self) -> int:
        """Scans waiting their turn (not counting the one being processed)."""
        return len(self._queue)

    async def idle(self) -> None:
        """Until every scan taken in has been processed."""
        await self._idle.wait()

    # --- processing ----------------------------------------------------------------

    async def run(self) -> None:
        """Process scans one at a time, in order, for as long as the front end runs."""
        while True:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._open.wait()
            if not self._queue:
                continue
            item = self._queue.popleft()
            self.processing = item
            try:
                await self._process(item)
            finally:
                self.processing = None

    async def _process(self, item: Item) -> None:
        if self.service.journal_error:
            self._journal_down(self.service.journal_error)
            self._refuse(item)
            return
        try:
            if isinstance(item, UnreadableEvent):
                self.service.unreadable(item)
            else:
                await self.service.process(item)
        except (JournalDown, JournalError) as exc:
            self._journal_down(str(exc))
            self._refuse(item)
        except Exception as exc:  # a bug below must not take the kiosk down: show it, go on
            log.exception("processing a scan failed")
            if isinstance(item, Scan):
                self.service.emit(self._internal_error(item, exc))

    def _internal_error(self, scan: Scan, exc: Exception) -> ScanResult:
        service = self.service
        profile = service.profile
        return ScanResult(id=None, ts=iso_now(), scan=scan.text, scanner=scan.scanner, profile=profile.name,
                          station=profile.station, operator=service.station.operator_code, outcome=Outcome.ERROR,
                          title="Kiosk internal error",
                          details=(f"{type(exc).__name__}: {exc}",
                                   "This scan may not have been saved or sent. Call a technician."),
                          source=scan.source)

    # --- journal down --------------------------------------------------------------

    def _journal_down(self, reason: str) -> None:
        self.on_refused(None, reason)
        while self._queue:
            self._refuse(self._queue.popleft())

    def _refuse(self, item: Item) -> None:
        reason = self.service.journal_error or "The scan journal cannot be written."
        if isinstance(item, Scan):
            self.on_refused(item, reason)
        else:
            self.on_refused(Scan(item.visible_text(), item.scanner, item.source, item.raw), reason)
