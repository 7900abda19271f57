"""The job-track simulator and its HTTP server, driven over loopback with plain httpx."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from kiosk.simulators import run_simulator
from kiosk.simulators.jobtrack import (
    DEMO_CODES,
    DEMO_DATA_PATH,
    FLOW_ERROR,
    NOT_PERFORMED,
    STATIONS_PREFIX,
    JobTrackSim,
    SimData,
    SimDataError,
    load_sim_data,
)
from kiosk.simulators.server import CLOSE_CONNECTION, SimServer

if TYPE_CHECKING:
    from conftest import RunningSim

STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

# One client for the module: building an httpx client per request costs ~50 ms (TLS setup).
http = httpx.Client(timeout=2.0)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


def post(url: str, station: str, body: object, timeout: float = 2.0) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http.post(f"{url}{STATIONS_PREFIX}{station}", content=content, timeout=timeout,
                      headers={"Content-Type": "application/json"})


def check_in(url: str, station: str, order: str, operator: str | None = None) -> httpx.Response:
    body = {"order": order} | ({"operator": operator} if operator else {})
    return post(url, station, body)


def details(response: httpx.Response) -> tuple[str, list[str]]:
    data = response.json()
    return data["error"], data["details"]


@pytest.fixture
def small_sim() -> Iterator[SimServer]:
    data = SimData.model_validate(
        {
            "stations": [{"code": "LP", "desc": "Lens", "customer_desc": "Proc"}, {"code": "OP1", "operator": True}],
            "orders": [
                {"order_number": "1", "tray_number": "T1", "po_number": "PO-A", "state": "completed"},
                {"order_number": "2", "tray_number": "T1", "po_number": "PO-B"},
                {"order_number": "3", "tray_number": "T3", "po_number": "PO-B"},
                {"order_number": "4", "tray_number": "T4", "state": "hold"},
                {"order_number": "5", "tray_number": "1"},
            ],
        }
    )
    with SimServer(JobTrackSim(data)) as server:
        yield server


# --- the rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("demo", DEMO_CODES, ids=lambda d: f"{d.code}@{d.station}+{d.operator}")
def test_demo_code_answers_as_listed(jobtrack_sim: RunningSim, demo) -> None:
    response = check_in(jobtrack_sim.url, demo.station, demo.code, demo.operator)
    assert response.status_code == demo.status
    if demo.accepted:
        event = response.json()
        assert set(event) == {"orderNumber", "trayNumber", "poNumber", "code", "customerDesc", "desc", "statusDateTime"}
        assert event["code"] == demo.station
        assert STAMP.fullmatch(event["statusDateTime"])
        assert len(jobtrack_sim.sim.events()) == 1
    else:
        assert details(response) == (demo.title, list(demo.details))
        assert jobtrack_sim.sim.events() == []


def test_demo_codes_work_as_one_session_in_listed_order(jobtrack_sim: RunningSim) -> None:
    for demo in DEMO_CODES:
        response = check_in(jobtrack_sim.url, demo.station, demo.code, demo.operator)
        assert response.status_code == demo.status, demo
    assert len(jobtrack_sim.sim.events()) == sum(d.accepted for d in DEMO_CODES)


def test_demo_toml_comment_table_lists_every_demo_code() -> None:
    header = DEMO_DATA_PATH.read_text(encoding="utf-8").split("[[stations]]")[0]
    for demo in DEMO_CODES:
        pattern = rf"^#\s+{re.escape(demo.code)}\s+{re.escape(demo.station)}\s+{re.escape(demo.operator or '')}"
        assert re.search(pattern, header, re.MULTILINE), demo


def test_spec_example_succeeds_by_order_tray_and_po(jobtrack_sim: RunningSim) -> None:
    for identifier in ("72544", "337178", "Example"):
        response = check_in(jobtrack_sim.url, "LP", identifier)
        assert response.status_code == 200
        assert response.json() | {"statusDateTime": ""} == {
            "orderNumber": "72544", "trayNumber": "337178", "poNumber": "Example", "code": "LP",
            "customerDesc": "Processing", "desc": "Lens Processing", "statusDateTime": "",
        }


def test_success_records_event_with_operator_and_extends_history(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    assert details(check_in(url, "AR", "109"))[1] == ["Needs Backside Coat!"]
    assert check_in(url, "BC", "209", "OP1002").status_code == 200
    assert details(check_in(url, "QC", "109")) == (FLOW_ERROR, ["Needs AR Coating!"])
    assert check_in(url, "AR", "109").status_code == 200
    assert check_in(url, "QC", "109").status_code == 200
    events = http.get(f"{url}/__sim__/events").json()
    assert [(e["station"], e["order_number"], e["tray_number"], e["operator"]) for e in events] == [
        ("BC", "109", "209", "OP1002"), ("AR", "109", "209", None), ("QC", "109", "209", None),
    ]
    assert all(STAMP.fullmatch(e["statusDateTime"]) for e in events)
    assert http.delete(f"{url}/__sim__/events").json() == []
    assert jobtrack_sim.sim.events() == []


def test_tray_lookup_finds_active_orders_only(small_sim: SimServer) -> None:
    assert check_in(small_sim.url, "LP", "T1").json()["orderNumber"] == "2"
    assert details(check_in(small_sim.url, "LP", "T4"))[1] == ["Order not found"]


def test_order_number_wins_over_tray_number(small_sim: SimServer) -> None:
    assert check_in(small_sim.url, "LP", "1").json() == {"error": NOT_PERFORMED, "details": ["Order already completed"]}


def test_po_lookup_only_when_unique(small_sim: SimServer) -> None:
    assert details(check_in(small_sim.url, "LP", "PO-A"))[1] == ["Order already completed"]
    assert details(check_in(small_sim.url, "LP", "PO-B"))[1] == ["Order not found"]


@pytest.mark.parametrize("station", ["lp", "Lp", "LP ", " LP", "LPX"])
def test_station_code_is_case_sensitive_and_exact(jobtrack_sim: RunningSim, station: str) -> None:
    response = post(jobtrack_sim.url, station.replace(" ", "%20"), {"order": "72544"})
    assert (response.status_code, details(response)[1]) == (400, ["Station not found"])


def test_path_segment_is_decoded_exactly_once(jobtrack_sim: RunningSim) -> None:
    assert post(jobtrack_sim.url, "%4C%50", {"order": "72544"}).status_code == 200
    assert details(post(jobtrack_sim.url, "%254C%2550", {"order": "72544"}))[1] == ["Station not found"]


@pytest.mark.parametrize(
    ("operator", "status", "detail"),
    [("NOPE", 404, "Operator not found"), ("LP", 400, "Operator is a non-operator station"), ("OP1", 200, None)],
)
def test_operator_rules(small_sim: SimServer, operator: str, status: int, detail: str | None) -> None:
    response = check_in(small_sim.url, "LP", "2", operator)
    assert response.status_code == status
    if detail:
        assert details(response)[1] == [detail]


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"order"', b"", b'{"order": ["72544"]}', b"\xff\xfe"])
def test_body_that_is_not_a_usable_json_object(jobtrack_sim: RunningSim, body: bytes) -> None:
    response = post(jobtrack_sim.url, "LP", body)
    assert response.status_code == 400
    assert response.json() == {"error": NOT_PERFORMED, "details": ["Invalid request body"]}


def test_missing_order_field_is_order_not_found_and_integer_order_is_text(jobtrack_sim: RunningSim) -> None:
    assert details(post(jobtrack_sim.url, "LP", {"operator": None}))[1] == ["Order not found"]
    assert post(jobtrack_sim.url, "LP", {"order": 72544}).status_code == 200


def test_field_names_are_configurable() -> None:
    sim = JobTrackSim(order_field="job", operator_field="badge")
    with SimServer(sim) as server:
        assert post(server.url, "INSP", {"job": "72544", "badge": "OP1001"}).status_code == 200
        assert details(post(server.url, "INSP", {"order": "72544"}))[1] == ["Order not found"]
    assert sim.events()[0]["operator"] == "OP1001"


def test_unknown_paths_and_methods(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    for path in ("/", "/api/v2/job_track/stations/", "/api/v2/job_track/stations/LP/x", "/__sim__/nope"):
        response = http.post(url + path, json={"order": "72544"})
        assert response.status_code == 404, path
        assert response.json()["error"] == "Not found"
    response = http.get(url + "/api/v2/job_track/stations/LP")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    assert http.put(url + "/__sim__/events").status_code == 405
    assert jobtrack_sim.sim.events() == []


def test_requests_are_recorded_raw_and_control_requests_are_not(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    post(url, "L%2FP?x=1", {"order": "1"})
    http.get(url + "/__sim__/events")
    recorded = http.get(url + "/__sim__/requests").json()
    assert [(r["method"], r["raw_path"]) for r in recorded] == [("POST", STATIONS_PREFIX + "L%2FP?x=1")]
    assert recorded[0]["headers"]["content-type"] == "application/json"
    assert json.loads(recorded[0]["body"]) == {"order": "1"}
    http.delete(url + "/__sim__/requests")
    assert jobtrack_sim.sim.requests() == []


def test_reset_restores_data_events_requests_and_faults(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    check_in(url, "BC", "109")
    assert check_in(url, "AR", "109").status_code == 200
    http.post(url + "/__sim__/faults", json={"status": 500, "count": 3})
    assert http.post(url + "/__sim__/reset").json() == {"reset": True}
    assert details(check_in(url, "AR", "109"))[1] == ["Needs Backside Coat!"]
    assert len(jobtrack_sim.sim.requests()) == 1
    assert jobtrack_sim.sim.events() == []


# --- faults --------------------------------------------------------------------------------


def test_status_fault_answers_n_times_without_checking_in(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    state = http.post(url + "/__sim__/faults", json={"status": 503, "count": 2, "retry_after": 2}).json()
    assert (state["status"], state["status_count"], state["retry_after"]) == (503, 2, "2")
    for _ in range(2):
        response = check_in(url, "LP", "72544")
        assert (response.status_code, response.headers["retry-after"]) == (503, "2")
        assert response.json()["error"] == "Simulated fault"
    assert jobtrack_sim.sim.events() == []
    assert check_in(url, "LP", "72544").status_code == 200
    assert http.get(url + "/__sim__/faults").json()["status_count"] == 0


def test_delay_fault_answers_late_after_recording(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    http.post(url + "/__sim__/faults", json={"delay_s": 1.0, "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{url}{STATIONS_PREFIX}LP", json={"order": "72544"}, timeout=0.2)
    assert [e["order_number"] for e in jobtrack_sim.sim.events()] == ["72544"]
    started = time.monotonic()
    assert check_in(url, "LP", "72544").status_code == 200
    assert time.monotonic() - started < 0.5


def test_status_and_delay_combine(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    http.post(url + "/__sim__/faults", json={"status": 500, "delay_s": 0.3})
    started = time.monotonic()
    assert check_in(url, "LP", "72544").status_code == 500
    assert time.monotonic() - started >= 0.3
    assert jobtrack_sim.sim.events() == []


def test_down_closes_api_connections_but_control_endpoints_answer(jobtrack_sim: RunningSim) -> None:
    url = jobtrack_sim.url
    assert http.post(url + "/__sim__/faults", json={"down": True}).json()["down"] is True
    with pytest.raises(httpx.RemoteProtocolError):
        check_in(url, "LP", "72544")
    assert http.get(url + "/__sim__/faults").json()["down"] is True
    assert [r["raw_path"] for r in http.get(url + "/__sim__/requests").json()] == [STATIONS_PREFIX + "LP"]
    http.post(url + "/__sim__/faults", json={"down": False})
    assert check_in(url, "LP", "72544").status_code == 200


@pytest.mark.parametrize("clear", ["delete", "reset"])
def test_faults_clear(jobtrack_sim: RunningSim, clear: str) -> None:
    url = jobtrack_sim.url
    http.post(url + "/__sim__/faults", json={"status": 503, "count": 9, "down": True, "delay_s": 5})
    if clear == "delete":
        state = http.delete(url + "/__sim__/faults").json()
    else:
        state = http.post(url + "/__sim__/faults", json={"reset": True}).json()
    assert state == {"status": None, "status_count": 0, "retry_after": None, "delay_s": 0.0, "delay_count": 0,
                     "down": False}
    assert check_in(url, "LP", "72544").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "body is not JSON"),
        (b"[1]", "must be a JSON object"),
        (b"{}", "give status, delay_s, down or reset"),
        (b'{"stauts": 503}', "stauts: unknown key"),
        (b'{"status": 99}', "status: Input should be greater than or equal to 100"),
        (b'{"status": 503, "count": 0}', "count: Input should be greater than or equal to 1"),
        (b'{"count": 3}', "count needs status or delay_s"),
        (b'{"delay_s": 1, "retry_after": 2}', "retry_after needs status"),
        (b'{"down": "maybe"}', "down: Input should be a valid boolean"),
    ],
)
def test_bad_fault_requests_get_a_clear_400(jobtrack_sim: RunningSim, body: bytes, message: str) -> None:
    response = http.post(jobtrack_sim.url + "/__sim__/faults", content=body)
    assert response.status_code == 400
    assert message in response.json()["details"][0]
    assert jobtrack_sim.sim.faults()["status_count"] == 0


# --- data files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[stations]]\ncode = "LP"\ncolour = "red"\n', "stations[0].colour: unknown key"),
        ('[[stations]]\ndesc = "x"\n', "stations[0].code: required key is missing"),
        ('[[stations]]\ncode = "LP"\n[[stations]]\ncode = "LP"\n', "stations[1].code: station code 'LP' is used twice"),
        ('[[stations]]\ncode = "A"\nrequires = [{station = "B", message = "m"}]\n',
         "stations[0].requires[0].station: unknown station 'B'"),
        ('[[stations]]\ncode = "A"\n[[orders]]\norder_number = "1"\nstate = "lost"\n',
         "orders[0].state: Input should be"),
        ('[[stations]]\ncode = "A"\n[[orders]]\norder_number = "1"\n[[orders]]\norder_number = "1"\n',
         "orders[1].order_number: order number '1' is used twice"),
        ("stations = [\n", "not valid TOML"),
        ("", "stations: required key is missing"),
    ],
)
def test_bad_data_file_names_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SimDataError) as info:
        load_sim_data(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_data_file(tmp_path: Path) -> None:
    with pytest.raises(SimDataError, match="simulator data file not found"):
        load_sim_data(tmp_path / "nope.toml")


def test_demo_data_has_one_code_for_every_rule() -> None:
    data = load_sim_data(DEMO_DATA_PATH)
    assert {s.code for s in data.stations} >= {"LP", "BC", "INSP", "OP1001"}
    seen = {d.details[0] for d in DEMO_CODES if not d.accepted}
    assert seen >= {
        "Station not found", "Order not found", "Operator not found", "Operator is a non-operator station",
        "Station requires an operator", "Station is an operator", "Order already completed", "Order deleted",
        "Order on hold", "Order un-valid", "Needs Backside Coat!",
    }


# --- the generic server --------------------------------------------------------------------


class EchoApp:
    def handle(self, method, raw_path, headers, body):
        if raw_path == "/close":
            return CLOSE_CONNECTION
        if raw_path == "/boom":
            raise RuntimeError("kaput")
        payload = json.dumps({"method": method, "path": raw_path, "x": headers.get("x-test"), "len": len(body)})
        return 201, {"Content-Type": "application/json"}, payload.encode()


def test_server_passes_raw_requests_and_keeps_connections_alive() -> None:
    with SimServer(EchoApp()) as server, httpx.Client(base_url=server.url) as client:
        assert server.url == f"http://127.0.0.1:{server.port}"
        first = client.post("/a%2Fb?q=1", content=b"12345", headers={"X-Test": "yes"})
        assert (first.status_code, first.json()) == (
            201, {"method": "POST", "path": "/a%2Fb?q=1", "x": "yes", "len": 5})
        assert client.head("/h").content == b""
        assert client.get("/boom").status_code == 500
        assert client.get("/x").http_version == "HTTP/1.1"
        assert len(server._server._connections) == 1
        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/close")


def test_stop_returns_promptly_with_an_idle_keep_alive_connection() -> None:
    server = SimServer(EchoApp()).start()
    client = httpx.Client()
    client.get(server.url + "/x")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 1
    client.close()


def test_stop_wakes_a_delayed_answer(jobtrack_sim: RunningSim) -> None:
    jobtrack_sim.sim.set_faults({"delay_s": 30})
    with pytest.raises(httpx.ReadTimeout):
        http.post(f"{jobtrack_sim.url}{STATIONS_PREFIX}LP", json={"order": "72544"}, timeout=0.1)
    started = time.monotonic()
    jobtrack_sim.server.stop()
    assert time.monotonic() - started < 1


# --- run_simulator (the `kiosk simulate` body) ---------------------------------------------


def _start_cli(*args: str) -> tuple[subprocess.Popen[str], str]:
    code = ("import sys; from pathlib import Path; from kiosk.simulators import run_simulator; "
            f"sys.exit(run_simulator(*{args!r}))")
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_run_simulator_serves_until_signal(sig: signal.Signals) -> None:
    proc, first_line = _start_cli("jobtrack", 0)
    try:
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", first_line)
        assert match, first_line
        assert check_in(match.group(1), "LP", "72544").status_code == 200
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert (out, err) == ("", "")


def test_run_simulator_with_a_data_file(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    path.write_text('[[stations]]\ncode = "S1"\n[[orders]]\norder_number = "9"\n', encoding="utf-8")
    proc, first_line = _start_cli("jobtrack", 0, str(path))
    try:
        url = first_line.split()[-1]
        assert check_in(url, "S1", "9").status_code == 200
        assert details(check_in(url, "LP", "72544"))[1] == ["Station not found"]
    finally:
        proc.terminate()
        proc.communicate(timeout=5)
    assert proc.returncode == 0


def test_run_simulator_refuses_bad_input_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[stations]]\ncode = "A"\nwho = 1\n', encoding="utf-8")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cases = [
            (("acme", 0, None), "no simulator for vendor 'acme' (known: jobtrack, "),
            (("jobtrack", 0, bad), f"{bad}: stations[0].who: unknown key"),
            (("jobtrack", 0, tmp_path / "missing.toml"), "simulator data file not found"),
            (("jobtrack", busy.getsockname()[1], None), f"port {busy.getsockname()[1]} is already in use"),
            (("jobtrack", 70000, None), "port 70000 is not a TCP port number"),
        ]
        for args, message in cases:
            assert run_simulator(*args) == 2
            out, err = capsys.readouterr()
            assert out == ""
            assert err.startswith("kiosk simulate: ") and err.count("\n") == 1 and message in err, err


def test_a_token_guarded_simulator_refuses_requests_without_the_token() -> None:
    with SimServer(JobTrackSim(token="t0k", auth_header="X-Api-Key", auth_scheme="")) as server:
        url = f"{server.url}{STATIONS_PREFIX}LP"
        missing = http.post(url, json={"order": "72544"})
        wrong = http.post(url, json={"order": "72544"}, headers={"X-Api-Key": "nope"})
        assert (missing.status_code, wrong.status_code) == (401, 401)
        assert missing.json() == {"error": "Unauthorized", "details": ["Missing or invalid API token"]}
        assert http.post(f"{server.url}/elsewhere", json={}, headers={"X-Api-Key": "nope"}).status_code == 404
        empty = http.post(url, json={"order": ""}, headers={"X-Api-Key": "t0k"})
        assert (empty.status_code, details(empty)) == (400, (NOT_PERFORMED, ["Order not found"]))
        good = http.post(url, json={"order": "72544"}, headers={"X-Api-Key": "t0k"})
        assert good.status_code == 200
        assert [e["order_number"] for e in http.get(f"{server.url}/__sim__/events").json()] == ["72544"]
