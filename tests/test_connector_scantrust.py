"""ScantrustConnector against the Scantrust simulator over loopback HTTP, and canned answers."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.connectors import make_connector
from kiosk.connectors.base import BadAnswer, Rejected, Request, Unreachable
from kiosk.connectors.registry import plugin_for
from kiosk.connectors.scantrust import (
    CONFIRM,
    EXTERNAL_ID_WAIT_S,
    NO_HTTP,
    Confirmed,
    NotASegment,
    ScantrustConfig,
    ScantrustConnector,
    TokenUnavailable,
    show,
    step,
    workorder_segment,
)
from kiosk.simulators.scantrust import (
    CODEGEN_DONE,
    CODEGEN_GENERATING,
    DEMO_CODES,
    DEMO_EQUIPMENT,
    DEMO_EXTERNAL_ID,
    DEMO_SUBSTRATE,
    DEMO_TOKEN,
    DEMO_VIEW_TOKEN,
    INVALID_TOKEN,
    NO_CREDENTIALS,
    NO_PERMISSION,
    NOT_FOUND,
    WORKORDERS_PREFIX,
    ScantrustSim,
    already_confirmed,
    wrong_state,
)
from kiosk.simulators.server import SimServer

TOKEN_ENV = "KIOSK_TEST_SCANTRUST_TOKEN"


@dataclass
class Running:
    sim: ScantrustSim
    server: SimServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def scantrust() -> Iterator[Running]:
    sim = ScantrustSim()
    with SimServer(sim) as server:
        yield Running(sim, server)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)


def config(url: str, **overrides: Any) -> ScantrustConfig:
    keys: dict[str, Any] = {"vendor": "scantrust", "base_url": url, "token_env": TOKEN_ENV, "timeout_s": 2.0,
                            "substrate": DEMO_SUBSTRATE, "equipment": DEMO_EQUIPMENT,
                            "external_id": DEMO_EXTERNAL_ID}
    keys.update(overrides)
    return ScantrustConfig(**{k: v for k, v in keys.items() if v is not None})


@pytest.fixture
async def connector(scantrust: Running) -> AsyncIterator[ScantrustConnector]:
    built = ScantrustConnector("print", config(scantrust.url))
    yield built
    await built.aclose()


def confirm(workorder: str, **extra: Any) -> Request:
    return Request(CONFIRM.name, "PRESS1", workorder, **extra)


async def confirm_once(url: str, workorder: str = "4977", params: dict[str, Any] | None = None,
                       **overrides: Any) -> Any:
    connector = ScantrustConnector("print", config(url, **overrides))
    try:
        return await connector.perform(confirm(workorder, params=params or {}))
    finally:
        await connector.aclose()


def test_action_is_registered_as_queueable_and_not_idempotent() -> None:
    plugin = plugin_for("scantrust")
    spec = plugin.actions["printer-confirm"]
    assert (spec.verb, spec.queueable, spec.idempotent, spec.commands) == ("confirmed", True, False,
                                                                         frozenset({"CANCEL"}))
    assert plugin.config_model is ScantrustConfig


# --- every demo code, through the simulator ------------------------------------------------


async def test_demo_codes_in_listed_order(scantrust: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    for demo in DEMO_CODES:
        monkeypatch.setenv(TOKEN_ENV, demo.token)
        answer = await confirm_once(scantrust.url, demo.code, {"substrate": demo.substrate})
        if demo.status == 200:
            assert isinstance(answer, Confirmed), demo
            assert (answer.state, answer.codegen_status, answer.http_status) == (demo.expected, demo.codegen_status,
                                                                                 200)
        else:
            assert isinstance(answer, Rejected) and answer.http_status == demo.status, (demo, answer)
            expected = "Work order not found" if demo.expected == NOT_FOUND else demo.expected
            assert any(expected in line for line in (answer.title,) + answer.details), (demo, answer)
    assert [e["workorder"] for e in scantrust.sim.events()] == [int(d.code) for d in DEMO_CODES if d.status == 200]


async def test_codes_ready(scantrust: Running, connector: ScantrustConnector) -> None:
    answer = await connector.perform(confirm("4977"))
    assert isinstance(answer, Confirmed)
    assert answer.title == "Work order confirmed: codes ready"
    assert [(f.key, f.label, f.value) for f in answer.fields] == [
        ("order_number", "Work order", "4977"), ("reference", "Reference", "Tk-021"), ("state", "State", "completed"),
        ("codegen_status", "Codes", f"ready ({CODEGEN_DONE})"), ("codes_file", "Codes file", "ready"),
        ("product", "Product", "Acme serum 30 ml"), ("quantity", "Quantity", "500")]
    (sent,) = scantrust.sim.requests()
    assert (sent["method"], sent["raw_path"]) == ("PATCH", "/api/v2/workorders/4977/printer-confirm/")
    assert json.loads(sent["body"]) == {"substrate": DEMO_SUBSTRATE, "equipment": DEMO_EQUIPMENT,
                                        "external_id": DEMO_EXTERNAL_ID}
    assert sent["headers"]["authorization"] == f"UAT {DEMO_TOKEN}"
    assert scantrust.sim.events()[0]["external_id"] == DEMO_EXTERNAL_ID


async def test_codes_generating_as_in_the_documents_example(connector: ScantrustConnector) -> None:
    answer = await connector.perform(confirm("5094"))
    assert isinstance(answer, Confirmed)
    assert answer.title == "Work order confirmed: codes generating"
    values = answer.values()
    assert (values["state"], values["codegen_status"], values["codes_file"]) == (
        "new", f"generating ({CODEGEN_GENERATING})", "not yet")


async def test_params_override_the_backend(scantrust: Running) -> None:
    answer = await confirm_once(scantrust.url, "4978", {"substrate": "1", "equipment": 2, "external_id": "job-7"},
                                external_id=None)
    assert isinstance(answer, Confirmed) and answer.state == "ready to print"
    assert json.loads(scantrust.sim.requests()[0]["body"]) == {"substrate": 1, "equipment": 2, "external_id": "job-7"}


async def test_no_external_id_is_not_sent(scantrust: Running) -> None:
    assert isinstance(await confirm_once(scantrust.url, external_id=None), Confirmed)
    assert json.loads(scantrust.sim.requests()[0]["body"]) == {"substrate": DEMO_SUBSTRATE,
                                                               "equipment": DEMO_EQUIPMENT}


async def test_configured_header_and_bare_token(monkeypatch: pytest.MonkeyPatch) -> None:
    sim = ScantrustSim(token_header="X-Api-Key", token_scheme="")
    with SimServer(sim) as server:
        answer = await confirm_once(server.url, token_header="X-Api-Key", token_scheme="")
    assert isinstance(answer, Confirmed)
    assert sim.requests()[0]["headers"]["x-api-key"] == DEMO_TOKEN


# --- the document's errors -----------------------------------------------------------------


async def test_unknown_work_order(connector: ScantrustConnector) -> None:
    assert await connector.perform(confirm("9999")) == Rejected("Work order not found", (
        "Scantrust has no work order 9999 for this printing partner: check the number on the work order sheet.",), 404)


async def test_missing_permission(scantrust: Running, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_VIEW_TOKEN)
    answer = await confirm_once(scantrust.url)
    assert isinstance(answer, Rejected) and (answer.title, answer.http_status) == ("Permission missing", 403)
    assert answer.details[0] == NO_PERMISSION and "workorder_edit" in answer.details[1]
    assert scantrust.sim.events() == []


async def test_bad_substrate(scantrust: Running) -> None:
    answer = await confirm_once(scantrust.url, params={"substrate": 99})
    assert answer == Rejected("Confirmation refused", (
        'substrate: Invalid pk "99" - object does not exist.',
        "The station's substrate and equipment come from the profile's params or backends.print."), 400)


@pytest.mark.parametrize(("env", "detail"), [("revoked-token", INVALID_TOKEN), (None, NO_CREDENTIALS)])
async def test_token_refused(scantrust: Running, monkeypatch: pytest.MonkeyPatch, env, detail) -> None:
    if env:
        monkeypatch.setenv(TOKEN_ENV, env)
    answer = await confirm_once(scantrust.url, token_env=TOKEN_ENV if env else None)
    assert isinstance(answer, Rejected) and (answer.title, answer.http_status) == ("Token not accepted", 401)
    assert answer.details[0] == detail
    source = f"environment variable {TOKEN_ENV}" if env else "no token source"
    assert answer.details[1] == f"Check the UAT token of backend 'print' ({source}); it is sent as Authorization: UAT …"
    assert "revoked-token" not in repr(answer)


async def test_already_confirmed_and_wrong_state(connector: ScantrustConnector) -> None:
    assert isinstance(await connector.perform(confirm("4977")), Confirmed)
    again = await connector.perform(confirm("4977"))
    assert again == Rejected(already_confirmed(4977), (
        "A work order is confirmed once: its codes are generated (or being generated) already.",), 400)
    done = await connector.perform(confirm("4990"))
    assert done == Rejected(wrong_state(4990, "completed"), (
        "Only a work order in state new can be confirmed: check the work order number.",), 400)


@pytest.mark.parametrize(("params", "problem"), [
    ({"substrate": None}, "No substrate is set up for this station: give substrate in backends.print"),
    ({"equipment": "press"}, "The profile's equipment 'press' is not a Scantrust id"),
    ({"equipment": True}, "The profile's equipment 'True' is not a Scantrust id"),
    ({"external_id": "x" * 256}, "external_id must be text of at most 255 characters"),
])
async def test_station_not_set_up_is_refused_before_sending(scantrust: Running, params, problem) -> None:
    overrides = {"substrate": None} if params == {"substrate": None} else {}
    answer = await confirm_once(scantrust.url, params={} if overrides else params, **overrides)
    assert isinstance(answer, Rejected) and (answer.title, answer.http_status) == ("Station not set up for printing",
                                                                                  NO_HTTP)
    assert problem in answer.details[0]
    assert scantrust.sim.requests() == []


async def test_unknown_params_are_refused(scantrust: Running) -> None:
    answer = await confirm_once(scantrust.url, params={"substrat": 1})
    assert isinstance(answer, Rejected) and answer.http_status == NO_HTTP
    assert "Unknown params key(s) for printer-confirm: substrat" in answer.details[0]
    refused = step({}, confirm("4977", params={"substrat": 1}), 0.0)
    assert refused.request is None and refused.reply is not None and refused.reply.outcome == "denied"
    assert scantrust.sim.requests() == []


# --- the work order id in the path ---------------------------------------------------------


@pytest.mark.parametrize("workorder", ["49/77", "../4977", "4977?x=1", "%2e%2e", "4977#1", "49 77", "Ä", "...", "0x1"])
async def test_work_order_id_is_one_literal_segment(scantrust: Running, connector, workorder: str) -> None:
    answer = await connector.perform(confirm(workorder))
    assert isinstance(answer, Rejected) and (answer.title, answer.http_status) == ("Work order not found", 404)
    (request,) = scantrust.sim.requests()
    segment = request["raw_path"][len(WORKORDERS_PREFIX):-len("/printer-confirm/")]
    assert segment == quote(workorder, safe="") and unquote(segment) == workorder
    assert scantrust.sim.events() == []


@pytest.mark.parametrize("workorder", ["", ".", ".."])
async def test_unusable_ids_are_refused_before_sending(scantrust: Running, connector, workorder: str) -> None:
    answer = await connector.perform(confirm(workorder))
    assert isinstance(answer, Rejected) and (answer.title, answer.http_status) == ("Not a work order id", NO_HTTP)
    assert "it is not a path segment" in answer.details[0]
    assert scantrust.sim.requests() == []


@given(st.text(min_size=1).filter(lambda s: s not in (".", "..")))
def test_work_order_segment_round_trips_as_one_unreserved_segment(workorder: str) -> None:
    try:
        segment = workorder_segment(workorder)
    except NotASegment:
        assert any(0xD800 <= ord(ch) <= 0xDFFF for ch in workorder)  # lone surrogates only
        return
    assert set(segment) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%")
    assert segment not in (".", "..") and unquote(segment, errors="strict") == workorder


def test_base_url_path_prefix_is_kept() -> None:
    connector = ScantrustConnector("print", config("https://api.example.com/st/"))
    assert connector.workorder_url("a/b").raw_path == b"/st/api/v2/workorders/a%2Fb/printer-confirm/"


# --- an external id from a second scan -------------------------------------------------------


FROM_SCAN = {"external_id_from_scan": True, "substrate": DEMO_SUBSTRATE}


def test_a_work_order_waits_for_its_external_id() -> None:
    first = step({}, confirm("4977", params=FROM_SCAN), 1000.0)
    assert first.request is None and first.reply is not None
    assert (first.reply.outcome, first.reply.title) == ("ok", "Now scan the external id")
    assert first.state == {"pending": {"workorder": "4977", "since": 1000.0}}
    assert json.loads(json.dumps(first.state)) == first.state
    assert show(first.state)[0].value == "4977"

    second = step(first.state, confirm("tk_042", params=FROM_SCAN), 1000.0 + EXTERNAL_ID_WAIT_S)
    assert second.state == {} and second.reply is None
    assert second.request == confirm("4977", params={"substrate": DEMO_SUBSTRATE, "external_id": "tk_042"})
    assert show(second.state) == ()


def test_a_late_external_id_scan_starts_anew() -> None:
    waiting = step({}, confirm("4977", params=FROM_SCAN), 1000.0).state
    late = step(waiting, confirm("5094", params=FROM_SCAN), 1000.0 + EXTERNAL_ID_WAIT_S + 1)
    assert late.request is None and late.state["pending"]["workorder"] == "5094"
    assert late.reply is not None
    assert "Work order 4977 waited too long for its external id and was dropped." in late.reply.details


def test_cancel_drops_the_waiting_work_order() -> None:
    waiting = step({}, confirm("4977", params=FROM_SCAN), 0.0).state
    cancel = Request(CONFIRM.name, "PRESS1", "CMD:CANCEL", command="CANCEL", params=FROM_SCAN)
    dropped = step(waiting, cancel, 1.0)
    assert dropped.state == {} and dropped.reply is not None
    assert (dropped.reply.outcome, dropped.reply.title) == ("ok", "Work order dropped")
    nothing = step({}, cancel, 2.0)
    assert nothing.reply is not None and (nothing.reply.outcome, nothing.reply.title) == ("ignored",
                                                                                          "Nothing to cancel")


@pytest.mark.parametrize(("state", "text", "title"), [
    ({}, "..", "Not a work order id"),
    ({"pending": {"workorder": "4977", "since": 0.0}}, "x" * 256, "External id too long"),
])
def test_unusable_scans_keep_the_state(state, text, title) -> None:
    result = step(state, confirm(text, params=FROM_SCAN), 1.0)
    assert result.state == state and result.request is None
    assert result.reply is not None and (result.reply.outcome, result.reply.title) == ("denied", title)


def test_without_the_flag_every_scan_is_sent() -> None:
    request = confirm("4977", params={"external_id": "E1"})
    assert step({}, request, 0.0).request == request
    assert step({}, confirm("4977", params={"external_id_from_scan": "yes"}), 0.0).reply is not None


async def test_the_stepped_request_confirms_with_the_scanned_external_id(scantrust: Running, connector) -> None:
    waiting = step({}, confirm("4979", params=FROM_SCAN), 0.0).state
    request = step(waiting, confirm("LOT-2024-17", params=FROM_SCAN), 1.0).request
    assert request is not None
    answer = await connector.perform(request)
    assert isinstance(answer, Confirmed) and answer.values()["order_number"] == "4979"
    assert scantrust.sim.events()[0]["external_id"] == "LOT-2024-17"


def test_the_connectors_step_checks_against_its_backend() -> None:
    connector = ScantrustConnector("print", config("http://127.0.0.1:1", substrate=None))
    bound = connector.actions[CONFIRM.name]
    assert bound.step is not None and plugin_for("scantrust").actions[CONFIRM.name].step is step
    assert (bound.queueable, bound.idempotent, bound.commands) == (CONFIRM.queueable, CONFIRM.idempotent,
                                                                   CONFIRM.commands)
    refused = bound.step({}, confirm("4977"), 0.0)
    assert refused.request is None and refused.reply is not None
    assert (refused.reply.outcome, refused.reply.title) == ("denied", "Station not set up for printing")
    assert "No substrate is set up for this station: give substrate in backends.print" in refused.reply.details[0]
    fine = bound.step({}, confirm("4977", params={"substrate": 74}), 0.0)
    assert fine.request == confirm("4977", params={"substrate": 74})
    for text in (".", ".."):
        odd = bound.step({}, confirm(text, params={"substrate": 74}), 0.0)
        assert odd.reply is not None and (odd.reply.outcome, odd.reply.title) == ("denied", "Not a work order id")


async def test_commands_are_never_sent(connector: ScantrustConnector) -> None:
    with pytest.raises(ValueError, match="answered by the action's step"):
        await connector.perform(Request(CONFIRM.name, "PRESS1", "CMD:CANCEL", command="CANCEL"))


# --- answers the kiosk cannot use ----------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "headers", "message", "unknown"), [
    (200, "OK", {}, "The Scantrust server answered HTTP 200 but not with JSON: OK", True),
    (200, '{"id": 4977}', {}, "answered HTTP 200 with JSON that is not a work order", True),
    (404, "<html>\x1b[31mNot Found</html>", {"Content-Type": "text/html"},
     "answered HTTP 404 Not Found: <html><ESC>[31mNot Found</html>", False),
    (405, "", {}, "answered HTTP 405 Method Not Allowed (empty body)", False),
    (400, "[]", {}, "answered HTTP 400 Bad Request", False),
])
async def test_unusable_answers(canned_server, status, body, headers, message, unknown) -> None:
    answer = await confirm_once(canned_server(status, body, headers).url)
    assert isinstance(answer, BadAnswer)
    assert message in answer.message
    assert (answer.http_status, answer.unknown, answer.transient) == (status, unknown, False)


@pytest.mark.parametrize(("status", "retry_after", "expected"), [(503, "5", 5.0), (429, "1", 1.0), (502, None, None)])
async def test_server_errors_are_transient(scantrust: Running, connector, status, retry_after, expected) -> None:
    fault: dict[str, Any] = {"status": status}
    if retry_after:
        fault["retry_after"] = retry_after
    scantrust.sim.set_faults(fault)
    answer = await connector.perform(confirm("4977"))
    assert isinstance(answer, BadAnswer) and answer.transient and not answer.unknown
    assert (answer.http_status, answer.retry_after_s) == (status, expected)
    assert scantrust.sim.events() == []


async def test_connection_refused_is_unreachable_not_sent(closed_port: int) -> None:
    answer = await confirm_once(f"http://127.0.0.1:{closed_port}")
    assert answer == Unreachable(f"Cannot connect to the Scantrust server at http://127.0.0.1:{closed_port} "
                                 "(connection refused)", sent=False)


async def test_late_answer_is_unreachable_sent_and_confirmed(scantrust: Running) -> None:
    scantrust.sim.set_faults({"delay_s": 1.0})
    answer = await confirm_once(scantrust.url, timeout_s=0.2)
    assert isinstance(answer, Unreachable) and answer.sent
    assert answer.message.endswith("within 0.2 s; the work order may or may not have been confirmed")
    assert [e["workorder"] for e in scantrust.sim.events()] == [4977]


# --- the token -----------------------------------------------------------------------------


def test_missing_env_var_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    with pytest.raises(TokenUnavailable) as info:
        ScantrustConnector("print", config("http://127.0.0.1:1"))
    assert info.value.key == "token_env" and TOKEN_ENV in str(info.value) and info.value.advice


@pytest.mark.parametrize(("keys", "message"), [
    ({"token_header": "Bad Header"}, "must be an HTTP header name"),
    ({"token_scheme": "U AT"}, "must be one word"),
    ({"substrate": 0}, "greater than or equal to 1"),
    ({"token_file": "t"}, "give token_env or token_file, not both"),
])
def test_unusable_settings(keys: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config("http://x", **keys)


async def test_token_file_beside_the_config_and_never_shown(scantrust: Running, tmp_path: Path,
                                                            closed_port: int) -> None:
    (tmp_path / "uat").write_text(DEMO_TOKEN + "\n", encoding="utf-8")
    backend = config(scantrust.url, token_env=None, token_file=Path("uat"))
    connector = make_connector("print", backend, base_dir=tmp_path)
    assert isinstance(connector, ScantrustConnector)
    answers = [await connector.perform(confirm("4977")), await connector.perform(confirm("4977")),
               await connector.probe()]
    scantrust.sim.set_faults({"status": 500})
    answers.append(await connector.perform(confirm("4978")))
    await connector.aclose()
    offline = make_connector("print", backend.model_copy(update={"base_url": f"http://127.0.0.1:{closed_port}"}),
                             base_dir=tmp_path)
    answers += [await offline.perform(confirm("4978")), await offline.probe()]
    await offline.aclose()
    assert isinstance(answers[0], Confirmed)
    for shown in [repr(connector), str(connector), *map(repr, answers)]:
        assert DEMO_TOKEN not in shown
    assert repr(connector) == f"ScantrustConnector(name='print', base_url='{scantrust.url}')"


# --- probe ---------------------------------------------------------------------------------


async def test_probe_proves_the_token_without_confirming(scantrust: Running, connector) -> None:
    probe = await connector.probe("PRESS1")
    assert (probe.ok, probe.problem, probe.http_status) == (True, "", 404)
    assert "took the token" in probe.message
    assert scantrust.sim.requests()[0]["method"] == "GET" and scantrust.sim.events() == []


async def test_probe_refused_token_unreachable_and_wrong_base_url(scantrust: Running, closed_port: int, canned_server,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "revoked")
    connectors = [ScantrustConnector("print", config(url)) for url in (
        scantrust.url, f"http://127.0.0.1:{closed_port}", canned_server(404, "<h1>nope</h1>").url)]
    probes = [await c.probe() for c in connectors]
    for c in connectors:
        await c.aclose()
    assert [(p.ok, p.problem) for p in probes] == [(False, "token"), (False, "unreachable"), (False, "base_url")]
    assert "Token not accepted" in probes[0].message and INVALID_TOKEN in probes[0].message
    assert "revoked" not in probes[0].message


async def test_base_url_credentials_go_as_basic_auth_and_are_never_shown(closed_port: int) -> None:
    sim = ScantrustSim(token_header="X-Api-Key", token_scheme="")
    with SimServer(sim) as server:
        url = server.url.replace("http://", "http://kiosk:pa%40ss55@")
        answer = await confirm_once(url, token_header="X-Api-Key", token_scheme="")
    assert isinstance(answer, Confirmed)
    headers = sim.requests()[0]["headers"]
    assert headers["authorization"] == "Basic " + base64.b64encode(b"kiosk:pa@ss55").decode()
    assert headers["x-api-key"] == DEMO_TOKEN
    offline = ScantrustConnector("print", config(f"http://kiosk:pa%40ss55@127.0.0.1:{closed_port}",
                                                 token_header="X-Api-Key"))
    shown = [repr(offline), repr(await offline.perform(confirm("4977"))), repr(await offline.probe())]
    await offline.aclose()
    assert not any("ss55" in text for text in shown)
    with pytest.raises(ValueError, match="base_url carries user:password and the token goes in the Authorization"):
        config(url)
