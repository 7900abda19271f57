"""Connector for Prodsmart (MES): production orders, a machine's counter, machine downtime.

Three actions (``ACTIONS``), each keeping its state per station in the journal through
``step`` / ``settle`` / ``show`` (see ``kiosk.connectors.base.ActionSpec``):

- ``production-order``: a scanned order id is looked up (``GET /api/production-orders/{id}``)
  and shown: code, each product's quantity produced / ordered, status, running status.
  The order looked up stays "in hand" (the state) for ``CMD:ACTIVATE`` (``POST .../activate``:
  200 activated, 204 already active, 405 closed or archived) and ``CMD:NOTIFY:<reason>``
  (``POST .../notify``, the reason as ``short-message``, at most 140 characters, checked
  before sending; the operator in ``message``). Not queueable: a look-up is for now.
- ``machine-counter``: the profile's station is the machine code. Each good-part scan adds
  one to the cumulative count, a waste scan (``params.waste_prefix``, e.g. ``"WASTE:"``, then
  the waste code) adds one to that code's cumulative waste. The new totals are in the state,
  journaled BEFORE the request leaves, and the request carries them (``POST
  /api/machines/{code}/counter``), so a count never goes down or repeats, after a restart or a
  crash mid-request too. Queued requests combine ("latest"): the newest carries every total.
- ``downtime``: ``DT:<type>`` stops the machine for that downtime type (``startstop`` with
  ``running: 0``), ``DT:RUN`` starts it (``running: 1``); the screen shows "stopped —
  Maintenance since 10:02" or "running" from the state, across restarts. (``params``:
  ``downtime_prefix``, default ``"DT:"``; ``run_code``, default ``"RUN"``.)

Authentication: the API key and secret (each from ``*_env`` or ``*_file``, never the config
file) as HTTP Basic on ``/api/authorization``: GET the company's existing token, POST to create
one only when there is none (a POST replaces the token every kiosk of the company uses). The
token goes as the ``access_token`` query parameter. It is renewed ``token_renew_before_s``
before ``token_lifetime_s`` (2 h) has passed since this kiosk got it, and once when a request
answers 401 (never twice for one request). The token is added to the URL by ``_TokenTransport``,
below httpx's request logging, so no logged or shown URL, exception, journal row, message or
``repr()`` holds it.

Every request goes through ``kiosk.connectors.http.exchange`` (``timeout_s`` bounds the whole
exchange; the answer's size is capped) from one method, ``_exchange``.

Rate limit: 120 requests per minute per company. The service's per-backend budget
(``max_requests_per_minute``, default 120 here) paces the requests it sends; the token requests
come on top of those, so the connector also keeps its own sliding 60 s window of every request
it made (token requests included, each counted from when its answer ended) and answers
``BadAnswer(http_status=429, retry_after_s=...)`` itself rather than go over the budget. A 429
from Prodsmart is the same answer with its ``Retry-After`` (whole seconds): the lane waits.

Assumptions where ../shared/vendor-docs/prodsmart-api.pl.txt is silent (the simulator makes
the same ones, see ``kiosk.simulators.prodsmart``):

- ``GET /api/authorization`` answers 404 when the company has no valid token; the answers carry
  no expiry, so a token got by GET is taken as new (a 401 renews it if it was older).
- Error bodies: a JSON object's ``message`` (else ``error`` / ``detail``) or the text is the
  vendor's message, shown with its control characters made visible and cut to 200 characters.
- Counter: one kiosk station feeds each machine's counter. A 400 whose message says a value
  must be greater / increase therefore means Prodsmart already has that value: the request was
  a resend after an unknown result (a crash, a lost answer), and the scan counts as delivered
  ("Already counted"). When that message states Prodsmart's last value ("... last count
  (1000) ...") and it is above the kiosk's, the counter was started elsewhere: the kiosk
  counts on from it (sends last + its own increments) once. A request with several values
  that is refused is sent again one value at a time, so one stale or unknown waste code does
  not hold the others back; a value Prodsmart refuses for another reason (unknown waste code,
  unknown machine) is dropped back to what Prodsmart last confirmed.
- Downtime: ``type`` is required with ``running: 0`` and case-sensitive; ``DT:RUN`` sends no
  type. The time shown ("since") is when the card was scanned.
"""

from __future__ import annotations

import base64
import math
import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import Field, model_validator

from devices.text import visible
from kiosk.connectors.base import (
    Accepted,
    ActionSpec,
    Answer,
    BackendConfig,
    BadAnswer,
    ConnectorPlugin,
    DisplayField,
    Done,
    LocalReply,
    Probe,
    Rejected,
    Request,
    State,
    Step,
    Unreachable,
)
from kiosk.connectors.common import SecretUnavailable, exchange_failure, read_secret
from kiosk.connectors.http import (
    BoundedResponse,
    ExchangeError,
    UnreadableJson,
    cap_field,
    exchange,
    parse_retry_after,
    path_segment,
    read_json,
    split_credentials,
)

SERVER = "Prodsmart"
AUTH_PATH = "/api/authorization"
ORDERS_PATH = "/api/production-orders/"
MACHINES_PATH = "/api/machines/"
SCOPE = "productions_write"
SHORT_MESSAGE_MAX = 140
RATE_WINDOW_S = 60.0
MESSAGE_MAX_CHARS = 200
TOKEN_PARAM = "access_token"
MAY = "it may or may not have recorded the scan"
_TOKEN_FLAG = "kiosk.prodsmart.access_token"
"""Request extension asking ``_TokenTransport`` to add the token (the flag, never the token)."""


# --- config ------------------------------------------------------------------------------


class ProdsmartConfig(BackendConfig):
    """A Prodsmart company: API address, where the API key and secret are, token timing."""

    vendor: Literal["prodsmart"]
    max_requests_per_minute: float | None = Field(120, gt=0)
    """Prodsmart allows 120 requests per minute per company, shared by all its kiosks: give
    each kiosk its share. The token requests count too (the connector keeps them inside)."""
    key_env: str | None = None
    """Environment variable holding the API key."""
    key_file: Path | None = None
    """File holding the API key (first line); used when key_env is not set."""
    secret_env: str | None = None
    """Environment variable holding the API secret."""
    secret_file: Path | None = None
    """File holding the API secret (first line); used when secret_env is not set."""
    token_lifetime_s: float = Field(7200, gt=0)
    """How long Prodsmart keeps a token valid (2 h)."""
    token_renew_before_s: float = Field(300, ge=0)
    """Renew the token this long before its lifetime is over."""

    @model_validator(mode="after")
    def _sources(self) -> ProdsmartConfig:
        for what in ("key", "secret"):
            env, file = getattr(self, f"{what}_env"), getattr(self, f"{what}_file")
            if env and file:
                raise ValueError(f"give {what}_env or {what}_file, not both")
            if not env and not file:
                raise ValueError(f"give {what}_env or {what}_file (the API {what} is never in the config file)")
        if self.token_renew_before_s >= self.token_lifetime_s:
            raise ValueError("token_renew_before_s must be shorter than token_lifetime_s")
        return self


CredentialUnavailable = SecretUnavailable
"""The API key or secret cannot be read; the message names the source, never the value."""


def read_credential(name: str, backend: ProdsmartConfig, what: Literal["key", "secret"]) -> str:
    """The API key or secret from its ``*_env`` or ``*_file`` (``kiosk.connectors.common.read_secret``;
    a key holds no ':', which ends the key in HTTP Basic)."""
    env, file = getattr(backend, f"{what}_env"), getattr(backend, f"{what}_file")
    value = read_secret(name, what, env, file, what=f"Prodsmart API {what}", forbid=":" if what == "key" else "")
    if value is None:  # ProdsmartConfig requires one source of each
        raise CredentialUnavailable(f"{what}_env", f"no source for the Prodsmart API {what}",
                                    f"give {what}_env or {what}_file")
    return value


# --- answers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderShown(Accepted):
    """A production order as Prodsmart shows it."""

    order: str = ""
    code: str = ""
    products: tuple[tuple[str, str, str], ...] = ()
    """(product, quantity produced, quantity ordered) as the vendor gave them."""
    status: str = ""
    running_status: str = ""
    active: bool | None = None
    title: str = "Production order"
    http_status: int = 200

    @property
    def progress(self) -> str:
        return ", ".join(f"{name} {produced} / {ordered}" for name, produced, ordered in self.products)

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        shown = [DisplayField("order", "Order", self.order), DisplayField("code", "Code", self.code)]
        shown += [DisplayField(f"product_{i}", name, f"{produced} / {ordered}")
                  for i, (name, produced, ordered) in enumerate(self.products, 1)]
        shown += [DisplayField("status", "Status", self.status),
                  DisplayField("running_status", "Running", self.running_status)]
        if self.active is not None:
            shown.append(DisplayField("active", "Active", "yes" if self.active else "no"))
        return tuple(f for f in shown if f.value)


@dataclass(frozen=True)
class Counted(Accepted):
    """Prodsmart has the machine's counter at (at least) these totals."""

    machine: str = ""
    count: int | None = None
    waste: tuple[tuple[str, int], ...] = ()
    title: str = "Counted"
    http_status: int = 200

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        shown = [DisplayField("machine", "Machine", self.machine)]
        if self.count is not None:
            shown.append(DisplayField("count", "Count", str(self.count)))
        if self.waste:
            shown.append(DisplayField("waste", "Waste", ", ".join(f"{code} {q}" for code, q in self.waste)))
        return tuple(shown)


@dataclass(frozen=True)
class CounterRefused(Rejected):
    """Prodsmart refused some of a counter request's totals (``refused``: their keys, ``count``
    or ``waste:<code>``); the others it counted (``counted``)."""

    refused: tuple[str, ...] = ()
    counted: Counted | None = None


# --- the actions: step, settle, show (pure) ------------------------------------------------


def _deny(title: str, *details: str) -> LocalReply:
    return LocalReply("denied", title, tuple(details))


def _order_in_hand(state: State) -> str | None:
    order = state.get("order")
    return order if isinstance(order, str) and order else None


def order_step(state: State, request: Request, now: float) -> Step:
    """A scanned order id is looked up; ACTIVATE and NOTIFY act on the order in hand."""
    if request.command is None:
        order = request.identifier.strip()
        if not re.fullmatch(r"[0-9]{1,18}", order):
            return Step(state, reply=_deny("Not a production order", f"{visible(cap_field(order, 40))} is not a "
                                                                      "production order id (digits only)."))
        return Step(state, replace(request, identifier=order))
    held = _order_in_hand(state)
    if held is None:
        return Step(state, reply=_deny("Scan a production order first",
                                       f"{request.command} acts on the production order scanned last."))
    if request.command == "NOTIFY":
        reason = (request.argument or "").strip()
        if not reason:
            return Step(state, reply=_deny("Give a reason",
                                           "Scan CMD:NOTIFY:<reason>, e.g. CMD:NOTIFY:Material shortage."))
        if len(reason) > SHORT_MESSAGE_MAX:
            return Step(state, reply=_deny("Reason too long", f"The reason has {len(reason)} characters; "
                                                              f"Prodsmart takes at most {SHORT_MESSAGE_MAX}."))
        return Step(state, replace(request, identifier=held, argument=reason))
    return Step(state, replace(request, identifier=held))


def order_settle(state: State, request: Request, answer: Answer, now: float) -> State:
    """A look-up puts the order in hand; one that fails in any way empties the hand, so a command
    never acts on an earlier order than the one scanned last. Activating marks it active."""
    if request.command is None:
        if isinstance(answer, OrderShown):
            return {"order": answer.order, "code": answer.code, "progress": answer.progress,
                    "status": answer.status, "running_status": answer.running_status, "active": answer.active}
        return {}
    elif request.command == "ACTIVATE" and isinstance(answer, Accepted) and _order_in_hand(state):
        return {**state, "active": True}
    return state


def order_show(state: State) -> tuple[DisplayField, ...]:
    order = _order_in_hand(state)
    if order is None:
        return ()
    status = ", ".join(str(state.get(k) or "") for k in ("status", "running_status") if state.get(k))
    shown = [DisplayField("order", "Order", f"{order} {state.get('code') or ''}".strip()),
             DisplayField("progress", "Produced", str(state.get("progress") or "")),
             DisplayField("status", "Status", status)]
    return tuple(f for f in shown if f.value)


def _totals(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool) and v >= 0}


def _number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def counter_step(state: State, request: Request, now: float) -> Step:
    """Add the scan to the totals (journaled before sending); the request carries every total
    Prodsmart has not confirmed yet."""
    count, waste = _number(state.get("count")), _totals(state.get("waste"))
    sure_count, sure_waste = _number(state.get("confirmed_count")), _totals(state.get("confirmed_waste"))
    prefix = request.params.get("waste_prefix")
    text = request.identifier
    if isinstance(prefix, str) and prefix and text.startswith(prefix):
        code = text[len(prefix):].strip()
        if not code:
            return Step(state, reply=_deny("No waste code", f"Scan {prefix}<waste code>, e.g. {prefix}Scrap."))
        waste[code] = max(waste.get(code, 0), sure_waste.get(code, 0)) + 1
    else:
        count = max(count, sure_count) + 1
    params: dict[str, Any] = dict(request.params)
    if count > sure_count:
        params.update(count=count, count_added=count - sure_count)
    wasted = [{"code": c, "quantity": q, "added": q - sure_waste.get(c, 0)}
              for c, q in waste.items() if q > sure_waste.get(c, 0)]
    if wasted:
        params["waste"] = wasted
    new_state = {**state, "count": count, "waste": waste}
    return Step(new_state, replace(request, params=params))


def counter_settle(state: State, request: Request, answer: Answer, now: float) -> State:
    """Prodsmart's totals are confirmed (and never lower the kiosk's); refused totals fall back
    to what Prodsmart last confirmed."""
    counted = answer if isinstance(answer, Counted) else answer.counted if isinstance(answer, CounterRefused) else None
    if counted is None and not isinstance(answer, Rejected):
        return state
    count, waste = _number(state.get("count")), _totals(state.get("waste"))
    sure_count, sure_waste = _number(state.get("confirmed_count")), _totals(state.get("confirmed_waste"))
    if counted is not None:
        if counted.count is not None:
            sure_count = max(sure_count, counted.count)
        for code, quantity in counted.waste:
            sure_waste[code] = max(sure_waste.get(code, 0), quantity)
    if isinstance(answer, Rejected):
        refused = answer.refused if isinstance(answer, CounterRefused) else tuple(_entry_keys(request))
        for key in refused:
            if key == "count":
                count = sure_count
            elif key.startswith("waste:"):
                code = key[len("waste:"):]
                if code in sure_waste:
                    waste[code] = sure_waste[code]
                else:
                    waste.pop(code, None)
    count = max(count, sure_count)
    for code, quantity in sure_waste.items():
        waste[code] = max(waste.get(code, 0), quantity)
    return {**state, "count": count, "waste": waste, "confirmed_count": sure_count, "confirmed_waste": sure_waste}


def counter_show(state: State) -> tuple[DisplayField, ...]:
    if not state:
        return ()
    count, waste = _number(state.get("count")), _totals(state.get("waste"))
    unconfirmed = count - _number(state.get("confirmed_count"))
    shown = [DisplayField("count", "Count", str(count))]
    if waste:
        shown.append(DisplayField("waste", "Waste", ", ".join(f"{c} {q}" for c, q in waste.items())))
    if unconfirmed > 0:
        shown.append(DisplayField("unconfirmed", "Not yet confirmed", str(unconfirmed)))
    return tuple(shown)


def downtime_step(state: State, request: Request, now: float) -> Step:
    """``DT:<type>`` stops the machine, ``DT:RUN`` starts it; anything else is not a downtime card."""
    prefix = request.params.get("downtime_prefix", "DT:")
    run = request.params.get("run_code", "RUN")
    text = request.identifier
    cards = f"Scan a {prefix}<downtime type> card, or {prefix}{run}."
    if not isinstance(prefix, str) or not text.startswith(prefix):
        return Step(state, reply=_deny("Not a downtime card", cards))
    kind = text[len(prefix):].strip()
    if not kind:
        return Step(state, reply=_deny("No downtime type", cards))
    params: dict[str, Any] = {**request.params, "at": now}
    params.update({"running": 1} if kind == run else {"running": 0, "type": kind})
    return Step(state, replace(request, params=params))


def downtime_settle(state: State, request: Request, answer: Answer, now: float) -> State:
    if not isinstance(answer, Accepted):
        return state
    at = request.params.get("at")
    since = float(at) if isinstance(at, (int, float)) and not isinstance(at, bool) else now
    running = request.params.get("running") == 1
    return {"running": running, "type": "" if running else str(request.params.get("type", "")), "since": since}


def _clock_time(epoch: float) -> str:
    when = datetime.fromtimestamp(epoch)
    return when.strftime("%H:%M") if when.date() == datetime.now().date() else when.strftime("%d %b %H:%M")


def downtime_show(state: State) -> tuple[DisplayField, ...]:
    if "running" not in state:
        return ()
    since = state.get("since")
    at = f" since {_clock_time(since)}" if isinstance(since, (int, float)) and not isinstance(since, bool) else ""
    if state.get("running"):
        return (DisplayField("machine", "Machine", f"running{at}"),)
    return (DisplayField("machine", "Machine", f"stopped — {state.get('type') or 'downtime'}{at}"),)


PRODUCTION_ORDER = ActionSpec("production-order", verb="accepted", queueable=False, idempotent=False,
                              commands=frozenset({"ACTIVATE", "NOTIFY"}),
                              step=order_step, settle=order_settle, show=order_show)
MACHINE_COUNTER = ActionSpec("machine-counter", verb="counted", queueable=True, idempotent=True, combine="latest",
                             step=counter_step, settle=counter_settle, show=counter_show)
DOWNTIME = ActionSpec("downtime", verb="recorded", queueable=True, idempotent=True,
                      step=downtime_step, settle=downtime_settle, show=downtime_show)
ACTIONS: Mapping[str, ActionSpec] = {a.name: a for a in (PRODUCTION_ORDER, MACHINE_COUNTER, DOWNTIME)}


# --- counter entries -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One total of a counter request: ``count`` or ``waste:<code>``, its value, and how many
    of the kiosk's increments it carries beyond what Prodsmart had confirmed."""

    key: str
    value: int
    added: int

    @property
    def code(self) -> str:
        return self.key[len("waste:"):]


def _entries(params: Mapping[str, Any]) -> list[_Entry]:
    entries = []
    count = params.get("count")
    if isinstance(count, int) and not isinstance(count, bool):
        entries.append(_Entry("count", count, _number(params.get("count_added")) or 1))
    for item in params.get("waste") or ():
        if isinstance(item, Mapping) and isinstance(item.get("code"), str) and isinstance(item.get("quantity"), int):
            entries.append(_Entry(f"waste:{item['code']}", item["quantity"], _number(item.get("added")) or 1))
    return entries


def _entry_keys(request: Request) -> list[str]:
    return [e.key for e in _entries(request.params)]


def _counter_body(entries: list[_Entry]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for e in entries:
        if e.key == "count":
            body["count"] = e.value
        else:
            body.setdefault("waste", []).append({"code": e.code, "quantity": e.value})
    return body


_REFUSALS = {400: f"Refused by {SERVER}", 404: f"Not found in {SERVER}", 405: f"Not allowed by {SERVER}",
             409: f"Refused by {SERVER}", 422: f"Refused by {SERVER}"}
_NOT_INCREASING = re.compile(r"greater|increas|higher|larger", re.IGNORECASE)
_LAST_VALUE = re.compile(r"\blast\b[^()]{0,60}\((\d{1,18})\)", re.IGNORECASE)


# --- reading answers -------------------------------------------------------------------------


class _Stop(Exception):
    """Ends a perform early with this answer (no answer from Prodsmart, a refused token ...)."""

    def __init__(self, answer: Answer) -> None:
        super().__init__(type(answer).__name__)
        self.answer = answer


def _json(content: bytes) -> Any:
    """The body as JSON, or None when it is not JSON the kiosk reads (``read_json``'s bounds)."""
    try:
        return read_json(content)
    except UnreadableJson:
        return None


def vendor_message(reply: BoundedResponse) -> str:
    """What Prodsmart said in an error body (JSON ``message``/``error``/``detail`` or the text),
    control characters made visible, whitespace folded, at most ``MESSAGE_MAX_CHARS``."""
    data = _json(reply.content)
    text = ""
    if isinstance(data, dict):
        for key in ("message", "error", "detail", "details"):
            value = data.get(key)
            if isinstance(value, list):
                value = "; ".join(str(v) for v in value)
            if isinstance(value, (str, int, float)) and str(value).strip():
                text = str(value)
                break
    elif isinstance(data, str):
        text = data
    if not text:
        text = reply.content[: MESSAGE_MAX_CHARS * 4].decode("utf-8", "replace")
    text = visible(" ".join(text.split()))
    return cap_field(text, MESSAGE_MAX_CHARS) if text else f"HTTP {reply.status} {reply.reason}".strip()


# --- the token, below the logging ----------------------------------------------------------


class _Secrets:
    """The API key and secret as a Basic header value, and the current token; never printed."""

    __slots__ = ("basic", "token", "token_at")

    def __init__(self, basic: str) -> None:
        self.basic = basic
        self.token: str | None = None
        self.token_at = 0.0

    def __repr__(self) -> str:
        return "<Prodsmart credentials>"


class _TokenTransport(httpx.AsyncBaseTransport):
    """Adds ``access_token`` to requests flagged for it, on a copy handed to the real transport:
    httpx logs, keeps and raises with the request it built, which never holds the token."""

    def __init__(self, inner: httpx.AsyncBaseTransport, secrets: _Secrets) -> None:
        self._inner = inner
        self._secrets = secrets

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        extensions = dict(request.extensions)
        if extensions.pop(_TOKEN_FLAG, False) and self._secrets.token is not None:
            url = request.url.copy_merge_params({TOKEN_PARAM: self._secrets.token})
            request = httpx.Request(request.method, url, headers=request.headers, stream=request.stream,
                                    extensions=extensions)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Window:
    """Every request of the last 60 s, each at the time its exchange ended (never earlier than
    Prodsmart counted it), so the connector can keep under the budget with token requests too."""

    def __init__(self, per_minute: float | None, clock: Callable[[], float]) -> None:
        self.limit = int(per_minute) if per_minute else None
        self.clock = clock
        self.ends: deque[float] = deque()

    def wait(self) -> float:
        """Seconds until one more request fits (0 when it fits now)."""
        if self.limit is None:
            return 0.0
        now = self.clock()
        while self.ends and self.ends[0] <= now - RATE_WINDOW_S:
            self.ends.popleft()
        if len(self.ends) < self.limit:
            return 0.0
        return self.ends[len(self.ends) - self.limit] + RATE_WINDOW_S - now

    def note(self) -> None:
        self.ends.append(self.clock())


# --- the connector -------------------------------------------------------------------------


class ProdsmartConnector:
    """Prodsmart's production orders, machine counters and downtime; see the module docstring."""

    vendor = "prodsmart"
    actions = ACTIONS

    def __init__(self, name: str, backend: ProdsmartConfig, *, transport: httpx.AsyncBaseTransport | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.backend = backend
        self._where = backend.display_url
        pair = f"{read_credential(name, backend, 'key')}:{read_credential(name, backend, 'secret')}".encode()
        self._secrets = _Secrets("Basic " + base64.b64encode(pair).decode("ascii"))
        self._clock = clock
        self._window = _Window(backend.max_requests_per_minute, clock)
        self._base = httpx.URL(split_credentials(backend.base_url)[0])  # a user:password@ would be logged
        self._known: dict[str, dict[str, int]] = {}
        """Per machine: the totals Prodsmart is known to have (at least), from its answers."""
        inner = transport or httpx.AsyncHTTPTransport()
        self._client = httpx.AsyncClient(transport=_TokenTransport(inner, self._secrets),
                                         headers={"Accept": "application/json", "User-Agent": "kiosk-prodsmart"},
                                         timeout=httpx.Timeout(backend.timeout_s))

    def __repr__(self) -> str:
        return f"ProdsmartConnector(name={self.name!r}, base_url={self._where!r})"

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- performing ------------------------------------------------------------------

    async def perform(self, request: Request) -> Answer:
        try:
            if request.action == PRODUCTION_ORDER.name:
                return await self._production_order(request)
            if request.action == MACHINE_COUNTER.name:
                return await self._counter(request)
            if request.action == DOWNTIME.name:
                return await self._downtime(request)
        except _Stop as stop:
            return stop.answer
        raise ValueError(f"the Prodsmart connector has no action {request.action!r}")

    async def _production_order(self, request: Request) -> Answer:
        path = ORDERS_PATH + path_segment(request.identifier, "order id")
        if request.command is None:
            reply = await self._api("GET", path)
            if reply.status == 200:
                return self._order(reply, request.identifier)
            if reply.status == 404:
                return Rejected("Production order not found", (vendor_message(reply),), 404)
            return self._other(reply)
        if request.command == "ACTIVATE":
            reply = await self._api("POST", path + "/activate", {})
            if reply.status == 200:
                return Done("Activated", (DisplayField("order", "Order", request.identifier),), 200)
            if reply.status == 204:
                return Done("Already active", (DisplayField("order", "Order", request.identifier),), 204)
            if reply.status == 405:
                return Rejected("Cannot be activated", (vendor_message(reply),), 405)
            return self._other(reply)
        if request.command == "NOTIFY":
            reason = request.argument or ""
            if not reason or len(reason) > SHORT_MESSAGE_MAX:
                raise ValueError(f"a notify reason must have 1 to {SHORT_MESSAGE_MAX} characters")
            body = {"short-message": reason}
            if request.operator:
                body["message"] = f"Operator {request.operator}"
            reply = await self._api("POST", path + "/notify", body)
            if 200 <= reply.status < 300:
                return Done("Notified", (DisplayField("order", "Order", request.identifier),
                                         DisplayField("reason", "Reason", reason)), reply.status)
            return self._other(reply)
        raise ValueError(f"the production-order action has no command {request.command!r}")

    def _order(self, reply: BoundedResponse, order: str) -> Answer:
        data = _json(reply.content)
        if not isinstance(data, dict):
            return self._unreadable(reply, "a production order")

        def text(value: Any) -> str:
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # 700.0 produced reads as 700
            return "" if value is None or isinstance(value, (dict, list)) else cap_field(str(value))

        listed = data.get("products")
        products = tuple((text(p.get("product")), text(p.get("quantity-produced")), text(p.get("quantity-ordered")))
                         for p in (listed if isinstance(listed, list) else ()) if isinstance(p, dict))
        active = data.get("is-active", data.get("active"))
        return OrderShown(order=order, code=text(data.get("code")), products=products[:20],
                          status=text(data.get("status")), running_status=text(data.get("running-status")),
                          active=active if isinstance(active, bool) else None)

    async def _downtime(self, request: Request) -> Answer:
        running = request.params.get("running")
        if running not in (0, 1):
            raise ValueError("a downtime request needs running 0 or 1")
        body: dict[str, Any] = {"running": running}
        kind = request.params.get("type")
        if running == 0:
            body["type"] = kind
        path = MACHINES_PATH + path_segment(request.station, "machine code") + "/startstop"
        reply = await self._api("POST", path, body)
        if 200 <= reply.status < 300:
            state = "running" if running == 1 else f"stopped — {kind}"
            return Done("Machine running" if running == 1 else "Machine stopped",
                        (DisplayField("machine", "Machine", request.station), DisplayField("state", "State", state)),
                        reply.status)
        return self._other(reply)

    # --- the machine counter ---------------------------------------------------------

    async def _counter(self, request: Request) -> Answer:
        machine = request.station
        entries = [e for e in _entries(request.params) if e.value > self._known_value(machine, e.key)]
        if not _entries(request.params):
            raise ValueError("a machine-counter request carries no count and no waste")
        if not entries:
            return self._counted(machine, "Already counted")
        return await self._count(machine, entries, request, split=True)

    def _known_value(self, machine: str, key: str) -> int:
        return self._known.get(machine, {}).get(key, -1)

    def _learn(self, machine: str, key: str, value: int) -> None:
        known = self._known.setdefault(machine, {})
        known[key] = max(known.get(key, -1), value)

    def _counted(self, machine: str, title: str, status: int = 200) -> Counted:
        """Every total Prodsmart is known to have (at least) for ``machine``."""
        known = self._known.get(machine, {})
        waste = tuple((key[len("waste:"):], value) for key, value in known.items() if key.startswith("waste:"))
        return Counted(machine=machine, count=known.get("count"), waste=waste, title=title, http_status=status)

    async def _count(self, machine: str, entries: list[_Entry], request: Request, *, split: bool) -> Answer:
        path = MACHINES_PATH + path_segment(machine, "machine code") + "/counter"
        reply = await self._api("POST", path, _counter_body(entries))
        if 200 <= reply.status < 300:
            self._learn_answer(machine, entries, reply)
            return self._counted(machine, "Counted", reply.status)
        if reply.status not in (400, 404, 409, 422):
            return self._other(reply)
        if len(entries) > 1 and split and reply.status != 404:
            return await self._count_singly(machine, entries, request)
        message = vendor_message(reply)
        entry = entries[0]
        if len(entries) == 1 and reply.status == 400 and _NOT_INCREASING.search(message):
            last = _LAST_VALUE.search(message)
            vendor = int(last.group(1)) if last else None
            if split and vendor is not None and vendor > entry.value:
                ahead = _Entry(entry.key, vendor + entry.added, entry.added)
                again = await self._count(machine, [ahead], request, split=False)
                if isinstance(again, Counted):
                    return replace(again, title=f"Counted on from {SERVER}'s {vendor}")
                return again
            self._learn(machine, entry.key, max(entry.value, vendor or 0))
            return self._counted(machine, "Already counted")
        return CounterRefused(title="Not counted", details=(message,), http_status=reply.status,
                              refused=tuple(e.key for e in entries))

    async def _count_singly(self, machine: str, entries: list[_Entry], request: Request) -> Answer:
        """Send each total on its own, so one refused total does not hold back the others."""
        refused: list[str] = []
        details: list[str] = []
        titles: list[str] = []
        for entry in entries:
            answer = await self._count(machine, [entry], request, split=True)
            if isinstance(answer, CounterRefused):
                refused += answer.refused
                details += answer.details
            elif isinstance(answer, Counted):
                titles.append(answer.title)
            else:
                return answer  # no answer or unusable: the whole request goes again later
        counted = self._counted(machine, "Counted" if "Counted" in titles or not titles else titles[0])
        if refused:
            return CounterRefused(title="Not counted", details=tuple(details), refused=tuple(refused),
                                  counted=counted if titles else None)
        return counted

    def _learn_answer(self, machine: str, entries: list[_Entry], reply: BoundedResponse) -> None:
        """Prodsmart's new totals from its answer; the values sent when it cannot be read."""
        for e in entries:
            self._learn(machine, e.key, e.value)
        data = _json(reply.content)
        if not isinstance(data, dict):
            return
        count = data.get("count")
        if isinstance(count, int) and not isinstance(count, bool):
            self._learn(machine, "count", count)
        waste = data.get("waste")
        for item in waste if isinstance(waste, list) else ():
            if isinstance(item, dict) and isinstance(item.get("code"), str) and isinstance(item.get("quantity"), int):
                self._learn(machine, f"waste:{item['code']}", item["quantity"])

    # --- answers that are not the action's own ----------------------------------------

    def _other(self, reply: BoundedResponse) -> Answer:
        status = reply.status
        message = vendor_message(reply)
        if status == 429:
            wait = parse_retry_after(reply.headers.get("Retry-After"))
            shown = f"sending in {wait:.0f} s" if wait is not None else "sending later"
            return BadAnswer(f"{SERVER} is busy (more than its requests per minute): {shown}", 429, message, wait)
        if status >= 500:
            return BadAnswer(f"{SERVER} answered HTTP {status}: {message}", status, message,
                             parse_retry_after(reply.headers.get("Retry-After")))
        if status in _REFUSALS:
            return Rejected(_REFUSALS[status], (message,), status)
        if status in (401, 403):
            return BadAnswer(f"{SERVER} refused the access token (HTTP {status}): {message}", status, message)
        return BadAnswer(f"{SERVER} answered HTTP {status} {reply.reason}: {message}".strip(), status, message)

    def _unreadable(self, reply: BoundedResponse, what: str) -> BadAnswer:
        excerpt = cap_field(visible(" ".join(reply.content[:400].decode("utf-8", "replace").split())), 120)
        return BadAnswer(f"{SERVER} answered HTTP {reply.status} without {what} the kiosk can read", reply.status,
                         excerpt)

    # --- the token -------------------------------------------------------------------

    async def _api(self, method: str, path: str, body: Any = None) -> BoundedResponse:
        """One API request with the token; a 401 renews the token once and sends it again."""
        fresh = await self._ensure_token()
        reply = await self._exchange(method, path, body, with_token=True)
        if reply.status == 401 and not fresh:
            await self._renew(stale=self._secrets.token)
            reply = await self._exchange(method, path, body, with_token=True)
        return reply

    async def _ensure_token(self) -> bool:
        """Get a token when there is none or it is near its end; True when it was got just now."""
        secrets = self._secrets
        age = self._clock() - secrets.token_at
        if secrets.token is not None and age < self.backend.token_lifetime_s - self.backend.token_renew_before_s:
            return False
        await self._renew(stale=secrets.token)
        return True

    async def _renew(self, stale: str | None) -> None:
        """GET the company's token; POST a new one only when there is none or it is ``stale``."""
        secrets = self._secrets
        reply = await self._authorization("GET")
        if reply.status == 200:
            token = self._token_of(reply)
            if token != stale:
                secrets.token, secrets.token_at = token, self._clock()
                return
        elif reply.status != 404:
            raise _Stop(self._auth_failed(reply))
        reply = await self._authorization("POST", {"scopes": [SCOPE]})
        if reply.status not in (200, 201):
            raise _Stop(self._auth_failed(reply))
        secrets.token, secrets.token_at = self._token_of(reply), self._clock()

    def _token_of(self, reply: BoundedResponse) -> str:
        data = _json(reply.content)
        token = data.get("token") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or not all(0x20 < ord(c) < 0x7F for c in token):
            raise _Stop(BadAnswer(f"{SERVER} answered the token request (HTTP {reply.status}) without a token the "
                                  "kiosk can use", reply.status))
        return token

    def _auth_failed(self, reply: BoundedResponse) -> Answer:
        if reply.status in (401, 403):
            return BadAnswer(f"{SERVER} refused the API key and secret (HTTP {reply.status} on {AUTH_PATH}): check "
                             f"backends.{self.name}.key_* and secret_*", reply.status, vendor_message(reply))
        answer = self._other(reply)
        if not isinstance(answer, BadAnswer):  # refusing the token request is not refusing the scan
            return BadAnswer(f"{SERVER} refused the token request (HTTP {reply.status}): {vendor_message(reply)}",
                             reply.status, vendor_message(reply))
        return answer

    async def _authorization(self, method: str, body: Any = None) -> BoundedResponse:
        try:
            return await self._exchange(method, AUTH_PATH, body, with_token=False)
        except _Stop as stop:
            if isinstance(stop.answer, Unreachable):  # the scan's own request never left
                raise _Stop(replace(stop.answer, sent=False)) from None
            raise

    # --- the one way a request leaves ------------------------------------------------

    async def _exchange(self, method: str, path: str, body: Any, *, with_token: bool) -> BoundedResponse:
        """Send one request through ``kiosk.connectors.http.exchange`` (``timeout_s`` for the whole
        exchange, the answer's size capped).

        Raises ``_Stop`` with the answer to give when there is no answer, or when the request
        would go over the budget (counted here for every request, token requests included)."""
        wait = self._window.wait()
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise _Stop(BadAnswer(f"The kiosk keeps under {self._window.limit} {SERVER} requests per minute (token "
                                  f"requests count too): sending in {seconds} s", 429, "", float(seconds)))
        url = self._base.copy_with(raw_path=self._base.raw_path.rstrip(b"/") + path.encode("ascii"))
        headers = {} if with_token else {"Authorization": self._secrets.basic}
        extensions = {_TOKEN_FLAG: True} if with_token else {}
        request = self._client.build_request(method, url, json=body, headers=headers, extensions=extensions)
        try:
            answer = await exchange(self._client, request, deadline_s=self.backend.timeout_s)
        except ExchangeError as exc:
            if exc.sent:
                self._window.note()
            failure = exchange_failure(exc, server=SERVER, where=self._where, timeout_s=self.backend.timeout_s, may=MAY)
            if isinstance(failure, BadAnswer) and method == "GET":  # a look-up records nothing
                failure = replace(failure, unknown=False)
            raise _Stop(failure) from None
        self._window.note()
        token = self._secrets.token
        if with_token and token:  # a vendor that echoes the URL in an error must not show the token
            content = answer.content
            for form in {token, quote(token, safe="")}:
                content = content.replace(form.encode("ascii"), b"<access token>")
            answer = replace(answer, content=content)
        return answer

    # --- health ----------------------------------------------------------------------

    async def probe(self, station: str | None = None) -> Probe:
        """Prove the base URL and the API key and secret: GET /api/authorization changes nothing.

        Station codes are not checked: Prodsmart has no read-only look-up of a machine."""
        started = time.perf_counter()
        extra = {"base_url": self._where}
        try:
            reply = await self._exchange("GET", AUTH_PATH, None, with_token=False)
        except _Stop as stop:
            answer = stop.answer
            if isinstance(answer, Unreachable):
                return Probe(False, answer.message, extra=extra, problem="unreachable")
            return Probe(False, getattr(answer, "message", str(answer)), extra=extra, problem="server")
        latency_ms = (time.perf_counter() - started) * 1000
        answered = f"{self._where} answered HTTP {reply.status} on {AUTH_PATH}"
        if reply.status == 200 and isinstance(_json(reply.content), dict):
            return Probe(True, f"API key and secret accepted, a token exists ({latency_ms:.0f} ms); machine codes "
                               "are not checked", 200, latency_ms, extra)
        if reply.status == 404 and isinstance(_json(reply.content), dict):
            return Probe(True, f"API key and secret accepted, no token yet: the first scan creates one "
                               f"({latency_ms:.0f} ms); machine codes are not checked", 404, latency_ms, extra)
        if reply.status in (401, 403):
            return Probe(False, f"API key or secret refused: {answered}", reply.status, latency_ms, extra, "token")
        if reply.status == 404:
            return Probe(False, f"wrong base_url: {answered}", reply.status, latency_ms, extra, "base_url")
        if reply.status >= 500 or reply.status == 429:
            return Probe(False, f"server problem: {answered}: {vendor_message(reply)}", reply.status, latency_ms,
                         extra, "server")
        return Probe(False, f"{answered}, not like the Prodsmart API: {vendor_message(reply)}", reply.status,
                     latency_ms, extra, "answer")


def _build(name: str, config: ProdsmartConfig, *, base_dir: Path | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> ProdsmartConnector:
    if base_dir is not None:
        update = {key: base_dir / path for key in ("key_file", "secret_file")
                  if (path := getattr(config, key)) is not None and not path.is_absolute()}
        if update:
            config = config.model_copy(update=update)
    return ProdsmartConnector(name, config, transport=transport)


PLUGIN = ConnectorPlugin(vendor="prodsmart", config_model=ProdsmartConfig, factory=_build, actions=ACTIONS,
                         description="Prodsmart MES: production orders, machine counter, downtime")
