"""The Loadings simulator (warehouse / van-sales API v2.1): create and upsert loadings over HTTP.

``LoadingsSim`` follows ../shared/vendor-docs/loadings-api.txt:
- ``POST /api/{VERSION}/loadings``: create a loading (201); a used reference is ``not_unique``.
- ``POST /api/{VERSION}/loadings/reference/{ref}``: upsert by reference (201 inserted, 200
  updated).
- ``GET /api/{VERSION}/loadings/{id}`` and ``GET /api/{VERSION}/loadings/reference/{ref}``:
  show one (404 ``not_found``).
A body names a reference, a ``warehouseId``, a ``type`` (1 loading, 2 unloading), an optional
``reasonId`` and ``loadingDetails``: lines of ``itemUnitId``, ``quantity``, optional
``serialNumbers`` (serial number ids) and ``realQty``. Errors answer
``{"error": ..., "error_description": ...}`` with the document's codes and wording.
``loadings_demo.toml`` next to this module is the demo data; ``DEMO_LOADINGS`` lists which
loading there gives which answer.

The checks run in this order, the first that fails answers:
1. the body is a JSON object (400 ``invalid_param``);
2. parameter types: ``reference`` (non-empty text), ``warehouseId``, ``type`` (1 or 2),
   ``reasonId``, ``useExternalId``, ``loadingDetails`` (a non-empty list of objects), then
   per line ``itemUnitId``, ``quantity`` (at least 1), ``realQty``, ``serialNumbers`` (400
   ``invalid_param_type``, "The type of parameter X you provided is not valid for this
   request.", with X = "serial number id" for a serial number that is not an integer);
3. the reference is not used by another loading (400 ``not_unique``, "reference already
   used");
4. the warehouse, the reason, each item unit, each serial number exist (404 ``not_found``,
   "The warehouse with the id 707 doesn't exist.");
5. quantities (400 ``quantity_not_available``), summed per item unit over the lines;
6. serial numbers, on van loading only (400 ``invalid_serial_number`` when a line's count
   differs from its quantity, ``invalid_serial_status`` when one is not "new").

Assumptions where the document is silent:
- VERSION is any one path segment (the document shows v1.0 and v2.1); ``href`` links use it.
- No authentication: the document describes none. Headers are recorded (``/__sim__/requests``)
  so a client's token header can still be checked.
- Stock: each item unit has an ``available`` quantity (what can be loaded) and a ``van_stock``
  (what is on vans, all vans together). Loading (type 1) needs ``quantity <= available`` and
  moves it to the vans; unloading (type 2) needs ``quantity <= realQty`` when given, else
  ``<= van_stock``, and moves it back.
- Warehouses have a type: 1 depot, 2 van. "Van loading" is type 1 into a van: only then are
  serial numbers read, must number exactly the line's quantity, belong to the line's item unit
  (else ``invalid_serial_number``, "The serial number with id X does not belong to item unit
  Y."), be "new" and not repeat in the body; they become "reserved". A serialized item unit
  loaded into a van without serial numbers is ``invalid_serial_number`` too. Elsewhere
  ``serialNumbers`` is ignored (types are still checked).
- ``warehouseId`` is an integer or a digit string (a warehouse id); other text is a warehouse
  reference, accepted when ``useExternalId`` is true, and always on the upsert URL (the
  document types it String there). A reason must have type 3 ("warehouse transaction"); any
  other reason id is not found. An unknown item unit is ``not_found`` "The item unit with the
  id X doesn't exist.".
- Upsert: the URL's reference finds the loading; the body's ``reference`` (default: the URL's)
  is the reference it gets, ``not_unique`` when another loading has it. Updating first gives
  back the old loading's quantities and serial numbers, and keeps everything as it was when
  the new body is refused.
- The answer's loading details carry ``serialNumbers``, ``availableQty`` (what is left to load
  of that item unit) and ``realAvailableQty`` (the ``realQty`` sent, else null).
- Unknown path: 404 ``not_found``; another method: 405 ``method_not_allowed`` with ``Allow``.
  A status fault answers ``{"error": "simulated_fault", "error_description": ...}``.

``/__sim__/`` endpoints and faults: see ``kiosk.simulators.common``. An event per stored
loading: ``{"action": "create" | "insert" | "update", "loading": <the answer's loading>}``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import unquote

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

DEMO_DATA_PATH = Path(__file__).with_name("loadings_demo.toml")
DEMO_VAN = 7
DEMO_REASON = 2

NOT_UNIQUE = "not_unique"
INVALID_PARAM = "invalid_param"
INVALID_PARAM_TYPE = "invalid_param_type"
QUANTITY_NOT_AVAILABLE = "quantity_not_available"
INVALID_SERIAL_NUMBER = "invalid_serial_number"
INVALID_SERIAL_STATUS = "invalid_serial_status"
NOT_FOUND = "not_found"
REFERENCE_USED = "reference already used"
QUANTITY_DESCRIPTION = "Quantity should be less than or equal to the available quantity"
SERIAL_COUNT_DESCRIPTION = "The number of serial codes should be equal to the reserved quantity"
MAX_LINES = 1000
MAX_QUANTITY = 1_000_000
MAX_REFERENCE = 255
WAREHOUSE_TRANSACTION = 3
VAN = 2


def bad_type(parameter: str) -> str:
    return f"The type of parameter {parameter} you provided is not valid for this request."


def not_found(thing: str, identifier: object) -> str:
    return f"The {thing} with the id {clip(str(identifier))} doesn't exist."


def serial_not_new(serial: int) -> str:
    return f"The serial number status with id {serial} is not equal to new."


def serial_elsewhere(serial: int, item_unit: int) -> str:
    return f"The serial number with id {serial} does not belong to item unit {item_unit}."


def serial_repeated(serial: int) -> str:
    return f"The serial number with id {serial} is given more than once."


# --- data model -------------------------------------------------------------------------


class Warehouse(Strict):
    id: int = Field(ge=1)
    reference: str = Field(min_length=1)
    name: str = ""
    type: Literal[1, 2] = 1
    """1 depot, 2 van."""


class Reason(Strict):
    id: int = Field(ge=1)
    name: str = ""
    type: int = WAREHOUSE_TRANSACTION


class ItemUnit(Strict):
    id: int = Field(ge=1)
    item_id: int = Field(ge=1)
    unit_id: int = Field(ge=1)
    name: str = ""
    barcode: str = ""
    """The item unit's barcode (a GTIN): for the demo table, the API does not use it."""
    available: int = Field(0, ge=0)
    van_stock: int = Field(0, ge=0)
    serialized: bool = False


class SerialNumber(Strict):
    id: int = Field(ge=1)
    item_unit: int
    status: Literal["new", "reserved", "sold"] = "new"


class Line(Strict):
    item_unit: int
    quantity: int = Field(ge=1)
    serial_numbers: list[int] = Field(default_factory=list)
    real_qty: int | None = None


class Loading(Strict):
    id: int = Field(ge=1)
    reference: str = Field(min_length=1)
    warehouse: int
    type: Literal[1, 2] = 1
    reason: int | None = None
    lines: list[Line] = Field(default_factory=list)
    date_created: str = "2016-01-25T16:27:33Z"
    last_updated: str = "2016-01-25T16:27:33Z"


class LoadingsData(Strict):
    organization: str = "entity1"
    warehouses: list[Warehouse] = Field(min_length=1)
    reasons: list[Reason] = Field(default_factory=list)
    item_units: list[ItemUnit] = Field(default_factory=list)
    serial_numbers: list[SerialNumber] = Field(default_factory=list)
    loadings: list[Loading] = Field(default_factory=list)
    """Loadings that exist already; their quantities are taken as already counted in stock."""

    @model_validator(mode="after")
    def _references(self) -> LoadingsData:
        for key in ("warehouses", "reasons", "item_units", "serial_numbers", "loadings"):
            seen: set[int] = set()
            for i, item in enumerate(getattr(self, key)):
                if item.id in seen:
                    raise ValueError(f"{key}[{i}].id: id {item.id} is used twice")
                seen.add(item.id)
        item_units = {u.id for u in self.item_units}
        for i, serial in enumerate(self.serial_numbers):
            if serial.item_unit not in item_units:
                raise ValueError(f"serial_numbers[{i}].item_unit: unknown item unit {serial.item_unit}")
        warehouses = {w.id for w in self.warehouses}
        references: set[str] = set()
        for i, loading in enumerate(self.loadings):
            if loading.reference in references:
                raise ValueError(f"loadings[{i}].reference: reference {loading.reference!r} is used twice")
            references.add(loading.reference)
            if loading.warehouse not in warehouses:
                raise ValueError(f"loadings[{i}].warehouse: unknown warehouse {loading.warehouse}")
            for j, line in enumerate(loading.lines):
                if line.item_unit not in item_units:
                    raise ValueError(f"loadings[{i}].lines[{j}].item_unit: unknown item unit {line.item_unit}")
        return self


def load_sim_data(path: str | Path) -> LoadingsData:
    """Read and validate simulator data; raise ``SimDataError`` naming the file and key."""
    return load_model(path, LoadingsData)


def demo_data() -> LoadingsData:
    return load_sim_data(DEMO_DATA_PATH)


# --- demo loadings ------------------------------------------------------------------------


class DemoLoading(NamedTuple):
    """One loading a dock builds from scans, and what the simulator answers on fresh demo data."""

    reference: str
    lines: tuple[tuple[int, int, tuple[int, ...]], ...]
    """(item unit id, quantity, serial number ids) per line."""
    status: int
    error: str = ""
    """The error code; "" for success."""
    description: str = ""
    warehouse: int | str = DEMO_VAN
    type: int = 1
    reason: int | None = DEMO_REASON
    upsert: bool = False
    note: str = ""

    def body(self) -> dict[str, Any]:
        details = []
        for item_unit, quantity, serials in self.lines:
            line: dict[str, Any] = {"itemUnitId": item_unit, "quantity": quantity}
            if serials:
                line["serialNumbers"] = list(serials)
            details.append(line)
        body: dict[str, Any] = {"reference": self.reference, "warehouseId": self.warehouse, "type": self.type}
        if self.reason is not None:
            body["reasonId"] = self.reason
        return body | {"loadingDetails": details}


# Listed in an order that also works as one session on the same (mutating) simulator.
DEMO_LOADINGS: list[DemoLoading] = [
    DemoLoading("LD-1001", ((1, 10, ()),), 201, note="10 crates onto van VAN-07"),
    DemoLoading("LD-1001", ((1, 1, ()),), 400, NOT_UNIQUE, REFERENCE_USED, note="same reference again"),
    DemoLoading("10Crates", ((1, 1, ()),), 400, NOT_UNIQUE, REFERENCE_USED, note="the document's loading"),
    DemoLoading("LD-1002", ((3, 5, ()),), 400, QUANTITY_NOT_AVAILABLE, QUANTITY_DESCRIPTION,
                note="only 3 pallets available"),
    DemoLoading("LD-1003", ((2, 2, (750, 711)),), 201, note="van loading with serial numbers"),
    DemoLoading("LD-1004", ((2, 1, (750,)),), 400, INVALID_SERIAL_STATUS, serial_not_new(750),
                note="750 is reserved by LD-1003 now"),
    DemoLoading("LD-1005", ((2, 2, (712,)),), 400, INVALID_SERIAL_NUMBER, SERIAL_COUNT_DESCRIPTION,
                note="one serial number for 2 routers"),
    DemoLoading("LD-1006", ((2, 1, (2704563,)),), 400, INVALID_SERIAL_STATUS, serial_not_new(2704563),
                note="sold"),
    DemoLoading("LD-1007", ((2, 1, (1,)),), 404, NOT_FOUND, not_found("serial number", 1)),
    DemoLoading("LD-1008", ((2, 1, (800,)),), 400, INVALID_SERIAL_NUMBER, serial_elsewhere(800, 2),
                note="800 is a crate's serial number"),
    DemoLoading("LD-1009", ((9, 1, ()),), 404, NOT_FOUND, not_found("item unit", 9)),
    DemoLoading("LD-1010", ((1, 1, ()),), 404, NOT_FOUND, not_found("warehouse", 707), warehouse=707,
                note="a dock set up with warehouse 707"),
    DemoLoading("LD-1011", ((1, 1, ()),), 404, NOT_FOUND, not_found("reason", 25), reason=25,
                note="a dock set up with reason 25"),
    DemoLoading("LD-1012", ((1, 1, ()),), 400, INVALID_PARAM_TYPE, bad_type("warehouseId"), warehouse="VAN-07",
                note="a warehouse reference without useExternalId"),
    DemoLoading("LD-1001", ((1, 12, ()),), 200, upsert=True, note="upsert: LD-1001 now holds 12 crates"),
    DemoLoading("LD-2001", ((1, 1, ()),), 201, warehouse="VAN-07", upsert=True,
                note="upsert of a new reference (warehouse by reference)"),
    DemoLoading("LD-3001", ((1, 50, ()),), 400, QUANTITY_NOT_AVAILABLE, QUANTITY_DESCRIPTION, type=2,
                note="unloading more crates than the vans hold"),
    DemoLoading("LD-3002", ((1, 5, ()),), 201, type=2, note="unloading 5 crates"),
]


# --- the simulator ------------------------------------------------------------------------


class _Refusal(Exception):
    """A request the API refuses: its status, error code and description."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


def _integer(value: Any) -> int | None:
    """An integer, or a string of at most 18 ASCII digits, as int; else None."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


class _Request(NamedTuple):
    reference: str
    warehouse: int | str
    type: Literal[1, 2]
    reason: int | None
    lines: list[Line]


def _parse_body(body: bytes, default_reference: str | None) -> _Request:
    parsed, payload = parse_json(body)
    if not parsed or not isinstance(payload, dict):
        raise _Refusal(400, INVALID_PARAM, "The request body must be a JSON object.")
    reference = payload.get("reference", default_reference)
    if not isinstance(reference, str) or not reference.strip() or len(reference) > MAX_REFERENCE:
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("reference"))
    warehouse_raw = payload.get("warehouseId")
    warehouse: int | str | None = _integer(warehouse_raw)
    if warehouse is None:
        if not isinstance(warehouse_raw, str) or not warehouse_raw:
            raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("warehouseId"))
        warehouse = warehouse_raw
    type_number = _integer(payload.get("type"))
    if type_number not in (1, 2):
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("type"))
    loading_type: Literal[1, 2] = 1 if type_number == 1 else 2
    reason = None
    if payload.get("reasonId") is not None:
        reason = _integer(payload["reasonId"])
        if reason is None:
            raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("reasonId"))
    use_external = payload.get("useExternalId", False)
    if not isinstance(use_external, bool):
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("useExternalId"))
    if isinstance(warehouse, str) and not use_external and default_reference is None:
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("warehouseId"))
    details = payload.get("loadingDetails")
    if not isinstance(details, list) or not details or len(details) > MAX_LINES:
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("loadingDetails"))
    lines = [_parse_line(detail) for detail in details]
    return _Request(reference, warehouse, loading_type, reason, lines)


def _parse_line(detail: Any) -> Line:
    if not isinstance(detail, dict):
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("loadingDetails"))
    item_unit = _integer(detail.get("itemUnitId"))
    if item_unit is None:
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("itemUnitId"))
    quantity = _integer(detail.get("quantity"))
    if quantity is None or not 1 <= quantity <= MAX_QUANTITY:
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("quantity"))
    real_qty = None
    if detail.get("realQty") is not None:
        real_qty = _integer(detail["realQty"])
        if real_qty is None:
            raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("realQty"))
    serials_raw = detail.get("serialNumbers") or []
    if not isinstance(serials_raw, list) or len(serials_raw) > MAX_QUANTITY:
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("serial number id"))
    serials = [_integer(s) for s in serials_raw]
    if any(s is None for s in serials):
        raise _Refusal(400, INVALID_PARAM_TYPE, bad_type("serial number id"))
    return Line(item_unit=item_unit, quantity=quantity, serial_numbers=[s for s in serials if s is not None],
                real_qty=real_qty)


def _error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Answer:
    return json_answer(status, {"error": error, "error_description": description}, headers)


class LoadingsSim(SimBase):
    """The simulated Loadings API as an app for ``SimServer``."""

    def __init__(self, data: LoadingsData | None = None) -> None:
        self._initial = data if data is not None else demo_data()
        super().__init__()

    def _reset_data(self) -> None:
        data = self._initial.model_copy(deep=True)
        self._data = data
        self._warehouses = {w.id: w for w in data.warehouses}
        self._reasons = {r.id: r for r in data.reasons if r.type == WAREHOUSE_TRANSACTION}
        self._units = {u.id: u for u in data.item_units}
        self._serials = {s.id: s for s in data.serial_numbers}
        self._loadings = {loading.id: loading for loading in data.loadings}

    # what tests look at

    def available(self, item_unit: int) -> int:
        with self._lock:
            return self._units[item_unit].available

    def van_stock(self, item_unit: int) -> int:
        with self._lock:
            return self._units[item_unit].van_stock

    def serial_status(self, serial: int) -> str:
        with self._lock:
            return self._serials[serial].status

    # HTTP

    def _fault_body(self, status: int) -> Any:
        return {"error": "simulated_fault", "error_description": f"HTTP {status} injected by the simulator."}

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        parts = path.split("/")
        if len(parts) < 4 or parts[:2] != ["", "api"] or not parts[2] or parts[3] != "loadings":
            return _error(404, NOT_FOUND, f"No such resource: {clip(path)}")
        version, rest = parts[2], parts[4:]
        if not rest:
            return self._route(method, "POST", lambda: self._store(version, body, None))
        if len(rest) == 1 and rest[0]:
            loading_id = _integer(rest[0])
            found = self._loadings.get(loading_id) if loading_id is not None else None
            return self._route(method, "GET", lambda: self._show(version, found, rest[0]))
        if len(rest) == 2 and rest[0] == "reference" and rest[1]:
            reference = unquote(rest[1])
            found = self._by_reference(reference)
            if method == "GET":
                return self._show(version, found, reference)
            return self._route(method, "GET, POST", lambda: self._store(version, body, reference))
        return _error(404, NOT_FOUND, f"No such resource: {clip(path)}")

    @staticmethod
    def _route(method: str, allowed: str, run: Callable[[], Answer]) -> Answer:
        if method not in allowed.split(", "):
            return _error(405, "method_not_allowed", f"Use {allowed}.", {"Allow": allowed})
        return run()

    def _show(self, version: str, loading: Loading | None, asked: str) -> Answer:
        if loading is None:
            return _error(404, NOT_FOUND, not_found("loading", asked))
        return json_answer(200, self._as_json(loading, version))

    def _by_reference(self, reference: str) -> Loading | None:
        return next((loading for loading in self._loadings.values() if loading.reference == reference), None)

    def _store(self, version: str, body: bytes, upsert_reference: str | None) -> Answer:
        existing = self._by_reference(upsert_reference) if upsert_reference is not None else None
        snapshot = copy.deepcopy((self._units, self._serials))
        try:
            request = _parse_body(body, upsert_reference)
            owner = self._by_reference(request.reference)
            if owner is not None and owner is not existing:
                raise _Refusal(400, NOT_UNIQUE, REFERENCE_USED)
            warehouse = self._warehouse(request.warehouse)
            if request.reason is not None and request.reason not in self._reasons:
                raise _Refusal(404, NOT_FOUND, not_found("reason", request.reason))
            for line in request.lines:
                if line.item_unit not in self._units:
                    raise _Refusal(404, NOT_FOUND, not_found("item unit", line.item_unit))
            van_loading = request.type == 1 and warehouse.type == VAN
            if van_loading:
                for line in request.lines:
                    for serial in line.serial_numbers:
                        if serial not in self._serials:
                            raise _Refusal(404, NOT_FOUND, not_found("serial number", serial))
            else:
                request = request._replace(lines=[line.model_copy(update={"serial_numbers": []})
                                                  for line in request.lines])
            if existing is not None:
                self._give_back(existing)
            self._take(request, van_loading)
        except _Refusal as refusal:
            self._units, self._serials = snapshot
            return _error(refusal.status, refusal.error, refusal.description)
        return self._save(version, request, warehouse, existing, upsert_reference is not None)

    def _warehouse(self, asked: int | str) -> Warehouse:
        if isinstance(asked, int):
            found = self._warehouses.get(asked)
        else:
            found = next((w for w in self._warehouses.values() if w.reference == asked), None)
        if found is None:
            raise _Refusal(404, NOT_FOUND, not_found("warehouse", asked))
        return found

    def _give_back(self, loading: Loading) -> None:
        """Undo a loading's effect on stock and serial numbers (before it is updated)."""
        for line in loading.lines:
            unit = self._units[line.item_unit]
            if loading.type == 1:
                unit.available += line.quantity
                unit.van_stock = max(0, unit.van_stock - line.quantity)
            else:
                unit.van_stock += line.quantity
                unit.available = max(0, unit.available - line.quantity)
            for serial in line.serial_numbers:
                if serial in self._serials:
                    self._serials[serial].status = "new"

    def _take(self, request: _Request, van_loading: bool) -> None:
        """Check quantities and serial numbers, then move the stock and reserve the serials."""
        wanted: dict[int, int] = {}
        for line in request.lines:
            wanted[line.item_unit] = wanted.get(line.item_unit, 0) + line.quantity
        for item_unit, quantity in wanted.items():
            unit = self._units[item_unit]
            if request.type == 1:
                limit = unit.available
            else:
                real = [line.real_qty for line in request.lines
                        if line.item_unit == item_unit and line.real_qty is not None]
                limit = min(real) if real else unit.van_stock
            if quantity > limit:
                raise _Refusal(400, QUANTITY_NOT_AVAILABLE, QUANTITY_DESCRIPTION)
        if van_loading:
            self._check_serials(request.lines)
        for item_unit, quantity in wanted.items():
            unit = self._units[item_unit]
            if request.type == 1:
                unit.available -= quantity
                unit.van_stock += quantity
            else:
                unit.van_stock = max(0, unit.van_stock - quantity)
                unit.available += quantity
        for line in request.lines:
            for serial in line.serial_numbers:
                self._serials[serial].status = "reserved"

    def _check_serials(self, lines: list[Line]) -> None:
        seen: set[int] = set()
        for line in lines:
            unit = self._units[line.item_unit]
            if (line.serial_numbers or unit.serialized) and len(line.serial_numbers) != line.quantity:
                raise _Refusal(400, INVALID_SERIAL_NUMBER, SERIAL_COUNT_DESCRIPTION)
            for serial_id in line.serial_numbers:
                serial = self._serials[serial_id]
                if serial.item_unit != line.item_unit:
                    raise _Refusal(400, INVALID_SERIAL_NUMBER, serial_elsewhere(serial_id, line.item_unit))
                if serial_id in seen:
                    raise _Refusal(400, INVALID_SERIAL_NUMBER, serial_repeated(serial_id))
                seen.add(serial_id)
                if serial.status != "new":
                    raise _Refusal(400, INVALID_SERIAL_STATUS, serial_not_new(serial_id))

    def _save(self, version: str, request: _Request, warehouse: Warehouse, existing: Loading | None,
              upsert: bool) -> Answer:
        stamp = now_stamp(ms=False)  # the document: "YYYY-MM-DDTHH:MM:SSZ"
        if existing is None:
            loading = Loading(id=max(self._loadings, default=0) + 1, reference=request.reference,
                              warehouse=warehouse.id, type=request.type, reason=request.reason,
                              lines=request.lines, date_created=stamp, last_updated=stamp)
            self._loadings[loading.id] = loading
            action, status = ("insert" if upsert else "create"), 201
        else:
            loading = existing
            loading.reference, loading.warehouse, loading.type = request.reference, warehouse.id, request.type
            loading.reason, loading.lines, loading.last_updated = request.reason, request.lines, stamp
            action, status = "update", 200
        answer = self._as_json(loading, version)
        self._record({"action": action, "loading": answer})
        return json_answer(status, answer)

    def _as_json(self, loading: Loading, version: str) -> dict[str, Any]:
        base = f"/api/{version}"
        warehouse = self._warehouses[loading.warehouse]
        reason = self._reasons.get(loading.reason) if loading.reason is not None else None
        details = []
        for index, line in enumerate(loading.lines):
            unit = self._units[line.item_unit]
            detail_id = loading.id * 1000 + index + 1
            details.append({
                "id": detail_id,
                "itemId": unit.item_id,
                "unitId": unit.unit_id,
                "itemUnitId": unit.id,
                "quantity": line.quantity,
                "serialNumbers": list(line.serial_numbers),
                "realAvailableQty": line.real_qty,
                "availableQty": unit.available,
                "href": f"{base}/loadingDetails/{detail_id}",
            })
        return {
            "id": loading.id,
            "reference": loading.reference,
            "warehouseReference": warehouse.reference,
            "warehouse": {"id": warehouse.id, "reference": warehouse.reference, "name": warehouse.name,
                          "href": f"{base}/warehouses/{warehouse.id}"},
            "warehouseType": str(warehouse.type),
            "reason": {"id": reason.id, "name": reason.name, "href": f"{base}/reasons/{reason.id}"} if reason else None,
            "type": str(loading.type),
            "status": "1",
            "loadingDetails": details,
            "organization": self._data.organization,
            "dateCreated": loading.date_created,
            "lastUpdated": loading.last_updated,
        }
