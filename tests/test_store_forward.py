"""Store-and-forward through the real path: StationService, SQLite journal, loopback simulator.

Each fault the simulator can inject (503, 429 with Retry-After in seconds and as an
HTTP-date, a late answer, a dropped connection) and a stopped server are shown to queue
the scan, and the sender to deliver it later in scan order; plus offline="reject", the
unknown-outcome policies, parking with lead retry/dismiss, the request budget, restarts
with a non-empty outbox and a journal that stops taking writes.
"""

from __future__ import annotations

import asyncio
import email.utils
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from conftest import BurstSim, hold_code, order_code

import kiosk.sender
from kiosk.config import load_config
from kiosk.connectors.jobtrack import InvalidStationCode, JobTrackConnector
from kiosk.journal import Journal
from kiosk.results import ScanResult
from kiosk.runtime import build_runtime
from kiosk.service import JournalDown
from kiosk.simulators.jobtrack import JobTrackSim
from kiosk.simulators.server import SimServer
from kiosk.station import Scan
from kiosk.station.state import lead_label

QUEUED_TITLE = "Saved. Will be sent when the connection is back."


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back-off of a few tens of ms, so a replay after a failure comes quickly."""
    monkeypatch.setattr(kiosk.sender, "BACKOFF_FIRST_S", 0.02)
    monkeypatch.setattr(kiosk.sender, "BACKOFF_MAX_S", 0.1)


def fault(url: str, **request: Any) -> None:
    """Arm a fault through the simulator's HTTP control endpoint."""
    answer = httpx.post(f"{url}/__sim__/faults", json=request, timeout=5)
    assert answer.status_code == 200, answer.text


async def until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        await asyncio.sleep(0.01)


class Kiosk:
    """A running station service built the way every front end builds it."""

    def __init__(self, config_path: Path) -> None:
        self.config = load_config(config_path)
        self.runtime = build_runtime(self.config)
        self.service = self.runtime.service
        self.journal = self.runtime.journal
        self.results: list[ScanResult] = []
        self.service.subscribe(self.results.append)

    async def __aenter__(self) -> "Kiosk":
        await self.runtime.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.close()

    async def scan(self, text: str) -> ScanResult:
        return await self.service.process(Scan(text, "test", t_last=time.monotonic()))

    def replays(self) -> list[ScanResult]:
        return [r for r in self.results if r.replay]

    async def drained(self, timeout: float = 5.0) -> None:
        await until(lambda: self.service.waiting() == 0, timeout, "empty outbox")


def statuses(journal: Journal, ids: list[int]) -> list[tuple[str, str | None]]:
    rows = [journal.get(i) for i in ids]
    return [(r.status, r.outcome) for r in rows if r is not None]


# --- transient failures queue; the sender delivers in order --------------------------


async def test_503_queues_and_later_scans_wait_behind_it(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, status=503, count=3)
    async with Kiosk(write_config(burst_sim.url)) as k:
        first = await k.scan(order_code(1))
        assert (first.outcome, first.title, first.details[0]) == ("queued", QUEUED_TITLE, "1 waiting")
        assert k.journal.get(first.id).status in ("queued", "sending")
        rest = [await k.scan(order_code(n)) for n in (2, 3, 4)]
        assert [r.outcome for r in rest] == ["queued"] * 3  # never overtaking the waiting scan
        await k.drained()
        assert burst_sim.delivered() == [order_code(n) for n in (1, 2, 3, 4)]
        ids = [first.id] + [r.id for r in rest]
        assert statuses(k.journal, ids) == [("done", "ok")] * 4
        replays = k.replays()
        assert sorted(r.id for r in replays) == ids and {r.outcome for r in replays} == {"ok"}
        assert burst_sim.recorder.max_in_flight == 1
        assert k.journal.get(first.id).attempts >= 2


async def test_429_retry_after_seconds_is_honoured(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, status=429, count=1, retry_after=1)
    async with Kiosk(write_config(burst_sim.url)) as k:
        started = time.monotonic()
        result = await k.scan(order_code(1))
        assert result.outcome == "queued" and result.http_status == 429
        assert k.journal.get(result.id).title == "Server busy"
        await k.drained()
        waited = time.monotonic() - started
        assert waited >= 0.95, f"sent again after {waited:.2f} s despite Retry-After: 1"
        assert len(burst_sim.recorder.arrivals) == 2
        assert burst_sim.recorder.arrivals[1][0] - burst_sim.recorder.arrivals[0][0] >= 0.95


async def test_a_busy_server_is_shown_as_busy_with_when_it_is_sent(burst_sim: BurstSim, write_config) -> None:
    """A 429 tells the operator the scan is saved and when it goes: "Busy, sending in N s"."""
    fault(burst_sim.url, status=429, count=1, retry_after=30)
    async with Kiosk(write_config(burst_sim.url)) as k:
        result = await k.scan(order_code(1))
        assert result.outcome == "queued" and result.title == "Busy, sending in 30 s"
        assert result.details[:2] == ("1 waiting", "Server busy")


async def test_429_retry_after_http_date_is_honoured(burst_sim: BurstSim, write_config) -> None:
    not_before = int(time.time()) + 2  # an HTTP-date has whole seconds: 1-2 s from now
    fault(burst_sim.url, status=429, count=1, retry_after=email.utils.formatdate(not_before, usegmt=True))
    async with Kiosk(write_config(burst_sim.url)) as k:
        result = await k.scan(order_code(1))
        assert result.outcome == "queued"
        await k.drained(timeout=5)
        assert time.time() >= not_before - 0.05
        assert burst_sim.delivered() == [order_code(1)]


async def test_read_timeout_is_unknown_and_resent_by_default(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, delay_s=0.6, count=1)
    async with Kiosk(write_config(burst_sim.url, backend={"timeout_s": 0.2})) as k:
        result = await k.scan(order_code(1))
        assert (result.outcome, result.details[1]) == ("queued", "No answer from the server")
        await k.drained()
        # The vendor recorded the late attempt and the resend: "resend" accepts that risk.
        assert burst_sim.delivered() == [order_code(1)] * 2
        assert statuses(k.journal, [result.id]) == [("done", "ok")]


async def test_read_timeout_parks_under_on_unknown_park(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, delay_s=0.6, count=1)
    config = write_config(burst_sim.url, backend={"timeout_s": 0.2}, profile={"on_unknown": "park"})
    async with Kiosk(config) as k:
        result = await k.scan(order_code(1))
        assert (result.outcome, result.title) == ("parked", "Unknown whether checked in")
        after = await k.scan(order_code(2))
        assert after.outcome == "ok"
        await asyncio.sleep(0.2)  # room for a wrong resend by the sender
        assert [body for _, body in burst_sim.recorder.arrivals].count(f'{{"order":"{order_code(1)}"}}') == 1
        assert statuses(k.journal, [result.id]) == [("parked", "parked")]
        assert [p.id for p in k.service.parked()] == [result.id]


async def test_dropped_connections_queue_until_the_server_is_back(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, down=True)
    async with Kiosk(write_config(burst_sim.url)) as k:
        results = [await k.scan(order_code(n)) for n in range(5)]
        assert [r.outcome for r in results] == ["queued"] * 5
        assert results[-1].waiting == 5
        await asyncio.sleep(0.2)
        assert burst_sim.delivered() == [] and k.service.waiting() == 5
        fault(burst_sim.url, down=False)
        await k.drained()
        assert burst_sim.delivered() == [order_code(n) for n in range(5)]
        assert sorted(r.id for r in k.replays()) == [r.id for r in results]


async def test_stopped_server_queues_even_under_park(write_config) -> None:
    """A refused connection never reached the vendor: safe to send again under either policy."""
    sim = JobTrackSim(__import__("conftest").burst_data())
    server = SimServer(sim).start()
    port = server.port
    server.stop()
    config = write_config(f"http://127.0.0.1:{port}", profile={"on_unknown": "park"})
    async with Kiosk(config) as k:
        result = await k.scan(order_code(7))
        assert (result.outcome, result.details[1]) == ("queued", "Server not reachable")
        with SimServer(sim, port=port):
            await k.drained()
        assert [e["order_number"] for e in sim.events()] == [order_code(7)]


async def test_offline_reject_never_queues(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, status=503, count=1)
    async with Kiosk(write_config(burst_sim.url, profile={"offline": "reject"})) as k:
        result = await k.scan(order_code(1))
        assert (result.outcome, result.title) == ("error", "Server error")
        assert k.service.waiting() == 0 and statuses(k.journal, [result.id]) == [("done", "error")]
        assert (await k.scan(order_code(1))).outcome == "ok"


async def test_offline_reject_never_overtakes_waiting_scans(burst_sim: BurstSim, write_config, tmp_path) -> None:
    """A reject profile refuses, rather than sends ahead of, scans still in the outbox."""
    fault(burst_sim.url, down=True)
    async with Kiosk(write_config(burst_sim.url)) as k:
        queued = await k.scan(order_code(1))
        assert queued.outcome == "queued"
    async with Kiosk(write_config(burst_sim.url, profile={"offline": "reject"})) as k:
        refused = await k.scan(order_code(2))
        assert (refused.outcome, refused.title) == ("error", "Not sent: earlier scans are waiting")
        fault(burst_sim.url, down=False)
        await k.drained()
        assert (await k.scan(order_code(2))).outcome == "ok"
    assert burst_sim.delivered() == [order_code(1), order_code(2)]


# --- restarts -------------------------------------------------------------------------


async def test_queued_scans_are_delivered_after_a_restart(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, down=True)
    config = write_config(burst_sim.url)
    async with Kiosk(config) as k:
        ids = [(await k.scan(order_code(n))).id for n in range(4)]
    assert burst_sim.delivered() == []
    fault(burst_sim.url, down=False)
    async with Kiosk(config) as k:
        await k.drained()
        assert sorted(r.id for r in k.replays()) == ids
        assert {(r.replay, r.outcome) for r in k.replays()} == {(True, "ok")}
        later = await k.scan(order_code(9))
        assert later.outcome == "ok" and later.id > max(ids)
    assert burst_sim.delivered() == [order_code(n) for n in (0, 1, 2, 3, 9)]


async def test_a_scan_right_after_a_restart_waits_behind_the_queue(burst_sim: BurstSim, write_config) -> None:
    """The back-off state is gone after a restart, but the outbox still decides: no overtaking."""
    fault(burst_sim.url, down=True)
    config = write_config(burst_sim.url)
    async with Kiosk(config) as k:
        ids = [(await k.scan(order_code(n))).id for n in range(3)]
    fault(burst_sim.url, down=False)
    async with Kiosk(config) as k:
        later = await k.scan(order_code(9))
        assert later.outcome == "queued"
        await k.drained()
    assert burst_sim.delivered() == [order_code(n) for n in (0, 1, 2, 9)]
    assert later.id > max(ids)


@pytest.mark.parametrize("profile,expected", [
    ({}, ("done", "ok")),
    ({"on_unknown": "park"}, ("parked", "parked")),
    ({"offline": "reject"}, ("parked", "parked")),
])
async def test_start_settles_rows_a_crash_left_sending(burst_sim: BurstSim, write_config, profile, expected) -> None:
    config = write_config(burst_sim.url, profile=profile)
    with Journal.open(load_config(config).journal_path) as journal:
        row_id = journal.add_scan(scanner="test", source="scanner", profile="LP", station="LP", backend="jt",
                                  operator=None, kind="job", text=order_code(3), raw=None, symbology=None,
                                  status="sending")
    async with Kiosk(config) as k:
        await k.drained()
        await until(lambda: statuses(k.journal, [row_id]) == [expected], what=f"row {expected}")
    assert burst_sim.delivered() == ([order_code(3)] if expected[1] == "ok" else [])


async def test_stop_lets_a_send_in_flight_finish(burst_sim: BurstSim, write_config) -> None:
    """Closing the kiosk while the sender waits for an answer records that answer."""
    fault(burst_sim.url, status=503, count=1)
    async with Kiosk(write_config(burst_sim.url)) as k:
        result = await k.scan(order_code(1))
        fault(burst_sim.url, delay_s=0.3, count=1)
        await until(lambda: burst_sim.recorder.in_flight == 1, what="a replay in flight")
    assert burst_sim.delivered() == [order_code(1)]
    with Journal.open(load_config(Path(k.config.path)).journal_path) as journal:
        assert statuses(journal, [result.id]) == [("done", "ok")]


# --- parked scans, lead retry and dismiss ---------------------------------------------


async def test_refused_replay_is_parked_then_retried_and_dismissed(burst_sim: BurstSim, write_config) -> None:
    fault(burst_sim.url, status=503, count=1)
    async with Kiosk(write_config(burst_sim.url)) as k:
        result = await k.scan(hold_code(1))
        assert result.outcome == "queued"
        await until(lambda: statuses(k.journal, [result.id]) == [("parked", "parked")], what="parked")
        [line] = k.replays()
        assert (line.id, line.outcome, line.details) == (result.id, "parked", ("Order on hold",))

        assert not k.service.retry_parked(result.id)  # no lead yet
        assert not k.service.dismiss_parked(result.id, "Order released by hand")
        assert (await k.scan("LEAD7")).outcome == "lead"
        assert k.service.retry_parked(result.id)
        await until(lambda: k.journal.get(result.id).attempts == 3, what="second replay")
        await until(lambda: statuses(k.journal, [result.id]) == [("parked", "parked")], what="parked again")
        assert not k.service.dismiss_parked(result.id, "   ")  # a reason is required
        assert k.service.dismiss_parked(result.id, "Order released by hand")
        assert statuses(k.journal, [result.id]) == [("dismissed", "parked")]
        assert not k.service.dismiss_parked(result.id, "twice")
        done = await k.scan(order_code(1))
        assert not k.service.dismiss_parked(done.id, "not parked")  # only parked rows
    events = [(e["kind"], e["who"], e["detail"]) for e in k.journal.__class__.open(
        load_config(Path(k.config.path)).journal_path).events()]
    assert ("retry", lead_label("LEAD7"), {"scan_id": result.id}) in events
    assert ("dismiss", lead_label("LEAD7"), {"scan_id": result.id, "why": "Order released by hand"}) in events
    assert burst_sim.delivered() == [order_code(1)]


# --- request budget -------------------------------------------------------------------


async def test_live_scans_and_sender_share_the_request_budget(burst_sim: BurstSim, write_config) -> None:
    per_minute = 120  # 2 per second, bursts of 10
    async with Kiosk(write_config(burst_sim.url, backend={"max_requests_per_minute": per_minute})) as k:
        results = [await k.scan(order_code(n)) for n in range(16)]
        assert [r.outcome for r in results[:10]] == ["ok"] * 10
        assert {r.outcome for r in results[10:]} == {"queued"}
        await k.drained(timeout=8)
    assert burst_sim.delivered() == [order_code(n) for n in range(16)]
    times = [t for t, _ in burst_sim.recorder.arrivals]
    rate, burst = per_minute / 60, 10
    for i, start in enumerate(times):
        for j in range(i, len(times)):
            window = times[j] - start
            assert j - i + 1 <= burst + rate * window + 0.5, f"{j - i + 1} requests in {window:.2f} s"
    assert times[-1] - times[0] >= (16 - burst) / rate - 0.2  # the budget really held them back


# --- failures inside the kiosk ----------------------------------------------------------


async def test_connector_failure_is_an_error_not_a_crash(burst_sim: BurstSim, write_config,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A connector that raises (a bug: the config refuses station ".." since issue 10) gives an error."""
    def broken(self: JobTrackConnector, station: str) -> httpx.URL:
        raise InvalidStationCode("Station code '..' cannot be used: it is not a path segment")

    monkeypatch.setattr(JobTrackConnector, "station_url", broken)
    async with Kiosk(write_config(burst_sim.url)) as k:
        result = await k.scan(order_code(1))
        assert result.outcome == "error" and "InvalidStationCode" in result.title + " ".join(result.details)
        assert k.service.waiting() == 0


async def test_journal_lost_mid_run_stops_accepting_scans(burst_sim: BurstSim, write_config, tmp_path) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    async with Kiosk(write_config(burst_sim.url, journal="data/journal.sqlite3")) as k:
        assert (await k.scan(order_code(1))).outcome == "ok"
        shutil.rmtree(folder)
        with pytest.raises(JournalDown, match="cannot write the journal"):
            await k.scan(order_code(2))
        assert k.service.journal_error
        with pytest.raises(JournalDown):
            await k.scan(order_code(3))
    assert burst_sim.delivered() == [order_code(1)]  # nothing sent that was not journaled
