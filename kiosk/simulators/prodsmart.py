"""The Prodsmart (MES) vendor simulator: token auth, production orders, machine counter, downtime.

``ProdsmartSim`` follows ../shared/vendor-docs/prodsmart-api.pl.txt for the calls a kiosk
station makes. Its company, machines and production orders come from a TOML file
(``load_sim_data``); ``prodsmart_demo.toml`` next to this module is the demo data, and
``DEMO_CODES`` lists which scan there gives which answer.

API (the simulator is one company; every path but the first takes ``?access_token=TOKEN``):

- ``GET|POST|DELETE /api/authorization`` with ``Authorization: Basic base64(key:secret)``:
  GET answers 200 with the company's current token, POST 201 with a new one, DELETE 204.
  Body ``{"_links": {"self": {"href": "/api/authorizations"}}, "scopes":
  ["productions_write"], "token": "..."}``. A token stops working ``token_lifetime_s`` after
  it was created (2 h by default; measured on the injectable ``clock``).
- ``GET /api/production-orders/{id}``: the order (code, products with quantity-ordered and
  quantity-produced, status, running-status, is-active, ...).
- ``POST /api/production-orders/{id}/activate``: 200 activated; 204 already active; 405
  (text "Production Order was closed or archived and cannot be activated") when its
  running-status is closed or archived.
- ``POST /api/production-orders/{id}/notify`` ``{"short-message": ..., "message": ...}``: 200;
  400 when short-message is missing, empty or over 140 characters.
- ``POST /api/machines/{code}/counter`` ``{"count": N, "waste": [{"code", "quantity"}]}``:
  200 ``{"count": N, "waste": [...]}`` (the machine's new cumulative values); 400 when a
  value does not increase.
- ``POST /api/machines/{code}/startstop`` ``{"running": 0|1, "type": "Maintenance"}``: 200;
  400 for a type that is not one of the machine's downtime types.
- More than ``requests_per_minute`` API requests in any 60 s (sliding, on ``clock``) answer
  429 with ``Retry-After: SECONDS`` (until the oldest counted request leaves the window).

Assumptions where the document is silent (the connector must not rely on more than these):

- Authorization: one token per company. GET with no token, or an expired one, answers 404
  (the document only says to create one with POST then). POST replaces the current token:
  the old one answers 401 from then on. A POST body is optional; if given it must be a JSON
  object whose ``scopes`` (optional) hold only ``productions_write``. Bad or missing Basic
  credentials answer 401 with ``WWW-Authenticate: Basic``. The answers carry no expiry time.
- A missing, unknown or expired ``access_token`` (or more than one) answers 401; so does an
  ``Authorization: Bearer`` header, which the document never mentions. The machine endpoints
  (counter, startstop) also take HTTP Basic key:secret instead of a token, as the document
  says; production orders take only the token.
- The order of checks: rate limit; unknown path 404; wrong method 405 (JSON, with ``Allow``);
  authorization 401; unknown production order or machine 404; body 400; then the rules.
- Rate limit: every API request counts (also ones answered 401, 404 or 400), except those
  answered 429 and those an injected fault answered; ``/__sim__/`` never counts.
- Error bodies are JSON ``{"error": TITLE, "message": DETAIL}``, except the texts the document
  gives (405 on activate is that text; 204 answers carry no body, as HTTP requires, though
  the document shows "Production Order was already active" there). A body that is not a
  JSON object answers 400 with error "Invalid JSON". Unknown body keys are ignored.
- A production order id is a positive decimal number; anything else is "not found" (404).
  The order answer uses ``is-active`` (as the document's GET example); ``ended`` is true for
  closed and archived orders. Status is stored, not computed from dates.
- Activate: closed or archived wins over already active. 200 and 204 answers carry no body.
- Notify: length is counted in Unicode characters; ``message`` (optional, text) is appended
  to the order's notes; closed and archived orders can still be notified. 200, no body.
- Counter: ``count`` and ``waste`` are each optional but one must be given; a given count
  must be greater than the machine's last count, each given waste quantity greater than the
  last one of that code ("incremental": always greater than previously sent); a waste code
  must be one of the machine's ``waste_codes``; codes not sent keep their quantity; nothing
  changes unless every value passes. ``parameters`` must be a list if given and is ignored.
  The increase of count is added to the first product of the machine's production order
  (if that order is not closed or archived): running-status becomes started, status becomes
  onschedule once something is produced and completed once every product is.
- Startstop: ``running`` is the number 0 or 1. ``type`` is required with 0 and optional
  with 1 (the kiosk's ``DT:RUN`` card names no type); when given it must be one of the
  machine's ``downtime_types`` (case-sensitive). Stopping a stopped machine with another
  type switches the downtime type; repeating the current state changes nothing; both 200.
- Events (``GET /__sim__/events``) are the accepted actions: authorization created/deleted,
  activate (200 and 204), notify, counter, startstop. Nothing recorded holds a token or the
  secret: requests at ``GET /__sim__/requests`` have ``access_token=REDACTED`` in their raw
  path and an ``authorization`` header of ``REDACTED``.

Test and demo endpoints under ``/__sim__/`` beyond the shared ones (``kiosk.simulators.common``):
``GET /__sim__/state`` (machines, production orders, whether a token is valid, never the
token) and ``DELETE /__sim__/token`` (the current token expires now).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Self, TypeGuard
from urllib.parse import parse_qsl, unquote, unquote_plus

from pydantic import Field, model_validator

from kiosk.simulators.common import Route, SimBase, Strict, load_model, now_stamp
from kiosk.simulators.common import SimDataError as SimDataError  # raised by load_sim_data, for importers
from kiosk.simulators.server import Answer, json_answer

DEMO_DATA_PATH = Path(__file__).with_name("prodsmart_demo.toml")
DEMO_KEY = "demo-key"
DEMO_SECRET = "demo-secret"

AUTH_PATH = "/api/authorization"
ORDERS_PREFIX = "/api/production-orders/"
MACHINES_PREFIX = "/api/machines/"
SCOPE = "productions_write"
SHORT_MESSAGE_MAX = 140
RATE_WINDOW_S = 60.0
REQUESTS_PER_MINUTE = 120
TOKEN_LIFETIME_S = 2 * 3600.0
REDACTED = "REDACTED"

CANNOT_ACTIVATE = "Production Order was closed or archived and cannot be activated"
INVALID_JSON = "Invalid JSON"

_ID = re.compile(r"[1-9][0-9]{0,17}")
_DATE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?$"
_ECHO_MAX = 60
"""The most characters of a client's value an error message repeats."""

Name = Annotated[str, Field(min_length=1)]


# --- data model -------------------------------------------------------------------------


class Company(Strict):
    name: str = "Demo Works"
    key: str = Field(min_length=1)
    """API key: the user part of HTTP Basic on /api/authorization."""
    secret: str = Field(min_length=1)
    requests_per_minute: int = Field(REQUESTS_PER_MINUTE, ge=1)
    """More API requests than this in any 60 s answer 429."""
    token_lifetime_s: float = Field(TOKEN_LIFETIME_S, gt=0)


class Product(Strict):
    product: Name
    quantity_ordered: int = Field(gt=0)
    quantity_produced: int = Field(0, ge=0)
    observations: str = ""


class ProductionOrder(Strict):
    id: int = Field(ge=1, le=10**18 - 1)
    code: Name
    description: str = ""
    start_date: str = Field("", pattern=_DATE)
    due_date: str = Field("", pattern=_DATE)
    products: list[Product] = Field(min_length=1)
    machines: list[str] = Field(default_factory=list)
    status: Literal["scheduled", "onschedule", "delayed", "completed"] = "scheduled"
    running_status: Literal["notstarted", "started", "closed", "archived"] = "notstarted"
    active: bool = False
    notes: str = ""

    @model_validator(mode="after")
    def _unique_products(self) -> Self:
        seen: set[str] = set()
        for i, product in enumerate(self.products):
            if product.product in seen:
                raise ValueError(f"products[{i}].product: product {product.product!r} is listed twice")
            seen.add(product.product)
        return self


class Machine(Strict):
    code: Name
    name: str = ""
    downtime_types: list[Name] = Field(default_factory=list)
    """What ``startstop`` accepts as ``type`` on this machine."""
    waste_codes: list[Name] = Field(default_factory=list)
    count: int = Field(0, ge=0)
    """The last cumulative count; the next one sent must be greater."""
    waste: dict[str, int] = Field(default_factory=dict)
    """The last cumulative quantity of each waste code."""
    running: bool = True
    downtime_type: str = ""
    """Why the machine is stopped (``running = false``); empty while it runs."""
    since: str = Field("", pattern=r"^$|" + _DATE)
    """When it started running or stopped; empty: when the simulator started."""
    production_order: int | None = None
    """The order the machine's counter feeds."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for code, quantity in self.waste.items():
            if code not in self.waste_codes:
                raise ValueError(f"waste.{code}: not one of the machine's waste_codes")
            if quantity < 0:
                raise ValueError(f"waste.{code}: must be 0 or more")
        if self.running and self.downtime_type:
            raise ValueError("downtime_type: only for a machine that is not running")
        if not self.running and self.downtime_type not in self.downtime_types:
            raise ValueError("downtime_type: a stopped machine needs one of its downtime_types")
        return self


class ProdsmartData(Strict):
    company: Company
    machines: list[Machine] = Field(default_factory=list)
    production_orders: list[ProductionOrder] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> Self:
        ids: set[int] = set()
        for i, order in enumerate(self.production_orders):
            if order.id in ids:
                raise ValueError(f"production_orders[{i}].id: id {order.id} is used twice")
            ids.add(order.id)
        codes: set[str] = set()
        for i, machine in enumerate(self.machines):
            if machine.code in codes:
                raise ValueError(f"machines[{i}].code: machine code {machine.code!r} is used twice")
            codes.add(machine.code)
            if machine.production_order is not None and machine.production_order not in ids:
                raise ValueError(f"machines[{i}].production_order: unknown production order {machine.production_order}")
        for i, order in enumerate(self.production_orders):
            for j, code in enumerate(order.machines):
                if code not in codes:
                    raise ValueError(f"production_orders[{i}].machines[{j}]: unknown machine {code!r}")
        return self


def load_sim_data(path: str | Path) -> ProdsmartData:
    """Read and validate simulator data; raise ``SimDataError`` naming the file and key."""
    return load_model(path, ProdsmartData)


def demo_data() -> ProdsmartData:
    return load_sim_data(DEMO_DATA_PATH)


# --- demo codes ---------------------------------------------------------------------------


class DemoCode(NamedTuple):
    """One demo scan at a Prodsmart station and the HTTP status it gets on fresh demo data.

    ``scan`` at a ``production-order`` station: an order id (look-up), ``CMD:ACTIVATE`` or
    ``CMD:NOTIFY:<reason>`` (for the order in ``target``); at a ``machine-counter`` station
    (machine ``target``): ``GOOD`` (any good-part barcode, count + 1) or ``WASTE:<code>``
    (that waste + 1); at a ``downtime`` station: ``DT:<type>`` (stop) or ``DT:RUN``.
    """

    action: Literal["production-order", "machine-counter", "downtime"]
    scan: str
    target: str
    """The production order a command acts on, or the station's machine; "-" for a look-up."""
    status: int
    note: str = ""


# Each answers as listed on fresh demo data, and in this order they also work as one session.
DEMO_CODES: list[DemoCode] = [
    DemoCode("production-order", "3990", "-", 200, "onschedule, started, active; V23076 700 / 3500"),
    DemoCode("production-order", "CMD:ACTIVATE", "3990", 204, "already active"),
    DemoCode("production-order", "4001", "-", 200, "scheduled, notstarted, not active"),
    DemoCode("production-order", "CMD:ACTIVATE", "4001", 200, "activated (a second time: 204)"),
    DemoCode("production-order", "4002", "-", 200, "delayed, started, two products"),
    DemoCode("production-order", "4003", "-", 200, "completed, closed"),
    DemoCode("production-order", "CMD:ACTIVATE", "4003", 405, "closed: cannot be activated"),
    DemoCode("production-order", "CMD:ACTIVATE", "4004", 405, "archived: cannot be activated"),
    DemoCode("production-order", "CMD:NOTIFY:Material shortage", "3990", 200, "posted to the feed"),
    DemoCode("production-order", "999", "-", 404, "no such production order"),
    DemoCode("machine-counter", "GOOD", "A32", 200, "count 1; order 3990 produced 701"),
    DemoCode("machine-counter", "WASTE:Scrap", "A32", 200, "waste Scrap 1"),
    DemoCode("machine-counter", "WASTE:Paint", "A32", 400, "Paint is not a waste code of A32"),
    DemoCode("machine-counter", "GOOD", "M2", 200, "M2's counter stands at 1000: sends 1001"),
    DemoCode("machine-counter", "GOOD", "X9", 404, "no such machine"),
    DemoCode("downtime", "DT:Maintenance", "A32", 200, "A32 stops (Maintenance)"),
    DemoCode("downtime", "DT:RUN", "A32", 200, "A32 runs again"),
    DemoCode("downtime", "DT:Setup", "F1", 400, "Setup is not a downtime type of F1"),
    DemoCode("downtime", "DT:Coffee", "A32", 400, "not a downtime type"),
    DemoCode("downtime", "DT:RUN", "M2", 200, "M2 starts the demo stopped (Breakdown)"),
]


# --- helpers ------------------------------------------------------------------------------


def redact_path(raw_path: str) -> str:
    """``raw_path`` with the value of every ``access_token`` query parameter replaced."""
    path, sep, query = raw_path.partition("?")
    if not sep:
        return raw_path
    parts = []
    for part in query.split("&"):
        name, _, _ = part.partition("=")
        parts.append(f"{name}={REDACTED}" if unquote_plus(name) == "access_token" else part)
    return f"{path}?{'&'.join(parts)}"


def _echo(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return repr(text if len(text) <= _ECHO_MAX else text[:_ECHO_MAX] + "...")


def _error(status: int, title: str, message: str, headers: dict[str, str] | None = None) -> Answer:
    return json_answer(status, {"error": title, "message": message}, headers)


def _text(status: int, text: str) -> Answer:
    return status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8")


def _bad(message: str) -> Answer:
    return _error(400, "Bad Request", message)


def _empty(status: int) -> Answer:
    return status, {}, b""


def _whole(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_object(body: bytes, *, optional: bool = False) -> dict[str, Any] | None:
    """The body as a JSON object; None when it is not one (an empty body is ``{}`` if optional)."""
    if optional and not body.strip():
        return {}
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _order_json(order: ProductionOrder) -> dict[str, Any]:
    return {
        "id": order.id,
        "code": order.code,
        "description": order.description,
        "start-date": order.start_date,
        "due-date": order.due_date,
        "products": [
            {
                "product": p.product,
                "quantity-ordered": p.quantity_ordered,
                "observations": p.observations,
                "quantity-produced": p.quantity_produced,
            }
            for p in order.products
        ],
        "machines": [{"code": code} for code in order.machines],
        "ended": order.running_status in ("closed", "archived"),
        "is-active": order.active,
        "status": order.status,
        "running-status": order.running_status,
        "notes": order.notes,
    }


def _waste_json(machine: Machine) -> list[dict[str, Any]]:
    return [{"code": code, "quantity": machine.waste[code]} for code in machine.waste_codes if code in machine.waste]


# --- the simulator ------------------------------------------------------------------------


class ProdsmartSim(SimBase):
    """The simulated Prodsmart server (one company) as an app for ``SimServer``; thread-safe.

    ``clock`` (seconds, monotonic) times token expiry and the rate-limit window; tests pass
    a fake one to step past two hours or a minute at once.
    """

    def __init__(self, data: ProdsmartData | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._initial = data if data is not None else demo_data()
        self._clock = clock
        super().__init__()

    @property
    def company(self) -> Company:
        return self._initial.company

    def _reset_data(self) -> None:
        self._data = self._initial.model_copy(deep=True)
        self._orders = {order.id: order for order in self._data.production_orders}
        self._machines = {machine.code: machine for machine in self._data.machines}
        started = now_stamp()
        for machine in self._data.machines:
            machine.since = machine.since or started
        self._token: str | None = None
        self._token_created = 0.0
        self._window: deque[float] = deque()

    # test and demo helpers, also served under /__sim__/

    def state(self) -> dict[str, Any]:
        """Machines, production orders and whether a token is valid (never the token)."""
        with self._lock:
            token = self._valid_token()
            return {
                "machines": [
                    {
                        "code": m.code, "name": m.name, "count": m.count, "waste": _waste_json(m),
                        "running": m.running, "downtime_type": m.downtime_type, "since": m.since,
                        "production_order": m.production_order,
                    }
                    for m in self._data.machines
                ],
                "production_orders": [_order_json(order) for order in self._data.production_orders],
                "token_valid": token is not None,
                "token_expires_in_s": (
                    None if token is None else self._token_created + self.company.token_lifetime_s - self._clock()
                ),
            }

    def expire_token(self) -> None:
        """The current token stops working now (as if its lifetime had passed)."""
        with self._lock:
            self._token = None

    def _control_routes(self, body: bytes) -> dict[tuple[str, str], Route]:
        def expire() -> Answer:
            self.expire_token()
            return json_answer(200, {"expired": True})

        return {("GET", "state"): lambda: json_answer(200, self.state()), ("DELETE", "token"): expire}

    def _request_record(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        record = super()._request_record(method, redact_path(raw_path), headers, body)
        if "authorization" in record["headers"]:
            record["headers"]["authorization"] = REDACTED
        return record

    # HTTP

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        limited = self._rate_limit()
        if limited is not None:
            return limited
        if path == AUTH_PATH:
            return self._authorization(method, headers, body)
        route = self._route(path)
        if route is None:
            return _error(404, "Not Found", f"No such path: {_echo(path)}")
        kind, name = route
        allowed = "GET" if kind == "order" else "POST"
        if method != allowed:
            return _error(405, "Method Not Allowed", f"Use {allowed}", {"Allow": allowed})
        machine_call = kind in ("counter", "startstop")
        if not self._token_ok(query) and not (machine_call and self._basic_ok(headers)):
            return _error(401, "Unauthorized", "The access_token is missing, unknown or expired")
        if machine_call:
            machine = self._machines.get(name)
            if machine is None:
                return _error(404, "Not Found", f"Machine {_echo(name)} not found")
            payload = _json_object(body)
            if payload is None:
                return _error(400, INVALID_JSON, "The body must be a JSON object")
            return self._counter(machine, payload) if kind == "counter" else self._startstop(machine, payload)
        order = self._orders.get(int(name)) if _ID.fullmatch(name) else None
        if order is None:
            return _error(404, "Not Found", f"Production order {_echo(name)} not found")
        if kind == "order":
            return json_answer(200, _order_json(order))
        payload = _json_object(body, optional=kind == "activate")
        if payload is None:
            return _error(400, INVALID_JSON, "The body must be a JSON object")
        return self._activate(order) if kind == "activate" else self._notify(order, payload)

    @staticmethod
    def _route(path: str) -> tuple[str, str] | None:
        """``(kind, decoded id or machine code)`` for a path the simulator serves."""
        routes = ((ORDERS_PREFIX, ("", "activate", "notify")), (MACHINES_PREFIX, ("counter", "startstop")))
        for prefix, actions in routes:
            if not path.startswith(prefix):
                continue
            segment, slash, action = path[len(prefix):].partition("/")
            if segment and bool(slash) == bool(action) and action in actions:
                return action or "order", unquote(segment)
        return None

    def _rate_limit(self) -> Answer | None:
        now = self._clock()
        window = self._window
        while window and window[0] <= now - RATE_WINDOW_S:
            window.popleft()
        limit = self.company.requests_per_minute
        if len(window) < limit:
            window.append(now)
            return None
        retry_after = max(1, math.ceil(window[0] + RATE_WINDOW_S - now))
        return _error(429, "Too Many Requests", f"More than {limit} requests per minute; retry after {retry_after} s",
                      {"Retry-After": str(retry_after)})

    # authorization

    def _valid_token(self) -> str | None:
        if self._token is not None and self._clock() - self._token_created >= self.company.token_lifetime_s:
            self._token = None
        return self._token

    def _token_ok(self, query: str) -> bool:
        given = [value for name, value in parse_qsl(query, keep_blank_values=True) if name == "access_token"]
        token = self._valid_token()
        return len(given) == 1 and token is not None and hmac.compare_digest(given[0].encode(), token.encode())

    def _basic_ok(self, headers: dict[str, str]) -> bool:
        scheme, _, encoded = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        key, _, secret = decoded.partition(b":")
        company = self.company
        key_ok = hmac.compare_digest(key, company.key.encode())
        return hmac.compare_digest(secret, company.secret.encode()) and key_ok

    def _authorization(self, method: str, headers: dict[str, str], body: bytes) -> Answer:
        if method not in ("GET", "POST", "DELETE"):
            return _error(405, "Method Not Allowed", "Use GET, POST or DELETE", {"Allow": "DELETE, GET, POST"})
        if not self._basic_ok(headers):
            return _error(401, "Unauthorized", "HTTP Basic API key and secret are missing or wrong",
                          {"WWW-Authenticate": 'Basic realm="Prodsmart"'})
        if method == "DELETE":
            self._token = None
            self._record({"action": "authorization-deleted", "at": now_stamp()})
            return _empty(204)
        if method == "GET":
            token = self._valid_token()
            if token is None:
                return _error(404, "Not Found", "No access token yet: create one with POST /api/authorization")
            return self._authorization_answer(200, token)
        payload = _json_object(body, optional=True)
        if payload is None:
            return _error(400, INVALID_JSON, "The body must be a JSON object")
        scopes = payload.get("scopes", [SCOPE])
        if not isinstance(scopes, list) or any(scope != SCOPE for scope in scopes):
            return _bad(f"scopes must be a list holding only {SCOPE!r}")
        self._token = secrets.token_urlsafe(24)
        self._token_created = self._clock()
        self._record({"action": "authorization-created", "at": now_stamp()})
        return self._authorization_answer(201, self._token)

    @staticmethod
    def _authorization_answer(status: int, token: str) -> Answer:
        payload = {"_links": {"self": {"href": "/api/authorizations"}}, "scopes": [SCOPE], "token": token}
        return json_answer(status, payload, {"Link": '</api/authorizations>;rel="self"'})

    # production orders

    def _activate(self, order: ProductionOrder) -> Answer:
        if order.running_status in ("closed", "archived"):
            return _text(405, CANNOT_ACTIVATE)
        status = 204 if order.active else 200
        order.active = True
        self._record({"action": "activate", "production_order": order.id, "status": status, "at": now_stamp()})
        return _empty(status)

    def _notify(self, order: ProductionOrder, payload: dict[str, Any]) -> Answer:
        short = payload.get("short-message")
        message = payload.get("message")
        if short is None or short == "":
            return _bad("short-message is required")
        if not isinstance(short, str):
            return _bad("short-message must be text")
        if len(short) > SHORT_MESSAGE_MAX:
            return _bad(f"short-message is longer than {SHORT_MESSAGE_MAX} characters ({len(short)})")
        if message is not None and not isinstance(message, str):
            return _bad("message must be text")
        if message:
            order.notes = f"{order.notes}\n{message}" if order.notes else message
        self._record({"action": "notify", "production_order": order.id, "short_message": short,
                      "message": message, "at": now_stamp()})
        return _empty(200)

    # machines

    def _counter(self, machine: Machine, payload: dict[str, Any]) -> Answer:
        count = payload.get("count")
        waste = payload.get("waste")
        parameters = payload.get("parameters")
        if count is not None and not (_whole(count) and count >= 0):
            return _bad("count must be a whole number, 0 or more")
        if parameters is not None and not isinstance(parameters, list):
            return _bad("parameters must be a list")
        entries, problem = self._waste_entries(machine, waste)
        if problem:
            return _bad(problem)
        if count is None and not entries:
            return _bad("count or waste is required")
        if count is not None and count <= machine.count:
            return _bad(f"count must be greater than the last count ({machine.count}), got {count}")
        for code, quantity in entries.items():
            last = machine.waste.get(code, 0)
            if quantity <= last:
                return _bad(f"waste {_echo(code)} must be greater than the last quantity ({last}), got {quantity}")
        added = 0 if count is None else count - machine.count
        if count is not None:
            machine.count = count
        machine.waste.update(entries)
        self._produce(machine, added)
        self._record({"action": "counter", "machine": machine.code, "count": count,
                      "waste": [{"code": c, "quantity": q} for c, q in entries.items()], "at": now_stamp()})
        return json_answer(200, {"count": machine.count, "waste": _waste_json(machine)})

    @staticmethod
    def _waste_entries(machine: Machine, waste: Any) -> tuple[dict[str, int], str]:
        """The ``waste`` list as ``{code: quantity}``, or a problem to answer 400 with."""
        if waste is None:
            return {}, ""
        if not isinstance(waste, list):
            return {}, "waste must be a list of {code, quantity}"
        entries: dict[str, int] = {}
        for i, entry in enumerate(waste):
            code = entry.get("code") if isinstance(entry, dict) else None
            quantity = entry.get("quantity") if isinstance(entry, dict) else None
            if not isinstance(code, str) or not (_whole(quantity) and quantity >= 0):
                return {}, f"waste[{i}] must be {{code: text, quantity: whole number}}"
            if code not in machine.waste_codes:
                return {}, f"waste[{i}]: {_echo(code)} is not a waste code of machine {_echo(machine.code)}"
            if code in entries:
                return {}, f"waste[{i}]: {_echo(code)} is listed twice"
            entries[code] = quantity
        return entries, ""

    def _produce(self, machine: Machine, added: int) -> None:
        order = self._orders.get(machine.production_order) if machine.production_order is not None else None
        if not added or order is None or order.running_status in ("closed", "archived"):
            return
        order.products[0].quantity_produced += added
        order.running_status = "started"
        if all(p.quantity_produced >= p.quantity_ordered for p in order.products):
            order.status = "completed"
        elif order.status == "scheduled":
            order.status = "onschedule"

    def _startstop(self, machine: Machine, payload: dict[str, Any]) -> Answer:
        running = payload.get("running")
        kind = payload.get("type")
        if not (_whole(running) and running in (0, 1)):
            return _bad("running must be 0 (stopped) or 1 (running)")
        if kind is not None and not isinstance(kind, str):
            return _bad("type must be text")
        if running == 0 and not kind:
            return _bad("type (the downtime type) is required with running 0")
        if kind and kind not in machine.downtime_types:
            return _bad(f"{_echo(kind)} is not a downtime type of machine {_echo(machine.code)}")
        if running == 1 and not machine.running:
            machine.running, machine.downtime_type, machine.since = True, "", now_stamp()
        elif running == 0 and (machine.running or machine.downtime_type != kind):
            machine.running, machine.downtime_type, machine.since = False, str(kind), now_stamp()
        self._record({"action": "startstop", "machine": machine.code, "running": running,
                      "type": kind, "at": now_stamp()})
        return _empty(200)
