"""MovilitasConnector against the Movilitas simulator over loopback HTTP, and canned answers."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.connectors import make_connector
from kiosk.connectors.base import Accepted, BadAnswer, DisplayField, Rejected, Request, Unreachable
from kiosk.connectors.movilitas import (
    NO_HTTP,
    RELEASE,
    SERIALS_SHOWN,
    MovilitasConfig,
    MovilitasConnector,
    Released,
    SecretUnavailable,
    settle,
    show,
    step,
)
from kiosk.connectors.registry import plugin_for
from kiosk.simulators.movilitas import (
    BAD_TOKEN,
    DEMO_CHANNEL_KEY,
    DEMO_CODES,
    DEMO_TOKEN,
    NO_CHANNEL_KEY,
    NO_TOKEN,
    NOT_PARSED,
    ORDER_NOT_FOUND,
    RELEASE_PATH,
    VALIDATION_ERROR,
    MovilitasData,
    MovilitasSim,
    PackagingOrder,
)
from kiosk.simulators.server import SimServer

TOKEN_ENV = "KIOSK_TEST_MOVILITAS_TOKEN"
KEY_ENV = "KIOSK_TEST_MOVILITAS_KEY"
STATUS_ADVICE = ("The packaging order is in the status returned by the system and cannot be released. "
                 "The packaging order must be in Pending release status by assigning serials to the packaging order.")


@dataclass
class Running:
    sim: MovilitasSim
    server: SimServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def movilitas() -> Iterator[Running]:
    sim = MovilitasSim()
    with SimServer(sim) as server:
        yield Running(sim, server)


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, DEMO_TOKEN)
    monkeypatch.setenv(KEY_ENV, DEMO_CHANNEL_KEY)


def config(url: str, **overrides: Any) -> MovilitasConfig:
    keys: dict[str, Any] = {"vendor": "movilitas", "base_url": url, "token_env": TOKEN_ENV,
                            "channel_key_env": KEY_ENV, "timeout_s": 2.0}
    keys.update(overrides)
    return MovilitasConfig(**{k: v for k, v in keys.items() if v is not None})


@pytest.fixture
async def connector(movilitas: Running, secrets: None) -> AsyncIterator[MovilitasConnector]:
    built = MovilitasConnector("pack", config(movilitas.url))
    yield built
    await built.aclose()


def release(order: str, station: str = "LINE1", **extra: Any) -> Request:
    return Request(RELEASE.name, station, order, **extra)


def serials_command(station: str = "LINE1") -> Request:
    return Request(RELEASE.name, station, "CMD:SERIALS", command="SERIALS")


async def perform_once(url: str, identifier: str = "Order143", **overrides: Any) -> Any:
    connector = MovilitasConnector("pack", config(url, **overrides))
    try:
        return await connector.perform(release(identifier))
    finally:
        await connector.aclose()


# --- the action ----------------------------------------------------------------------------


def test_action_is_registered_as_not_queueable_and_not_idempotent() -> None:
    plugin = plugin_for("movilitas")
    spec = plugin.actions["release-to-line"]
    assert (spec.verb, spec.queueable, spec.idempotent, spec.commands) == ("released", False, False,
                                                                         frozenset({"SERIALS"}))
    assert plugin.config_model is MovilitasConfig


# --- every demo code, through the simulator ------------------------------------------------


async def test_demo_codes_in_listed_order(movilitas: Running, connector: MovilitasConnector) -> None:
    for demo in DEMO_CODES:
        answer = await connector.perform(release(demo.code))
        if demo.status == 200:
            assert isinstance(answer, Released), demo
            assert len(answer.serials) == demo.serials and answer.http_status == 200
            assert answer.values() == {"order_number": demo.code, "status": "In progress",
                                       "serial_count": str(demo.serials)}
        else:
            assert isinstance(answer, Rejected), demo
            assert (answer.title, answer.http_status) == (demo.message, demo.status)
            expected = STATUS_ADVICE if "is in status" in demo.message else "does not exist in the application"
            assert expected in answer.details[0]
    released = [e["order_id"] for e in movilitas.sim.events()]
    assert released == [d.code for d in DEMO_CODES if d.status == 200]


async def test_success_fields_and_headers(movilitas: Running, connector: MovilitasConnector) -> None:
    answer = await connector.perform(release("Order143"))
    assert isinstance(answer, Accepted)
    assert answer.title == "Packaging order released"
    assert [(f.key, f.label, f.value) for f in answer.fields] == [
        ("order_number", "Packaging order", "Order143"), ("status", "Status", "In progress"),
        ("serial_count", "Serial numbers assigned", "11")]
    (sent,) = movilitas.sim.requests()
    assert (sent["method"], sent["raw_path"]) == ("PATCH", RELEASE_PATH)
    assert json.loads(sent["body"]) == {"order_id": "Order143"}
    assert sent["headers"]["x-access-token"] == DEMO_TOKEN
    assert sent["headers"]["x-channel-key"] == DEMO_CHANNEL_KEY
    assert sent["headers"]["content-type"] == "application/json"
    assert "authorization" not in sent["headers"]
    assert answer.serials == tuple(movilitas.sim.events()[0]["serials"])


async def test_bearer_token_header(movilitas: Running, secrets: None) -> None:
    answer = await perform_once(movilitas.url, token_header="authorization")
    assert isinstance(answer, Released)
    (sent,) = movilitas.sim.requests()
    assert sent["headers"]["authorization"] == f"Bearer {DEMO_TOKEN}"
    assert "x-access-token" not in sent["headers"]


async def test_base_url_path_prefix_is_kept(secrets: None) -> None:
    connector = MovilitasConnector("pack", config("https://api.example.com/tenant/"))
    assert connector.release_url.raw_path == b"/tenant" + RELEASE_PATH.encode()
    await connector.aclose()


# --- the document's errors -----------------------------------------------------------------


async def test_no_token(movilitas: Running, secrets: None) -> None:
    answer = await perform_once(movilitas.url, token_env=None)
    assert isinstance(answer, Rejected)
    assert (answer.title, answer.http_status) == (NO_TOKEN, 401)
    assert answer.details[0].startswith("No authentication token is provided.")
    assert "backends.pack.token_env or token_file: this backend names neither" in answer.details[1]
    assert movilitas.sim.order_status("Order143") == "Pending release"


async def test_bad_token(movilitas: Running, secrets: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "revoked-token")
    answer = await perform_once(movilitas.url)
    assert isinstance(answer, Rejected)
    assert (answer.title, answer.http_status) == (BAD_TOKEN, 401)
    assert answer.details == ("Failed to authenticate the provided token. Double-check if your token has expired or "
                              "has been revoked. Obtain a valid token by generating a static one or by getting a "
                              "dynamic one through Authentication API.",)
    assert "revoked-token" not in repr(answer)


@pytest.mark.parametrize("channel_key", [None, "another-key"])
async def test_missing_or_unknown_channel_key(movilitas: Running, secrets: None, monkeypatch: pytest.MonkeyPatch,
                                              channel_key: str | None) -> None:
    if channel_key:
        monkeypatch.setenv(KEY_ENV, channel_key)
    answer = await perform_once(movilitas.url, channel_key_env=KEY_ENV if channel_key else None)
    assert isinstance(answer, Rejected)
    assert (answer.title, answer.http_status) == (NO_CHANNEL_KEY, 400)
    assert "Edit shopfloor channel panel" in answer.details[0]
    hint = "this backend names neither" in " ".join(answer.details)
    assert hint is (channel_key is None)
    if channel_key is None:
        assert "x-channel-key" not in movilitas.sim.requests()[0]["headers"]


async def test_validation_error_carries_the_vendors_details(movilitas: Running, connector) -> None:
    answer = await connector.perform(release("X" * 101))
    assert isinstance(answer, Rejected)
    assert (answer.title, answer.http_status) == (VALIDATION_ERROR, 400)
    assert answer.details == ("The given data is invalid. It does not follow the required data type or pattern. "
                              "Follow the explanation in the response and correct your data.",
                              '"order_id" length must be less than or equal to 100 characters long')


async def test_body_not_parsed(secrets: None) -> None:
    """A proxy that cuts the body: the simulator's own rules answer, through ``handle()``."""
    sim = MovilitasSim()

    def mangle(request: httpx.Request) -> httpx.Response:
        status, headers, body = sim.handle(request.method, request.url.raw_path.decode(),
                                           {k.lower(): v for k, v in request.headers.items()}, request.content[:-1])
        # A stream, as a real transport gives: the bounded exchange reads the raw stream itself.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    connector = MovilitasConnector("pack", config("http://movilitas.test"), transport=httpx.MockTransport(mangle))
    answer = await connector.perform(release("Order143"))
    await connector.aclose()
    assert isinstance(answer, Rejected)
    assert (answer.title, answer.http_status) == (NOT_PARSED, 400)
    assert answer.details[0].startswith("The syntax of the request body is not correct.")
    assert sim.order_status("Order143") == "Pending release"


async def test_order_ids_are_sent_as_scanned(movilitas: Running, connector: MovilitasConnector) -> None:
    for order in ("order143", "Order143 ", "Order\x1d143"):
        answer = await connector.perform(release(order))
        assert answer == Rejected(ORDER_NOT_FOUND, (
            "The packaging order does not exist in the application with the given order ID. Make sure that the "
            "order exists and that you give the correct ID.",), 404)
    assert [json.loads(r["body"])["order_id"] for r in movilitas.sim.requests()] == [
        "order143", "Order143 ", "Order\x1d143"]


async def test_in_progress_says_what_the_document_says(movilitas: Running, connector: MovilitasConnector) -> None:
    assert isinstance(await connector.perform(release("Order143")), Released)
    again = await connector.perform(release("Order143", station="LINE2"))
    assert again == Rejected("Packaging order Order143 is in status: In progress", (STATUS_ADVICE,), 409)


# --- the last release in the action's state; CMD:SERIALS ---------------------------------


def test_serials_before_any_release_are_answered_locally() -> None:
    result = step({}, serials_command(), 0.0)
    assert result.request is None and result.state == {}
    assert result.reply is not None and (result.reply.outcome, result.reply.title) == ("ignored",
                                                                                      "No serial numbers to show")
    assert "No packaging order has been released at station LINE1 yet." in result.reply.details


async def test_serials_of_the_last_release(movilitas: Running, connector: MovilitasConnector) -> None:
    request = release("Order143")
    passed = step({}, request, 0.0)
    assert passed.request == request and passed.reply is None
    answer = await connector.perform(request)
    assert isinstance(answer, Released)
    state = settle({}, request, answer, 1_700_000_000.0)
    assert json.loads(json.dumps(state)) == state  # journaled as JSON
    refused = await connector.perform(release("Order150"))
    assert settle(state, release("Order150"), refused, 1_700_000_100.0) == state
    sent = len(movilitas.sim.requests())

    shown = step(state, serials_command(), 1_700_000_200.0)
    assert shown.request is None and shown.state == state and shown.reply is not None
    assert (shown.reply.outcome, shown.reply.title) == ("ok", "Serial numbers of the last release")
    values = {f.key: f.value for f in shown.reply.fields}
    assert values == {"order_number": "Order143", "released_at": "2023-11-14T22:13:20+00:00", "serial_count": "11",
                      "serial_list": " ".join(movilitas.sim.events()[0]["serials"])}
    assert show(state) == (DisplayField("last_release", "Last release", "Order143 (11 serial numbers)"),)
    assert show({}) == () and show({"last": "junk"}) == ()
    assert len(movilitas.sim.requests()) == sent  # nothing sent for CMD:SERIALS


async def test_long_serial_lists_are_kept_and_shown_cut(secrets: None) -> None:
    data = MovilitasData(tokens=[DEMO_TOKEN], channel_keys=[DEMO_CHANNEL_KEY],
                         orders=[PackagingOrder(order_id="BIG", quantity=100, extra_percentage=Decimal(5))])
    with SimServer(MovilitasSim(data)) as server:
        connector = MovilitasConnector("pack", config(server.url))
        released = await connector.perform(release("BIG"))
        await connector.aclose()
    assert isinstance(released, Released) and len(released.serials) == 105
    state = settle({}, release("BIG"), released, 0.0)
    assert len(state["last"]["serials"]) == SERIALS_SHOWN
    reply = step(state, serials_command(), 0.0).reply
    assert reply is not None
    listed = {f.key: f.value for f in reply.fields}["serial_list"]
    assert listed.split(" ")[:SERIALS_SHOWN] == list(released.serials[:SERIALS_SHOWN])
    assert listed.endswith(f"… and {105 - SERIALS_SHOWN} more (all of them in Movilitas)")


async def test_serials_command_is_never_sent(connector: MovilitasConnector) -> None:
    with pytest.raises(ValueError, match="answered by the action's step"):
        await connector.perform(serials_command())


def test_params_are_refused_by_the_step() -> None:
    result = step({}, release("Order143", params={"warehouse": "W1"}), 0.0)
    assert result.request is None and result.reply is not None
    assert (result.reply.outcome, result.reply.title) == ("denied", "Profile not usable")
    assert "takes no params (the profile gives: warehouse)" in result.reply.details[0]


async def test_params_are_refused_before_sending_without_the_step(movilitas: Running, connector) -> None:
    answer = await connector.perform(release("Order143", params={"warehouse": "W1"}))
    assert isinstance(answer, Rejected) and answer.http_status == NO_HTTP
    assert "takes no params (the profile gives: warehouse)" in answer.details[0]
    assert movilitas.sim.requests() == []


# --- bodies the document does not show -----------------------------------------------------


@pytest.mark.parametrize(("status", "body", "title", "advice"), [
    (404, "Packaging order not found", ORDER_NOT_FOUND, "does not exist in the application"),
    (400, "Packaging order Order143 is in status: Done\n", "Packaging order Order143 is in status: Done",
     "must be in Pending release status"),
    (401, "no token provided.", "no token provided.", "No authentication token is provided."),
    (422, "Quota exceeded for this channel", "Quota exceeded for this channel", None),
])
async def test_plain_text_refusals(canned_server, secrets: None, status, body, title, advice) -> None:
    answer = await perform_once(canned_server(status, body, {"Content-Type": "text/plain; charset=utf-8"}).url)
    assert isinstance(answer, Rejected)
    assert (answer.title, answer.http_status) == (title, status)
    if advice:
        assert advice in answer.details[0]
    else:
        assert answer.details == ()


async def test_codes_give_the_advice_when_the_wording_differs(canned_server, secrets: None) -> None:
    body = json.dumps({"success": False, "message": "jwt expired", "code": "ERR0000"})
    answer = await perform_once(canned_server(401, body, {"Content-Type": "application/json"}).url)
    assert isinstance(answer, Rejected) and answer.title == "jwt expired"
    assert answer.details[0].startswith("Failed to authenticate the provided token.")


async def test_a_2xx_refusal_is_a_refusal(canned_server, secrets: None) -> None:
    body = json.dumps({"success": False, "message": "Packaging order not found", "code": None})
    answer = await perform_once(canned_server(200, body).url)
    assert isinstance(answer, Rejected) and (answer.title, answer.http_status) == (ORDER_NOT_FOUND, 200)


@pytest.mark.parametrize(("status", "body", "headers", "message", "unknown"), [
    (200, "OK", {}, "The Movilitas server answered HTTP 200 but not with JSON: OK", True),
    (200, '{"success": true}', {}, "answered HTTP 200 with JSON that is not a release answer", True),
    (200, '{"success": true, "data": [{"serial": 1}]}', {}, "with JSON that is not a release answer", True),
    (404, "<html>\x1b[31mnot here</html>", {"Content-Type": "text/html"},
     "answered HTTP 404 Not Found: <html><ESC>[31mnot here</html>", False),
    (400, '{"error": "x"}', {}, "answered HTTP 400 Bad Request", False),
    (302, "", {"Location": "/login"}, "answered HTTP 302 Found (empty body)", False),
])
async def test_unusable_answers(canned_server, secrets: None, status, body, headers, message, unknown) -> None:
    answer = await perform_once(canned_server(status, body, headers).url)
    assert isinstance(answer, BadAnswer)
    assert message in answer.message
    assert (answer.http_status, answer.unknown, answer.transient) == (status, unknown, False)
    assert "\x1b" not in answer.message


@pytest.mark.parametrize(("status", "retry_after", "expected"), [(503, "7", 7.0), (429, "2", 2.0), (500, None, None)])
async def test_server_errors_are_transient(movilitas: Running, connector, status, retry_after, expected) -> None:
    fault: dict[str, Any] = {"status": status}
    if retry_after:
        fault["retry_after"] = retry_after
    movilitas.sim.set_faults(fault)
    answer = await connector.perform(release("Order143"))
    assert isinstance(answer, BadAnswer) and answer.transient and not answer.unknown
    assert (answer.http_status, answer.retry_after_s) == (status, expected)
    assert "Simulated fault" in answer.message
    assert movilitas.sim.order_status("Order143") == "Pending release"


async def test_an_oversized_answer_is_not_read(canned_server, secrets: None, monkeypatch) -> None:
    monkeypatch.setattr("kiosk.connectors.movilitas.MAX_ANSWER_BYTES", 1000)
    body = json.dumps({"success": True, "message": "Packaging order released", "data": ["S" * 12] * 200})
    answer = await perform_once(canned_server(200, body).url)
    assert isinstance(answer, BadAnswer) and answer.unknown
    assert answer.message == ("The Movilitas server answered HTTP 200 with an answer the kiosk will not read (the "
                              f"answer is {len(body)} bytes long (the limit is 1000)); the order may or may not have "
                              "been released: scan it again to see its status")


# --- no answer ---------------------------------------------------------------------------


async def test_connection_refused_is_unreachable_not_sent(closed_port: int, secrets: None) -> None:
    answer = await perform_once(f"http://127.0.0.1:{closed_port}")
    assert answer == Unreachable(f"Cannot connect to the Movilitas server at http://127.0.0.1:{closed_port} "
                                 "(connection refused)", sent=False)


async def test_late_answer_is_unreachable_sent_and_the_order_was_released(movilitas: Running, secrets: None) -> None:
    movilitas.sim.set_faults({"delay_s": 1.0})
    answer = await perform_once(movilitas.url, timeout_s=0.2)
    assert isinstance(answer, Unreachable) and answer.sent
    assert answer.message.endswith(
        "within 0.2 s; the order may or may not have been released: scan it again to see its status")
    assert movilitas.sim.order_status("Order143") == "In progress"


async def test_down_server_is_unreachable_sent(movilitas: Running, connector: MovilitasConnector) -> None:
    movilitas.sim.set_faults({"down": True})
    answer = await connector.perform(release("Order143"))
    assert isinstance(answer, Unreachable) and answer.sent
    assert "closed the connection without answering" in answer.message


# --- secrets -------------------------------------------------------------------------------


def test_missing_env_var_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    with pytest.raises(SecretUnavailable) as info:
        MovilitasConnector("pack", config("http://127.0.0.1:1"))
    assert info.value.key == "token_env" and f"environment variable {TOKEN_ENV} is not set" in str(info.value)


@pytest.mark.parametrize(("content", "message"), [(None, "not found"), ("", "is empty"), ("a key\n", "cannot carry")])
def test_bad_channel_key_file(tmp_path: Path, secrets: None, content: str | None, message: str) -> None:
    path = tmp_path / "channel.key"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SecretUnavailable, match=message) as info:
        MovilitasConnector("pack", config("http://127.0.0.1:1", channel_key_env=None, channel_key_file=path))
    assert info.value.key == "channel_key_file" and str(path) in str(info.value)
    assert "a key" not in str(info.value) and info.value.advice


def test_one_source_per_secret() -> None:
    with pytest.raises(ValueError, match="give channel_key_env or channel_key_file, not both"):
        config("http://x", channel_key_file="k")
    with pytest.raises(ValueError, match="token_header"):
        config("http://x", token_header="x-api-key")


async def test_files_beside_the_config_and_nothing_secret_shown(movilitas: Running, tmp_path: Path,
                                                                closed_port: int) -> None:
    (tmp_path / "token").write_text(DEMO_TOKEN + "\n", encoding="utf-8")
    (tmp_path / "key").write_text(DEMO_CHANNEL_KEY + "\n", encoding="utf-8")
    backend = MovilitasConfig(vendor="movilitas", base_url=movilitas.url, token_file=Path("token"),
                              channel_key_file=Path("key"))
    connector = make_connector("pack", backend, base_dir=tmp_path)
    assert isinstance(connector, MovilitasConnector)
    answers = [await connector.perform(release("Order143")), await connector.perform(release("Order143")),
               await connector.probe()]
    movilitas.sim.set_faults({"status": 500})
    answers.append(await connector.perform(release("Order144")))
    await connector.aclose()
    offline = make_connector("pack", backend.model_copy(update={"base_url": f"http://127.0.0.1:{closed_port}"}),
                             base_dir=tmp_path)
    answers += [await offline.perform(release("Order144")), await offline.probe()]
    await offline.aclose()
    assert isinstance(answers[0], Released)
    for shown in [repr(connector), str(connector), *map(repr, answers)]:
        assert DEMO_TOKEN not in shown and DEMO_CHANNEL_KEY not in shown
    assert repr(connector) == f"MovilitasConnector(name='pack', base_url='{movilitas.url}')"


# --- probe ---------------------------------------------------------------------------------


async def test_probe_proves_token_and_channel_key_without_releasing(movilitas: Running, connector) -> None:
    probe = await connector.probe("LINE1")
    assert probe.ok and probe.problem == "" and probe.http_status == 400
    assert "took the token and channel key" in probe.message
    assert movilitas.sim.events() == []


@pytest.mark.parametrize(("overrides", "env", "words"), [
    ({}, {TOKEN_ENV: "revoked"}, BAD_TOKEN),
    ({"token_env": None}, {}, NO_TOKEN),
    ({"channel_key_env": None}, {}, NO_CHANNEL_KEY),
])
async def test_probe_names_the_refused_credential(movilitas: Running, secrets: None, monkeypatch, overrides, env,
                                                  words) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    connector = MovilitasConnector("pack", config(movilitas.url, **overrides))
    probe = await connector.probe()
    await connector.aclose()
    assert (probe.ok, probe.problem) == (False, "token")
    assert words in probe.message


async def test_probe_unreachable_and_wrong_base_url(closed_port: int, canned_server, secrets: None) -> None:
    offline = MovilitasConnector("pack", config(f"http://127.0.0.1:{closed_port}"))
    wrong = MovilitasConnector("pack", config(canned_server(404, "<h1>Not Found</h1>",
                                                            {"Content-Type": "text/html"}).url))
    probes = [await offline.probe(), await wrong.probe()]
    await offline.aclose()
    await wrong.aclose()
    assert [(p.ok, p.problem) for p in probes] == [(False, "unreachable"), (False, "base_url")]
    assert "connection refused" in probes[0].message
    assert "not like the Movilitas release API: <h1>Not Found</h1>" in probes[1].message



# --- user:password in base_url -------------------------------------------------------------


async def test_base_url_credentials_go_as_basic_auth_and_are_never_shown(movilitas: Running, secrets: None,
                                                                         closed_port: int) -> None:
    url = movilitas.url.replace("http://", "http://kiosk:pa%40ss55@")
    connector = MovilitasConnector("pack", config(url))
    answer = await connector.perform(release("Order143"))
    await connector.aclose()
    assert isinstance(answer, Released)
    headers = movilitas.sim.requests()[0]["headers"]
    assert headers["authorization"] == "Basic " + base64.b64encode(b"kiosk:pa@ss55").decode()
    assert headers["x-access-token"] == DEMO_TOKEN
    offline = MovilitasConnector("pack", config(f"http://kiosk:pa%40ss55@127.0.0.1:{closed_port}"))
    shown = [repr(connector), repr(offline), repr(await offline.perform(release("Order143"))),
             repr(await offline.probe())]
    await offline.aclose()
    assert not any("ss55" in text for text in shown)
    with pytest.raises(ValueError, match="base_url carries user:password and the token goes in the Authorization"):
        config(url, token_header="authorization")
