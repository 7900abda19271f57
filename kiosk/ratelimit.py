"""A token bucket per backend, shared by live scans and the replay sender.

``try_take(now)`` never waits (live scans queue instead of blocking the operator);
``wait_time(now)`` tells the sender how long until the next token. The bucket holds a
small burst and refills at (budget - burst) per minute, so no 60-second window ever holds
more requests than the budget: a vendor enforcing "120 per minute" never answers 429
because of us.
"""

from __future__ import annotations


class TokenBucket:
    def __init__(self, per_minute: float | None, burst: float | None = None) -> None:
        budget = per_minute or 0
        self.capacity = burst if burst is not None else max(1.0, budget / 12)
        refill = budget - self.capacity if budget > self.capacity else budget
        self.rate = refill / 60.0
        self.tokens = self.capacity
        self._at: float | None = None

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0

    def _refill(self, now: float) -> None:
        if self._at is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self._at) * self.rate)
        self._at = now

    def try_take(self, now: float) -> bool:
        if self.unlimited:
            return True
        self._refill(now)
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False

    def wait_time(self, now: float) -> float:
        if self.unlimited:
            return 0.0
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
