"""The simulator contract, for the Movilitas, Scantrust and Loadings simulators alike.

Each runs as a real HTTP server on loopback and is driven with plain httpx: faults,
``/__sim__/`` endpoints, reset, and ``kiosk simulate VENDOR`` (first stdout line, signals,
data files, refusals).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.simulators import run_simulator
from kiosk.simulators.common import SimBase
from kiosk.simulators.loadings import LoadingsSim
from kiosk.simulators.movilitas import (
    DEMO_CHANNEL_KEY,
    DEMO_TOKEN,
    RELEASE_PATH,
    MovilitasSim,
)
from kiosk.simulators.scantrust import DEMO_TOKEN as SCANTRUST_TOKEN
from kiosk.simulators.scantrust import ScantrustSim
from kiosk.simulators.server import SimServer

http = httpx.Client(timeout=2.0)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


@dataclass(frozen=True)
class Vendor:
    """How to send one request that the vendor's demo data accepts, and what it answers."""

    name: str
    make: Callable[[], SimBase]
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    status: int
    error_key: str
    """A key of the vendor's error body, present in the fault answer."""
    again_status: int
    """The answer to the same request a second time (already done)."""

    def send(self, url: str, timeout: float = 2.0) -> httpx.Response:
        return http.request(self.method, url + self.path, headers=self.headers, json=self.body, timeout=timeout)


VENDORS = [
    Vendor("movilitas", MovilitasSim, "PATCH", RELEASE_PATH,
           {"x-access-token": DEMO_TOKEN, "x-channel-key": DEMO_CHANNEL_KEY}, {"order_id": "Order143"}, 200,
           "message", 409),
    Vendor("scantrust", ScantrustSim, "PATCH", "/api/v2/workorders/4977/printer-confirm/",
           {"Authorization": f"UAT {SCANTRUST_TOKEN}"}, {"substrate": 74, "equipment": 214, "external_id": "x"}, 200,
           "detail", 400),
    Vendor("loadings", LoadingsSim, "POST", "/api/v2.1/loadings", {},
           {"reference": "LD-9", "warehouseId": 7, "type": 1, "loadingDetails": [{"itemUnitId": 1, "quantity": 1}]},
           201, "error_description", 400),
]


@pytest.fixture(params=VENDORS, ids=lambda v: v.name)
def running(request: pytest.FixtureRequest) -> Iterator[tuple[Vendor, SimBase, str]]:
    vendor: Vendor = request.param
    sim = vendor.make()
    with SimServer(sim) as server:
        yield vendor, sim, server.url


def test_the_good_request_is_stored_once_and_refused_the_second_time(running: tuple[Vendor, SimBase, str]) -> None:
    vendor, sim, url = running
    assert vendor.send(url).status_code == vendor.status
    assert len(sim.events()) == 1
    assert vendor.send(url).status_code == vendor.again_status
    assert len(http.get(url + "/__sim__/events").json()) == 1
    assert http.delete(url + "/__sim__/events").json() == []
    assert sim.events() == []


def test_status_fault_answers_n_times_in_the_vendor_shape_without_storing(running: tuple[Vendor, SimBase, str]) -> None:
    vendor, sim, url = running
    state = http.post(url + "/__sim__/faults", json={"status": 503, "count": 2, "retry_after": 2}).json()
    assert (state["status"], state["status_count"], state["retry_after"]) == (503, 2, "2")
    for _ in range(2):
        response = vendor.send(url)
        assert (response.status_code, response.headers["retry-after"]) == (503, "2")
        assert vendor.error_key in response.json()
    assert sim.events() == []
    assert vendor.send(url).status_code == vendor.status
    assert http.get(url + "/__sim__/faults").json()["status_count"] == 0


def test_delay_fault_answers_late_after_storing(running: tuple[Vendor, SimBase, str]) -> None:
    vendor, sim, url = running
    http.post(url + "/__sim__/faults", json={"delay_s": 1.0, "count": 1})
    with pytest.raises(httpx.ReadTimeout):
        vendor.send(url, timeout=0.2)
    assert len(sim.events()) == 1


def test_down_closes_api_connections_but_control_endpoints_answer(running: tuple[Vendor, SimBase, str]) -> None:
    vendor, sim, url = running
    assert http.post(url + "/__sim__/faults", json={"down": True}).json()["down"] is True
    with pytest.raises(httpx.RemoteProtocolError):
        vendor.send(url)
    assert [r["raw_path"] for r in http.get(url + "/__sim__/requests").json()] == [vendor.path]
    assert sim.events() == []
    http.post(url + "/__sim__/faults", json={"down": False})
    assert vendor.send(url).status_code == vendor.status


@pytest.mark.parametrize("clear", ["delete", "reset"])
def test_faults_clear(running: tuple[Vendor, SimBase, str], clear: str) -> None:
    vendor, _, url = running
    http.post(url + "/__sim__/faults", json={"status": 503, "count": 9, "down": True, "delay_s": 5})
    if clear == "delete":
        state = http.delete(url + "/__sim__/faults").json()
    else:
        state = http.post(url + "/__sim__/faults", json={"reset": True}).json()
    assert state == {"status": None, "status_count": 0, "retry_after": None, "delay_s": 0.0, "delay_count": 0,
                     "down": False}
    assert vendor.send(url).status_code == vendor.status


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{nope", "body is not JSON"),
        (b"[1]", "must be a JSON object"),
        (b"{}", "give status, delay_s, down or reset"),
        (b'{"stauts": 503}', "stauts: unknown key"),
        (b'{"status": 503, "count": 0}', "count: Input should be greater than or equal to 1"),
        (b'{"count": 3}', "count needs status or delay_s"),
        (b'{"delay_s": 1, "retry_after": 2}', "retry_after needs status"),
    ],
)
def test_bad_fault_requests_get_a_clear_400(running: tuple[Vendor, SimBase, str], body: bytes, message: str) -> None:
    _, sim, url = running
    response = http.post(url + "/__sim__/faults", content=body)
    assert response.status_code == 400
    assert message in response.json()["details"][0]
    assert sim.faults()["status_count"] == 0


def test_reset_restores_data_events_requests_and_faults(running: tuple[Vendor, SimBase, str]) -> None:
    vendor, sim, url = running
    assert vendor.send(url).status_code == vendor.status
    http.post(url + "/__sim__/faults", json={"status": 500, "count": 3})
    assert http.post(url + "/__sim__/reset").json() == {"reset": True}
    assert (sim.events(), sim.requests(), sim.faults()["status_count"]) == ([], [], 0)
    assert vendor.send(url).status_code == vendor.status


def test_requests_are_recorded_raw_and_control_requests_are_not(running: tuple[Vendor, SimBase, str]) -> None:
    vendor, sim, url = running
    vendor.send(url)
    http.get(url + "/__sim__/events")
    recorded = http.get(url + "/__sim__/requests").json()
    assert [(r["method"], r["raw_path"]) for r in recorded] == [(vendor.method, vendor.path)]
    assert json.loads(recorded[0]["body"]) == vendor.body
    http.delete(url + "/__sim__/requests")
    assert sim.requests() == []


def test_unknown_control_endpoints_and_methods(running: tuple[Vendor, SimBase, str]) -> None:
    _, _, url = running
    assert http.get(url + "/__sim__/nope").status_code == 404
    response = http.put(url + "/__sim__/events")
    assert (response.status_code, response.headers["allow"]) == (405, "DELETE, GET")


# --- kiosk simulate VENDOR ----------------------------------------------------------------


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk", "simulate", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline()


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_kiosk_simulate_prints_where_and_serves_until_signal(vendor: Vendor, sig: signal.Signals) -> None:
    proc, first_line = _start(vendor.name, "--port", "0")
    try:
        match = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", first_line)
        assert match, first_line
        assert vendor.send(match.group(1)).status_code == vendor.status
    finally:
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0
    assert (out, err) == ("", "")


DATA_FILES = {
    "movilitas": 'tokens = ["t"]\nchannel_keys = ["k"]\n[[orders]]\norder_id = "X1"\nquantity = 2\n',
    "scantrust": ('tokens = [{ token = "t" }]\ncompanies = [{ id = 1 }]\nsubstrates = [{ id = 5 }]\n'
                  'equipment = [{ id = 6 }]\n'
                  '[[workorders]]\nid = 77\ncompany = 1\nprinting_partner = 1\nquantity = 1\n'),
    "loadings": ('warehouses = [{ id = 1, reference = "W" }]\n'
                 'item_units = [{ id = 3, item_id = 1, unit_id = 1, available = 1 }]\n'),
}
DATA_REQUESTS = {
    "movilitas": ("PATCH", RELEASE_PATH, {"x-access-token": "t", "x-channel-key": "k"}, {"order_id": "X1"}, 200),
    "scantrust": ("PATCH", "/api/v2/workorders/77/printer-confirm/", {"Authorization": "UAT t"},
                  {"substrate": 5, "equipment": 6}, 200),
    "loadings": ("POST", "/api/v1/loadings", {}, {"reference": "R", "warehouseId": 1, "type": 1,
                                                  "loadingDetails": [{"itemUnitId": 3, "quantity": 1}]}, 201),
}


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_kiosk_simulate_with_a_data_file(tmp_path: Path, vendor: Vendor) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(DATA_FILES[vendor.name], encoding="utf-8")
    proc, first_line = _start(vendor.name, "--port", "0", "--data", str(path))
    try:
        url = first_line.split()[-1]
        method, api_path, headers, body, status = DATA_REQUESTS[vendor.name]
        assert http.request(method, url + api_path, headers=headers, json=body).status_code == status
        assert vendor.send(url).status_code != vendor.status
    finally:
        proc.terminate()
        proc.communicate(timeout=5)
    assert proc.returncode == 0


@pytest.mark.parametrize("vendor", VENDORS, ids=lambda v: v.name)
def test_run_simulator_refuses_a_bad_data_file_with_one_line(
    tmp_path: Path, vendor: Vendor, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("colour = 1\n" + DATA_FILES[vendor.name], encoding="utf-8")
    for data, message in [(bad, f"{bad}: colour: unknown key"),
                          (tmp_path / "missing.toml", "simulator data file not found")]:
        assert run_simulator(vendor.name, 0, data) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.startswith("kiosk simulate: ") and err.count("\n") == 1 and message in err, err


def test_kiosk_simulate_refuses_an_unknown_vendor() -> None:
    result = subprocess.run([sys.executable, "-m", "kiosk", "simulate", "nosuch", "--port", "0"],
                            check=False, capture_output=True, text=True, timeout=30,
                            cwd=Path(__file__).resolve().parents[1])
    assert result.returncode == 2
    assert "invalid choice: 'nosuch'" in result.stderr
    assert "movilitas" in result.stderr and "scantrust" in result.stderr and "loadings" in result.stderr
