"""The request budget: no 60-second window ever holds more requests than the budget."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.ratelimit import TokenBucket


@settings(max_examples=200, deadline=None)
@given(budget=st.integers(min_value=2, max_value=600),
       gaps=st.lists(st.floats(min_value=0, max_value=5), min_size=1, max_size=400))
def test_no_window_exceeds_the_budget(budget, gaps):
    bucket = TokenBucket(budget)
    now, taken = 0.0, []
    for gap in gaps:
        now += gap
        while bucket.try_take(now):  # greedy client: takes every token it can
            taken.append(now)
    for i, start in enumerate(taken):
        in_window = sum(1 for t in taken[i:] if t < start + 60)
        assert in_window <= budget


def test_wait_time_says_when_the_next_token_comes():
    bucket = TokenBucket(120)
    while bucket.try_take(0.0):
        pass
    wait = bucket.wait_time(0.0)
    assert wait > 0
    assert not bucket.try_take(wait * 0.9)
    assert bucket.try_take(wait + 1e-6)


def test_unlimited_when_no_budget():
    bucket = TokenBucket(None)
    assert all(bucket.try_take(0.0) for _ in range(1000))
    assert bucket.wait_time(0.0) == 0.0
