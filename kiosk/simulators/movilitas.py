"""The Movilitas.Cloud simulator: release a packaging order to the line, over real HTTP.

``MovilitasSim`` follows ../shared/vendor-docs/movilitas-release-to-line.txt:
``PATCH /v1/manufacturer/v2/api/packaging_order/release_to_line`` with ``{"order_id": ...}``,
the token as ``x-access-token`` or ``Authorization: Bearer <token>``, and ``x-channel-key``.
A packaging order in status "Pending release" moves to "In progress" and the answer lists its
serial numbers: the quantity plus the extra percentage (10 with 10 % gives 11).
``movilitas_demo.toml`` next to this module is the demo data; ``DEMO_CODES`` lists which scan
there gives which answer.

The rules run in this order, the first that applies answers:

=========================================================  ======  ========  ==========
message                                                    status  code      when
=========================================================  ======  ========  ==========
No token provided                                          401     ERR0001   neither header
Failed to authenticate token                               401     ERR0000   unknown token
Channel ID is missing or it needs to be in correct format  400     (null)    missing/unknown key
Request body could not be parsed                           400     (null)    not UTF-8 JSON
Validation error (+ ``details``)                           400     (null)    bad fields
Packaging order not found                                  404     (null)    unknown order id
Packaging order <order_id> is in status: <status>          409     (null)    not Pending release
Packaging order released (+ ``data``: serial numbers)      200     -         success
=========================================================  ======  ========  ==========

Assumptions where the document is silent (the kiosk connector must not rely on them beyond
the body shape and the messages):
- HTTP statuses: the document gives messages and codes only. The statuses above are the
  simulator's choice; a client should read the body, not the status.
- Error body: ``{"success": false, "message": ..., "code": ...}`` (``code`` is null where the
  document's table shows "-"); a validation error adds ``"details": [...]`` because the
  document says the response "includes details about the specific issue". The details use
  Joi's wording (``"order_id" is required``), the validator of the Node stack behind it.
- Both token headers given: ``x-access-token`` is used. An empty header counts as missing; an
  ``Authorization`` header with another scheme than Bearer (case-insensitive) gives no token.
- Channel keys: "missing or not in correct format" also covers a well-formed key that the
  simulator does not know, with the same message.
- Validation is strict like Joi's default: the body must be an object with a non-empty
  string ``order_id`` (at most 100 characters) and no other key. The Content-Type header is
  not checked.
- Order ids are exact and case-sensitive.
- Serial numbers: ``ceil(quantity * (100 + extra_percentage) / 100)`` of them, 12 letters
  and digits like the document's example, unique within the simulator, the same on every run.
- Path routing comes first (unknown path 404, other method 405 with ``Allow: PATCH``), then
  the rules above. A status fault answers ``{"success": false, "message": "Simulated
  fault", "code": "SIMULATED"}``.

``/__sim__/`` endpoints and faults: see ``kiosk.simulators.common``. An event per release:
``{"order_id", "status_before", "status", "serials", "released_at"}``.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, Literal, NamedTuple

from pydantic import Field, model_validator

from kiosk.simulators.common import (
    SimBase,
    Strict,
    clip,
    load_model,
    now_stamp,
    parse_json,
)
from kiosk.simulators.server import Answer, json_answer

RELEASE_PATH = "/v1/manufacturer/v2/api/packaging_order/release_to_line"
DEMO_DATA_PATH = Path(__file__).with_name("movilitas_demo.toml")
DEMO_TOKEN = "movilitas-demo-token"
DEMO_CHANNEL_KEY = "Ky1SpfEXmjj05fW3USBFD3pgoEi9AQ29Atsnj4Zy"
"""The channel key of the document's example request."""

NO_TOKEN = "No token provided"
BAD_TOKEN = "Failed to authenticate token"
NO_CHANNEL_KEY = "Channel ID is missing or it needs to be in correct format"
NOT_PARSED = "Request body could not be parsed"
VALIDATION_ERROR = "Validation error"
ORDER_NOT_FOUND = "Packaging order not found"
RELEASED = "Packaging order released"
PENDING_RELEASE: Final = "Pending release"
IN_PROGRESS: Final = "In progress"
MAX_ORDER_ID = 100
SERIAL_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SERIAL_LENGTH = 12

Status = Literal["Open", "Pending release", "In progress", "Suspended", "Done"]


def wrong_status(order_id: str, status: str) -> str:
    """The document's "Packaging order <order_id> is in status: <status>" message."""
    return f"Packaging order {order_id} is in status: {status}"


def serial_count(quantity: int, extra_percentage: Decimal) -> int:
    """How many serial numbers a release assigns: the quantity plus the extra, rounded up."""
    return math.ceil(Decimal(quantity) * (100 + extra_percentage) / 100)


# --- data model -------------------------------------------------------------------------


class PackagingOrder(Strict):
    order_id: str = Field(min_length=1, max_length=MAX_ORDER_ID)
    status: Status = PENDING_RELEASE
    quantity: int = Field(ge=0, le=100_000)
    extra_percentage: Decimal = Field(Decimal(0), ge=0, le=100)
    product: str = ""


class MovilitasData(Strict):
    tokens: list[str] = Field(min_length=1)
    """Tokens that authenticate (static or dynamic, the simulator does not tell them apart)."""
    channel_keys: list[str] = Field(min_length=1)
    orders: list[PackagingOrder] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_orders(self) -> MovilitasData:
        seen: set[str] = set()
        for i, order in enumerate(self.orders):
            if order.order_id in seen:
                raise ValueError(f"orders[{i}].order_id: order id {order.order_id!r} is used twice")
            seen.add(order.order_id)
        return self


def load_sim_data(path: str | Path) -> MovilitasData:
    """Read and validate simulator data; raise ``SimDataError`` naming the file and key."""
    return load_model(path, MovilitasData)


def demo_data() -> MovilitasData:
    return load_sim_data(DEMO_DATA_PATH)


# --- demo codes ---------------------------------------------------------------------------


class DemoCode(NamedTuple):
    """One scanned packaging order id and what the simulator answers on fresh demo data."""

    code: str
    message: str
    status: int
    serials: int = 0
    """Serial numbers in a success answer."""
    note: str = ""


# Listed in an order that also works as one session on the same (mutating) simulator.
DEMO_CODES: list[DemoCode] = [
    DemoCode("Order143", RELEASED, 200, 11, note="the document's example: 10 plus 10 %"),
    DemoCode("Order143", wrong_status("Order143", IN_PROGRESS), 409, note="released a moment ago"),
    DemoCode("Order144", RELEASED, 200, 26, note="25 plus 2.5 % = 25.625, rounded up"),
    DemoCode("Order145", RELEASED, 200, 5, note="no extra percentage"),
    DemoCode("Order150", wrong_status("Order150", "Open"), 409, note="no serials assigned yet"),
    DemoCode("Order151", wrong_status("Order151", IN_PROGRESS), 409),
    DemoCode("Order152", wrong_status("Order152", "Suspended"), 409),
    DemoCode("Order153", wrong_status("Order153", "Done"), 409),
    DemoCode("Order999", ORDER_NOT_FOUND, 404),
    DemoCode("order143", ORDER_NOT_FOUND, 404, note="order ids are case-sensitive"),
]


# --- the simulator ------------------------------------------------------------------------


def _error(status: int, message: str, code: str | None = None, details: list[str] | None = None,
           headers: dict[str, str] | None = None) -> Answer:
    payload: dict[str, Any] = {"success": False, "message": message, "code": code}
    if details is not None:
        payload["details"] = details
    return json_answer(status, payload, headers)


def _token(headers: dict[str, str]) -> str:
    token = headers.get("x-access-token", "").strip()
    if token:
        return token
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


def _validation_details(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ['"value" must be of type object']
    details = [f'"{clip(str(key))}" is not allowed' for key in payload if key != "order_id"]
    if "order_id" not in payload:
        details.insert(0, '"order_id" is required')
    elif not isinstance(payload["order_id"], str):
        details.insert(0, '"order_id" must be a string')
    elif not payload["order_id"]:
        details.insert(0, '"order_id" is not allowed to be empty')
    elif len(payload["order_id"]) > MAX_ORDER_ID:
        details.insert(0, f'"order_id" length must be less than or equal to {MAX_ORDER_ID} characters long')
    return details


class MovilitasSim(SimBase):
    """The simulated Movilitas.Cloud Manufacturer V2 API as an app for ``SimServer``."""

    def __init__(self, data: MovilitasData | None = None) -> None:
        self._initial = data if data is not None else demo_data()
        super().__init__()

    def _reset_data(self) -> None:
        self._data = self._initial.model_copy(deep=True)
        self._orders = {order.order_id: order for order in self._data.orders}
        self._issued: set[str] = set()

    def order_status(self, order_id: str) -> str | None:
        with self._lock:
            order = self._orders.get(order_id)
            return order.status if order else None

    def _fault_body(self, status: int) -> Any:
        return {"success": False, "message": "Simulated fault", "code": "SIMULATED"}

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        if path != RELEASE_PATH:
            return _error(404, "Not found")
        if method != "PATCH":
            return _error(405, "Method not allowed", headers={"Allow": "PATCH"})
        token = _token(headers)
        if not token:
            return _error(401, NO_TOKEN, "ERR0001")
        if token not in self._data.tokens:
            return _error(401, BAD_TOKEN, "ERR0000")
        if headers.get("x-channel-key", "").strip() not in self._data.channel_keys:
            return _error(400, NO_CHANNEL_KEY)
        parsed, payload = parse_json(body)
        if not parsed:
            return _error(400, NOT_PARSED)
        details = _validation_details(payload)
        if details:
            return _error(400, VALIDATION_ERROR, details=details)
        return self._release(payload["order_id"])

    def _release(self, order_id: str) -> Answer:
        order = self._orders.get(order_id)
        if order is None:
            return _error(404, ORDER_NOT_FOUND)
        if order.status != PENDING_RELEASE:
            return _error(409, wrong_status(order_id, order.status))
        serials = self._new_serials(order_id, serial_count(order.quantity, order.extra_percentage))
        order.status = IN_PROGRESS
        self._record({"order_id": order_id, "status_before": PENDING_RELEASE, "status": IN_PROGRESS,
                      "serials": serials, "released_at": now_stamp()})
        return json_answer(200, {"success": True, "message": RELEASED, "data": serials})

    def _new_serials(self, order_id: str, count: int) -> list[str]:
        serials: list[str] = []
        n = 0
        while len(serials) < count:
            digest = int.from_bytes(hashlib.sha256(f"{order_id}\x00{n}".encode()).digest(), "big")
            n += 1
            serial = ""
            for _ in range(SERIAL_LENGTH):
                digest, index = divmod(digest, len(SERIAL_ALPHABET))
                serial += SERIAL_ALPHABET[index]
            if serial not in self._issued:
                self._issued.add(serial)
                serials.append(serial)
        return serials
