"""Backend lanes: everything the kiosk keeps for one backend, in one object.

A lane owns its connector, its request budget (shared by live scans and the replay sender),
whether a request is in flight, the failures in a row, the time before which nothing is sent
(back-off, ``Retry-After``), the number of scans waiting in its outbox (kept in memory,
counted from the journal once at start) and the event that wakes its sender.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from kiosk.connectors.base import Connector
from kiosk.ratelimit import TokenBucket

log = logging.getLogger(__name__)

RETRY_AFTER_MAX_S = 900.0
"""A server's ``Retry-After`` is honoured up to this long (15 minutes), never longer."""


class Lane:
    def __init__(self, name: str, connector: Connector, *, per_minute: float | None, timeout_s: float,
                 clock: Callable[[], float], retry_after_max_s: float = RETRY_AFTER_MAX_S) -> None:
        self.name = name
        self.connector = connector
        self.timeout_s = timeout_s
        self.clock = clock
        self.retry_after_max_s = retry_after_max_s
        self.bucket = TokenBucket(per_minute)
        self.in_flight = False
        """A request of this backend (live or replay) waits for its answer."""
        self.failures = 0
        self.blocked_until = 0.0
        """Monotonic time before which nothing is sent (back-off, Retry-After)."""
        self.last_error = ""
        self.last_latency_ms: float | None = None
        self.waiting = 0
        """Scans of this backend in the outbox (pending, queued, or a replay in flight)."""
        self.send_now = False
        """A lead asked to send queued scans now: each row's own retry time is ignored until
        the next failure."""
        self._wake = asyncio.Event()

    # --- the sender's wake-up ------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    async def sleep_or_wake(self, seconds: float) -> None:
        self._wake.clear()
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, seconds))
        except asyncio.TimeoutError:
            pass

    # --- health --------------------------------------------------------------------

    def blocked(self, now: float) -> bool:
        return now < self.blocked_until

    def note_success(self) -> None:
        self.failures = 0
        self.blocked_until = 0.0
        self.last_error = ""

    def note_failure(self, delay: float, error: str = "") -> float:
        """Hold the lane for ``delay`` seconds (capped at ``retry_after_max_s``); the delay used."""
        if delay > self.retry_after_max_s:
            log.warning("backend %s asked to wait %.0f s; waiting %.0f s (the limit) instead",
                        self.name, delay, self.retry_after_max_s)
            delay = self.retry_after_max_s
        self.failures += 1
        self.send_now = False
        self.blocked_until = self.clock() + delay
        self.last_error = error
        return delay

    def unblock(self) -> None:
        """Send queued scans now: forget the back-off and every row's retry time, and wake the
        sender (a lead's action)."""
        self.blocked_until = 0.0
        self.failures = 0
        self.send_now = True
        self.wake()

    def row_wait(self, next_attempt_at: float | None, wall_now: float) -> float:
        """Seconds before a row may go again: its journaled retry time, none after a lead's
        "send now"."""
        if self.send_now or next_attempt_at is None:
            return 0.0
        return next_attempt_at - wall_now
