"""The Prodsmart simulator, driven over loopback with plain httpx (a fake clock for time)."""

from __future__ import annotations

import base64
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.simulators import run_simulator
from kiosk.simulators.prodsmart import (
    CANNOT_ACTIVATE,
    DEMO_CODES,
    DEMO_DATA_PATH,
    DEMO_KEY,
    DEMO_SECRET,
    DemoCode,
    ProdsmartData,
    ProdsmartSim,
    SimDataError,
    demo_data,
    load_sim_data,
    redact_path,
)
from kiosk.simulators.server import SimServer

ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = (DEMO_KEY, DEMO_SECRET)

http = httpx.Client(timeout=2.0)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Prodsmart:
    sim: ProdsmartSim
    server: SimServer
    clock: FakeClock

    @property
    def url(self) -> str:
        return self.server.url

    def new_token(self) -> str:
        response = http.post(f"{self.url}/api/authorization", auth=CREDENTIALS, json={"scopes": ["productions_write"]})
        assert response.status_code == 201, response.text
        return str(response.json()["token"])

    def call(self, method: str, path: str, token: str | None, body: Any = None, **kwargs: Any) -> httpx.Response:
        params = {"access_token": token} if token is not None else None
        return http.request(method, self.url + path, params=params, json=body, **kwargs)

    def order(self, token: str, order_id: int | str) -> httpx.Response:
        return self.call("GET", f"/api/production-orders/{order_id}", token)

    def activate(self, token: str, order_id: int | str) -> httpx.Response:
        return self.call("POST", f"/api/production-orders/{order_id}/activate", token, {})

    def notify(self, token: str, order_id: int | str, body: Any) -> httpx.Response:
        return self.call("POST", f"/api/production-orders/{order_id}/notify", token, body)

    def counter(self, token: str, machine: str, body: Any) -> httpx.Response:
        return self.call("POST", f"/api/machines/{machine}/counter", token, body)

    def startstop(self, token: str, machine: str, body: Any) -> httpx.Response:
        return self.call("POST", f"/api/machines/{machine}/startstop", token, body)

    def machine(self, code: str) -> dict[str, Any]:
        return next(m for m in self.sim.state()["machines"] if m["code"] == code)


def serve(data: ProdsmartData | None = None) -> Iterator[Prodsmart]:
    clock = FakeClock()
    sim = ProdsmartSim(data if data is not None else demo_data(), clock=clock)
    with SimServer(sim) as server:
        yield Prodsmart(sim, server, clock)


@pytest.fixture
def ps() -> Iterator[Prodsmart]:
    """The simulator on fresh demo data with a fake clock, on a free loopback port."""
    yield from serve()


@pytest.fixture
def token(ps: Prodsmart) -> str:
    return ps.new_token()


def with_company(**company: Any) -> ProdsmartData:
    data = demo_data()
    return data.model_copy(update={"company": data.company.model_copy(update=company)})


def error_message(response: httpx.Response) -> str:
    return str(response.json()["message"])


# --- authorization -------------------------------------------------------------------------


def test_post_creates_a_token_and_get_returns_it(ps: Prodsmart) -> None:
    assert http.get(f"{ps.url}/api/authorization", auth=CREDENTIALS).status_code == 404
    created = http.post(f"{ps.url}/api/authorization", auth=CREDENTIALS, json={"scopes": ["productions_write"]})
    assert created.status_code == 201
    assert created.headers["link"] == '</api/authorizations>;rel="self"'
    body = created.json()
    assert body["_links"] == {"self": {"href": "/api/authorizations"}}
    assert body["scopes"] == ["productions_write"]
    assert len(body["token"]) >= 20
    fetched = http.get(f"{ps.url}/api/authorization", auth=CREDENTIALS)
    assert (fetched.status_code, fetched.json()) == (200, body)
    assert ps.order(body["token"], 3990).status_code == 200


def test_post_without_a_body_also_creates_a_token(ps: Prodsmart) -> None:
    response = http.post(f"{ps.url}/api/authorization", auth=CREDENTIALS)
    assert response.status_code == 201
    assert ps.order(response.json()["token"], 3990).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic " + base64.b64encode(b"demo-key:wrong").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"other:demo-secret").decode()},
        {"Authorization": "Basic " + base64.b64encode(b"demo-keydemo-secret").decode()},
        {"Authorization": "Basic not*base64"},
        {"Authorization": "Bearer demo-key:demo-secret"},
    ],
)
def test_authorization_needs_the_right_basic_credentials(ps: Prodsmart, headers: dict[str, str]) -> None:
    for method in ("GET", "POST", "DELETE"):
        response = http.request(method, f"{ps.url}/api/authorization", headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
    assert ps.sim.events() == []


def test_bad_scopes_are_refused(ps: Prodsmart) -> None:
    for body in (b'{"scopes": ["admin"]}', b'{"scopes": "productions_write"}'):
        response = http.post(f"{ps.url}/api/authorization", auth=CREDENTIALS, content=body)
        assert response.status_code == 400
        assert "scopes" in error_message(response)
    response = http.post(f"{ps.url}/api/authorization", auth=CREDENTIALS, content=b"{nope")
    assert (response.status_code, response.json()["error"]) == (400, "Invalid JSON")


def test_token_expires_after_its_lifetime_and_a_new_one_works(ps: Prodsmart) -> None:
    old = ps.new_token()
    ps.clock.advance(2 * 3600 - 1)
    assert ps.order(old, 3990).status_code == 200
    ps.clock.advance(1)
    expired = ps.order(old, 3990)
    assert expired.status_code == 401
    assert "expired" in error_message(expired)
    assert http.get(f"{ps.url}/api/authorization", auth=CREDENTIALS).status_code == 404
    renewed = ps.new_token()
    assert renewed != old
    assert ps.order(renewed, 3990).status_code == 200
    assert ps.order(old, 3990).status_code == 401


def test_configured_lifetime() -> None:
    for ps in serve(with_company(token_lifetime_s=5)):
        token = ps.new_token()
        ps.clock.advance(4.9)
        assert ps.counter(token, "A32", {"count": 1}).status_code == 200
        ps.clock.advance(0.1)
        assert ps.counter(token, "A32", {"count": 2}).status_code == 401
        assert ps.machine("A32")["count"] == 1


def test_a_new_token_replaces_the_old_one(ps: Prodsmart) -> None:
    first = ps.new_token()
    second = ps.new_token()
    assert ps.order(first, 3990).status_code == 401
    assert ps.order(second, 3990).status_code == 200
    assert http.get(f"{ps.url}/api/authorization", auth=CREDENTIALS).json()["token"] == second


def test_delete_removes_the_token(ps: Prodsmart, token: str) -> None:
    assert http.delete(f"{ps.url}/api/authorization", auth=CREDENTIALS).status_code == 204
    assert ps.order(token, 3990).status_code == 401
    assert [e["action"] for e in ps.sim.events()] == ["authorization-created", "authorization-deleted"]


def test_sim_can_expire_the_token_now(ps: Prodsmart, token: str) -> None:
    assert http.get(f"{ps.url}/__sim__/state").json()["token_valid"] is True
    assert http.delete(f"{ps.url}/__sim__/token").json() == {"expired": True}
    assert ps.order(token, 3990).status_code == 401
    assert ps.sim.state()["token_valid"] is False


@pytest.mark.parametrize(
    "query",
    ["", "?access_token=", "?access_token=nope", "?access_token={t}&access_token={t}", "?token={t}",
     "?access_token={t}x"],
)
def test_requests_without_exactly_the_valid_token_get_401(ps: Prodsmart, token: str, query: str) -> None:
    for method, path in [("GET", "/api/production-orders/3990"), ("POST", "/api/production-orders/4001/activate"),
                         ("POST", "/api/machines/A32/counter")]:
        response = http.request(method, ps.url + path + query.format(t=token), json={"count": 1},
                                headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"] == "Unauthorized"
    assert [e["action"] for e in ps.sim.events()] == ["authorization-created"]


def test_machine_endpoints_also_take_basic_credentials(ps: Prodsmart) -> None:
    counted = http.post(f"{ps.url}/api/machines/A32/counter", auth=CREDENTIALS, json={"count": 5})
    assert (counted.status_code, counted.json()["count"]) == (200, 5)
    stopped = http.post(f"{ps.url}/api/machines/A32/startstop", auth=CREDENTIALS, json={"running": 0, "type": "Setup"})
    assert stopped.status_code == 200
    wrong = http.post(f"{ps.url}/api/machines/A32/counter", auth=(DEMO_KEY, "wrong"), json={"count": 6})
    assert wrong.status_code == 401
    assert http.get(f"{ps.url}/api/production-orders/3990", auth=CREDENTIALS).status_code == 401


# --- production orders ---------------------------------------------------------------------


def test_production_order_answer(ps: Prodsmart, token: str) -> None:
    response = ps.order(token, 3990)
    assert response.status_code == 200
    assert response.json() == {
        "id": 3990,
        "code": "V23076 - Week 33/34",
        "description": "Woodworks Ltd.",
        "start-date": "2023-04-20T09:15:15Z",
        "due-date": "2023-05-16T17:15:15Z",
        "products": [{"product": "V23076", "quantity-ordered": 3500, "observations": "", "quantity-produced": 700}],
        "machines": [{"code": "A32"}],
        "ended": False,
        "is-active": True,
        "status": "onschedule",
        "running-status": "started",
        "notes": "",
    }
    two = ps.order(token, 4002).json()
    assert [(p["product"], p["quantity-produced"], p["quantity-ordered"]) for p in two["products"]] == [
        ("K100", 320, 500), ("K101", 200, 200),
    ]
    assert (two["status"], two["running-status"]) == ("delayed", "started")
    assert ps.order(token, 4003).json()["ended"] is True


def test_demo_orders_cover_every_status_and_running_status(ps: Prodsmart, token: str) -> None:
    orders = ps.sim.state()["production_orders"]
    assert {o["status"] for o in orders} == {"scheduled", "onschedule", "delayed", "completed"}
    assert {o["running-status"] for o in orders} == {"notstarted", "started", "closed", "archived"}


@pytest.mark.parametrize("order_id", ["999", "abc", "03990", "0", "-3990", "3990.0", "%20", "99999999999999999999"])
def test_unknown_production_order_is_404(ps: Prodsmart, token: str, order_id: str) -> None:
    for response in (ps.order(token, order_id), ps.activate(token, order_id),
                     ps.notify(token, order_id, {"short-message": "x"})):
        assert response.status_code == 404
        assert response.json()["error"] == "Not Found"


def test_activate_answers_200_then_204(ps: Prodsmart, token: str) -> None:
    assert ps.order(token, 4001).json()["is-active"] is False
    first = ps.activate(token, 4001)
    assert (first.status_code, first.content) == (200, b"")
    assert ps.order(token, 4001).json()["is-active"] is True
    again = ps.activate(token, 4001)
    assert (again.status_code, again.content) == (204, b"")
    events = [e for e in ps.sim.events() if e["action"] == "activate"]
    assert [(e["production_order"], e["status"]) for e in events] == [(4001, 200), (4001, 204)]


def test_activate_without_a_body_works_too(ps: Prodsmart, token: str) -> None:
    response = http.post(f"{ps.url}/api/production-orders/4002/activate", params={"access_token": token})
    assert response.status_code == 200


@pytest.mark.parametrize("order_id", [4003, 4004])
def test_activate_closed_or_archived_is_405_with_the_documents_text(ps: Prodsmart, token: str, order_id: int) -> None:
    response = ps.activate(token, order_id)
    assert response.status_code == 405
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == CANNOT_ACTIVATE == "Production Order was closed or archived and cannot be activated"
    assert "allow" not in response.headers
    assert ps.order(token, order_id).json()["is-active"] is False
    assert [e["action"] for e in ps.sim.events()] == ["authorization-created"]


def test_closed_wins_over_already_active() -> None:
    data = demo_data()
    data.production_orders[3].active = True
    for ps in serve(data):
        assert ps.activate(ps.new_token(), 4003).status_code == 405


# --- notify --------------------------------------------------------------------------------


def test_notify_short_message_up_to_140_characters(ps: Prodsmart, token: str) -> None:
    assert ps.notify(token, 3990, {"short-message": "x" * 140, "message": "from OP1001"}).status_code == 200
    assert ps.notify(token, 3990, {"short-message": "ż" * 140}).status_code == 200
    too_long = ps.notify(token, 3990, {"short-message": "x" * 141, "message": "from OP1001"})
    assert too_long.status_code == 400
    assert error_message(too_long) == "short-message is longer than 140 characters (141)"
    notes = [(e["short_message"], e["message"]) for e in ps.sim.events() if e["action"] == "notify"]
    assert notes == [("x" * 140, "from OP1001"), ("ż" * 140, None)]
    assert ps.order(token, 3990).json()["notes"] == "from OP1001"


def test_notify_messages_are_appended_to_the_notes(ps: Prodsmart, token: str) -> None:
    ps.notify(token, 4003, {"short-message": "Jam", "message": "first"})
    ps.notify(token, 4003, {"short-message": "Jam", "message": "second"})
    assert ps.order(token, 4003).json()["notes"] == "first\nsecond"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "short-message is required"),
        ({"short-message": ""}, "short-message is required"),
        ({"short-message": None, "message": "m"}, "short-message is required"),
        ({"short-message": 42}, "short-message must be text"),
        ({"short-message": "ok", "message": ["x"]}, "message must be text"),
    ],
)
def test_notify_bad_bodies(ps: Prodsmart, token: str, body: dict[str, Any], message: str) -> None:
    response = ps.notify(token, 3990, body)
    assert (response.status_code, error_message(response)) == (400, message)
    assert ps.order(token, 3990).json()["notes"] == ""


@pytest.mark.parametrize("body", [b"", b"not json", b"[1]", b'"text"', b"\xff"])
def test_a_body_that_is_not_a_json_object_is_invalid_json(ps: Prodsmart, token: str, body: bytes) -> None:
    for path in ("/api/production-orders/3990/notify", "/api/machines/A32/counter", "/api/machines/A32/startstop"):
        response = http.post(ps.url + path, params={"access_token": token}, content=body)
        assert (response.status_code, response.json()["error"]) == (400, "Invalid JSON"), path


# --- machine counter -----------------------------------------------------------------------


def test_counter_must_increase(ps: Prodsmart, token: str) -> None:
    first = ps.counter(token, "A32", {"count": 500})
    assert (first.status_code, first.json()) == (200, {"count": 500, "waste": []})
    for stale in (500, 499, 0):
        response = ps.counter(token, "A32", {"count": stale})
        assert response.status_code == 400
        assert error_message(response) == f"count must be greater than the last count (500), got {stale}"
    assert ps.counter(token, "A32", {"count": 501}).json()["count"] == 501
    assert ps.machine("A32")["count"] == 501
    assert [e["count"] for e in ps.sim.events() if e["action"] == "counter"] == [500, 501]


def test_counter_starts_from_the_machines_count(ps: Prodsmart, token: str) -> None:
    assert ps.counter(token, "M2", {"count": 1000}).status_code == 400
    assert ps.counter(token, "M2", {"count": 1001}).status_code == 200
    assert ps.counter(token, "A32", {"count": 0}).status_code == 400


def test_counter_feeds_the_machines_production_order(ps: Prodsmart, token: str) -> None:
    ps.counter(token, "A32", {"count": 10})
    ps.counter(token, "A32", {"count": 25})
    assert ps.order(token, 3990).json()["products"][0]["quantity-produced"] == 725
    ps.counter(token, "F1", {"count": 1200})
    order = ps.order(token, 4001).json()
    assert (order["products"][0]["quantity-produced"], order["status"], order["running-status"]) == (
        1200, "completed", "started",
    )


@pytest.mark.parametrize("count", ["5", 5.0, 5.5, True, -1, [5], {"n": 5}])
def test_count_must_be_a_whole_number(ps: Prodsmart, token: str, count: Any) -> None:
    response = ps.counter(token, "A32", {"count": count})
    assert response.status_code == 400
    assert error_message(response) == "count must be a whole number, 0 or more"
    assert ps.machine("A32")["count"] == 0


def test_waste_must_increase_per_code(ps: Prodsmart, token: str) -> None:
    first = ps.counter(token, "A32", {"count": 10, "waste": [{"code": "Scrap", "quantity": 2}]})
    assert first.json() == {"count": 10, "waste": [{"code": "Scrap", "quantity": 2}]}
    only_waste = ps.counter(token, "A32", {"waste": [{"code": "Rework", "quantity": 1}]})
    both = [{"code": "Scrap", "quantity": 2}, {"code": "Rework", "quantity": 1}]
    assert only_waste.json() == {"count": 10, "waste": both}
    for quantity in (2, 1):
        response = ps.counter(token, "A32", {"waste": [{"code": "Scrap", "quantity": quantity}]})
        assert response.status_code == 400
        assert error_message(response) == f"waste 'Scrap' must be greater than the last quantity (2), got {quantity}"
    assert ps.counter(token, "A32", {"waste": [{"code": "Scrap", "quantity": 3}]}).status_code == 200
    assert ps.machine("A32")["waste"] == [{"code": "Scrap", "quantity": 3}, {"code": "Rework", "quantity": 1}]


def test_nothing_changes_unless_every_value_increases(ps: Prodsmart, token: str) -> None:
    ps.counter(token, "A32", {"count": 10, "waste": [{"code": "Scrap", "quantity": 2}]})
    mixed = ps.counter(token, "A32", {"count": 11, "waste": [{"code": "Scrap", "quantity": 2}]})
    assert mixed.status_code == 400
    assert ps.machine("A32")["count"] == 10
    stale_count = ps.counter(token, "A32", {"count": 10, "waste": [{"code": "Scrap", "quantity": 3}]})
    assert stale_count.status_code == 400
    assert ps.machine("A32")["waste"] == [{"code": "Scrap", "quantity": 2}]
    assert ps.order(token, 3990).json()["products"][0]["quantity-produced"] == 710


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "count or waste is required"),
        ({"waste": []}, "count or waste is required"),
        ({"count": None}, "count or waste is required"),
        ({"waste": {"code": "Scrap", "quantity": 1}}, "waste must be a list of {code, quantity}"),
        ({"waste": [{"code": "Scrap"}]}, "waste[0] must be {code: text, quantity: whole number}"),
        ({"waste": [{"code": "Scrap", "quantity": "1"}]}, "waste[0] must be {code: text, quantity: whole number}"),
        ({"waste": ["Scrap"]}, "waste[0] must be {code: text, quantity: whole number}"),
        ({"waste": [{"code": "Paint", "quantity": 1}]}, "waste[0]: 'Paint' is not a waste code of machine 'A32'"),
        ({"waste": [{"code": "scrap", "quantity": 1}]}, "waste[0]: 'scrap' is not a waste code of machine 'A32'"),
        (
            {"waste": [{"code": "Scrap", "quantity": 1}, {"code": "Scrap", "quantity": 2}]},
            "waste[1]: 'Scrap' is listed twice",
        ),
        ({"count": 1, "parameters": {"t": 1}}, "parameters must be a list"),
    ],
)
def test_counter_bad_bodies(ps: Prodsmart, token: str, body: dict[str, Any], message: str) -> None:
    response = ps.counter(token, "A32", body)
    assert (response.status_code, error_message(response)) == (400, message)
    assert (ps.machine("A32")["count"], ps.machine("A32")["waste"]) == (0, [])


def test_counter_parameters_are_accepted(ps: Prodsmart, token: str) -> None:
    body = {"count": 500, "waste": [{"code": "Scrap", "quantity": 20}],
            "parameters": [{"name": "parameter1", "value": "value1"}, {"name": "parameter3", "value": 1}]}
    assert ps.counter(token, "A32", body).status_code == 200


def test_unknown_machine_is_404(ps: Prodsmart, token: str) -> None:
    for response in (ps.counter(token, "X9", {"count": 1}), ps.counter(token, "a32", {"count": 1}),
                     ps.startstop(token, "X9", {"running": 1})):
        assert response.status_code == 404
        assert "not found" in error_message(response)


def test_machine_code_is_decoded_once(ps: Prodsmart, token: str) -> None:
    assert ps.counter(token, "%41%33%32", {"count": 1}).status_code == 200
    assert ps.counter(token, "%2541%2533%2532", {"count": 2}).status_code == 404


# --- startstop -----------------------------------------------------------------------------


def test_stop_with_a_type_and_run_again(ps: Prodsmart, token: str) -> None:
    assert ps.machine("A32")["running"] is True
    assert ps.startstop(token, "A32", {"running": 0, "type": "Maintenance"}).status_code == 200
    stopped = ps.machine("A32")
    assert (stopped["running"], stopped["downtime_type"]) == (False, "Maintenance")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", stopped["since"])
    assert ps.startstop(token, "A32", {"running": 0, "type": "Breakdown"}).status_code == 200
    assert ps.machine("A32")["downtime_type"] == "Breakdown"
    assert ps.startstop(token, "A32", {"running": 1}).status_code == 200
    assert (ps.machine("A32")["running"], ps.machine("A32")["downtime_type"]) == (True, "")
    assert ps.startstop(token, "M2", {"running": 1, "type": "Breakdown"}).status_code == 200
    assert ps.machine("M2")["running"] is True
    events = [(e["machine"], e["running"], e["type"]) for e in ps.sim.events() if e["action"] == "startstop"]
    assert events == [("A32", 0, "Maintenance"), ("A32", 0, "Breakdown"), ("A32", 1, None), ("M2", 1, "Breakdown")]


def test_repeating_the_state_changes_nothing(ps: Prodsmart, token: str) -> None:
    before = {code: ps.machine(code) for code in ("A32", "M2")}
    time.sleep(0.002)  # a change would show as a later "since" stamp (milliseconds)
    assert ps.startstop(token, "M2", {"running": 0, "type": "Breakdown"}).status_code == 200
    assert ps.startstop(token, "A32", {"running": 1}).status_code == 200
    assert {code: ps.machine(code) for code in ("A32", "M2")} == before
    assert ps.startstop(token, "M2", {"running": 0, "type": "Setup"}).status_code == 200
    assert ps.machine("M2")["since"] > before["M2"]["since"]


@pytest.mark.parametrize(
    ("machine", "body", "message"),
    [
        ("A32", {"running": 0, "type": "Coffee"}, "'Coffee' is not a downtime type of machine 'A32'"),
        ("A32", {"running": 0, "type": "maintenance"}, "'maintenance' is not a downtime type of machine 'A32'"),
        ("F1", {"running": 0, "type": "Setup"}, "'Setup' is not a downtime type of machine 'F1'"),
        ("A32", {"running": 1, "type": "Coffee"}, "'Coffee' is not a downtime type of machine 'A32'"),
        ("A32", {"running": 0}, "type (the downtime type) is required with running 0"),
        ("A32", {"running": 0, "type": ""}, "type (the downtime type) is required with running 0"),
        ("A32", {"running": 0, "type": 3}, "type must be text"),
        ("A32", {"type": "Setup"}, "running must be 0 (stopped) or 1 (running)"),
        ("A32", {"running": 2, "type": "Setup"}, "running must be 0 (stopped) or 1 (running)"),
        ("A32", {"running": "0", "type": "Setup"}, "running must be 0 (stopped) or 1 (running)"),
        ("A32", {"running": False, "type": "Setup"}, "running must be 0 (stopped) or 1 (running)"),
    ],
)
def test_startstop_bad_bodies(ps: Prodsmart, token: str, machine: str, body: dict[str, Any], message: str) -> None:
    response = ps.startstop(token, machine, body)
    assert (response.status_code, error_message(response)) == (400, message)
    assert ps.machine(machine)["running"] is True
    assert [e for e in ps.sim.events() if e["action"] == "startstop"] == []


# --- rate limit ----------------------------------------------------------------------------


def test_the_121st_request_in_a_minute_is_429_until_the_window_moves(ps: Prodsmart) -> None:
    token = ps.new_token()  # request 1
    for n in range(2, 121):
        assert ps.order(token, 3990).status_code == 200, n
    limited = ps.order(token, 3990)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "60"
    assert limited.json()["error"] == "Too Many Requests"
    assert ps.counter(token, "A32", {"count": 1}).status_code == 429
    assert ps.machine("A32")["count"] == 0
    ps.clock.advance(59.5)
    assert ps.order(token, 3990).headers["retry-after"] == "1"
    ps.clock.advance(0.5)  # all 120 were made at the same moment: they leave the window together
    for n in range(120):
        assert ps.order(token, 3990).status_code == 200, n
    assert ps.order(token, 3990).headers["retry-after"] == "60"


def test_the_window_slides(ps: Prodsmart) -> None:
    token = ps.new_token()
    for _ in range(59):
        ps.order(token, 3990)
    ps.clock.advance(30)
    for _ in range(60):
        assert ps.order(token, 3990).status_code == 200
    ps.clock.advance(29)
    assert ps.order(token, 3990).headers["retry-after"] == "1"
    ps.clock.advance(1)  # the first 60 leave the window, the last 60 stay
    for _ in range(60):
        assert ps.order(token, 3990).status_code == 200
    limited = ps.order(token, 3990)
    assert (limited.status_code, limited.headers["retry-after"]) == (429, "30")


def test_every_api_request_counts_but_429_and_faults_do_not() -> None:
    for ps in serve(with_company(requests_per_minute=5)):
        token = ps.new_token()
        assert http.get(f"{ps.url}/api/authorization", auth=("x", "y")).status_code == 401
        assert ps.order(token, 999).status_code == 404
        assert http.get(f"{ps.url}/nowhere").status_code == 404
        ps.sim.set_faults({"status": 503, "count": 3})
        assert [ps.order(token, 3990).status_code for _ in range(3)] == [503] * 3
        assert http.get(f"{ps.url}/__sim__/events").status_code == 200
        assert ps.order(token, 3990).status_code == 200
        assert [ps.order(token, 3990).status_code for _ in range(10)] == [429] * 10
        ps.clock.advance(60)
        assert [ps.order(token, 3990).status_code for _ in range(6)] == [200] * 5 + [429]


# --- faults --------------------------------------------------------------------------------


def test_down_closes_connections_until_up(ps: Prodsmart, token: str) -> None:
    assert http.post(f"{ps.url}/__sim__/faults", json={"down": True}).json()["down"] is True
    with pytest.raises(httpx.RemoteProtocolError):
        ps.counter(token, "A32", {"count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(f"{ps.url}/api/authorization", auth=CREDENTIALS)
    http.post(f"{ps.url}/__sim__/faults", json={"down": False})
    assert ps.counter(token, "A32", {"count": 1}).status_code == 200


def test_status_fault_answers_without_acting(ps: Prodsmart, token: str) -> None:
    http.post(f"{ps.url}/__sim__/faults", json={"status": 503, "count": 2, "retry_after": 7})
    for _ in range(2):
        response = ps.activate(token, 4001)
        assert (response.status_code, response.headers["retry-after"]) == (503, "7")
    assert ps.order(token, 4001).json()["is-active"] is False
    assert ps.activate(token, 4001).status_code == 200


def test_delay_fault_answers_late_after_acting(ps: Prodsmart, token: str) -> None:
    http.post(f"{ps.url}/__sim__/faults", json={"delay_s": 1.0, "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{ps.url}/api/machines/A32/counter", params={"access_token": token}, json={"count": 7}, timeout=0.2)
    assert ps.machine("A32")["count"] == 7
    assert ps.counter(token, "A32", {"count": 7}).status_code == 400


def test_reset_restores_data_token_window_and_faults() -> None:
    for ps in serve(with_company(requests_per_minute=4)):
        token = ps.new_token()
        ps.counter(token, "A32", {"count": 9})
        ps.activate(token, 4001)
        assert [ps.order(token, 3990).status_code for _ in range(2)] == [200, 429]
        ps.sim.set_faults({"status": 500, "count": 5})
        assert http.post(f"{ps.url}/__sim__/reset").json() == {"reset": True}
        assert ps.sim.events() == [] and ps.sim.requests() == []
        assert ps.order(token, 3990).status_code == 401
        token = ps.new_token()
        assert ps.counter(token, "A32", {"count": 1}).status_code == 200
        assert ps.order(token, 4001).json()["is-active"] is False


# --- paths, methods, secrets ---------------------------------------------------------------


def test_unknown_paths_and_methods(ps: Prodsmart, token: str) -> None:
    for path in ("/", "/api/production-orders/", "/api/production-orders/3990/", "/api/production-orders/3990/close",
                 "/api/machines/A32", "/api/machines/A32/counter/", "/api/machines//counter", "/api/authorization/"):
        response = http.post(ps.url + path, params={"access_token": token}, json={})
        assert response.status_code == 404, path
    for method, path, allowed in [("POST", "/api/production-orders/3990", "GET"),
                                  ("GET", "/api/production-orders/3990/activate", "POST"),
                                  ("PUT", "/api/machines/A32/counter", "POST"),
                                  ("PUT", "/api/authorization", "DELETE, GET, POST")]:
        response = http.request(method, ps.url + path, params={"access_token": token})
        assert (response.status_code, response.headers["allow"]) == (405, allowed), path


def test_nothing_recorded_holds_the_token_or_the_secret(ps: Prodsmart) -> None:
    token = ps.new_token()
    ps.order(token, 3990)
    ps.activate(token, 4001)
    ps.notify(token, 3990, {"short-message": "Jam", "message": "OP1"})
    ps.counter(token, "A32", {"count": 1, "waste": [{"code": "Scrap", "quantity": 1}]})
    ps.startstop(token, "A32", {"running": 0, "type": "Setup"})
    http.post(f"{ps.url}/api/machines/A32/startstop", auth=CREDENTIALS, json={"running": 1})
    http.get(f"{ps.url}/api/production-orders/4001?x=1&access%5Ftoken={token}&access_token={token}")
    http.get(f"{ps.url}/api/authorization", auth=CREDENTIALS)
    ps.clock.advance(7200)
    ps.order(token, 3990)
    recorded = {
        "events": http.get(f"{ps.url}/__sim__/events").json(),
        "requests": http.get(f"{ps.url}/__sim__/requests").json(),
        "state": http.get(f"{ps.url}/__sim__/state").json(),
    }
    text = json.dumps(recorded)
    basic = base64.b64encode(f"{DEMO_KEY}:{DEMO_SECRET}".encode()).decode()
    assert token not in text and DEMO_SECRET not in text and basic not in text
    assert len(recorded["events"]) == 6
    paths = [r["raw_path"] for r in recorded["requests"]]
    assert "/api/production-orders/3990?access_token=REDACTED" in paths
    assert "/api/production-orders/4001?x=1&access%5Ftoken=REDACTED&access_token=REDACTED" in paths
    assert {r["headers"].get("authorization") for r in recorded["requests"]} == {None, "REDACTED"}


@pytest.mark.parametrize(
    ("raw", "redacted"),
    [
        ("/a", "/a"),
        ("/a?access_token=abc", "/a?access_token=REDACTED"),
        ("/a?x=1&access_token=abc&y=2", "/a?x=1&access_token=REDACTED&y=2"),
        ("/a?access_token", "/a?access_token=REDACTED"),
        ("/a?access+token=1&my_access_token=2", "/a?access+token=1&my_access_token=2"),
        ("/a?access%5Ftoken=abc", "/a?access%5Ftoken=REDACTED"),
    ],
)
def test_redact_path(raw: str, redacted: str) -> None:
    assert redact_path(raw) == redacted


# --- demo data and codes -------------------------------------------------------------------


def demo_request(demo: DemoCode, counts: dict[str, int], waste: dict[tuple[str, str], int]) -> tuple[str, str, Any]:
    """The call a kiosk station makes for a demo scan (``counts``/``waste``: last values sent)."""
    if demo.action == "production-order":
        if demo.scan == "CMD:ACTIVATE":
            return "POST", f"/api/production-orders/{demo.target}/activate", {}
        if demo.scan.startswith("CMD:NOTIFY:"):
            reason = demo.scan.removeprefix("CMD:NOTIFY:")
            body = {"short-message": reason, "message": "OP1001"}
            return "POST", f"/api/production-orders/{demo.target}/notify", body
        return "GET", f"/api/production-orders/{demo.scan}", None
    path = f"/api/machines/{demo.target}/" + ("counter" if demo.action == "machine-counter" else "startstop")
    if demo.action == "downtime":
        kind = demo.scan.removeprefix("DT:")
        return "POST", path, {"running": 1} if kind == "RUN" else {"running": 0, "type": kind}
    if demo.scan.startswith("WASTE:"):
        key = (demo.target, demo.scan.removeprefix("WASTE:"))
        waste[key] = waste.get(key, 0) + 1
        return "POST", path, {"waste": [{"code": key[1], "quantity": waste[key]}]}
    counts[demo.target] = counts.get(demo.target, 0) + 1
    return "POST", path, {"count": counts[demo.target]}


def start_counts() -> dict[str, int]:
    return {m.code: m.count for m in demo_data().machines}


@pytest.mark.parametrize("demo", DEMO_CODES, ids=lambda d: f"{d.scan}@{d.target}")
def test_demo_code_answers_as_listed(ps: Prodsmart, token: str, demo: DemoCode) -> None:
    method, path, body = demo_request(demo, start_counts(), {})
    assert ps.call(method, path, token, body).status_code == demo.status


def test_demo_codes_work_as_one_session_in_listed_order(ps: Prodsmart, token: str) -> None:
    counts, waste = start_counts(), dict[tuple[str, str], int]()
    for demo in DEMO_CODES:
        method, path, body = demo_request(demo, counts, waste)
        assert ps.call(method, path, token, body).status_code == demo.status, demo
    assert ps.order(token, 3990).json()["products"][0]["quantity-produced"] == 701
    assert ps.machine("M2")["count"] == 1001


def test_demo_toml_comment_table_lists_every_demo_code() -> None:
    header = DEMO_DATA_PATH.read_text(encoding="utf-8").split("[company]")[0]
    for demo in DEMO_CODES:
        columns = (re.escape(demo.action), re.escape(demo.scan), re.escape(demo.target), str(demo.status))
        pattern = r"^#\s+" + r"\s+".join(columns) + r"\b"
        assert re.search(pattern, header, re.MULTILINE), demo


def test_demo_data() -> None:
    data = load_sim_data(DEMO_DATA_PATH)
    assert (data.company.key, data.company.secret) == (DEMO_KEY, DEMO_SECRET)
    assert (data.company.requests_per_minute, data.company.token_lifetime_s) == (120, 7200)
    machines = {m.code: m for m in data.machines}
    assert machines["A32"].downtime_types == ["Maintenance", "Setup", "Breakdown"]
    assert {d.status for d in DEMO_CODES} == {200, 204, 400, 404, 405}


C = '[company]\nkey = "k"\nsecret = "s"\n'
"""A valid company table, prefixed to the data-file cases about machines and orders."""


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "company: required key is missing"),
        ('[company]\nkey = "k"\n', "company.secret: required key is missing"),
        ('[company]\nkey = "k"\nsecret = ""\n', "company.secret: String should have at least 1 character"),
        ('[company]\nkey = "k"\nsecret = "s"\nrequests_per_minute = 0\n', "company.requests_per_minute"),
        ('[company]\nkey = "k"\nsecret = "s"\ncolour = 1\n', "company.colour: unknown key"),
        (C + '[[machines]]\ncode = "A"\n[[machines]]\ncode = "A"\n',
         "machines[1].code: machine code 'A' is used twice"),
        (C + '[[machines]]\ncode = "A"\nproduction_order = 5\n',
         "machines[0].production_order: unknown production order 5"),
        (C + '[[machines]]\ncode = "A"\nrunning = false\n', "a stopped machine needs one of its downtime_types"),
        (C + '[[machines]]\ncode = "A"\ndowntime_type = "Setup"\ndowntime_types = ["Setup"]\n',
         "only for a machine that is not running"),
        (C + '[[machines]]\ncode = "A"\nwaste = { Scrap = 1 }\n', "waste.Scrap: not one of the machine's waste_codes"),
        (C + '[[machines]]\ncode = "A"\ndowntime_types = [""]\n', "machines[0].downtime_types[0]"),
        (C + '[[production_orders]]\nid = 1\ncode = "c"\n', "production_orders[0].products: required key is missing"),
        (C + '[[production_orders]]\nid = 1\ncode = "c"\nproducts = [{ product = "p", quantity_ordered = 0 }]\n',
         "products[0].quantity_ordered: Input should be greater than 0"),
        (C + '[[production_orders]]\nid = 1\ncode = "c"\nstatus = "late"\n'
         'products = [{ product = "p", quantity_ordered = 1 }]\n',
         "production_orders[0].status: Input should be"),
        (C + '[[production_orders]]\nid = 1\ncode = "c"\ndue_date = "tomorrow"\n'
         'products = [{ product = "p", quantity_ordered = 1 }]\n',
         "production_orders[0].due_date: String should match pattern"),
        (C + '[[production_orders]]\nid = 1\ncode = "c"\nmachines = ["Z"]\n'
         'products = [{ product = "p", quantity_ordered = 1 }]\n',
         "production_orders[0].machines[0]: unknown machine 'Z'"),
        (C + '[[production_orders]]\nid = 1\ncode = "c"\nproducts = [{ product = "p", quantity_ordered = 1 }, '
         '{ product = "p", quantity_ordered = 2 }]\n', "products[1].product: product 'p' is listed twice"),
        (C + '[[production_orders]]\nid = 1\ncode = "a"\nproducts = [{ product = "p", quantity_ordered = 1 }]\n'
         '[[production_orders]]\nid = 1\ncode = "b"\nproducts = [{ product = "p", quantity_ordered = 1 }]\n',
         "production_orders[1].id: id 1 is used twice"),
        ("company = [\n", "not valid TOML"),
    ],
)
def test_bad_data_file_names_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SimDataError) as info:
        load_sim_data(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


# --- `kiosk simulate prodsmart` ------------------------------------------------------------


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "simulate", "prodsmart", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


def test_cli_serves_the_demo_data_until_sigterm() -> None:
    proc, first_line = _start_cli("--port", "0")
    try:
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", first_line)
        assert match, first_line
        url = match.group(1)
        token = http.post(f"{url}/api/authorization", auth=CREDENTIALS).json()["token"]
        order = http.get(f"{url}/api/production-orders/3990", params={"access_token": token})
        assert order.json()["code"] == "V23076 - Week 33/34"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=5)
    assert (proc.returncode, out, err) == (0, "", "")


def test_cli_with_a_data_file(tmp_path: Path) -> None:
    path = tmp_path / "plant.toml"
    path.write_text('[company]\nkey = "k1"\nsecret = "s1"\n[[machines]]\ncode = "Z1"\n', encoding="utf-8")
    proc, first_line = _start_cli("--port", "0", "--data", str(path))
    try:
        url = first_line.split()[-1]
        assert http.post(f"{url}/api/authorization", auth=CREDENTIALS).status_code == 401
        answer = http.post(f"{url}/api/machines/Z1/counter", auth=("k1", "s1"), json={"count": 3})
        assert answer.json() == {"count": 3, "waste": []}
    finally:
        proc.terminate()
        proc.communicate(timeout=5)
    assert proc.returncode == 0


def test_cli_refuses_a_bad_data_file_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[company]\nkey = "k"\n', encoding="utf-8")
    assert run_simulator("prodsmart", 0, bad) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"kiosk simulate: {bad}: company.secret: required key is missing\n"
    assert run_simulator("prodsmart", 0, tmp_path / "missing.toml") == 2
    assert "simulator data file not found" in capsys.readouterr().err
    result = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "prodsmart", "--port", "0", "--data", str(bad)],
                            capture_output=True, text=True, cwd=ROOT, timeout=30, check=False)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == f"kiosk simulate: {bad}: company.secret: required key is missing\n"
