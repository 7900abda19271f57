"""Benchmark 5: draining queued scans under a request budget.

Job-track backend with a budget (the Prodsmart counter, whose queued scans combine, is the
``prodsmart`` benchmark): the backend gets
``max_requests_per_minute`` and ``n`` scans are written at once. The token bucket
(``kiosk.ratelimit.TokenBucket``) lets its burst capacity ``C`` go out live; the rest wait
in the outbox and the sender releases them at the budget's rate ``r``. The theoretical
minimum time to send them all is ``(n - C) / r``; the figure is the measured time, from
the first scan written to the last result line, against it (the span between the
simulator's first and last check-in stamps is reported too).

"Zero 429s caused by us": the simulator has no rate limiter, so the benchmark counts the
requests in every sliding 60 s window (simulator check-in timestamps, millisecond
resolution) and compares the busiest window with the budget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from benchmarks.burst import feed
from benchmarks.harness import (
    Headless,
    Simulator,
    Workspace,
    order_code,
    scanner_port,
    skip_probes,
    wait_ready,
    write_config,
)
from kiosk.ratelimit import TokenBucket

WINDOW_S = 60.0
LABEL = "job-track backend with a budget (a Prodsmart counter: benchmark prodsmart)"


def busiest_window(stamps: list[float], window: float = WINDOW_S) -> int:
    """Most requests inside any half-open window [t, t + window)."""
    best, start = 0, 0
    for end, t in enumerate(stamps):
        while t - stamps[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def event_times(events: list[dict[str, Any]]) -> list[float]:
    return sorted(datetime.fromisoformat(e["statusDateTime"]).timestamp() for e in events)


def run(quick: bool) -> dict[str, Any]:
    n, per_minute = (90, 600.0) if quick else (300, 120.0)
    bucket = TokenBucket(per_minute)
    theoretical = max(0.0, n - bucket.capacity) / bucket.rate
    with Workspace("drain") as ws:
        sim = Simulator(ws, n)
        port = scanner_port(ws)
        config = write_config(ws.path / "kiosk.toml", sim.url, port.path, max_requests_per_minute=per_minute)
        kiosk = Headless(ws, config, port, drain_s=theoretical + 60)
        wait_ready(kiosk, port, 20.0)
        skip_probes(kiosk)
        sim.clear()
        codes = [order_code(i) for i in range(n)]
        lines, t_end, writer = feed(kiosk, port, codes, "drain")
        kiosk.stop()
        events, requests = sim.events(), sim.requests()
    stamps = event_times(events)
    measured = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    window = busiest_window(stamps)
    return {
        "label": LABEL, "scans": n, "max_requests_per_minute": per_minute,
        "bucket_capacity": bucket.capacity, "rate_per_s": bucket.rate,
        "theoretical_min_s": theoretical, "measured_s": t_end - writer.t_first,
        "ratio": (t_end - writer.t_first) / theoretical if theoretical else float("nan"),
        "simulator_span_s": measured,
        "queued_lines": sum(1 for line in lines if line.get("outcome") == "queued"),
        "ok": sum(1 for line in lines if line.get("outcome") == "ok"),
        "requests": len(requests),
        "in_order": [e["order_number"] for e in events] == codes,
        "busiest_60s_window": window,
        "within_budget": window <= per_minute,
        "over_budget_requests": max(0, window - int(per_minute)),
    }
