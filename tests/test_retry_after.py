"""A server's Retry-After cannot park the outbox for years: capped, logged, and a lead can send now.

Through the real path: the station service built by ``build_runtime``, its SQLite journal, and
the job-track simulator on loopback answering ``429 Retry-After: 999999999`` (31 years).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import BurstSim, order_code

from kiosk.config import load_config
from kiosk.journal import Journal
from kiosk.runtime import Runtime, build_runtime
from kiosk.station import Scan

THIRTY_ONE_YEARS = "999999999"


def fault_429(sim: BurstSim, retry_after: str) -> None:
    sim.sim.set_faults({"status": 429, "count": 1, "retry_after": retry_after})


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def started(config: Path) -> Runtime:
    runtime = build_runtime(load_config(config))
    await runtime.start()
    return runtime


async def scan(runtime: Runtime, text: str) -> str:
    return (await runtime.service.process(Scan(text, "test", t_last=time.monotonic()))).outcome


async def test_a_31_year_retry_after_is_capped_at_15_minutes_and_logged(
        burst_sim: BurstSim, write_config, caplog: pytest.LogCaptureFixture) -> None:
    fault_429(burst_sim, THIRTY_ONE_YEARS)
    runtime = await started(write_config(burst_sim.url))
    try:
        with caplog.at_level(logging.WARNING):
            assert await scan(runtime, order_code(1)) == "queued"
        (row,) = runtime.journal.outbox()
        lane = runtime.service.lanes["jt"]
    finally:
        await runtime.close()
    assert row.next_attempt_at is not None and row.next_attempt_at - time.time() <= 900
    assert lane.blocked_until - time.monotonic() <= 900
    assert "backend jt asked to wait 999999999 s; waiting 900 s (the limit) instead" in caplog.text


async def test_the_cap_is_a_config_key_and_the_scan_goes_when_it_ends(burst_sim: BurstSim, write_config) -> None:
    fault_429(burst_sim, THIRTY_ONE_YEARS)
    runtime = await started(write_config(burst_sim.url, backend={"retry_after_max_s": 0.5}))
    try:
        assert await scan(runtime, order_code(2)) == "queued"
        await until(lambda: burst_sim.delivered() == [order_code(2)])
    finally:
        await runtime.close()


async def test_a_retry_time_journaled_for_years_is_capped_at_the_next_start(
        burst_sim: BurstSim, write_config, tmp_path: Path) -> None:
    config = write_config(burst_sim.url, backend={"retry_after_max_s": 0.5})
    fault_429(burst_sim, "1")
    runtime = await started(config)
    assert await scan(runtime, order_code(3)) == "queued"
    await runtime.close()
    # As a kiosk from before the cap left it: the row to wait 31 years.
    journal = Journal.open(tmp_path / "journal.sqlite3")
    (row,) = journal.outbox()
    journal.update_scan(row.id, next_attempt_at=time.time() + float(THIRTY_ONE_YEARS))
    journal.close()
    runtime = await started(config)
    try:
        await until(lambda: burst_sim.delivered() == [order_code(3)])
    finally:
        await runtime.close()


async def test_a_lead_sends_queued_scans_now_whatever_the_server_asked(burst_sim: BurstSim, write_config) -> None:
    fault_429(burst_sim, "600")  # ten minutes: within the cap, so only a lead can cut it short
    runtime = await started(write_config(burst_sim.url))
    try:
        assert await scan(runtime, order_code(4)) == "queued"
        await asyncio.sleep(0.2)
        assert burst_sim.delivered() == []
        assert runtime.service.send_now() is False  # only with lead authority
        assert await scan(runtime, "LEAD7") == "lead"
        assert runtime.service.send_now() is True
        await until(lambda: burst_sim.delivered() == [order_code(4)])
    finally:
        await runtime.close()
