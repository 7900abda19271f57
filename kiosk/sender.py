"""The outbox sender: one per backend lane, delivering waiting scans in scan order.

It takes the oldest waiting row of its lane, waits for its retry time, the lane's back-off
and the request budget, and hands it to the ``deliver`` callback (the station service's
replay). Back-off is exponential with jitter; the lane caps the server's ``Retry-After``.
While a request of its lane is in flight it waits, so there is never more than one request
per backend and a row the live path has in flight is never sent twice at once. ``stop()``
gives a request in flight ``STOP_GRACE_S`` to finish, then cancels it (the service journals
its row as unknown: queued or parked), so stopping never waits for a slow vendor. It
imports no caller: the service passes in what it needs.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Awaitable, Callable

from kiosk.journal import ScanRow
from kiosk.lanes import Lane

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
IDLE_POLL_S = 5.0
STOP_GRACE_S = 1.0
"""``stop()`` waits up to this long for a request in flight before cancelling it."""

HeadRow = Callable[[str], "ScanRow | None"]
Deliver = Callable[[ScanRow], Awaitable[None]]


def backoff_delay(failures: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after ``failures`` failures in a row: 1, 2, 4 ... 60, jittered ±20 %."""
    base = min(BACKOFF_MAX_S, BACKOFF_FIRST_S * 2 ** max(0, failures))
    return base * (0.8 + 0.4 * (rng or random).random())


class Sender:
    def __init__(self, lane: Lane, *, head: HeadRow, deliver: Deliver, wall: Callable[[], float],
                 halted: Callable[[], bool]) -> None:
        self.lane = lane
        self._head = head
        self._deliver = deliver
        self._wall = wall
        self._halted = halted
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sending = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"sender-{self.lane.name}")

    async def stop(self) -> None:
        self._stopping = True
        self.lane.wake()
        if self._task:
            if self._sending:
                await asyncio.wait({self._task}, timeout=min(self.lane.timeout_s, STOP_GRACE_S))
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        lane = self.lane
        while not self._stopping:
            if self._halted() or lane.in_flight:
                # Halted: the journal is down, send nothing it cannot record. In flight: the
                # live path wakes us when its answer is in.
                await lane.sleep_or_wake(IDLE_POLL_S)
                continue
            try:
                row = self._head(lane.name)
            except Exception as exc:
                log.error("outbox of %s cannot be read: %s", lane.name, exc)
                await lane.sleep_or_wake(IDLE_POLL_S)
                continue
            if row is None:
                await lane.sleep_or_wake(IDLE_POLL_S)
                continue
            lane.waiting = max(lane.waiting, 1)
            now = lane.clock()
            wait = max(lane.blocked_until - now, lane.row_wait(row.next_attempt_at, self._wall()),
                       lane.bucket.wait_time(now))
            if wait > 0:
                await lane.sleep_or_wake(wait)
                continue
            if not lane.bucket.try_take(now):
                await lane.sleep_or_wake(0.01)
                continue
            self._sending = True
            lane.in_flight = True
            try:
                await self._deliver(row)
            except Exception as exc:  # a journal failure stops the kiosk; keep the sender alive
                log.error("sending scan %s failed: %s", row.id, exc)
                await lane.sleep_or_wake(IDLE_POLL_S)
            finally:
                lane.in_flight = False
                self._sending = False
