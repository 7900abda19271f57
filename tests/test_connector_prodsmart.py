"""ProdsmartConnector against the real Prodsmart simulator (and tiny canned servers) over loopback.

The actions' step/settle run as the station service runs them: ``drive()`` applies ``step``,
sends the request, and ``settle``s the answer into the state.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.connectors import make_connector
from kiosk.connectors.base import (
    Accepted,
    ActionSpec,
    Answer,
    BadAnswer,
    LocalReply,
    Rejected,
    Request,
    State,
    Unreachable,
)
from kiosk.connectors.prodsmart import (
    ACTIONS,
    DOWNTIME,
    MACHINE_COUNTER,
    PRODUCTION_ORDER,
    Counted,
    CounterRefused,
    CredentialUnavailable,
    OrderShown,
    ProdsmartConfig,
    ProdsmartConnector,
    counter_settle,
    downtime_show,
)
from kiosk.simulators.prodsmart import DEMO_KEY, DEMO_SECRET, ProdsmartSim, demo_data
from kiosk.simulators.server import Answer as SimAnswer
from kiosk.simulators.server import SimServer

KEY_ENV, SECRET_ENV = "KIOSK_TEST_PRODSMART_KEY", "KIOSK_TEST_PRODSMART_SECRET"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Vendor:
    sim: ProdsmartSim
    server: SimServer
    clock: FakeClock

    @property
    def url(self) -> str:
        return self.server.url

    def paths(self) -> list[str]:
        return [f"{r['method']} {r['raw_path']}" for r in self.sim.requests()]

    def token(self) -> str:
        """The company's current token, as a client with the key and secret can GET it."""
        answer = httpx.get(f"{self.url}/api/authorization", auth=(DEMO_KEY, DEMO_SECRET), timeout=5)
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]


def make_sim(clock: FakeClock, **company: Any) -> ProdsmartSim:
    data = demo_data()
    data = data.model_copy(update={"company": data.company.model_copy(update=company)})
    return ProdsmartSim(data, clock=clock)


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    monkeypatch.setenv(SECRET_ENV, DEMO_SECRET)


@pytest.fixture
def vendor() -> Iterator[Vendor]:
    clock = FakeClock()
    sim = make_sim(clock)
    with SimServer(sim) as server:
        yield Vendor(sim, server, clock)


def config(url: str, **overrides: Any) -> ProdsmartConfig:
    fields: dict[str, Any] = {"vendor": "prodsmart", "base_url": url, "key_env": KEY_ENV, "secret_env": SECRET_ENV,
                              "timeout_s": 3}
    fields.update(overrides)
    return ProdsmartConfig(**fields)


@pytest.fixture
async def connector(vendor: Vendor) -> AsyncIterator[ProdsmartConnector]:
    conn = ProdsmartConnector("ps", config(vendor.url), clock=vendor.clock)
    yield conn
    await conn.aclose()


@dataclass
class Station:
    """One station's action state, driven the way the service drives it."""

    connector: ProdsmartConnector
    spec: ActionSpec
    station: str
    params: dict[str, Any] = field(default_factory=dict)
    state: State = field(default_factory=dict)
    operator: str | None = "OP1001"
    sent: list[Request] = field(default_factory=list)

    async def scan(self, text: str, command: str | None = None, argument: str | None = None) -> Answer | LocalReply:
        request = Request(self.spec.name, self.station, text, self.operator, "P", command, argument, self.params)
        assert self.spec.step and self.spec.settle
        step = self.spec.step(self.state, request, 1_700_000_000.0)
        self.state = step.state
        if step.reply is not None:
            return step.reply
        assert step.request is not None
        self.sent.append(step.request)
        answer = await self.connector.perform(step.request)
        self.state = self.spec.settle(self.state, step.request, answer, 1_700_000_001.0)
        return answer

    async def command(self, scanned: str) -> Answer | LocalReply:
        word, _, argument = scanned.removeprefix("CMD:").partition(":")
        return await self.scan(scanned, word, argument if ":" in scanned.removeprefix("CMD:") else None)


# --- authorization and the token ----------------------------------------------------------


async def test_first_request_gets_then_creates_the_token_and_later_ones_reuse_it(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    assert isinstance(await station.scan("3990"), OrderShown)
    assert isinstance(await station.scan("4001"), OrderShown)
    assert vendor.paths() == ["GET /api/authorization", "POST /api/authorization",
                              "GET /api/production-orders/3990?access_token=REDACTED",
                              "GET /api/production-orders/4001?access_token=REDACTED"]
    assert [e["action"] for e in vendor.sim.events()] == ["authorization-created"]


async def test_an_existing_token_is_fetched_never_replaced(vendor, connector) -> None:
    httpx.post(f"{vendor.url}/api/authorization", auth=(DEMO_KEY, DEMO_SECRET), timeout=5)  # another kiosk's
    before = len(vendor.sim.requests())
    assert isinstance(await Station(connector, PRODUCTION_ORDER, "PO").scan("3990"), OrderShown)
    assert vendor.paths()[before:] == ["GET /api/authorization",
                                       "GET /api/production-orders/3990?access_token=REDACTED"]
    assert [e["action"] for e in vendor.sim.events()] == ["authorization-created"]  # only the other kiosk's


async def test_token_is_renewed_before_it_expires(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    await station.scan("3990")
    first = vendor.token()
    vendor.clock.now += 7200 - 300 - 1
    await station.scan("3990")
    assert vendor.token() == first  # not yet: 5 min 1 s before the end
    vendor.clock.now += 2
    before = len(vendor.sim.requests())
    assert isinstance(await station.scan("3990"), OrderShown)
    # renewed before the request, so no request was refused (a 401 would show as a look-up first)
    assert vendor.paths()[before:] == ["GET /api/authorization", "POST /api/authorization",
                                       "GET /api/production-orders/3990?access_token=REDACTED"]
    assert vendor.token() != first


async def test_a_401_renews_the_token_once_and_sends_again(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    await station.scan("3990")
    vendor.sim.expire_token()
    before = len(vendor.sim.requests())
    assert isinstance(await station.scan("4001"), OrderShown)
    assert vendor.paths()[before:] == ["GET /api/production-orders/4001?access_token=REDACTED",  # 401
                                       "GET /api/authorization",  # 404: no token
                                       "POST /api/authorization",
                                       "GET /api/production-orders/4001?access_token=REDACTED"]


async def test_another_kiosk_replacing_the_token_costs_one_get(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    await station.scan("3990")
    httpx.post(f"{vendor.url}/api/authorization", auth=(DEMO_KEY, DEMO_SECRET), timeout=5)
    before = len(vendor.sim.requests())
    assert isinstance(await station.scan("3990"), OrderShown)
    assert vendor.paths()[before:] == ["GET /api/production-orders/3990?access_token=REDACTED",
                                       "GET /api/authorization",
                                       "GET /api/production-orders/3990?access_token=REDACTED"]


class AlwaysUnauthorized:
    """Hands out tokens, then refuses every one of them."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.n = 0

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> SimAnswer:
        self.requests.append(f"{method} {raw_path.split('?')[0]}")
        if raw_path == "/api/authorization":
            self.n += 1
            return 200 if method == "GET" else 201, {"Content-Type": "application/json"}, \
                f'{{"token": "tok{self.n}"}}'.encode()
        return 401, {"Content-Type": "application/json"}, b'{"error": "Unauthorized", "message": "bad token"}'


async def test_a_refused_token_is_renewed_once_per_request_never_in_a_loop() -> None:
    app = AlwaysUnauthorized()
    with SimServer(app) as server:
        conn = ProdsmartConnector("ps", config(server.url))
        try:
            first = await conn.perform(Request("production-order", "PO", "3990"))
            second = await conn.perform(Request("production-order", "PO", "3990"))
        finally:
            await conn.aclose()
    assert isinstance(first, BadAnswer) and first.http_status == 401 and not first.transient
    assert isinstance(second, BadAnswer) and second.http_status == 401
    # first: a fresh token, refused: no renewal. second: refused, renewed once, refused again.
    assert app.requests == ["GET /api/authorization", "GET /api/production-orders/3990",
                            "GET /api/production-orders/3990", "GET /api/authorization",
                            "GET /api/production-orders/3990"]


async def test_wrong_key_or_secret_is_a_clear_final_error(vendor, monkeypatch) -> None:
    monkeypatch.setenv(SECRET_ENV, "wrong")
    conn = ProdsmartConnector("ps", config(vendor.url))
    try:
        answer = await conn.perform(Request("production-order", "PO", "3990"))
        probe = await conn.probe("PO")
    finally:
        await conn.aclose()
    assert isinstance(answer, BadAnswer) and answer.http_status == 401 and not answer.transient
    assert "refused the API key and secret" in answer.message and "wrong" not in answer.message
    assert (probe.ok, probe.problem) == (False, "token")


async def test_the_token_is_never_logged_shown_or_in_a_repr(vendor, connector, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    station = Station(connector, PRODUCTION_ORDER, "PO")
    answers = [await station.scan("3990"), await station.command("CMD:ACTIVATE")]
    token = vendor.token()
    vendor.sim.expire_token()
    answers += [await station.scan("4003"), await station.command("CMD:ACTIVATE")]
    second = vendor.token()
    vendor.sim.set_faults({"down": True})
    answers.append(await station.scan("3990"))
    assert "HTTP Request: GET" in caplog.text and "/api/production-orders/3990" in caplog.text  # httpx did log
    for secret in (token, second, DEMO_SECRET):
        assert secret not in caplog.text
        assert secret not in repr(connector) and secret not in repr(answers)
        assert secret not in repr(station.state) and secret not in repr(station.sent)
    assert isinstance(answers[-1], Unreachable) and "access_token" not in answers[-1].message


# --- the request budget and 429 -------------------------------------------------------------


async def test_a_429_gives_retry_after_and_the_budget_counts_token_requests(vendor) -> None:
    unlimited = ProdsmartConnector("ps", config(vendor.url, max_requests_per_minute=None), clock=vendor.clock)
    budget = ProdsmartConnector("ps", config(vendor.url, max_requests_per_minute=4), clock=vendor.clock)
    try:
        vendor.sim.reset()
        answers = [await unlimited.perform(Request("production-order", "PO", "3990")) for _ in range(120)]
        busy = answers[-1]
        assert isinstance(busy, BadAnswer) and busy.http_status == 429 and busy.transient
        assert busy.retry_after_s is not None and 1 <= busy.retry_after_s <= 60
        assert "sending in" in busy.message

        vendor.clock.now += 61
        vendor.sim.reset()
        mine = [await budget.perform(Request("production-order", "PO", "3990")) for _ in range(3)]
        assert [type(a).__name__ for a in mine] == ["OrderShown", "OrderShown", "BadAnswer"]
        local = mine[-1]
        assert isinstance(local, BadAnswer) and local.http_status == 429 and local.retry_after_s
        assert "token requests count too" in local.message
        assert len(vendor.sim.requests()) == 4  # GET + POST token, two look-ups: never a fifth
    finally:
        await unlimited.aclose()
        await budget.aclose()


# --- production orders ----------------------------------------------------------------------


async def test_a_production_order_shows_code_progress_and_status(connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    shown = await station.scan("4002")
    assert isinstance(shown, OrderShown)
    assert shown.values() == {"order": "4002", "code": "K100 - Rush", "product_1": "320 / 500",
                              "product_2": "200 / 200", "status": "delayed", "running_status": "started",
                              "active": "no"}
    assert [f.label for f in shown.fields][2:4] == ["K100", "K101"]
    assert PRODUCTION_ORDER.show and PRODUCTION_ORDER.show(station.state)[1].value == "K100 320 / 500, K101 200 / 200"
    missing = await station.scan("999")
    assert isinstance(missing, Rejected) and missing.title == "Production order not found"
    assert station.state == {}
    local = await station.scan("39 90")
    assert isinstance(local, LocalReply) and local.outcome == "denied" and not station.sent[2:]


async def test_a_look_up_without_an_answer_empties_the_hand(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    await station.scan("4001")
    vendor.sim.set_faults({"down": True})
    assert isinstance(await station.scan("4002"), Unreachable)
    vendor.sim.set_faults({"down": False})
    refused = await station.command("CMD:ACTIVATE")  # never 4001, which is no longer the order scanned last
    assert isinstance(refused, LocalReply) and refused.title == "Scan a production order first"


async def test_activate_gives_its_three_answers(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    nothing = await station.command("CMD:ACTIVATE")
    assert isinstance(nothing, LocalReply) and nothing.title == "Scan a production order first"
    await station.scan("4001")
    activated = await station.command("CMD:ACTIVATE")
    assert isinstance(activated, Accepted) and (activated.title, activated.http_status) == ("Activated", 200)
    assert station.state["active"] is True
    again = await station.command("CMD:ACTIVATE")
    assert isinstance(again, Accepted) and (again.title, again.http_status) == ("Already active", 204)
    await station.scan("4004")
    closed = await station.command("CMD:ACTIVATE")
    assert isinstance(closed, Rejected) and closed.http_status == 405
    assert closed.details == ("Production Order was closed or archived and cannot be activated",)
    assert [(e["production_order"], e["status"]) for e in vendor.sim.events() if e["action"] == "activate"] == [
        (4001, 200), (4001, 204)]


async def test_notify_takes_140_characters_and_refuses_more_before_sending(vendor, connector) -> None:
    station = Station(connector, PRODUCTION_ORDER, "PO")
    assert isinstance(await station.command("CMD:NOTIFY:Jam"), LocalReply)  # no order in hand
    await station.scan("3990")
    long = await station.command("CMD:NOTIFY:" + "x" * 141)
    assert isinstance(long, LocalReply) and long.outcome == "denied"
    assert long.title == "Reason too long" and "141 characters" in long.details[0] and "140" in long.details[0]
    empty = await station.command("CMD:NOTIFY:  ")
    assert isinstance(empty, LocalReply) and empty.title == "Give a reason"
    sent = len(vendor.sim.requests())
    exact = await station.command("CMD:NOTIFY:" + "é" * 140)
    assert isinstance(exact, Accepted) and exact.title == "Notified"
    assert len(vendor.sim.requests()) == sent + 1
    notify = [e for e in vendor.sim.events() if e["action"] == "notify"]
    assert notify == [{"action": "notify", "production_order": 3990, "short_message": "é" * 140,
                       "message": "Operator OP1001", "at": notify[0]["at"]}]


# --- the machine counter ---------------------------------------------------------------------


def machine(vendor: Vendor, code: str) -> dict[str, Any]:
    return next(m for m in vendor.sim.state()["machines"] if m["code"] == code)


async def test_good_parts_and_waste_count_up(vendor, connector) -> None:
    station = Station(connector, MACHINE_COUNTER, "A32", {"waste_prefix": "WASTE:"})
    for text in ("P1", "P2", "WASTE:Scrap", "P3", "WASTE:Scrap", "WASTE:Rework"):
        assert isinstance(await station.scan(text), Counted)
    assert (machine(vendor, "A32")["count"], machine(vendor, "A32")["waste"]) == (
        3, [{"code": "Scrap", "quantity": 2}, {"code": "Rework", "quantity": 1}])
    assert [r.params.get("count") for r in station.sent] == [1, 2, None, 3, None, None]
    assert MACHINE_COUNTER.show and [f.value for f in MACHINE_COUNTER.show(station.state)] == ["3", "Scrap 2, Rework 1"]
    last = await station.scan("WASTE:")
    assert isinstance(last, LocalReply) and last.title == "No waste code"


async def test_a_resent_count_is_already_counted_never_twice(vendor, connector) -> None:
    station = Station(connector, MACHINE_COUNTER, "A32")
    await station.scan("P1")
    await station.scan("P2")
    fresh = ProdsmartConnector("ps", config(vendor.url))  # a restarted kiosk: knows nothing of the vendor
    try:
        again = await fresh.perform(station.sent[-1])
    finally:
        await fresh.aclose()
    assert isinstance(again, Counted) and (again.title, again.count) == ("Already counted", 2)
    assert [e["count"] for e in vendor.sim.events() if e["action"] == "counter"] == [1, 2]
    assert isinstance(await station.scan("P3"), Counted) and machine(vendor, "A32")["count"] == 3


async def test_a_counter_started_elsewhere_counts_on_from_the_vendor(vendor, connector) -> None:
    station = Station(connector, MACHINE_COUNTER, "M2")
    first = await station.scan("P1")
    assert isinstance(first, Counted) and (first.title, first.count) == ("Counted on from Prodsmart's 1000", 1001)
    assert isinstance(await station.scan("P2"), Counted)
    assert [e["count"] for e in vendor.sim.events() if e["action"] == "counter"] == [1001, 1002]
    assert station.state["count"] == 1002


async def test_an_unknown_waste_code_is_refused_and_does_not_block_the_count(vendor, connector) -> None:
    station = Station(connector, MACHINE_COUNTER, "A32", {"waste_prefix": "WASTE:"})
    refused = await station.scan("WASTE:Paint")
    assert isinstance(refused, CounterRefused) and refused.refused == ("waste:Paint",)
    assert "Paint" in refused.details[0] and "Paint" not in station.state["waste"]
    assert isinstance(await station.scan("P1"), Counted) and machine(vendor, "A32")["count"] == 1


async def test_a_request_with_a_stale_total_is_split_so_the_new_ones_count(vendor, connector) -> None:
    station = Station(connector, MACHINE_COUNTER, "A32", {"waste_prefix": "WASTE:"})
    await station.scan("P1")
    # The kiosk lost Prodsmart's answer to count 1 (state as before settle), then a waste scan:
    state = {"count": 1, "waste": {}, "confirmed_count": 0, "confirmed_waste": {}}
    fresh = ProdsmartConnector("ps", config(vendor.url))
    try:
        step = MACHINE_COUNTER.step(state, Request("machine-counter", "A32", "WASTE:Scrap",
                                                   params={"waste_prefix": "WASTE:"}), 0.0)  # type: ignore[misc]
        assert step.request is not None and step.request.params["count"] == 1
        answer = await fresh.perform(step.request)
    finally:
        await fresh.aclose()
    assert isinstance(answer, Counted) and answer.count == 1 and answer.waste == (("Scrap", 1),)
    assert [(e["count"], e["waste"]) for e in vendor.sim.events() if e["action"] == "counter"] == [
        (1, []), (None, [{"code": "Scrap", "quantity": 1}])]
    settled = counter_settle(step.state, step.request, answer, 0.0)
    assert (settled["confirmed_count"], settled["confirmed_waste"]) == (1, {"Scrap": 1})


async def test_an_unknown_machine_is_refused(connector) -> None:
    station = Station(connector, MACHINE_COUNTER, "X9")
    answer = await station.scan("P1")
    assert isinstance(answer, CounterRefused) and answer.http_status == 404 and "X9" in answer.details[0]
    assert station.state["count"] == 0


# --- downtime -------------------------------------------------------------------------------


async def test_downtime_cards_stop_and_start_the_machine(vendor, connector) -> None:
    station = Station(connector, DOWNTIME, "A32")
    stopped = await station.scan("DT:Maintenance")
    assert isinstance(stopped, Accepted) and stopped.title == "Machine stopped"
    assert (machine(vendor, "A32")["running"], machine(vendor, "A32")["downtime_type"]) == (False, "Maintenance")
    assert downtime_show(station.state)[0].value.startswith("stopped — Maintenance since ")
    assert station.state["since"] == 1_700_000_000.0  # when the card was scanned
    unknown = await station.scan("DT:maintenance")  # case-sensitive
    assert isinstance(unknown, Rejected) and "maintenance" in unknown.details[0]
    assert station.state["type"] == "Maintenance"
    running = await station.scan("DT:RUN")
    assert isinstance(running, Accepted) and machine(vendor, "A32")["running"] is True
    assert downtime_show(station.state)[0].value.startswith("running since ")
    other = await station.scan("GOOD")
    assert isinstance(other, LocalReply) and other.title == "Not a downtime card"
    assert [r.params.get("running") for r in station.sent] == [0, 0, 1]


# --- vendor text, config and the plug-in -----------------------------------------------------


class Canned:
    def __init__(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.status, self.body, self.content_type = status, body, content_type

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> SimAnswer:
        if raw_path == "/api/authorization":
            return 200, {"Content-Type": "application/json"}, b'{"token": "t0k3n"}'
        return self.status, {"Content-Type": self.content_type}, self.body


@pytest.mark.parametrize(("status", "body", "kind", "shown"), [
    (400, b"Bad \x1b[31mthing\x1b[0m\n" + b"y" * 500, Rejected, "Bad <ESC>[31mthing<ESC>[0m y"),
    (400, b'{"error": "Bad Request", "message": "type \\u0007 wrong"}', Rejected, "type <BEL> wrong"),
    (503, b"<html>down</html>", BadAnswer, "<html>down</html>"),
    (200, b"\xff\xfe not json", BadAnswer, ""),
])
async def test_vendor_text_is_shown_sanitised_and_short(status: int, body: bytes, kind: type, shown: str) -> None:
    with SimServer(Canned(status, body)) as server:
        conn = ProdsmartConnector("ps", config(server.url))
        try:
            answer = await conn.perform(Request("production-order", "PO", "1"))
        finally:
            await conn.aclose()
    assert isinstance(answer, kind)
    text = " ".join(answer.details) if isinstance(answer, Rejected) else answer.message + answer.excerpt
    assert shown in text and "\x1b" not in text and "\x07" not in text
    assert len(text) <= 400


@pytest.mark.parametrize(("body", "values"), [
    (b'{"code": "X", "products": 5, "status": ["odd"], "is-active": "yes"}', {"order": "1", "code": "X"}),
    (b'{"code": "Y", "products": [{"product": "P", "quantity-produced": 30.0, "quantity-ordered": 45.5}, 7]}',
     {"order": "1", "code": "Y", "product_1": "30 / 45.5"}),
])
async def test_an_odd_production_order_shows_what_can_be_read(body: bytes, values: dict[str, str]) -> None:
    with SimServer(Canned(200, body, "application/json")) as server:
        conn = ProdsmartConnector("ps", config(server.url))
        try:
            answer = await conn.perform(Request("production-order", "PO", "1"))
        finally:
            await conn.aclose()
    assert isinstance(answer, OrderShown) and answer.values() == values


class Echo:
    """Echoes the request line in every error, as some servers do."""

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> SimAnswer:
        if raw_path == "/api/authorization":
            return 200, {"Content-Type": "application/json"}, b'{"token": "Zq9-s3cr3t_t0k3n"}'
        return 404, {"Content-Type": "text/plain"}, f"No route for {method} {raw_path}".encode()


async def test_a_vendor_echoing_the_url_never_shows_the_token() -> None:
    with SimServer(Echo()) as server:
        conn = ProdsmartConnector("ps", config(server.url))
        try:
            answer = await conn.perform(Request("production-order", "PO", "77"))
        finally:
            await conn.aclose()
    assert isinstance(answer, Rejected)
    assert answer.details == ("No route for GET /api/production-orders/77?access_token=<access token>",)


def test_key_and_secret_come_from_env_or_file_never_the_config(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match="give key_env or key_file"):
        ProdsmartConfig(vendor="prodsmart", base_url="http://x", secret_env="S")
    with pytest.raises(ValueError, match="not both"):
        ProdsmartConfig(vendor="prodsmart", base_url="http://x", key_env="K", key_file="k", secret_env="S")
    with pytest.raises(ValueError, match="extra"):
        ProdsmartConfig(vendor="prodsmart", base_url="http://x", key="abc", key_env="K", secret_env="S")
    (tmp_path / "secret").write_text("  file-secret\n", encoding="utf-8")
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(CredentialUnavailable, match=KEY_ENV) as missing:
        ProdsmartConnector("ps", config("http://127.0.0.1:9"))
    assert missing.value.key == "key_env"
    monkeypatch.setenv(KEY_ENV, "k")
    conn = make_connector("ps", config("http://127.0.0.1:9", secret_env=None, secret_file="secret"), base_dir=tmp_path)
    assert "file-secret" not in repr(conn)
    with pytest.raises(CredentialUnavailable, match="not found"):
        make_connector("ps", config("http://127.0.0.1:9", secret_env=None, secret_file="nope"), base_dir=tmp_path)


def test_the_plugin_registers_the_three_actions() -> None:
    from kiosk.connectors.registry import plugin_for

    plugin = plugin_for("prodsmart")
    assert set(plugin.actions) == {"production-order", "machine-counter", "downtime"} == set(ACTIONS)
    assert plugin.config_model is ProdsmartConfig
    assert ProdsmartConfig(vendor="prodsmart", base_url="http://x", key_env="K", secret_env="S"
                           ).max_requests_per_minute == 120
    counter = plugin.actions["machine-counter"]
    assert (counter.queueable, counter.idempotent, counter.combine) == (True, True, "latest")
    assert not plugin.actions["production-order"].queueable
    assert plugin.actions["production-order"].commands == frozenset({"ACTIVATE", "NOTIFY"})


async def test_probe_proves_the_key_and_secret_without_changing_anything(vendor, connector) -> None:
    probe = await connector.probe("A32")
    assert probe.ok and "no token yet" in probe.message
    assert vendor.sim.events() == []
    down = ProdsmartConnector("ps", config("http://127.0.0.1:9"))
    try:
        assert (await down.probe(None)).problem == "unreachable"
    finally:
        await down.aclose()

