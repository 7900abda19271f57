"""The Scantrust simulator over loopback HTTP with plain httpx: printer-confirm and its errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.simulators.common import SimDataError
from kiosk.simulators.scantrust import (
    CODEGEN_DONE,
    CODEGEN_GENERATING,
    CODEGEN_NEW,
    DEMO_CODES,
    DEMO_DATA_PATH,
    DEMO_EQUIPMENT,
    DEMO_EXTERNAL_ID,
    DEMO_SUBSTRATE,
    DEMO_TOKEN,
    DEMO_VIEW_TOKEN,
    FIELD_NULL,
    FIELD_REQUIRED,
    INVALID_TOKEN,
    NO_CREDENTIALS,
    NO_PERMISSION,
    NOT_FOUND,
    ScantrustSim,
    already_confirmed,
    demo_data,
    load_sim_data,
)
from kiosk.simulators.server import SimServer

# The keys of the document's printer-confirm example answer.
DOCUMENT_KEYS = {
    "id", "company", "printing_partner", "equipment", "state", "due_date", "reference", "creation_date",
    "code_layout", "use_serial_number", "static_unique_codes_quantity", "quantity", "is_ready_to_print",
    "date_codes_completed", "is_archived", "codegen_status", "codegen_file", "data", "product", "brand", "remarks",
    "printed_date", "has_secure_workflow", "static_impositions", "designer", "external_id",
    "is_fingerprint_trained", "substrate", "template", "template_image", "is_hybrid", "is_static_print",
    "is_fp_serialized", "url_prefix", "extended_id_style", "partner_permissions",
}
BODY = {"substrate": DEMO_SUBSTRATE, "equipment": DEMO_EQUIPMENT, "external_id": DEMO_EXTERNAL_ID}

http = httpx.Client(timeout=2.0)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sim(clock: Clock) -> Iterator[tuple[ScantrustSim, str]]:
    app = ScantrustSim(clock=clock)
    with SimServer(app) as server:
        yield app, server.url


def confirm(url: str, workorder: str | int, body: Any = None, token: str = DEMO_TOKEN,
            headers: dict[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
    headers = {"Authorization": f"UAT {token}"} if headers is None else headers
    path = f"{url}/api/v2/workorders/{workorder}/printer-confirm/"
    if content is not None:
        return http.patch(path, headers=headers, content=content)
    return http.patch(path, headers=headers, json=BODY if body is None else body)


def show(url: str, workorder: str | int, token: str = DEMO_TOKEN) -> httpx.Response:
    return http.get(f"{url}/api/v2/workorders/{workorder}/", headers={"Authorization": f"UAT {token}"})


# --- demo codes and the confirmation -----------------------------------------------------


def test_demo_codes_work_as_one_session_in_listed_order(sim: tuple[ScantrustSim, str]) -> None:
    app, url = sim
    for demo in DEMO_CODES:
        response = confirm(url, demo.code, BODY | {"substrate": demo.substrate}, token=demo.token)
        assert response.status_code == demo.status, demo
        body = response.json()
        if demo.status == 200:
            assert (body["state"], body["codegen_status"]) == (demo.expected, demo.codegen_status), demo
        else:
            assert demo.expected in (body.get("detail"), *body.get("substrate", [])), (demo, body)
    assert len(app.events()) == sum(d.status == 200 for d in DEMO_CODES)


@pytest.mark.parametrize("demo", [d for d in DEMO_CODES if d.expected != already_confirmed(4977)],
                         ids=lambda d: f"{d.code}-{d.status}")
def test_each_demo_code_answers_as_listed_on_fresh_data(sim: tuple[ScantrustSim, str], demo) -> None:
    response = confirm(sim[1], demo.code, BODY | {"substrate": demo.substrate}, token=demo.token)
    assert response.status_code == demo.status


def test_demo_toml_comment_table_lists_every_demo_code() -> None:
    header = DEMO_DATA_PATH.read_text(encoding="utf-8").split("tokens =")[0]
    for demo in DEMO_CODES:
        assert re.search(rf"^#\s+{demo.code}\s+{demo.status}\s+", header, re.MULTILINE), demo


def test_confirm_answers_the_work_order_in_the_document_shape(sim: tuple[ScantrustSim, str]) -> None:
    _, url = sim
    before = show(url, 4977).json()
    assert (before["state"], before["codegen_status"], before["equipment"], before["substrate"]) == (
        "new", 1, None, None)
    body = confirm(url, 4977).json()
    assert set(body) == DOCUMENT_KEYS
    assert body["id"] == 4977
    assert body["equipment"] == {"id": 214, "name": "HP Indigo 6K"}
    assert body["substrate"] == {"id": 74, "name": "Coated label stock", "description": "calibrated for the SG"}
    assert body["external_id"] == "tk_001"
    assert (body["state"], body["codegen_status"], body["is_ready_to_print"]) == ("completed", CODEGEN_DONE, True)
    assert body["codegen_file"] == "/media/workorders/4977/codes.zip"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", body["date_codes_completed"])
    assert body["company"] == {"id": 339, "name": "Acme Brands"}
    assert body["printing_partner"] == {"id": 346, "name": "Print Partner Ltd"}
    assert show(url, 4977).json() == body
    [event] = http.get(url + "/__sim__/events").json()
    assert event | {"confirmed_at": ""} == {"workorder": 4977, "substrate": 74, "equipment": 214,
                                            "external_id": "tk_001", "confirmed_at": ""}


def test_codegen_goes_from_6_to_4_when_its_time_has_come(sim: tuple[ScantrustSim, str], clock: Clock) -> None:
    _, url = sim
    body = confirm(url, 5094).json()
    assert (body["state"], body["codegen_status"], body["codegen_file"], body["is_ready_to_print"]) == (
        "new", CODEGEN_GENERATING, None, False)
    clock.now += 59
    assert show(url, 5094).json()["codegen_status"] == CODEGEN_GENERATING
    assert confirm(url, 5094).json() == {"detail": already_confirmed(5094)}
    clock.now += 1
    done = show(url, 5094).json()
    assert (done["state"], done["codegen_status"], done["is_ready_to_print"]) == ("completed", CODEGEN_DONE, True)
    assert done["codegen_file"] == "/media/workorders/5094/codes.zip"


def test_a_work_order_may_become_ready_to_print(sim: tuple[ScantrustSim, str]) -> None:
    body = confirm(sim[1], 4978).json()
    assert (body["state"], body["codegen_status"], body["is_ready_to_print"]) == ("ready to print", CODEGEN_DONE, True)


def test_work_orders_from_the_data_show_their_codegen_status(sim: tuple[ScantrustSim, str]) -> None:
    url = sim[1]
    assert [show(url, n).json()["codegen_status"] for n in (4979, 4990, 4991)] == [
        CODEGEN_NEW, CODEGEN_DONE, CODEGEN_NEW]


@pytest.mark.parametrize(("sent", "stored"), [({"substrate": "74", "equipment": "214", "external_id": "3"}, "3"),
                                              ({"substrate": 74, "equipment": 214, "external_id": 3}, "3"),
                                              ({"substrate": 74, "equipment": 214}, "")])
def test_ids_as_digit_strings_and_external_id_as_text(sim: tuple[ScantrustSim, str], sent: dict[str, Any],
                                                      stored: str) -> None:
    body = confirm(sim[1], 4979, sent).json()
    assert (body["substrate"]["id"], body["equipment"]["id"], body["external_id"]) == (74, 214, stored)


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("workorder", ["9999", "0", "abc", "4977x", "-1"])
def test_unknown_work_order(sim: tuple[ScantrustSim, str], workorder: str) -> None:
    response = confirm(sim[1], workorder)
    assert (response.status_code, response.json()) == (404, {"detail": NOT_FOUND})


@pytest.mark.parametrize("headers", [{}, {"Authorization": DEMO_TOKEN}, {"Authorization": f"Bearer {DEMO_TOKEN}"},
                                     {"Authorization": "UAT"}, {"X-Token": DEMO_TOKEN}])
def test_no_credentials(sim: tuple[ScantrustSim, str], headers: dict[str, str]) -> None:
    response = confirm(sim[1], 4977, headers=headers)
    assert (response.status_code, response.json(), response.headers["www-authenticate"]) == (
        401, {"detail": NO_CREDENTIALS}, "UAT")


def test_invalid_token(sim: tuple[ScantrustSim, str]) -> None:
    for headers in ({"Authorization": "UAT revoked"}, {"Authorization": f"uat  {DEMO_TOKEN}x"}):
        response = confirm(sim[1], 4977, headers=headers)
        assert (response.status_code, response.json()) == (401, {"detail": INVALID_TOKEN})
    assert confirm(sim[1], 4977, headers={"Authorization": f"uat  {DEMO_TOKEN}"}).status_code == 200


def test_missing_permission(sim: tuple[ScantrustSim, str]) -> None:
    app, url = sim
    response = confirm(url, 4977, token=DEMO_VIEW_TOKEN)
    assert (response.status_code, response.json()) == (403, {"detail": NO_PERMISSION})
    assert show(url, 4977, token=DEMO_VIEW_TOKEN).json()["state"] == "new"
    assert app.events() == []


def test_missing_permission_wins_over_unknown_work_order(sim: tuple[ScantrustSim, str]) -> None:
    assert confirm(sim[1], 9999, token=DEMO_VIEW_TOKEN).status_code == 403


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"equipment": 214}, {"substrate": [FIELD_REQUIRED]}),
        ({"substrate": None, "equipment": 214}, {"substrate": [FIELD_NULL]}),
        ({"substrate": "abc", "equipment": 214}, {"substrate": ["Incorrect type. Expected pk value, received str."]}),
        ({"substrate": 7.4, "equipment": 214}, {"substrate": ["Incorrect type. Expected pk value, received float."]}),
        ({"substrate": True, "equipment": 214}, {"substrate": ["Incorrect type. Expected pk value, received bool."]}),
        ({"substrate": 99, "equipment": 214}, {"substrate": ['Invalid pk "99" - object does not exist.']}),
        ({"substrate": "99", "equipment": 214}, {"substrate": ['Invalid pk "99" - object does not exist.']}),
        ({"substrate": 74, "equipment": 5}, {"equipment": ['Invalid pk "5" - object does not exist.']}),
        ({}, {"substrate": [FIELD_REQUIRED], "equipment": [FIELD_REQUIRED]}),
        ({"substrate": 74, "equipment": 214, "external_id": {"a": 1}}, {"external_id": ["Not a valid string."]}),
        ({"substrate": 74, "equipment": 214, "external_id": None}, {"external_id": [FIELD_NULL]}),
        ({"substrate": 74, "equipment": 214, "external_id": "x" * 256},
         {"external_id": ["Ensure this field has no more than 255 characters."]}),
    ],
)
def test_bad_substrate_equipment_or_external_id(sim: tuple[ScantrustSim, str], body: dict[str, Any],
                                                errors: dict[str, list[str]]) -> None:
    app, url = sim
    response = confirm(url, 4977, body)
    assert (response.status_code, response.json()) == (400, errors)
    assert show(url, 4977).json()["codegen_status"] == CODEGEN_NEW
    assert app.events() == []


def test_body_not_json_or_not_an_object(sim: tuple[ScantrustSim, str]) -> None:
    url = sim[1]
    response = confirm(url, 4977, content=b"{substrate: 74")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    response = confirm(url, 4977, [74, 214])
    assert (response.status_code, response.json()) == (
        400, {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]})


def test_not_new_work_orders_cannot_be_confirmed(sim: tuple[ScantrustSim, str]) -> None:
    url = sim[1]
    for workorder, state in ((4990, "completed"), (4991, "cancelled")):
        response = confirm(url, workorder)
        assert (response.status_code, response.json()) == (
            400, {"detail": f"Workorder {workorder} is {state} and cannot be confirmed."})


def test_unknown_paths_and_methods(sim: tuple[ScantrustSim, str]) -> None:
    app, url = sim
    auth = {"Authorization": f"UAT {DEMO_TOKEN}"}
    for path in ("/", "/api/v2/workorders/4977/printer-confirm", "/api/v2/workorders/4977/confirm/",
                 "/api/v2/workorders/", "/api/v1/workorders/4977/printer-confirm/"):
        response = http.patch(url + path, headers=auth, json=BODY)
        assert (response.status_code, response.json()) == (404, {"detail": NOT_FOUND}), path
    response = http.post(f"{url}/api/v2/workorders/4977/printer-confirm/", headers=auth, json=BODY)
    assert (response.status_code, response.headers["allow"], response.json()) == (
        405, "PATCH", {"detail": 'Method "POST" not allowed.'})
    assert http.patch(f"{url}/api/v2/workorders/4977/", headers=auth, json=BODY).headers["allow"] == "GET"
    assert app.events() == []


def test_token_header_and_scheme_are_configurable() -> None:
    app = ScantrustSim(token_header="X-ScanTrust-Token", token_scheme="")
    with SimServer(app) as server:
        assert confirm(server.url, 4977, headers={"X-ScanTrust-Token": DEMO_TOKEN}).status_code == 200
        response = confirm(server.url, 4979, headers={"Authorization": f"UAT {DEMO_TOKEN}"})
        assert (response.status_code, "www-authenticate" in response.headers) == (401, False)


# --- data files ----------------------------------------------------------------------------

BASE = 'tokens = [{ token = "t" }]\ncompanies = [{ id = 1 }]\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("companies = []\n", "tokens: required key is missing"),
        (BASE + "[[workorders]]\nid = 1\ncompany = 2\nprinting_partner = 1\nquantity = 1\n",
         "workorders[0].company: unknown company 2"),
        (BASE + "[[workorders]]\nid = 1\ncompany = 1\nprinting_partner = 1\nquantity = 1\nstate = \"lost\"\n",
         "workorders[0].state: Input should be"),
        (BASE + "substrates = [{ id = 3 }, { id = 3 }]\n", "substrates[1].id: id 3 is used twice"),
        (BASE + "[[workorders]]\nid = 1\ncompany = 1\nprinting_partner = 1\n", "workorders[0].quantity: required key"),
    ],
)
def test_bad_data_file_names_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SimDataError) as info:
        load_sim_data(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_demo_data_has_what_the_demo_codes_need() -> None:
    data = demo_data()
    assert {s.id for s in data.substrates} >= {DEMO_SUBSTRATE} and {e.id for e in data.equipment} >= {DEMO_EQUIPMENT}
    assert [t.permissions for t in data.tokens if t.token == DEMO_VIEW_TOKEN] == [["workorder_view"]]
