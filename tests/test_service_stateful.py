"""A hypothesis state machine over the real StationService, journal and loopback simulator.

Rules: scan an order (accepted, or on hold), switch the server down/up (dropped connections,
or the server stopped: connection refused), arm 503 or 429 answers, a late answer (read
timeout: unknown outcome), restart (close the runtime, build a new one on the same journal),
and let time pass. At the end the server comes back and the outbox is drained; then no scan
is lost, none is delivered twice unless a read timeout left its first attempt unknown and
the profile says "resend", nothing reached the vendor out of scan order, and the kiosk never
had two requests in flight at once. Each example draws ``on_unknown`` ("resend" or "park").
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from conftest import RecordingApp, burst_data, hold_code, kiosk_config_text, order_code
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

import kiosk.sender
from kiosk.config import load_config
from kiosk.connectors.base import Answer, Request, Unreachable
from kiosk.results import ScanResult
from kiosk.runtime import Runtime, build_runtime
from kiosk.simulators.jobtrack import JobTrackSim
from kiosk.simulators.server import SimServer
from kiosk.station import Scan

TIMEOUT_S = 0.15


class ObservedConnector:
    """Passes check-ins to the real connector and notes the orders whose outcome was unknown."""

    def __init__(self, inner: Any, unknown: Counter[str]) -> None:
        self.inner, self.unknown = inner, unknown
        self.name, self.vendor = inner.name, inner.vendor

    async def perform(self, request: Request) -> Answer:
        outcome = await self.inner.perform(request)
        if isinstance(outcome, Unreachable) and outcome.sent:
            self.unknown[request.identifier] += 1
        return outcome

    async def probe(self, station: str | None = None) -> Any:
        return await self.inner.probe(station)

    async def aclose(self) -> None:
        await self.inner.aclose()


class KioskMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.sim = JobTrackSim(burst_data())
        self.recorder = RecordingApp(self.sim)
        self.server: SimServer | None = SimServer(self.recorder).start()
        self.port = self.server.port
        self.folder = Path(TMP_FACTORY.mktemp("stateful"))
        self.unknown: Counter[str] = Counter()
        self.results: list[ScanResult] = []
        self.scanned: list[str] = []
        self.next_order = 0
        self.abandoned = False
        """A late answer or a stopped server leaves the simulator busy after the kiosk gave up."""
        self.runtime: Runtime | None = None

    @initialize(policy=st.sampled_from(["resend", "park"]))
    def start(self, policy: str) -> None:
        self.policy = policy
        config = kiosk_config_text(f"http://127.0.0.1:{self.port}", backend={"timeout_s": TIMEOUT_S},
                                   profile={"on_unknown": policy})
        self.config_path = self.folder / "kiosk.toml"
        self.config_path.write_text(config, encoding="utf-8")
        self._build()

    def _build(self) -> None:
        self.runtime = build_runtime(load_config(self.config_path))
        service = self.runtime.service
        for lane in service.lanes.values():
            lane.connector = ObservedConnector(lane.connector, self.unknown)
        service.subscribe(self.results.append)
        self.loop.run_until_complete(self.runtime.start())

    def _run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    # --- rules ------------------------------------------------------------------------

    @rule(on_hold=st.booleans(), station=st.sampled_from(["LP", "BC"]))
    def scan(self, on_hold: bool, station: str) -> None:
        code = hold_code(self.next_order % 50) if on_hold else order_code(self.next_order)
        self.next_order += 1
        service = self.runtime.service
        if service.profile.station != station:
            self._run(service.process(Scan("LEAD1", "test")))
            self._run(service.switch_profile(station))
        result = self._run(service.process(Scan(code, "test", t_last=time.monotonic())))
        assert result.id is not None and result.outcome in ("ok", "rejected", "queued", "parked")
        self.scanned.append(code)

    @rule(how=st.sampled_from(["dropped", "stopped"]))
    def backend_down(self, how: str) -> None:
        if how == "dropped":
            self.sim.set_faults({"down": True})
        elif self.server is not None:
            self.abandoned = True
            self.server.stop()
            self.server = None

    @rule()
    def backend_up(self) -> None:
        self.sim.set_faults({"down": False})
        if self.server is None:
            self.server = SimServer(self.recorder, port=self.port).start()

    @rule(status=st.sampled_from([429, 503]), count=st.integers(1, 3), retry_after=st.sampled_from([None, 0]))
    def server_busy(self, status: int, count: int, retry_after: int | None) -> None:
        fault: dict[str, Any] = {"status": status, "count": count}
        if retry_after is not None:
            fault["retry_after"] = retry_after
        self.sim.set_faults(fault)

    @rule()
    def late_answer(self) -> None:
        self.abandoned = True
        self.sim.set_faults({"delay_s": TIMEOUT_S * 2, "count": 1})

    @rule()
    def restart(self) -> None:
        self._run(self.runtime.close())
        self._build()

    @rule(seconds=st.sampled_from([0.0, 0.05, 0.2]))
    def wait(self, seconds: float) -> None:
        self._run(asyncio.sleep(seconds))
        self.runtime.service.tick()

    # --- the end ----------------------------------------------------------------------

    def teardown(self) -> None:
        try:
            if self.runtime is not None:
                self.backend_up()
                self.sim.clear_faults()
                self._drain()
                self._check()
        finally:
            if self.runtime is not None:
                self._run(self.runtime.close())
            if self.server is not None:
                self.server.stop()
            self.loop.close()

    def _drain(self) -> None:
        service = self.runtime.service
        deadline = time.monotonic() + 10
        while service.waiting():
            assert time.monotonic() < deadline, f"{service.waiting()} scans never delivered"
            self._run(asyncio.sleep(0.02))

    def _check(self) -> None:
        journal = self.runtime.journal
        jobs = [r for r in (journal.get(i) for i in range(1, 10_000)) if r is not None and r.kind == "job"]
        assert [r.text for r in jobs] == self.scanned, "a scan is missing from the journal"
        assert {r.id for r in self.results if r.id is not None} <= {r.id for r in jobs} | {
            r.id for r in self.results if r.kind != "job"}
        seen = Counter(e["order_number"] for e in self.sim.events())
        for row in jobs:
            held = row.text.startswith("H")
            allowed = 1 + (self.unknown[row.text] if self.policy == "resend" else 0)
            if held:
                assert row.status in ("done", "parked") and seen[row.text] == 0
            elif (row.status, row.outcome) == ("done", "ok"):
                assert 1 <= seen[row.text] <= allowed, f"{row.text} delivered {seen[row.text]} times"
            else:
                assert row.status == "parked", f"{row.text} ended {row.status}/{row.outcome}"
                assert seen[row.text] <= 1
        order_of = {r.text: r.id for r in jobs if not r.text.startswith("H")}
        for station in ("LP", "BC"):
            ids = [order_of[e["order_number"]] for e in self.sim.events() if e["station"] == station]
            assert ids == sorted(ids), f"check-ins at {station} reached the vendor out of scan order"
        if not self.abandoned:
            assert self.recorder.max_in_flight <= 1, "two requests in flight at once"


TMP_FACTORY: Any = None


@pytest.fixture
def stateful_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    global TMP_FACTORY
    TMP_FACTORY = tmp_path_factory
    monkeypatch.setattr(kiosk.sender, "BACKOFF_FIRST_S", 0.01)
    monkeypatch.setattr(kiosk.sender, "BACKOFF_MAX_S", 0.05)


def test_no_scan_lost_duplicated_or_reordered(stateful_env: None) -> None:
    test = KioskMachine.TestCase()
    test.settings = settings(max_examples=20, stateful_step_count=20, deadline=None,
                             suppress_health_check=list(HealthCheck))
    test.runTest()
