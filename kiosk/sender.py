"""The outbox sender: one per backend, delivering waiting scans in scan order.

It takes the oldest waiting row of its backend, waits for its retry time, the backend's
back-off and the request budget, and hands it to ``StationService.replay``. Back-off is
exponential with jitter and honours the server's ``Retry-After``. While a live scan of its
backend is in flight it waits, so there is never more than one request per backend and a
row the live path has in flight is never sent twice at once. ``stop()`` lets a request in
flight finish (its outcome is journaled) rather than leave a row whose fate is unknown.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.service import StationService

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
IDLE_POLL_S = 5.0
STOP_GRACE_S = 1.0
"""``stop()`` waits up to the backend's timeout plus this for a request in flight."""


def backoff_delay(failures: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``failures`` failures in a row: 1, 2, 4 ... 60, jittered ±20 %."""
    base = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, failures))
    return base * (0.8 + 0.4 * (rng or random).random())


class Sender:
    def __init__(self, service: "StationService", backend: str) -> None:
        self.service = service
        self.backend = backend
        self.failures = 0
        self.blocked_until = 0.0
        """Monotonic time before which nothing is sent (back-off, Retry-After)."""
        self.last_error = ""
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sending = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sender-{self.backend}")

    async def stop(self) -> None:
        self._stopping = True
        self.wake()
        if self._task:
            if self._sending:
                timeout = self.service.config.backends[self.backend].timeout_s + STOP_GRACE_S
                await asyncio.wait({self._task}, timeout=timeout)
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def wake(self) -> None:
        self._wake.set()

    def blocked(self, now: float) -> bool:
        return now < self.blocked_until

    def note_success(self) -> None:
        self.failures = 0
        self.blocked_until = 0.0
        self.last_error = ""

    def note_failure(self, delay: float, error: str = "") -> None:
        self.failures += 1
        self.blocked_until = self.service.clock() + delay
        self.last_error = error

    async def _sleep_or_wake(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
        except asyncio.TimeoutError:
            pass

    async def _run(self) -> None:
        service = self.service
        while not self._stopping:
            if service.journal_error:  # the kiosk has stopped: send nothing it cannot record
                await self._sleep_or_wake(IDLE_POLL_S)
                continue
            try:
                head = service.journal.outbox(self.backend, limit=1)
            except Exception as exc:
                log.error("outbox of %s cannot be read: %s", self.backend, exc)
                await self._sleep_or_wake(IDLE_POLL_S)
                continue
            if not head:
                await self._sleep_or_wake(IDLE_POLL_S)
                continue
            row = head[0]
            if service.live_in_flight(self.backend):
                await self._sleep_or_wake(IDLE_POLL_S)  # the live path wakes us when done
                continue
            now = service.clock()
            wait = max(self.blocked_until - now, (row.next_attempt_at or 0) - service.wall(),
                       service.buckets[self.backend].wait_time(now))
            if wait > 0:
                await self._sleep_or_wake(wait)
                continue
            if not service.buckets[self.backend].try_take(now):
                await self._sleep_or_wake(0.01)
                continue
            self._sending = True
            try:
                await service.replay(row)
            except Exception as exc:  # a journal failure stops the kiosk; keep the sender alive
                log.error("sending scan %s failed: %s", row.id, exc)
                await self._sleep_or_wake(IDLE_POLL_S)
            finally:
                self._sending = False
