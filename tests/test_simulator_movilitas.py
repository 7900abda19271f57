"""The Movilitas simulator over loopback HTTP with plain httpx: every rule of the document."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from kiosk.simulators.common import SimDataError
from kiosk.simulators.movilitas import (
    BAD_TOKEN,
    DEMO_CHANNEL_KEY,
    DEMO_CODES,
    DEMO_DATA_PATH,
    DEMO_TOKEN,
    NO_CHANNEL_KEY,
    NO_TOKEN,
    NOT_PARSED,
    ORDER_NOT_FOUND,
    RELEASE_PATH,
    RELEASED,
    VALIDATION_ERROR,
    MovilitasData,
    MovilitasSim,
    load_sim_data,
    serial_count,
)
from kiosk.simulators.server import SimServer

SERIAL = re.compile(r"[0-9A-Za-z]{12}")
AUTH = {"x-access-token": DEMO_TOKEN, "x-channel-key": DEMO_CHANNEL_KEY}

http = httpx.Client(timeout=2.0)


@pytest.fixture(scope="module", autouse=True)
def _close_http() -> Iterator[None]:
    yield
    http.close()


@pytest.fixture
def sim() -> Iterator[tuple[MovilitasSim, str]]:
    app = MovilitasSim()
    with SimServer(app) as server:
        yield app, server.url


def release(url: str, body: object = None, headers: dict[str, str] | None = None, *, order: str = "Order143",
            content: bytes | None = None) -> httpx.Response:
    if content is None:
        return http.patch(url + RELEASE_PATH, headers=AUTH if headers is None else headers,
                          json={"order_id": order} if body is None else body)
    return http.patch(url + RELEASE_PATH, headers=AUTH if headers is None else headers, content=content)


def refusal(response: httpx.Response) -> tuple[int, str, str | None]:
    body = response.json()
    assert body["success"] is False
    return response.status_code, body["message"], body["code"]


# --- demo codes and the release ----------------------------------------------------------


@pytest.mark.parametrize("demo", [d for d in DEMO_CODES if d.code != "Order143" or d.status == 200],
                         ids=lambda d: d.code)
def test_demo_code_answers_as_listed_on_fresh_data(sim: tuple[MovilitasSim, str], demo) -> None:
    app, url = sim
    response = release(url, order=demo.code)
    assert response.status_code == demo.status
    body = response.json()
    assert body["message"] == demo.message
    if demo.status == 200:
        assert body["success"] is True
        assert len(body["data"]) == demo.serials
        assert all(SERIAL.fullmatch(s) for s in body["data"])
        assert len(app.events()) == 1
    else:
        assert (body["success"], body["code"]) == (False, None)
        assert app.events() == []


def test_demo_codes_work_as_one_session_in_listed_order(sim: tuple[MovilitasSim, str]) -> None:
    app, url = sim
    for demo in DEMO_CODES:
        response = release(url, order=demo.code)
        assert (response.status_code, response.json()["message"]) == (demo.status, demo.message), demo
    assert len(app.events()) == sum(d.status == 200 for d in DEMO_CODES)


def test_demo_toml_comment_table_lists_every_demo_code() -> None:
    header = DEMO_DATA_PATH.read_text(encoding="utf-8").split("tokens =")[0]
    for demo in DEMO_CODES:
        assert re.search(rf"^#\s+{re.escape(demo.code)}\s+{demo.status}\s+", header, re.MULTILINE), demo


def test_release_moves_pending_release_to_in_progress_and_records_the_serials(sim: tuple[MovilitasSim, str]) -> None:
    app, url = sim
    assert app.order_status("Order143") == "Pending release"
    response = release(url)
    assert response.json()["success"] is True and response.json()["message"] == RELEASED
    serials = response.json()["data"]
    assert app.order_status("Order143") == "In progress"
    [event] = http.get(url + "/__sim__/events").json()
    assert event | {"released_at": ""} == {"order_id": "Order143", "status_before": "Pending release",
                                           "status": "In progress", "serials": serials, "released_at": ""}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["released_at"])
    assert refusal(release(url)) == (409, "Packaging order Order143 is in status: In progress", None)


def test_serial_numbers_are_unique_across_orders_and_the_same_on_every_run(sim: tuple[MovilitasSim, str]) -> None:
    _, url = sim
    first = release(url).json()["data"] + release(url, order="Order144").json()["data"]
    assert len(set(first)) == len(first) == 11 + 26
    with SimServer(MovilitasSim()) as again:
        assert release(again.url).json()["data"] == first[:11]


@pytest.mark.parametrize(("quantity", "extra", "count"),
                         [(10, "10", 11), (25, "2.5", 26), (5, "0", 5), (0, "50", 0), (3, "100", 6), (7, "0.01", 8)])
def test_serial_count_is_quantity_plus_extra_rounded_up(quantity: int, extra: str, count: int) -> None:
    assert serial_count(quantity, Decimal(extra)) == count


def test_refusals_change_nothing(sim: tuple[MovilitasSim, str]) -> None:
    app, url = sim
    release(url, headers={})
    release(url, headers={"x-access-token": DEMO_TOKEN})
    release(url, body={"order_id": "Order143", "extra": 1})
    assert app.order_status("Order143") == "Pending release"
    assert app.events() == []
    assert release(url).status_code == 200


# --- the document's error table ----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-channel-key": DEMO_CHANNEL_KEY}, {"x-access-token": "", "x-channel-key": DEMO_CHANNEL_KEY},
     {"Authorization": f"Basic {DEMO_TOKEN}", "x-channel-key": DEMO_CHANNEL_KEY},
     {"Authorization": "Bearer", "x-channel-key": DEMO_CHANNEL_KEY}],
    ids=["none", "channel-only", "empty-token", "basic-scheme", "empty-bearer"],
)
def test_no_token_provided(sim: tuple[MovilitasSim, str], headers: dict[str, str]) -> None:
    assert refusal(release(sim[1], headers=headers)) == (401, NO_TOKEN, "ERR0001")


@pytest.mark.parametrize(
    "headers",
    [{"x-access-token": "expired"}, {"Authorization": "Bearer expired"},
     {"x-access-token": "expired", "Authorization": f"Bearer {DEMO_TOKEN}"}],
    ids=["x-access-token", "bearer", "x-access-token-wins"],
)
def test_failed_to_authenticate_token(sim: tuple[MovilitasSim, str], headers: dict[str, str]) -> None:
    response = release(sim[1], headers=headers | {"x-channel-key": DEMO_CHANNEL_KEY})
    assert refusal(response) == (401, BAD_TOKEN, "ERR0000")


@pytest.mark.parametrize("authorization", [f"Bearer {DEMO_TOKEN}", f"bearer {DEMO_TOKEN}", f"BEARER  {DEMO_TOKEN}"])
def test_token_as_bearer_authorization(sim: tuple[MovilitasSim, str], authorization: str) -> None:
    response = release(sim[1], headers={"Authorization": authorization, "x-channel-key": DEMO_CHANNEL_KEY})
    assert response.status_code == 200


@pytest.mark.parametrize("channel", [None, "", "not-a-channel-key"])
def test_channel_key_missing_or_unknown(sim: tuple[MovilitasSim, str], channel: str | None) -> None:
    headers = {"x-access-token": DEMO_TOKEN} | ({"x-channel-key": channel} if channel is not None else {})
    assert refusal(release(sim[1], headers=headers)) == (400, NO_CHANNEL_KEY, None)


@pytest.mark.parametrize("content", [b"{", b'{"order_id": "Order143",}', b"\xff\xfe", b""])
def test_body_could_not_be_parsed(sim: tuple[MovilitasSim, str], content: bytes) -> None:
    assert refusal(release(sim[1], content=content)) == (400, NOT_PARSED, None)


@pytest.mark.parametrize(
    ("body", "details"),
    [
        ({}, ['"order_id" is required']),
        ([], ['"value" must be of type object']),
        ("Order143", ['"value" must be of type object']),
        ({"order_id": 143}, ['"order_id" must be a string']),
        ({"order_id": None}, ['"order_id" must be a string']),
        ({"order_id": ""}, ['"order_id" is not allowed to be empty']),
        ({"order_id": "x" * 101}, ['"order_id" length must be less than or equal to 100 characters long']),
        ({"order_id": "Order143", "line": 4}, ['"line" is not allowed']),
        ({"orderId": "Order143"}, ['"order_id" is required', '"orderId" is not allowed']),
    ],
)
def test_validation_error_with_details(sim: tuple[MovilitasSim, str], body: object, details: list[str]) -> None:
    response = release(sim[1], body=body)
    assert refusal(response) == (400, VALIDATION_ERROR, None)
    assert response.json()["details"] == details


def test_order_ids_are_exact(sim: tuple[MovilitasSim, str]) -> None:
    for order in ("order143", "Order143 ", "Order1430", "Order14"):
        assert refusal(release(sim[1], order=order)) == (404, ORDER_NOT_FOUND, None)


@pytest.mark.parametrize(("order", "status"), [("Order150", "Open"), ("Order151", "In progress"),
                                               ("Order152", "Suspended"), ("Order153", "Done")])
def test_order_in_another_status_cannot_be_released(sim: tuple[MovilitasSim, str], order: str, status: str) -> None:
    assert refusal(release(sim[1], order=order)) == (409, f"Packaging order {order} is in status: {status}", None)


def test_rules_apply_in_the_documented_order(sim: tuple[MovilitasSim, str]) -> None:
    url = sim[1]
    assert refusal(release(url, headers={"x-access-token": "bad"}, content=b"{"))[1] == BAD_TOKEN
    assert refusal(release(url, headers={}, content=b"{"))[1] == NO_TOKEN
    assert refusal(release(url, headers={"x-access-token": DEMO_TOKEN}, content=b"{"))[1] == NO_CHANNEL_KEY
    assert refusal(release(url, content=b"{"))[1] == NOT_PARSED
    assert refusal(release(url, body={"order_id": 9}))[1] == VALIDATION_ERROR


def test_unknown_paths_and_methods(sim: tuple[MovilitasSim, str]) -> None:
    app, url = sim
    for path in ("/", RELEASE_PATH + "/", "/v1/manufacturer/v2/api/packaging_order/release"):
        response = http.patch(url + path, headers=AUTH, json={"order_id": "Order143"})
        assert refusal(response) == (404, "Not found", None)
    response = http.post(url + RELEASE_PATH, headers=AUTH, json={"order_id": "Order143"})
    assert (response.status_code, response.headers["allow"]) == (405, "PATCH")
    assert app.events() == []


def test_token_and_channel_key_come_from_the_data() -> None:
    data = MovilitasData.model_validate({"tokens": ["t1", "t2"], "channel_keys": ["k"],
                                         "orders": [{"order_id": "A", "quantity": 1}]})
    with SimServer(MovilitasSim(data)) as server:
        demo_token = {"x-access-token": DEMO_TOKEN, "x-channel-key": "k"}
        assert release(server.url, headers=demo_token, order="A").status_code == 401
        data_token = {"Authorization": "Bearer t2", "x-channel-key": "k"}
        assert release(server.url, headers=data_token, order="A").json()["data"]


# --- data files ----------------------------------------------------------------------------

TWICE = ('tokens = ["t"]\nchannel_keys = ["k"]\n'
         '[[orders]]\norder_id = "A"\nquantity = 1\n[[orders]]\norder_id = "A"\nquantity = 2\n')


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('channel_keys = ["k"]\n', "tokens: required key is missing"),
        ('tokens = []\nchannel_keys = ["k"]\n', "tokens: List should have at least 1 item"),
        ('tokens = ["t"]\nchannel_keys = ["k"]\n[[orders]]\norder_id = "A"\nquantity = 1\nstate = "x"\n',
         "orders[0].state: unknown key"),
        ('tokens = ["t"]\nchannel_keys = ["k"]\n[[orders]]\norder_id = "A"\nquantity = 1\nstatus = "Lost"\n',
         "orders[0].status: Input should be"),
        ('tokens = ["t"]\nchannel_keys = ["k"]\n[[orders]]\norder_id = "A"\nquantity = -1\n',
         "orders[0].quantity: Input should be greater than or equal to 0"),
        (TWICE, "orders[1].order_id: order id 'A' is used twice"),
    ],
)
def test_bad_data_file_names_file_and_key(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(SimDataError) as info:
        load_sim_data(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
