"""The job-track vendor simulator: ``POST /api/v2/job_track/stations/{code}`` over real HTTP.

``JobTrackSim`` follows ../shared/vendor-docs/jobtrack-checkin.txt with the assumptions in
the vendor-docs README (JSON body ``{"order": ..., "operator": ...}`` with configurable field
names, 400 for every refusal except "Operator not found", which answers 404). Its stations
and orders come from a TOML file (``load_sim_data``); ``jobtrack_demo.toml`` next to this
module is the demo data, and ``DEMO_CODES`` lists which scan there triggers which rule.

The rules run in this order, the first that applies answers:
station not found; order not found (order number, then tray number of an active order,
then a PO number held by exactly one order); operator not found (404); operator is a
non-operator station; station requires an operator; station is an operator; order
completed; order deleted; order on hold; order un-valid (unless the station allows it);
job flow (every unmet ``requires`` message, error "Could not complete order").
A success appends the station to the order's history and records the event.

Authentication (the document does not describe it; the kiosk's default is assumed): with
``token`` set, every request to the check-in path needs the header ``auth_header`` carrying
``"{auth_scheme} {token}"`` (the bare token when the scheme is empty), else HTTP 401
``{"error": "Unauthorized", "details": ["Missing or invalid API token"]}``. Paths outside
the API answer 404 whatever the token. Without ``token`` no header is checked (demo, tests).
An empty order identifier never matches an order, so ``kiosk doctor``'s probe (an empty
check-in) is refused "Order not found" or "Station not found" and records nothing.

Test and demo endpoints under ``/__sim__/`` (events: the accepted check-ins; requests;
faults; reset) come from ``kiosk.simulators.common.SimBase``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, NamedTuple, Self
from urllib.parse import unquote

from pydantic import Field, model_validator

from kiosk.simulators.common import SimBase, Strict, load_model, now_stamp
from kiosk.simulators.common import SimDataError as SimDataError  # raised by load_sim_data, for importers
from kiosk.simulators.server import Answer, json_answer

STATIONS_PREFIX = "/api/v2/job_track/stations/"
DEMO_DATA_PATH = Path(__file__).with_name("jobtrack_demo.toml")

NOT_PERFORMED = "Checkin not performed"
FLOW_ERROR = "Could not complete order"
STATION_NOT_FOUND = "Station not found"
ORDER_NOT_FOUND = "Order not found"
OPERATOR_NOT_FOUND = "Operator not found"
OPERATOR_NOT_OPERATOR = "Operator is a non-operator station"
REQUIRES_OPERATOR = "Station requires an operator"
STATION_IS_OPERATOR = "Station is an operator"
ORDER_COMPLETED = "Order already completed"
ORDER_DELETED = "Order deleted"
ORDER_ON_HOLD = "Order on hold"
ORDER_UNVALID = "Order un-valid"
INVALID_BODY = "Invalid request body"
STANDARD_DETAILS = frozenset(
    {
        STATION_NOT_FOUND, ORDER_NOT_FOUND, OPERATOR_NOT_FOUND, OPERATOR_NOT_OPERATOR, REQUIRES_OPERATOR,
        STATION_IS_OPERATOR, ORDER_COMPLETED, ORDER_DELETED, ORDER_ON_HOLD, ORDER_UNVALID, INVALID_BODY,
    }
)


# --- data model -------------------------------------------------------------------------


class Requirement(Strict):
    station: str = Field(min_length=1)
    """The order must have visited this station before."""
    message: str = Field(min_length=1)
    """The job-flow message when it has not."""


class Station(Strict):
    code: str = Field(min_length=1)
    desc: str = ""
    customer_desc: str = ""
    operator: bool = False
    """This station is an operator; its code doubles as the operator's badge."""
    requires_operator: bool = False
    allow_unvalid: bool = False
    requires: list[Requirement] = Field(default_factory=list)


class Order(Strict):
    order_number: str = Field(min_length=1)
    tray_number: str = ""
    po_number: str = ""
    state: Literal["active", "hold", "completed", "deleted"] = "active"
    on_hold: bool = False
    """Also on hold while completed or deleted (tests the order of the rules)."""
    valid: bool = True
    history: list[str] = Field(default_factory=list)
    """Stations the order has already been checked in at."""


class SimData(Strict):
    stations: list[Station] = Field(min_length=1)
    orders: list[Order] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        codes = {s.code for s in self.stations}
        seen: set[str] = set()
        for i, station in enumerate(self.stations):
            if station.code in seen:
                raise ValueError(f"stations[{i}].code: station code {station.code!r} is used twice")
            seen.add(station.code)
            for j, req in enumerate(station.requires):
                if req.station not in codes:
                    raise ValueError(f"stations[{i}].requires[{j}].station: unknown station {req.station!r}")
        seen = set()
        for i, order in enumerate(self.orders):
            if order.order_number in seen:
                raise ValueError(f"orders[{i}].order_number: order number {order.order_number!r} is used twice")
            seen.add(order.order_number)
        return self


def load_sim_data(path: str | Path) -> SimData:
    """Read and validate simulator data; raise ``SimDataError`` naming the file and key."""
    return load_model(path, SimData)


def demo_data() -> SimData:
    return load_sim_data(DEMO_DATA_PATH)


# --- demo codes ---------------------------------------------------------------------------


class DemoCode(NamedTuple):
    """One demo scan and what the simulator answers on fresh demo data."""

    code: str
    station: str
    expected: str
    """"accepted", or the answer's detail lines joined with " / "."""
    operator: str | None = None
    note: str = ""

    @property
    def accepted(self) -> bool:
        return self.expected == "accepted"

    @property
    def details(self) -> tuple[str, ...]:
        return () if self.accepted else tuple(self.expected.split(" / "))

    @property
    def title(self) -> str:
        if self.accepted:
            return ""
        return NOT_PERFORMED if self.details[0] in STANDARD_DETAILS else FLOW_ERROR

    @property
    def status(self) -> int:
        if self.accepted:
            return 200
        return 404 if self.expected == OPERATOR_NOT_FOUND else 400


# Listed in an order that also works as one session on the same (mutating) simulator.
DEMO_CODES: list[DemoCode] = [
    DemoCode("72544", "LP", "accepted", note="order number (the spec's example)"),
    DemoCode("337178", "LP", "accepted", note="tray number of an active order"),
    DemoCode("Example", "LP", "accepted", note="PO number held by one order"),
    DemoCode("7001", "LP", "accepted", note="tray 7001 is on a completed and an active order: the active one"),
    DemoCode("72544", "lp", STATION_NOT_FOUND, note="station codes are case-sensitive"),
    DemoCode("999", "lp", STATION_NOT_FOUND, note="unknown station wins over unknown order"),
    DemoCode("999", "LP", ORDER_NOT_FOUND),
    DemoCode("207", "LP", ORDER_NOT_FOUND, note="tray of a completed order"),
    DemoCode("DUP", "LP", ORDER_NOT_FOUND, note="PO number held by two orders"),
    DemoCode("PO107", "LP", ORDER_COMPLETED, note="a unique PO finds any order, not only active ones"),
    DemoCode("999", "LP", ORDER_NOT_FOUND, operator="OP9", note="unknown order wins over unknown operator"),
    DemoCode("72544", "LP", OPERATOR_NOT_FOUND, operator="OP9", note="answers HTTP 404"),
    DemoCode("72544", "LP", OPERATOR_NOT_OPERATOR, operator="BC"),
    DemoCode("72544", "INSP", OPERATOR_NOT_FOUND, operator="OP9", note="operator checks come first"),
    DemoCode("72544", "INSP", REQUIRES_OPERATOR),
    DemoCode("72544", "INSP", "accepted", operator="OP1001"),
    DemoCode("72544", "OP1001", STATION_IS_OPERATOR),
    DemoCode("102", "OP1001", STATION_IS_OPERATOR, note="station rules come before order rules"),
    DemoCode("102", "LP", ORDER_COMPLETED),
    DemoCode("103", "LP", ORDER_DELETED),
    DemoCode("101", "LP", ORDER_ON_HOLD),
    DemoCode("110", "LP", ORDER_COMPLETED, note="completed and on hold"),
    DemoCode("111", "LP", ORDER_DELETED, note="deleted and on hold"),
    DemoCode("104", "LP", ORDER_UNVALID),
    DemoCode("104", "UV", "accepted", note="station UV allows un-valid orders"),
    DemoCode("112", "LP", ORDER_ON_HOLD, note="on hold and un-valid"),
    DemoCode("109", "AR", "Needs Backside Coat!", note="job flow: AR needs BC first"),
    DemoCode("109", "QC", "Needs Backside Coat! / Needs AR Coating!", note="every unmet step"),
    DemoCode("101", "AR", ORDER_ON_HOLD, note="order rules come before the job flow"),
    DemoCode("108", "AR", "accepted", note="order 108 has been through BC"),
]


# --- the simulator ------------------------------------------------------------------------


def _fail(detail: str, status: int = 400) -> Answer:
    return json_answer(status, {"error": NOT_PERFORMED, "details": [detail]})


def _field_text(value: Any) -> str | None:
    """A body field as text: strings and integers are fine, missing/null is empty, else None."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


class JobTrackSim(SimBase):
    """The simulated job-track server as an app for ``SimServer``; thread-safe.

    Faults, recorded requests and events and the ``/__sim__/`` endpoints come from
    ``SimBase``; a status fault answers without checking in, a delay fault answers late
    after the check-in was recorded.
    """

    def __init__(self, data: SimData | None = None, order_field: str = "order", operator_field: str = "operator",
                 *, token: str | None = None, auth_header: str = "Authorization", auth_scheme: str = "Bearer") -> None:
        self._initial = data if data is not None else demo_data()
        self.order_field = order_field
        self.operator_field = operator_field
        self._auth_header = auth_header.lower()
        self._credential = None if token is None else (f"{auth_scheme} {token}" if auth_scheme else token)
        super().__init__()

    def _reset_data(self) -> None:
        self._data = self._initial.model_copy(deep=True)

    # HTTP

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        segment = path[len(STATIONS_PREFIX):] if path.startswith(STATIONS_PREFIX) else ""
        if not segment or "/" in segment:
            return json_answer(404, {"error": "Not found", "details": [f"No such path: {path}"]})
        if self._credential is not None and headers.get(self._auth_header) != self._credential:
            return json_answer(401, {"error": "Unauthorized", "details": ["Missing or invalid API token"]},
                               {"WWW-Authenticate": "Bearer"})
        if method != "POST":
            return json_answer(405, {"error": "Method not allowed", "details": ["Use POST"]}, {"Allow": "POST"})
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            payload = None
        if not isinstance(payload, dict):
            return _fail(INVALID_BODY)
        order_id = _field_text(payload.get(self.order_field))
        operator = _field_text(payload.get(self.operator_field))
        if order_id is None or operator is None:
            return _fail(INVALID_BODY)
        return self.check_in(unquote(segment), order_id, operator or None)

    def check_in(self, station_code: str, order_id: str, operator: str | None) -> Answer:
        """Apply the rules in order (see the module docstring); record a success."""
        with self._lock:
            stations = {s.code: s for s in self._data.stations}
            station = stations.get(station_code)
            if station is None:
                return _fail(STATION_NOT_FOUND)
            order = self._find_order(order_id)
            if order is None:
                return _fail(ORDER_NOT_FOUND)
            if operator:
                operator_station = stations.get(operator)
                if operator_station is None:
                    return _fail(OPERATOR_NOT_FOUND, 404)
                if not operator_station.operator:
                    return _fail(OPERATOR_NOT_OPERATOR)
            elif station.requires_operator:
                return _fail(REQUIRES_OPERATOR)
            if station.operator:
                return _fail(STATION_IS_OPERATOR)
            refusal = self._order_refusal(order, station)
            if refusal:
                return _fail(refusal)
            unmet = [req.message for req in station.requires if req.station not in order.history]
            if unmet:
                return json_answer(400, {"error": FLOW_ERROR, "details": unmet})
            return self._accept(station, order, operator)

    def _find_order(self, identifier: str) -> Order | None:
        if not identifier:
            return None
        orders = self._data.orders
        for order in orders:
            if order.order_number == identifier:
                return order
        for order in orders:
            if order.state == "active" and order.tray_number == identifier:
                return order
        by_po = [order for order in orders if order.po_number == identifier]
        return by_po[0] if len(by_po) == 1 else None

    @staticmethod
    def _order_refusal(order: Order, station: Station) -> str | None:
        if order.state == "completed":
            return ORDER_COMPLETED
        if order.state == "deleted":
            return ORDER_DELETED
        if order.state == "hold" or order.on_hold:
            return ORDER_ON_HOLD
        if not order.valid and not station.allow_unvalid:
            return ORDER_UNVALID
        return None

    def _accept(self, station: Station, order: Order, operator: str | None) -> Answer:
        stamp = now_stamp()
        order.history.append(station.code)
        self._record(
            {
                "station": station.code,
                "order_number": order.order_number,
                "tray_number": order.tray_number,
                "po_number": order.po_number,
                "operator": operator,
                "statusDateTime": stamp,
            }
        )
        return json_answer(
            200,
            {
                "orderNumber": order.order_number,
                "trayNumber": order.tray_number,
                "poNumber": order.po_number,
                "code": station.code,
                "customerDesc": station.customer_desc,
                "desc": station.desc,
                "statusDateTime": stamp,
            },
        )
