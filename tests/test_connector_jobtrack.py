"""JobTrackConnector against the real simulator and tiny canned servers over loopback."""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

import pytest
from conftest import checkin
from hypothesis import given
from hypothesis import strategies as st

from kiosk.connectors import make_connector
from kiosk.connectors.base import Accepted, BadAnswer, Probe, Rejected, Unreachable
from kiosk.connectors.jobtrack import (
    CheckedIn,
    InvalidStationCode,
    JobTrackConfig,
    JobTrackConnector,
    TokenUnavailable,
    parse_retry_after,
    parse_status_time,
    station_segment,
)
from kiosk.simulators.jobtrack import DEMO_CODES, STATIONS_PREFIX, JobTrackSim
from kiosk.simulators.server import SimServer

if TYPE_CHECKING:
    from conftest import RunningSim

TOKEN = "s3cret-t0ken-value"  # same as conftest.JOBTRACK_TOKEN


def backend_for(url: str, **overrides) -> JobTrackConfig:
    return JobTrackConfig(vendor="jobtrack", base_url=url, **overrides)


async def check_in_once(url: str, station: str = "LP", identifier: str = "72544", **overrides):
    connector = JobTrackConnector("jt", backend_for(url, **overrides))
    try:
        return await connector.perform(checkin(station, identifier))
    finally:
        await connector.aclose()


# --- outcomes through the simulator ----------------------------------------------------------


@pytest.mark.parametrize("demo", DEMO_CODES, ids=lambda d: f"{d.code}@{d.station}+{d.operator}")
async def test_demo_codes_give_the_listed_outcome(jobtrack_connector: JobTrackConnector, demo) -> None:
    outcome = await jobtrack_connector.perform(checkin(demo.station, demo.code, demo.operator))
    if demo.accepted:
        assert isinstance(outcome, Accepted)
        assert (outcome.station, outcome.http_status) == (demo.station, 200)
    else:
        assert outcome == Rejected(title=demo.title, details=demo.details, http_status=demo.status)


async def test_accepted_carries_the_event(jobtrack_connector: JobTrackConnector) -> None:
    outcome = await jobtrack_connector.perform(checkin("LP", "337178"))
    assert isinstance(outcome, Accepted)
    assert outcome.status_time is not None
    assert abs(outcome.status_time - datetime.now(UTC)) < timedelta(seconds=5)
    assert outcome == CheckedIn(
        order_number="72544", tray_number="337178", po_number="Example", station="LP",
        station_desc="Lens Processing", customer_desc="Processing", status_time=outcome.status_time,
    )


async def test_both_400_and_404_refusals_are_rejected(jobtrack_connector: JobTrackConnector) -> None:
    not_found = await jobtrack_connector.perform(checkin("LP", "72544", "OP9"))
    non_operator = await jobtrack_connector.perform(checkin("LP", "72544", "BC"))
    assert not_found == Rejected("Checkin not performed", ("Operator not found",), 404)
    assert non_operator == Rejected("Checkin not performed", ("Operator is a non-operator station",), 400)


async def test_body_and_auth_header_sent(jobtrack_sim: RunningSim, jobtrack_connector: JobTrackConnector) -> None:
    await jobtrack_connector.perform(checkin("INSP", "72544", "OP1001"))
    await jobtrack_connector.perform(checkin("LP", "72544"))
    with_op, without_op = jobtrack_sim.sim.requests()
    assert with_op["body"] == '{"order":"72544","operator":"OP1001"}'
    assert without_op["body"] == '{"order":"72544"}'
    assert with_op["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert with_op["headers"]["content-type"] == "application/json"
    assert [e["operator"] for e in jobtrack_sim.sim.events()] == ["OP1001", None]


async def test_configured_field_names_header_and_bare_token(jobtrack_sim: RunningSim, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token\nsecond line ignored\n", encoding="utf-8")
    backend = backend_for(jobtrack_sim.url, token_file=token_file, auth_header="X-Api-Key", auth_scheme="",
                          order_field="job", operator_field="badge")
    connector = JobTrackConnector("jt", backend)
    outcome = await connector.perform(checkin("LP", "72544", "OP1001"))
    await connector.aclose()
    assert outcome == Rejected("Checkin not performed", ("Order not found",), 400)  # the sim expects "order"
    (sent,) = jobtrack_sim.sim.requests()
    assert sent["headers"]["x-api-key"] == "file-token"
    assert "authorization" not in sent["headers"]
    assert sent["body"] == '{"job":"72544","badge":"OP1001"}'


async def test_no_token_source_sends_no_auth_header(jobtrack_sim: RunningSim) -> None:
    assert isinstance(await check_in_once(jobtrack_sim.url), Accepted)
    assert "authorization" not in jobtrack_sim.sim.requests()[0]["headers"]


async def test_keep_alive_uses_one_connection(jobtrack_sim: RunningSim, jobtrack_connector: JobTrackConnector) -> None:
    for _ in range(3):
        await jobtrack_connector.perform(checkin("LP", "72544"))
    assert len(jobtrack_sim.server._server._connections) == 1


async def test_make_connector_builds_jobtrack(jobtrack_backend: Callable[..., JobTrackConfig]) -> None:
    connector = make_connector("main", jobtrack_backend())
    assert isinstance(connector, JobTrackConnector) and connector.vendor == "jobtrack" and connector.name == "main"
    await connector.aclose()


# --- the token -----------------------------------------------------------------------------


def test_missing_env_var_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JT_NOPE", raising=False)
    with pytest.raises(TokenUnavailable, match="environment variable JT_NOPE is not set") as info:
        JobTrackConnector("jt", backend_for("http://127.0.0.1:1", token_env="JT_NOPE"))
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(("content", "message"), [(None, "not found"), ("", "is empty"), ("\n\nx", "is empty")])
def test_bad_token_file_names_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "token.txt"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(TokenUnavailable, match=message) as info:
        JobTrackConnector("jt", backend_for("http://127.0.0.1:1", token_file=path))
    assert str(path) in str(info.value)


def test_token_with_unsendable_characters_is_refused_without_showing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JT_TOKEN", "abc\x1bdéf")
    with pytest.raises(TokenUnavailable) as info:
        JobTrackConnector("jt", backend_for("http://127.0.0.1:1", token_env="JT_TOKEN"))
    assert "abc" not in str(info.value) and "JT_TOKEN" in str(info.value)


async def test_token_never_in_repr_str_or_outcomes(
    jobtrack_sim: RunningSim, jobtrack_connector: JobTrackConnector, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert TOKEN not in repr(jobtrack_connector) and TOKEN not in str(jobtrack_connector)
    assert repr(jobtrack_connector) == f"JobTrackConnector(name='jt', base_url='{jobtrack_sim.url}')"
    jobtrack_sim.sim.set_faults({"status": 500})
    outcomes = [await jobtrack_connector.perform(checkin("LP", "72544")), await jobtrack_connector.probe()]
    monkeypatch.setenv("JT_TOKEN", TOKEN)
    offline = JobTrackConnector("jt", backend_for(f"http://user:pw@127.0.0.1:{closed_port}", token_env="JT_TOKEN",
                                                  auth_header="X-Api-Key"))
    outcomes += [await offline.perform(checkin("LP", "1")), await offline.probe()]
    await offline.aclose()
    assert all(TOKEN not in repr(o) for o in outcomes)
    assert all("pw" not in repr(o) for o in outcomes[2:])
    assert TOKEN not in repr(offline)


# --- the station code in the path ----------------------------------------------------------


@pytest.mark.parametrize("code", ["a/b", "../x", "LP?x=1", "%2e%2e", "LP#1", "L P", "Ä/é", "%", "./.", "lp", "..."])
async def test_station_code_is_one_literal_segment(
    jobtrack_sim: RunningSim, jobtrack_connector: JobTrackConnector, code: str
) -> None:
    outcome = await jobtrack_connector.perform(checkin(code, "72544"))
    assert outcome == Rejected("Checkin not performed", ("Station not found",), 400)
    (request,) = jobtrack_sim.sim.requests()
    raw_path = request["raw_path"]
    assert raw_path.startswith(STATIONS_PREFIX)
    segment = raw_path[len(STATIONS_PREFIX):]
    assert "/" not in segment and "?" not in segment and "#" not in segment
    assert unquote(segment) == code
    assert segment == quote(code, safe="")


@pytest.mark.parametrize("code", ["", ".", ".."])
async def test_unusable_station_codes_raise_before_sending(
    jobtrack_sim: RunningSim, jobtrack_connector: JobTrackConnector, code: str
) -> None:
    with pytest.raises(InvalidStationCode) as info:
        await jobtrack_connector.perform(checkin(code, "72544"))
    assert isinstance(info.value, ValueError)
    assert jobtrack_sim.sim.requests() == []


@given(st.text(min_size=1).filter(lambda s: s not in (".", "..")))
def test_station_segment_round_trips_as_one_unreserved_segment(code: str) -> None:
    try:
        segment = station_segment(code)
    except InvalidStationCode:
        assert any(0xD800 <= ord(ch) <= 0xDFFF for ch in code)  # lone surrogates only
        return
    assert set(segment) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%")
    assert segment not in (".", "..")
    assert unquote(segment, errors="strict") == code


def test_base_url_path_prefix_is_kept() -> None:
    connector = JobTrackConnector("jt", backend_for("https://lab.example.com/rx/"))
    assert connector.station_url("a/b").raw_path == b"/rx/api/v2/job_track/stations/a%2Fb"
    assert str(connector.station_url("%2e%2e")) == "https://lab.example.com/rx/api/v2/job_track/stations/%252e%252e"


# --- answers the kiosk cannot use ----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "headers", "message"),
    [
        (200, "OK", {}, ("The job-track server answered HTTP 200 with an answer that is not JSON: OK; "
                         "the check-in may or may not have been recorded")),
        (200, "[1, 2]", {}, "The job-track server answered HTTP 200 with JSON that is not a check-in record: [1, 2]"),
        (201, '"x"', {}, "answered HTTP 201 with JSON that is not a check-in record"),
        (500, "<html>\x1b[31mboom\r\n</html>", {"Content-Type": "text/html"},
         "The job-track server answered HTTP 500 Internal Server Error: <html><ESC>[31mboom<CR><LF></html>"),
        (400, "<p>bad</p>", {}, "answered HTTP 400 Bad Request: <p>bad</p>"),
        (400, '{"message": "x"}', {}, "answered HTTP 400 Bad Request"),
        (404, '{"error": "x", "details": {"a": 1}}', {}, "answered HTTP 404 Not Found"),
        (502, "", {}, "answered HTTP 502 Bad Gateway (empty body)"),
        (302, "", {"Location": "/elsewhere"}, "answered HTTP 302 Found"),
        (409, '{"error": "Conflict", "details": []}', {}, "answered HTTP 409 Conflict"),
    ],
)
async def test_unusable_answers_are_bad_answers(canned_server, status, body, headers, message) -> None:
    server = canned_server(status, body, headers)
    outcome = await check_in_once(server.url)
    assert isinstance(outcome, BadAnswer)
    assert message in outcome.message
    assert outcome.http_status == status
    assert outcome.unknown is (200 <= status < 300)  # a 2xx may have checked the job in
    assert "\x1b" not in outcome.message and "\x1b" not in outcome.excerpt


async def test_long_body_excerpt_is_cut(canned_server) -> None:
    outcome = await check_in_once(canned_server(500, "x" * 5000).url)
    assert outcome.excerpt == "x" * 120 + "…"
    assert outcome.transient


@pytest.mark.parametrize(("status", "retry_after", "expected"),
                         [(429, "7", 7.0), (503, None, None), (503, "soon", None)])
async def test_retry_after_seconds(canned_server, status: int, retry_after: str | None, expected: float | None) -> None:
    headers = {"Retry-After": retry_after} if retry_after else {}
    outcome = await check_in_once(canned_server(status, '{"error": "slow down"}', headers).url)
    assert isinstance(outcome, BadAnswer) and outcome.transient
    assert outcome.retry_after_s == expected


async def test_retry_after_http_date(canned_server) -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    outcome = await check_in_once(canned_server(429, "busy", {"Retry-After": when}).url)
    assert 25 <= outcome.retry_after_s <= 30


def test_parse_retry_after_in_the_past_is_zero() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


@pytest.mark.parametrize(
    ("details", "expected"),
    [(["a", "b"], ("a", "b")), ("one line", ("one line",)), ([1, None, "x"], ("1", "", "x")), (None, ())],
)
async def test_rejected_details_shapes(canned_server, details, expected) -> None:
    import json

    outcome = await check_in_once(canned_server(404, json.dumps({"error": "Nope", "details": details})).url)
    assert outcome == Rejected("Nope", expected, 404)


async def test_accepted_ignores_extra_fields_and_fills_missing(canned_server) -> None:
    body = '{"orderNumber": 72544, "code": "LP", "statusDateTime": "yesterday", "extra": {"x": 1}}'
    outcome = await check_in_once(canned_server(200, body).url)
    assert outcome == CheckedIn(order_number="72544", station="LP", status_time=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T14:07:09.123Z", datetime(2024, 3, 5, 14, 7, 9, 123000, UTC)),
        ("2024-03-05T14:07:09Z", datetime(2024, 3, 5, 14, 7, 9, tzinfo=UTC)),
        ("2024-03-05T14:07:09.1234567891Z", datetime(2024, 3, 5, 14, 7, 9, 123456, UTC)),
        ("2024-03-05T14:07:09.5+02:00", datetime(2024, 3, 5, 12, 7, 9, 500000, UTC)),
        ("2024-03-05T14:07:09-0530", datetime(2024, 3, 5, 19, 37, 9, tzinfo=UTC)),
        ("2024-03-05 14:07:09.12", datetime(2024, 3, 5, 14, 7, 9, 120000, UTC)),
        ("2024-02-30T14:07:09Z", None),
        ("2024-03-05", None),
        ("", None),
        (1709647629, None),
        (None, None),
    ],
)
def test_parse_status_time(text, expected) -> None:
    parsed = parse_status_time(text)
    assert parsed == expected
    if parsed is not None:
        assert parsed.tzinfo is not None


# --- no answer -----------------------------------------------------------------------------


async def test_connection_refused_is_unreachable_not_sent(closed_port: int) -> None:
    outcome = await check_in_once(f"http://127.0.0.1:{closed_port}")
    assert outcome == Unreachable(
        f"Cannot connect to the job-track server at http://127.0.0.1:{closed_port} (connection refused)", sent=False
    )


async def test_read_timeout_is_unreachable_sent_and_the_sim_recorded_it(jobtrack_sim: RunningSim) -> None:
    jobtrack_sim.sim.set_faults({"delay_s": 1.0})
    started = time.monotonic()
    outcome = await check_in_once(jobtrack_sim.url, timeout_s=0.2)
    assert time.monotonic() - started < 0.9
    assert isinstance(outcome, Unreachable) and outcome.sent
    assert outcome.message == (
        f"The job-track server at {jobtrack_sim.url} did not answer within 0.2 s; "
        "the check-in may or may not have been recorded"
    )
    assert [e["order_number"] for e in jobtrack_sim.sim.events()] == ["72544"]


async def test_down_server_is_unreachable_sent(jobtrack_sim: RunningSim, jobtrack_connector: JobTrackConnector) -> None:
    assert isinstance(await jobtrack_connector.perform(checkin("LP", "72544")), Accepted)
    jobtrack_sim.sim.set_faults({"down": True})
    outcome = await jobtrack_connector.perform(checkin("LP", "72544"))
    assert isinstance(outcome, Unreachable) and outcome.sent
    assert "closed the connection without answering" in outcome.message
    jobtrack_sim.sim.set_faults({"down": False})
    assert isinstance(await jobtrack_connector.perform(checkin("LP", "72544")), Accepted)
    assert len(jobtrack_sim.sim.events()) == 2


async def test_injected_503_is_transient_with_retry_after(jobtrack_sim: RunningSim, jobtrack_connector) -> None:
    jobtrack_sim.sim.set_faults({"status": 503, "retry_after": 2})
    outcome = await jobtrack_connector.perform(checkin("LP", "72544"))
    assert isinstance(outcome, BadAnswer)
    assert (outcome.http_status, outcome.retry_after_s, outcome.transient) == (503, 2.0, True)
    assert outcome.message.startswith("The job-track server answered HTTP 503 Service Unavailable: {")


# --- probe ---------------------------------------------------------------------------------


@pytest.fixture
def guarded_sim() -> Iterator[SimServer]:
    """The simulator demanding ``Authorization: Bearer TOKEN``, as the real API would."""
    with SimServer(JobTrackSim(token=TOKEN)) as server:
        yield server


async def probe_once(url: str, station: str | None = "LP", **overrides) -> Probe:
    connector = JobTrackConnector("jt", backend_for(url, **overrides))
    try:
        return await connector.probe(station)
    finally:
        await connector.aclose()


async def test_probe_proves_base_url_token_and_station_and_checks_nothing_in(
    guarded_sim: SimServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JT_TOKEN", TOKEN)
    probe = await probe_once(guarded_sim.url, "LP", token_env="JT_TOKEN")
    assert (probe.ok, probe.problem, probe.http_status) == (True, "", 400)
    assert probe.message.startswith("base URL and token accepted, station 'LP' found")
    assert probe.latency_ms is not None and probe.latency_ms > 0
    app = guarded_sim.app
    assert isinstance(app, JobTrackSim) and app.events() == []
    (sent,) = app.requests()
    assert (sent["method"], sent["raw_path"], json.loads(sent["body"])) == (
        "POST", f"{STATIONS_PREFIX}LP", {"order": ""})


@pytest.mark.parametrize(("token", "words"), [("wrong-token", "HTTP 401 Unauthorized"),
                                               (None, "(no token is configured for this backend)")])
async def test_probe_says_token_refused(guarded_sim: SimServer, monkeypatch: pytest.MonkeyPatch, token, words) -> None:
    overrides = {}
    if token is not None:
        monkeypatch.setenv("JT_TOKEN", token)
        overrides["token_env"] = "JT_TOKEN"
    probe = await probe_once(guarded_sim.url, **overrides)
    assert (probe.ok, probe.problem, probe.http_status) == (False, "token", 401)
    assert probe.message.startswith("token refused: ") and words in probe.message
    assert "wrong-token" not in probe.message


async def test_probe_says_wrong_base_url_for_a_404_on_the_check_in_path(jobtrack_sim: RunningSim) -> None:
    probe = await probe_once(f"{jobtrack_sim.url}/jobtrack")
    assert (probe.ok, probe.problem, probe.http_status) == (False, "base_url", 404)
    assert probe.message.startswith(f"wrong base_url: {jobtrack_sim.url}/jobtrack answered HTTP 404 Not Found")
    assert f"/jobtrack{STATIONS_PREFIX}LP" in probe.message


async def test_probe_says_station_not_found(jobtrack_sim: RunningSim) -> None:
    probe = await probe_once(jobtrack_sim.url, "lp")
    assert (probe.ok, probe.problem) == (False, "station")
    assert probe.message == ("station 'lp' not found: the server answered \"Station not found\" "
                             "(base URL and token are right)")


async def test_probe_server_trouble_and_strange_answers(jobtrack_sim: RunningSim, canned_server) -> None:
    jobtrack_sim.sim.set_faults({"status": 503})
    server_side = await probe_once(jobtrack_sim.url)
    assert (server_side.ok, server_side.problem) == (False, "server") and "HTTP 503" in server_side.message
    html = canned_server(200, "<html>router login</html>", {"Content-Type": "text/html"})
    strange = await probe_once(html.url)
    assert (strange.ok, strange.problem) == (False, "answer")
    assert "not like the job-track check-in API: <html>router login</html>" in strange.message


async def test_probe_not_ok_when_unreachable(closed_port: int, jobtrack_sim: RunningSim) -> None:
    probe = await probe_once(f"http://127.0.0.1:{closed_port}")
    assert (probe.ok, probe.problem, probe.http_status, probe.latency_ms) == (False, "unreachable", None, None)
    assert "connection refused" in probe.message
    jobtrack_sim.sim.set_faults({"down": True})
    assert (await probe_once(jobtrack_sim.url)).problem == "unreachable"


async def test_probe_without_a_station_only_says_whether_the_server_answers(jobtrack_sim: RunningSim) -> None:
    probe = await probe_once(jobtrack_sim.url, None)
    assert probe.ok and "the token and a station were not checked" in probe.message
