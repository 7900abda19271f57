"""Prodsmart stations through the real path: config file, StationService, journal, connector,
and the Prodsmart simulator over loopback; a headless kiosk killed mid-request.

Scans go in through ``StationService.process`` (the path both front ends take). The simulator
counts every 429 it answers (``CountingSim``), so "no 429 caused by us" is checked where the
vendor stands, and a run without a fitting budget shows that the check can fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.config import load_config
from kiosk.results import ScanResult
from kiosk.runtime import build_runtime
from kiosk.simulators.prodsmart import DEMO_KEY, DEMO_SECRET, ProdsmartSim, demo_data
from kiosk.simulators.server import Answer, SimServer
from kiosk.station import Scan

REPO = Path(__file__).resolve().parent.parent
KEY_ENV, SECRET_ENV = "KIOSK_TEST_PRODSMART_KEY", "KIOSK_TEST_PRODSMART_SECRET"


class CountingSim(ProdsmartSim):
    """The Prodsmart simulator, counting the 429s it answers; ``on_event`` sees each event."""

    def __init__(self, requests_per_minute: int = 120, **company: Any) -> None:
        data = demo_data()
        company = {"requests_per_minute": requests_per_minute, **company}
        data = data.model_copy(update={"company": data.company.model_copy(update=company)})
        self.too_many = 0
        self.on_event: Callable[[dict[str, Any]], None] | None = None
        super().__init__(data)

    def _rate_limit(self) -> Answer | None:
        answer = super()._rate_limit()
        self.too_many += answer is not None
        return answer

    def _record(self, event: dict[str, Any]) -> None:
        super()._record(event)
        if self.on_event is not None:
            self.on_event(event)

    def counts(self, machine: str = "A32") -> list[int]:
        return [e["count"] for e in self.events() if e["action"] == "counter" and e["machine"] == machine
                and e["count"] is not None]

    def machine(self, code: str = "A32") -> dict[str, Any]:
        return next(m for m in self.state()["machines"] if m["code"] == code)

    def api_requests(self, path: str) -> int:
        return sum(1 for r in self.requests() if path in r["raw_path"])


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    monkeypatch.setenv(SECRET_ENV, DEMO_SECRET)


def write_config(folder: Path, url: str, profile: str, *, budget: float = 120, timeout_s: float = 2) -> Path:
    path = folder / "kiosk.toml"
    path.write_text(f'''
[kiosk]
profile = "{profile}"
journal = "journal.sqlite3"

[backends.ps]
vendor = "prodsmart"
base_url = "{url}"
key_env = "{KEY_ENV}"
secret_env = "{SECRET_ENV}"
timeout_s = {timeout_s}
max_requests_per_minute = {budget}

[[profiles]]
name = "PO"
backend = "ps"
station = "PO1"
action = "production-order"
operator_pattern = '^OP\\d+$'

[[profiles]]
name = "CNT"
backend = "ps"
station = "A32"
action = "machine-counter"
duplicate_window_s = 0
params = {{ waste_prefix = "WASTE:" }}

[[profiles]]
name = "DT"
backend = "ps"
station = "A32"
action = "downtime"
duplicate_window_s = 0
''', encoding="utf-8")
    return path


class Kiosk:
    def __init__(self, config: Path) -> None:
        self.runtime = build_runtime(load_config(config))
        self.service = self.runtime.service
        self.journal = self.runtime.journal
        self.results: list[ScanResult] = []
        self.service.subscribe(self.results.append)

    async def __aenter__(self) -> Kiosk:
        await self.runtime.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.close()

    async def scan(self, text: str) -> ScanResult:
        return await self.service.process(Scan(text, "test", t_last=time.monotonic()))

    async def drained(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.service.waiting():
            assert time.monotonic() < deadline, f"{self.service.waiting()} scans still waiting after {timeout} s"
            await asyncio.sleep(0.02)

    def rows(self) -> list[tuple[str, str | None]]:
        found = [self.journal.get(i) for i in range(1, 10_000)]
        return [(r.status, r.outcome) for r in found if r is not None]


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in zip(values, values[1:], strict=False))


# --- the counter under the rate limit -----------------------------------------------------


async def test_a_burst_of_300_is_counted_once_each_within_the_rate_limit(tmp_path: Path) -> None:
    sim = CountingSim(requests_per_minute=120)
    with SimServer(sim) as server:
        async with Kiosk(write_config(tmp_path, server.url, "CNT", budget=120)) as k:
            results = [await k.scan("GOOD") for _ in range(300)]
            await k.drained()
            assert {r.outcome for r in results} <= {"ok", "queued"}
            assert k.rows() == [("done", "ok")] * 300
            assert [f.value for f in k.service.action_state()] == ["300"]
    assert sim.too_many == 0
    counts = sim.counts()
    assert strictly_increasing(counts) and counts[-1] == 300 and sim.machine()["count"] == 300
    assert sim.api_requests("/counter") < 300


async def test_without_a_fitting_budget_the_same_burst_gets_429s(tmp_path: Path) -> None:
    """The control for the test above: a budget far over the vendor's limit does get 429s."""
    sim = CountingSim(requests_per_minute=120)
    with SimServer(sim) as server:
        async with Kiosk(write_config(tmp_path, server.url, "CNT", budget=6000)) as k:
            results = [await k.scan("GOOD") for _ in range(150)]
            assert sim.too_many > 0
            busy = next(r for r in results if r.http_status == 429)
            assert busy.outcome == "queued" and "Server busy" in busy.details
            assert k.journal.get(busy.id).title == "Server busy"


async def test_a_burst_while_the_vendor_is_down_is_counted_when_it_is_back(tmp_path: Path) -> None:
    sim = CountingSim(requests_per_minute=120)
    with SimServer(sim) as server:
        sim.set_faults({"down": True})
        async with Kiosk(write_config(tmp_path, server.url, "CNT", budget=120)) as k:
            first = [await k.scan("GOOD") for _ in range(150)]
            assert {r.outcome for r in first} == {"queued"}
            sim.set_faults({"down": False})
            rest = [await k.scan("GOOD") for _ in range(150)]
            assert {r.outcome for r in rest} <= {"ok", "queued"}
            await k.drained(timeout=30)
            assert k.rows() == [("done", "ok")] * 300
    counts = sim.counts()
    assert strictly_increasing(counts) and counts[-1] == 300 and sim.machine()["count"] == 300
    assert sim.api_requests("/counter") < 300
    assert sim.too_many == 0


# --- the token during a queue drain --------------------------------------------------------


async def test_a_token_expiring_in_the_middle_of_a_drain_is_renewed_once(tmp_path: Path) -> None:
    sim = CountingSim()
    cards = ["DT:Maintenance", "DT:RUN", "DT:Setup", "DT:RUN", "DT:Breakdown", "DT:RUN"]
    startstops: list[dict[str, Any]] = []

    def expire_after_the_second(event: dict[str, Any]) -> None:
        if event["action"] == "startstop":
            startstops.append(event)
            if len(startstops) == 2:
                sim.expire_token()

    with SimServer(sim) as server:
        async with Kiosk(write_config(tmp_path, server.url, "DT")) as k:
            await k.scan("DT:RUN")  # the token exists
            sim.set_faults({"down": True})
            sim.on_event = expire_after_the_second
            queued = [await k.scan(card) for card in cards]
            assert {r.outcome for r in queued} == {"queued"}
            startstops.clear()
            sim.set_faults({"down": False})
            k.service.senders["ps"].lane.unblock()
            await k.drained()
            replays = [r for r in k.results if r.replay]
    assert [(e["running"], e["type"]) for e in startstops] == [
        (0, "Maintenance"), (1, None), (0, "Setup"), (1, None), (0, "Breakdown"), (1, None)]
    assert {r.outcome for r in replays} == {"ok"} and len(replays) == 6
    paths = [f"{r['method']} {r['raw_path'].split('?')[0]}" for r in sim.requests()]
    third = [i for i, p in enumerate(paths) if p.endswith("/startstop")][-5]  # refused, then renewed
    assert paths[third:third + 4] == ["POST /api/machines/A32/startstop", "GET /api/authorization",
                                      "POST /api/authorization", "POST /api/machines/A32/startstop"]
    assert [e["action"] for e in sim.events()].count("authorization-created") == 2


# --- state across restarts ---------------------------------------------------------------


async def test_downtime_start_and_stop_survive_a_restart(tmp_path: Path) -> None:
    sim = CountingSim()
    with SimServer(sim) as server:
        config = write_config(tmp_path, server.url, "DT")
        async with Kiosk(config) as k:
            assert k.service.action_state() == ()
            stopped = await k.scan("DT:Maintenance")
            assert (stopped.outcome, stopped.title) == ("ok", "Machine stopped")
            shown = k.service.action_state()
        assert [(f.label, f.value.split(" since ")[0]) for f in shown] == [("Machine", "stopped — Maintenance")]
        async with Kiosk(config) as k:
            assert k.service.action_state() == shown
            refused = await k.scan("DT:Coffee")
            assert refused.outcome == "rejected" and "Coffee" in refused.details[0]
            assert k.service.action_state() == shown
            started = await k.scan("DT:RUN")
            assert started.outcome == "ok"
            running = k.service.action_state()
        async with Kiosk(config) as k:
            assert k.service.action_state() == running
            assert running[0].value.startswith("running since ")
    assert sim.machine()["running"] is True


async def test_a_production_order_in_hand_survives_a_restart(tmp_path: Path) -> None:
    sim = CountingSim()
    with SimServer(sim) as server:
        config = write_config(tmp_path, server.url, "PO")
        async with Kiosk(config) as k:
            first = await k.scan("CMD:ACTIVATE")
            assert (first.outcome, first.title) == ("denied", "Scan a production order first")
            shown = await k.scan("4001")
            assert shown.outcome == "ok" and shown.value("product_1") == "0 / 1200"
        async with Kiosk(config) as k:
            assert [f.value for f in k.service.action_state()][:2] == ["4001 V23077 - Week 35", "V23077 0 / 1200"]
            await k.scan("OP7")
            activated = await k.scan("CMD:ACTIVATE")
            assert (activated.outcome, activated.title) == ("ok", "Activated")
            notified = await k.scan("CMD:NOTIFY:" + "z" * 141)
            assert (notified.outcome, notified.title) == ("denied", "Reason too long")
            notified = await k.scan("CMD:NOTIFY:Tool broken")
            assert (notified.outcome, notified.title) == ("ok", "Notified")
            closed = await k.scan("4003")
            refused = await k.scan("CMD:ACTIVATE")
            assert closed.outcome == "ok" and (refused.outcome, refused.title) == ("rejected", "Cannot be activated")
            assert refused.must_ack
    assert [e.get("message") for e in sim.events() if e["action"] == "notify"] == ["Operator OP7"]


def test_the_journal_never_holds_the_token(tmp_path: Path) -> None:
    async def run(url: str) -> None:
        async with Kiosk(write_config(tmp_path, url, "CNT")) as k:
            for _ in range(3):
                await k.scan("GOOD")
            await k.scan("WASTE:Scrap")

    sim = CountingSim()
    with SimServer(sim) as server:
        asyncio.run(run(server.url))
        token = httpx.get(f"{server.url}/api/authorization", auth=(DEMO_KEY, DEMO_SECRET), timeout=5).json()["token"]
    with sqlite3.connect(tmp_path / "journal.sqlite3") as db:
        dump = "\n".join(db.iterdump())
    assert "A32" in dump and "Scrap" in dump
    assert token not in dump and DEMO_SECRET not in dump and "access_token" not in dump


# --- a crash between sending a count and journaling the answer ------------------------------


def headless(config: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO), KEY_ENV: DEMO_KEY, SECRET_ENV: DEMO_SECRET}
    return subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(0.01)


def test_sigkill_after_sending_a_count_the_next_count_is_still_higher(tmp_path: Path) -> None:
    sim = CountingSim()
    with SimServer(sim) as server:
        config = write_config(tmp_path, server.url, "CNT", timeout_s=30)
        kiosk = headless(config)
        assert kiosk.stdin and kiosk.stdout
        kiosk.stdin.write(b"GOOD\nGOOD\nGOOD\n")
        kiosk.stdin.flush()
        lines = [json.loads(kiosk.stdout.readline()) for _ in range(3)]
        assert [line["outcome"] for line in lines] == ["ok"] * 3
        sim.set_faults({"delay_s": 60, "count": 1})  # the vendor counts it, the answer never comes
        kiosk.stdin.write(b"GOOD\n")
        kiosk.stdin.flush()
        wait_for(lambda: sim.counts() == [1, 2, 3, 4], 10, "the fourth count at the vendor")
        kiosk.send_signal(signal.SIGKILL)
        kiosk.wait(10)
        kiosk.stdin.close()
        kiosk.stdout.close()
        sim.clear_faults()

        restarted = headless(config, "--drain", "10")
        out, err = restarted.communicate(b"", timeout=30)  # sends the interrupted count again
        assert restarted.returncode == 0, err.decode()
        resent = [json.loads(line) for line in out.splitlines()]
        assert [(r["outcome"], r["title"], r.get("replay")) for r in resent] == [("ok", "Already counted", True)]

        again = headless(config, "--drain", "10")
        out, err = again.communicate(b"GOOD\n", timeout=30)
        assert again.returncode == 0, err.decode()
        assert [json.loads(line)["fields"]["count"] for line in out.splitlines()] == ["5"]
    assert sim.counts() == [1, 2, 3, 4, 5] and sim.machine()["count"] == 5
