"""The Loadings simulator over loopback HTTP with plain httpx: create, upsert, show, every error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kiosk.simulators.common import SimDataError
from kiosk.simulators.loadings import (
    DEMO_DATA_PATH,
    DEMO_LOADINGS,
    INVALID_PARAM,
    INVALID_PARAM_TYPE,
    INVALID_SERIAL_NUMBER,
    INVALID_SERIAL_STATUS,
    NOT_FOUND,
    NOT_UNIQUE,
    QUANTITY_DESCRIPTION,
    QUANTITY_NOT_AVAILABLE,
    REFERENCE_USED,
    SERIAL_COUNT_DESCRIPTION,
    LoadingsSim,
    bad_type,
    load_sim_data,
    serial_not_new,
    serial_repeated,
)
from kiosk.simulators.server import SimServer

API = "/api/v2.1"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")

http = httpx.Client(timeout=2.0)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture
def sim() -> Iterator[tuple[LoadingsSim, str]]:
    app = LoadingsSim()
    with SimServer(app) as server:
        yield app, server.url


def loading(reference: str = "LD-1", lines: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    body = {"reference": reference, "warehouseId": 7, "type": 1, "reasonId": 2,
            "loadingDetails": lines if lines is not None else [{"itemUnitId": 1, "quantity": 3}]}
    return body | fields


def create(url: str, body: Any = None, content: bytes | None = None) -> httpx.Response:
    if content is not None:
        return http.post(f"{url}{API}/loadings", content=content)
    return http.post(f"{url}{API}/loadings", json=loading() if body is None else body)


def upsert(url: str, reference: str, body: Any) -> httpx.Response:
    return http.post(f"{url}{API}/loadings/reference/{reference}", json=body)


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    assert set(body) == {"error", "error_description"}
    return response.status_code, body["error"], body["error_description"]


# --- demo loadings -------------------------------------------------------------------------


def test_demo_loadings_work_as_one_session_in_listed_order(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    for demo in DEMO_LOADINGS:
        response = upsert(url, demo.reference, demo.body()) if demo.upsert else create(url, demo.body())
        if demo.error:
            assert error(response) == (demo.status, demo.error, demo.description), demo
        else:
            assert (response.status_code, response.json()["reference"]) == (demo.status, demo.reference), demo
    assert len(app.events()) == sum(not d.error for d in DEMO_LOADINGS)
    assert {e["action"] for e in app.events()} == {"create", "insert", "update"}


def test_demo_toml_comment_table_lists_every_demo_loading() -> None:
    header = DEMO_DATA_PATH.read_text(encoding="utf-8").split("organization =")[0]
    for demo in DEMO_LOADINGS:
        lines = " ".join(f"{unit}x{quantity}" + (f" [{' '.join(map(str, serials))}]" if serials else "")
                         for unit, quantity, serials in demo.lines)
        assert re.search(rf"^#\s+{re.escape(demo.reference)}\s+{re.escape(lines)}\s+{demo.status}\s+", header,
                         re.MULTILINE), demo


def test_every_documented_error_code_has_a_demo_loading() -> None:
    assert {d.error for d in DEMO_LOADINGS} >= {NOT_UNIQUE, INVALID_PARAM_TYPE, QUANTITY_NOT_AVAILABLE,
                                                INVALID_SERIAL_NUMBER, INVALID_SERIAL_STATUS, NOT_FOUND}


# --- create and show -----------------------------------------------------------------------


def test_create_answers_the_loading_in_the_document_shape_and_show_finds_it(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    response = create(url)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "reference", "warehouseReference", "warehouse", "warehouseType", "reason", "type",
                         "status", "loadingDetails", "organization", "dateCreated", "lastUpdated"}
    assert body["id"] == 4
    assert (body["reference"], body["warehouseReference"], body["warehouseType"], body["type"], body["status"]) == (
        "LD-1", "VAN-07", "2", "1", "1")
    assert body["warehouse"] == {"id": 7, "reference": "VAN-07", "name": "Van 07", "href": f"{API}/warehouses/7"}
    assert body["reason"] == {"id": 2, "name": "whse transaction", "href": f"{API}/reasons/2"}
    assert body["loadingDetails"] == [{"id": 4001, "itemId": 495, "unitId": 1, "itemUnitId": 1, "quantity": 3,
                                       "serialNumbers": [], "realAvailableQty": None, "availableQty": 37,
                                       "href": f"{API}/loadingDetails/4001"}]
    assert body["organization"] == "entity1"
    assert STAMP.fullmatch(body["dateCreated"]) and body["lastUpdated"] == body["dateCreated"]
    assert http.get(f"{url}{API}/loadings/4").json() == body
    assert http.get(f"{url}{API}/loadings/reference/LD-1").json() == body
    assert app.events() == [{"action": "create", "loading": body}]


def test_show_the_documents_loading_with_the_version_in_its_links(sim: tuple[LoadingsSim, str]) -> None:
    body = http.get(f"{sim[1]}/api/v1.0/loadings/3").json()
    assert (body["reference"], body["warehouse"]["href"], body["loadingDetails"][0]["quantity"]) == (
        "10Crates", "/api/v1.0/warehouses/4", 7)
    assert body["reason"]["href"] == "/api/v1.0/reasons/2"


@pytest.mark.parametrize(("path", "asked"), [("loadings/389", "389"), ("loadings/reference/NOPE", "NOPE"),
                                             ("loadings/abc", "abc"), ("loadings/reference/a%2Fb", "a/b")])
def test_show_unknown_loading(sim: tuple[LoadingsSim, str], path: str, asked: str) -> None:
    response = http.get(f"{sim[1]}{API}/{path}")
    assert error(response) == (404, NOT_FOUND, f"The loading with the id {asked} doesn't exist.")


def test_stock_moves_from_available_to_the_vans_and_back(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    assert (app.available(1), app.van_stock(1)) == (40, 7)
    two_lines = loading("A", [{"itemUnitId": 1, "quantity": 10}, {"itemUnitId": 1, "quantity": 5}])
    assert create(url, two_lines).status_code == 201
    assert (app.available(1), app.van_stock(1)) == (25, 22)
    assert create(url, loading("B", [{"itemUnitId": 1, "quantity": 20}], type=2)).status_code == 201
    assert (app.available(1), app.van_stock(1)) == (45, 2)


def test_quantity_not_available_is_summed_over_lines(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    lines = [{"itemUnitId": 3, "quantity": 2}, {"itemUnitId": 3, "quantity": 2}]
    assert error(create(url, loading("A", lines))) == (400, QUANTITY_NOT_AVAILABLE, QUANTITY_DESCRIPTION)
    assert create(url, loading("A", [{"itemUnitId": 3, "quantity": 3}])).status_code == 201
    assert app.available(3) == 0
    assert error(create(url, loading("B", [{"itemUnitId": 3, "quantity": 1}])))[1] == QUANTITY_NOT_AVAILABLE


def test_unloading_is_checked_against_real_qty_when_given(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    assert error(create(url, loading("U1", [{"itemUnitId": 1, "quantity": 8}], type=2)))[1] == QUANTITY_NOT_AVAILABLE
    response = create(url, loading("U1", [{"itemUnitId": 1, "quantity": 8, "realQty": 8}], type=2))
    assert response.status_code == 201
    assert response.json()["loadingDetails"][0]["realAvailableQty"] == 8
    assert app.van_stock(1) == 0
    assert error(create(url, loading("U2", [{"itemUnitId": 1, "quantity": 3, "realQty": 2}], type=2)))[1] == (
        QUANTITY_NOT_AVAILABLE)


def test_not_unique_reference(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    assert error(create(url, loading("10Crates"))) == (400, NOT_UNIQUE, REFERENCE_USED)
    assert create(url, loading("10crates")).status_code == 201
    assert app.available(1) == 37


# --- serial numbers ------------------------------------------------------------------------


def routers(reference: str, serials: list[Any], quantity: int | None = None, **fields: Any) -> dict[str, Any]:
    count = len(serials) if quantity is None else quantity
    return loading(reference, [{"itemUnitId": 2, "quantity": count, "serialNumbers": serials}], **fields)


def test_van_loading_reserves_serial_numbers(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    body = create(url, routers("R1", [750, "711"])).json()
    assert body["loadingDetails"][0]["serialNumbers"] == [750, 711]
    assert [app.serial_status(s) for s in (750, 711, 712)] == ["reserved", "reserved", "new"]
    assert error(create(url, routers("R2", [711]))) == (400, INVALID_SERIAL_STATUS, serial_not_new(711))


@pytest.mark.parametrize(
    ("serials", "quantity", "expected"),
    [
        ([750], 2, (400, INVALID_SERIAL_NUMBER, SERIAL_COUNT_DESCRIPTION)),
        ([], 1, (400, INVALID_SERIAL_NUMBER, SERIAL_COUNT_DESCRIPTION)),
        ([750, 750], 2, (400, INVALID_SERIAL_NUMBER, serial_repeated(750))),
        ([800], 1, (400, INVALID_SERIAL_NUMBER, "The serial number with id 800 does not belong to item unit 2.")),
        ([2704563], 1, (400, INVALID_SERIAL_STATUS, serial_not_new(2704563))),
        ([2704564], 1, (400, INVALID_SERIAL_STATUS, serial_not_new(2704564))),
        ([1], 1, (404, NOT_FOUND, "The serial number with the id 1 doesn't exist.")),
        (["SN-750"], 1, (400, INVALID_PARAM_TYPE, bad_type("serial number id"))),
        ([7.5], 1, (400, INVALID_PARAM_TYPE, bad_type("serial number id"))),
    ],
)
def test_serial_number_errors_change_nothing(sim: tuple[LoadingsSim, str], serials: list[Any], quantity: int,
                                             expected: tuple[int, str, str]) -> None:
    app, url = sim
    assert error(create(url, routers("R1", serials, quantity))) == expected
    assert (app.available(2), app.serial_status(750), app.events()) == (5, "new", [])


def test_serial_numbers_are_ignored_outside_van_loading(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    depot = create(url, routers("R1", [2704563, 1], 1, warehouseId=4)).json()
    assert depot["loadingDetails"][0]["serialNumbers"] == []
    assert create(url, routers("R2", [2704563], 1, type=2, loadingDetails=[
        {"itemUnitId": 1, "quantity": 1, "serialNumbers": [2704563]}])).status_code == 201
    assert app.serial_status(2704563) == "sold"


# --- upsert ---------------------------------------------------------------------------------


def test_upsert_inserts_then_updates_giving_back_the_old_quantities_and_serials(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    first = upsert(url, "UP-1", routers("UP-1", [750, 711]))
    assert first.status_code == 201
    second = upsert(url, "UP-1", loading("UP-1", [{"itemUnitId": 2, "quantity": 1, "serialNumbers": [711]},
                                                  {"itemUnitId": 1, "quantity": 4}]))
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["dateCreated"] == first.json()["dateCreated"]
    assert (app.available(2), app.available(1)) == (4, 36)
    assert [app.serial_status(s) for s in (750, 711)] == ["new", "reserved"]
    assert [e["action"] for e in app.events()] == ["insert", "update"]
    assert http.get(f"{url}{API}/loadings/reference/UP-1").json() == second.json()


def test_a_refused_update_keeps_the_loading_and_the_stock_as_they_were(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    before = upsert(url, "UP-1", routers("UP-1", [750, 711])).json()
    refused = upsert(url, "UP-1", routers("UP-1", [750, 2704563]))
    assert error(refused) == (400, INVALID_SERIAL_STATUS, serial_not_new(2704563))
    assert (app.available(2), app.serial_status(750), app.serial_status(711)) == (3, "reserved", "reserved")
    assert http.get(f"{url}{API}/loadings/reference/UP-1").json() == before


def test_upsert_takes_the_reference_from_the_url_and_may_rename(sim: tuple[LoadingsSim, str]) -> None:
    _, url = sim
    body = {key: value for key, value in loading().items() if key != "reference"}
    assert upsert(url, "UP%2F1", body).json()["reference"] == "UP/1"
    assert error(upsert(url, "UP%2F1", body | {"reference": "10Crates"})) == (400, NOT_UNIQUE, REFERENCE_USED)
    renamed = upsert(url, "UP%2F1", body | {"reference": "UP-2"})
    assert (renamed.status_code, renamed.json()["reference"]) == (200, "UP-2")
    assert http.get(f"{url}{API}/loadings/reference/UP%2F1").status_code == 404


def test_upsert_updates_the_documents_loading(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    response = upsert(url, "10Crates",
                      loading("10Crates", [{"itemUnitId": 1, "quantity": 10}], warehouseId="entrepotA"))
    assert (response.status_code, response.json()["id"], response.json()["warehouse"]["id"]) == (200, 3, 4)
    assert (app.available(1), app.van_stock(1)) == (37, 10)


# --- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        ({"reference": None}, "reference"),
        ({"reference": ""}, "reference"),
        ({"reference": 12}, "reference"),
        ({"warehouseId": None}, "warehouseId"),
        ({"warehouseId": [7]}, "warehouseId"),
        ({"warehouseId": "VAN-07"}, "warehouseId"),
        ({"type": 3}, "type"),
        ({"type": "loading"}, "type"),
        ({"type": True}, "type"),
        ({"reasonId": "two"}, "reasonId"),
        ({"useExternalId": "yes"}, "useExternalId"),
        ({"loadingDetails": []}, "loadingDetails"),
        ({"loadingDetails": {"itemUnitId": 1, "quantity": 1}}, "loadingDetails"),
        ({"loadingDetails": [1]}, "loadingDetails"),
        ({"loadingDetails": [{"itemUnitId": "crate", "quantity": 1}]}, "itemUnitId"),
        ({"loadingDetails": [{"quantity": 1}]}, "itemUnitId"),
        ({"loadingDetails": [{"itemUnitId": 1, "quantity": 0}]}, "quantity"),
        ({"loadingDetails": [{"itemUnitId": 1, "quantity": "1.5"}]}, "quantity"),
        ({"loadingDetails": [{"itemUnitId": 1, "quantity": 1, "realQty": "x"}]}, "realQty"),
        ({"loadingDetails": [{"itemUnitId": 1, "quantity": 1, "serialNumbers": "750"}]}, "serial number id"),
    ],
)
def test_invalid_param_type(sim: tuple[LoadingsSim, str], change: dict[str, Any], parameter: str) -> None:
    app, url = sim
    assert error(create(url, loading() | change)) == (400, INVALID_PARAM_TYPE, bad_type(parameter))
    assert app.events() == []


def test_missing_parameters_are_invalid_param_type(sim: tuple[LoadingsSim, str]) -> None:
    body = loading()
    del body["type"]
    assert error(create(sim[1], body)) == (400, INVALID_PARAM_TYPE, bad_type("type"))


@pytest.mark.parametrize("content", [b"{", b"[]", b'"x"', b"", b"\xff"])
def test_body_that_is_not_a_json_object(sim: tuple[LoadingsSim, str], content: bytes) -> None:
    assert error(create(sim[1], content=content)) == (400, INVALID_PARAM, "The request body must be a JSON object.")


def test_identifiers_as_digit_strings_and_warehouse_by_reference(sim: tuple[LoadingsSim, str]) -> None:
    url = sim[1]
    body = loading("S1", [{"itemUnitId": "1", "quantity": "2"}], warehouseId="7", type="1", reasonId="2")
    assert create(url, body).json()["warehouse"]["id"] == 7
    response = create(url, loading("S2", warehouseId="VAN-07", useExternalId=True))
    assert (response.status_code, response.json()["warehouse"]["id"]) == (201, 7)
    assert error(create(url, loading("S3", warehouseId="van-07", useExternalId=True)))[2] == (
        "The warehouse with the id van-07 doesn't exist.")


@pytest.mark.parametrize(
    ("change", "description"),
    [
        ({"warehouseId": 707}, "The warehouse with the id 707 doesn't exist."),
        ({"reasonId": 25}, "The reason with the id 25 doesn't exist."),
        ({"reasonId": 9}, "The reason with the id 9 doesn't exist."),
        ({"loadingDetails": [{"itemUnitId": 9, "quantity": 1}]}, "The item unit with the id 9 doesn't exist."),
    ],
)
def test_not_found(sim: tuple[LoadingsSim, str], change: dict[str, Any], description: str) -> None:
    assert error(create(sim[1], loading() | change)) == (404, NOT_FOUND, description)


def test_reason_is_optional(sim: tuple[LoadingsSim, str]) -> None:
    body = loading()
    del body["reasonId"]
    assert create(sim[1], body).json()["reason"] is None


def test_checks_run_in_the_documented_order(sim: tuple[LoadingsSim, str]) -> None:
    url = sim[1]
    assert error(create(url, loading("10Crates", warehouseId=707, type=9)))[1:] == (
        INVALID_PARAM_TYPE, bad_type("type"))
    assert error(create(url, loading("10Crates", warehouseId=707)))[1] == NOT_UNIQUE
    assert error(create(url, loading("X", [{"itemUnitId": 9, "quantity": 999}], warehouseId=707)))[2].startswith(
        "The warehouse")
    assert error(create(url, routers("X", [2704563], 9)))[1] == QUANTITY_NOT_AVAILABLE


def test_unknown_paths_and_methods(sim: tuple[LoadingsSim, str]) -> None:
    app, url = sim
    for path in ("/", "/api", "/api/v2.1", "/api/v2.1/loading", "/api//loadings", f"{API}/loadings/3/x",
                 f"{API}/loadings/reference/", f"{API}/loadings/reference/a/b"):
        assert error(http.post(url + path, json=loading()))[:2] == (404, NOT_FOUND), path
    response = http.put(f"{url}{API}/loadings", json=loading())
    assert (response.status_code, response.headers["allow"], response.json()["error"]) == (
        405, "POST", "method_not_allowed")
    assert http.delete(f"{url}{API}/loadings/reference/10Crates").headers["allow"] == "GET, POST"
    assert http.post(f"{url}{API}/loadings/3", json=loading()).headers["allow"] == "GET"
    assert app.events() == []


# --- data files ----------------------------------------------------------------------------

WAREHOUSE = 'warehouses = [{ id = 1, reference = "W" }]\n'


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "warehouses: required key is missing"),
        (WAREHOUSE + "serial_numbers = [{ id = 1, item_unit = 5 }]\n",
         "serial_numbers[0].item_unit: unknown item unit 5"),
        (WAREHOUSE + "item_units = [{ id = 1, item_id = 1, unit_id = 1, available = -1 }]\n",
         "item_units[0].available: Input should be greater than or equal to 0"),
        (WAREHOUSE + '[[loadings]]\nid = 1\nreference = "A"\nwarehouse = 2\n',
         "loadings[0].warehouse: unknown warehouse 2"),
        (WAREHOUSE + '[[loadings]]\nid = 1\nreference = "A"\nwarehouse = 1\n[[loadings]]\nid = 2\nreference = "A"\n'
         "warehouse = 1\n", "loadings[1].reference: reference 'A' is used twice"),
        ('warehouses = [{ id = 1, reference = "W", type = 3 }]\n', "warehouses[0].type: Input should be 1 or 2"),
    ],
)
def test_bad_data_file_names_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SimDataError) as info:
        load_sim_data(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
