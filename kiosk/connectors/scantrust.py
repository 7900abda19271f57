"""Connector for Scantrust secure-code work orders (vendor "scantrust"): a print station.

Action ``printer-confirm``: a scanned work order id is sent as
``PATCH {base_url}/api/v2/workorders/{id}/printer-confirm/`` with ``{"substrate",
"equipment", "external_id"}``; the answer is the work order, shown as a ``Confirmed``
(state, code generation, whether the codes file is ready).

Assumptions where ../shared/vendor-docs/scantrust-workorders.txt is silent:
- The token: the document points to an "Authentication & Tokens" page it does not include.
  Header ``token_header`` (default ``Authorization``) carrying ``"{token_scheme} {token}"``
  (default scheme ``UAT``; an empty scheme sends the bare token). The token comes from
  ``token_env`` or the first line of ``token_file``, never from the config file.
- substrate and equipment are ids (the document: "integer, substrate id"); they are sent as
  JSON numbers. external_id is optional text, sent only when given. Each comes from the
  profile's ``params`` (keys ``substrate``, ``equipment``, ``external_id``; a digit string
  is taken as an id) or else the backend's keys of the same names. The connector binds its
  backend into the action's step (its ``actions``), so a confirmation without substrate or
  equipment, with unknown params keys (a misspelt key must not fall back to the backend's
  value silently) or with "", "." or ".." as the work order id is refused at the station
  (``denied``) and never journaled as a request or queued. ``perform`` checks the same
  again for a request that did not come through the step (``Rejected`` with ``http_status``
  0: no HTTP exchange took place).
- An external id from a second scan: with the params key ``external_id_from_scan = true`` a
  work order scan is kept in the action's state (journaled: it survives a restart) and
  answered "Now scan the external id"; the next scan is its external id and the
  confirmation goes out with both (the scanned external id replaces a configured one).
  A work order waits at most ``EXTERNAL_ID_WAIT_S``: a later scan starts anew, so a scan
  after a break is never taken for an external id. ``CMD:CANCEL`` drops the waiting one.
- The work order id is one percent-encoded path segment (everything but RFC 3986 unreserved
  characters is encoded).
- Answers (Django REST framework bodies): 2xx with a work order object is ``Confirmed``
  (``codegen_status`` 6 "generating", 4 "ready"; the codes file is ready when
  ``codegen_file`` is set); a 2xx without one is ``BadAnswer(unknown=True)``. 400 (``detail``,
  field errors or ``non_field_errors``), 401, 403 and 404 with a JSON object are
  ``Rejected``; 5xx and 429 are transient, with Retry-After.
- Queueable: the confirmation lets Scantrust generate the codes; nothing at the press waits
  for it (the brand owner downloads the codes later), so it may wait in the outbox. Not
  idempotent: a second confirmation is refused ("has already been confirmed"), so an
  unknown result is parked for a lead, never resent blindly.
- ``probe()`` GETs work order 0 (read-only): 401/403 mean the token is refused or lacks
  permission; a 404 ``{"detail": ...}`` or 200 means the API took the token.
- Every request is one ``kiosk.connectors.http.exchange``: ``timeout_s`` bounds it from
  connect to the last byte, the answer is at most ``MAX_ANSWER_BYTES``; a 2xx the kiosk will
  not read (too large, undecodable) is ``BadAnswer(unknown=True)``. A ``user:password@`` in
  ``base_url`` is sent as Basic authorization and never shown.

The token is never logged, never part of a message and not in ``repr()``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, Mapping, NamedTuple

import httpx
from pydantic import Field, field_validator, model_validator

from devices.text import visible
from kiosk.connectors.base import (
    Accepted,
    ActionSpec,
    Answer,
    BackendConfig,
    BadAnswer,
    ConnectorPlugin,
    DisplayField,
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
    NotASegment,
    UnreadableJson,
    cap_field,
    excerpt,
    exchange,
    parse_retry_after,
    path_segment,
    read_json,
    split_credentials,
)

WORKORDERS = "/api/v2/workorders/"
CONFIRM_SUFFIX = "/printer-confirm/"
SERVER = "the Scantrust server"
THE_SERVER = "The Scantrust server"
MAY = "the work order may or may not have been confirmed"
MAX_ANSWER_BYTES = 1024 * 1024
MAX_EXTERNAL_ID = 255
NO_HTTP = 0
"""``http_status`` of an answer the kiosk gave itself."""
CODEGEN_GENERATING = 6
CODEGEN_DONE = 4
CONFIRM_NAME = "printer-confirm"
FROM_SCAN = "external_id_from_scan"
PARAMS = ("substrate", "equipment", "external_id", FROM_SCAN)
NOT_A_WORKORDER = "Scan the work order number."
EXTERNAL_ID_WAIT_S = 120.0
"""How long a scanned work order waits for its external id scan (``external_id_from_scan``)."""

_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class ScantrustConfig(BackendConfig):
    """A Scantrust API for a printing partner: address, UAT token source, the press's ids."""

    vendor: Literal["scantrust"]
    token_env: str | None = None
    """Environment variable holding the UAT token."""
    token_file: Path | None = None
    """File holding the UAT token (first line); used when token_env is not set."""
    token_header: str = "Authorization"
    token_scheme: str = "UAT"
    """Put before the token in the header; empty for the bare token."""
    substrate: int | None = Field(None, ge=1)
    """The substrate id confirmed for printing (a profile's params may give another)."""
    equipment: int | None = Field(None, ge=1)
    """The printing equipment id (a profile's params may give another)."""
    external_id: str | None = Field(None, max_length=MAX_EXTERNAL_ID)
    """Sent as external_id when given (a profile's params may give another)."""

    @field_validator("token_header")
    @classmethod
    def _header(cls, value: str) -> str:
        if not _HEADER_NAME.fullmatch(value):
            raise ValueError("must be an HTTP header name (letters, digits and - only)")
        return value

    @field_validator("token_scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and not _HEADER_NAME.fullmatch(value):
            raise ValueError("must be one word (letters, digits and - only), or empty for the bare token")
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> "ScantrustConfig":
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
        if ((self.token_env or self.token_file) and self.token_header.lower() == "authorization"
                and split_credentials(self.base_url)[1] is not None):
            raise ValueError("base_url carries user:password and the token goes in the Authorization header "
                             "too: use one of them (or set token_header for the token)")
        return self


TokenUnavailable = SecretUnavailable
"""The backend's token source is missing or unusable (``key`` ``token_env`` or ``token_file``)."""


def read_token(name: str, backend: ScantrustConfig) -> str | None:
    """The UAT token from ``token_env`` or ``token_file``; None when neither is configured."""
    return read_secret(name, "token", backend.token_env, backend.token_file, what="UAT token")


def workorder_segment(workorder: str) -> str:
    """``workorder`` as one percent-encoded path segment; ``NotASegment`` when impossible."""
    return path_segment(workorder, "work order id")


# --- answers ---------------------------------------------------------------------------------


def codegen_words(status: int | None) -> str:
    """Plain words for ``codegen_status``: 6 generating, 4 ready (the document's two values)."""
    if status == CODEGEN_GENERATING:
        return "generating"
    if status == CODEGEN_DONE:
        return "ready"
    return "not started" if status is None else f"status {status}"


@dataclass(frozen=True)
class Confirmed(Accepted):
    """Scantrust took the printer confirmation: the work order as it answered it."""

    workorder: str = ""
    reference: str = ""
    state: str = ""
    codegen_status: int | None = None
    codes_file_ready: bool = False
    product: str = ""
    quantity: str = ""
    http_status: int = 200
    title: str = "Work order confirmed"

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        shown = (("order_number", "Work order", self.workorder), ("reference", "Reference", self.reference),
                 ("state", "State", self.state),
                 ("codegen_status", "Codes",
                  f"{codegen_words(self.codegen_status)} ({self.codegen_status})"
                  if self.codegen_status is not None else ""),
                 ("codes_file", "Codes file", "ready" if self.codes_file_ready else "not yet"),
                 ("product", "Product", self.product), ("quantity", "Quantity", self.quantity))
        return tuple(DisplayField(key, label, value) for key, label, value in shown if value)


def _text(value: Any) -> str:
    if value is None or isinstance(value, (dict, list)):
        return ""
    return cap_field(value if isinstance(value, str) else str(value))


def _json(content: bytes) -> tuple[bool, Any]:
    """(True, the value) for a JSON body the kiosk reads (bounded depth, strict UTF-8), else (False, None)."""
    try:
        return True, read_json(content)
    except UnreadableJson:
        return False, None


def _confirmed(data: dict[str, Any], workorder: str, status: int) -> Confirmed:
    codegen = data.get("codegen_status")
    product = data.get("product")
    codegen = codegen if isinstance(codegen, int) and not isinstance(codegen, bool) else None
    title = {CODEGEN_DONE: "Work order confirmed: codes ready",
             CODEGEN_GENERATING: "Work order confirmed: codes generating"}.get(codegen or 0, "Work order confirmed")
    return Confirmed(
        title=title, workorder=_text(data.get("id")) or cap_field(workorder), reference=_text(data.get("reference")),
        state=_text(data.get("state")),
        codegen_status=codegen,
        codes_file_ready=bool(data.get("codegen_file")),
        product=_text(product.get("name") or product.get("sku")) if isinstance(product, dict) else "",
        quantity=_text(data.get("quantity")), http_status=status)


_ALREADY = re.compile(r".* has already been confirmed\.?", re.IGNORECASE)
_WRONG_STATE = re.compile(r".* is (?P<state>.+) and cannot be confirmed\.?", re.IGNORECASE)


def _state_advice(detail: str) -> tuple[str, ...]:
    """What to do about a refusal that names the work order's state."""
    if _ALREADY.fullmatch(detail):
        return ("A work order is confirmed once: its codes are generated (or being generated) already.",)
    if _WRONG_STATE.fullmatch(detail):
        return ("Only a work order in state new can be confirmed: check the work order number.",)
    return ()


def _error_lines(data: dict[str, Any]) -> tuple[str, ...]:
    """DRF field errors ``{"field": ["message", ...]}`` as ``field: message`` lines."""
    lines = []
    for key, messages in list(data.items())[:20]:
        items = messages if isinstance(messages, list) else [messages]
        text = "; ".join(cap_field(json.dumps(m)) if isinstance(m, (dict, list)) else _text(m) for m in items)
        lines.append(cap_field(text if key == "non_field_errors" else f"{key}: {text}"))
    return tuple(lines)


@dataclass(frozen=True)
class _Confirmation:
    substrate: int
    equipment: int
    external_id: str | None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"substrate": self.substrate, "equipment": self.equipment}
        if self.external_id is not None:
            body["external_id"] = self.external_id
        return body


class Refusal(NamedTuple):
    """Why a confirmation cannot be sent, found before sending."""

    title: str
    details: tuple[str, ...]


def confirmation(params: Mapping[str, Any], backend: ScantrustConfig, name: str) -> _Confirmation | Refusal:
    """Substrate, equipment and external id from the profile's params, else the backend's keys."""
    problem = params_problem(params)
    if problem:
        return Refusal("Profile not usable", (problem,))
    problems: list[str] = []
    ids: dict[str, int] = {}
    for key in ("substrate", "equipment"):
        value = params.get(key, getattr(backend, key))
        if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 18:
            value = int(value)
        if value is None:
            problems.append(f"No {key} is set up for this station: give {key} in backends.{name} "
                            "or in the profile's params.")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"The profile's {key} {cap_field(str(value))!r} is not a Scantrust id (a whole number).")
        else:
            ids[key] = value
    external = params.get("external_id", backend.external_id)
    if isinstance(external, int) and not isinstance(external, bool):
        external = str(external)
    if external is not None and (not isinstance(external, str) or len(external) > MAX_EXTERNAL_ID):
        problems.append(f"The profile's external_id must be text of at most {MAX_EXTERNAL_ID} characters.")
    if problems:
        return Refusal("Station not set up for printing", tuple(problems))
    return _Confirmation(ids["substrate"], ids["equipment"], external)


# --- the action's state at a station: a work order waiting for its external id ---------------


def params_problem(params: Mapping[str, Any]) -> str | None:
    """Why a profile's params cannot be used with this action, or None."""
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        return f"Unknown params key(s) for {CONFIRM_NAME}: {', '.join(unknown)} (it takes {', '.join(PARAMS)})."
    if not isinstance(params.get(FROM_SCAN, False), bool):
        return f"{FROM_SCAN} must be true or false."
    return None


def _pending(state: State, now: float) -> tuple[str | None, str | None]:
    """(the work order waiting for its external id, or None; the one that waited too long, or None)."""
    pending = state.get("pending")
    if not isinstance(pending, dict) or not isinstance(pending.get("workorder"), str):
        return None, None
    since = pending.get("since")
    if not isinstance(since, (int, float)) or not 0 <= now - since <= EXTERNAL_ID_WAIT_S:
        return None, pending["workorder"]
    return pending["workorder"], None


def step(state: State, request: Request, now: float, *, backend: ScantrustConfig | None = None,
         name: str = "") -> Step:
    """Params checked first, and with the connector's ``backend`` the whole confirmation, so a
    station that is not set up never queues anything. With ``external_id_from_scan`` a work
    order scan waits (in the state) for the next scan, its external id; ``CMD:CANCEL`` drops
    it. Otherwise the scan is sent as it is."""
    problem = params_problem(request.params)
    if problem:
        return Step(state, reply=LocalReply("denied", "Profile not usable", (problem,)))
    workorder, expired = _pending(state, now)
    if request.command == "CANCEL":
        if workorder is None:
            return Step({}, reply=LocalReply("ignored", "Nothing to cancel",
                                             ("No work order waits for its external id.",)))
        return Step({}, reply=LocalReply("ok", "Work order dropped", (
            f"Work order {workorder} was not confirmed. Scan a work order to start again.",),
            fields=(DisplayField("order_number", "Work order", workorder),)))
    if request.command is not None:
        return Step(state, reply=LocalReply("ignored", "Unknown command",
                                            (f"{CONFIRM_NAME} has no command {request.command}.",)))
    if backend is not None:
        checked = confirmation(request.params, backend, name)
        if isinstance(checked, Refusal):
            return Step(state, reply=LocalReply("denied", checked.title, checked.details))
    if not request.params.get(FROM_SCAN):
        try:
            workorder_segment(request.identifier)
        except NotASegment as exc:
            return Step(state, reply=LocalReply("denied", "Not a work order id", (str(exc), NOT_A_WORKORDER)))
        return Step(state, request=request)
    if workorder is not None:
        if len(request.identifier) > MAX_EXTERNAL_ID:
            return Step(state, reply=LocalReply("denied", "External id too long", (
                f"An external id has at most {MAX_EXTERNAL_ID} characters; this one has {len(request.identifier)}.",
                f"Work order {workorder} still waits for its external id (CMD:CANCEL drops it).")))
        params = {key: value for key, value in request.params.items() if key != FROM_SCAN}
        params["external_id"] = request.identifier
        return Step({}, request=replace(request, identifier=workorder, params=params))
    try:
        workorder_segment(request.identifier)
    except NotASegment as exc:
        return Step(state, reply=LocalReply("denied", "Not a work order id", (str(exc), NOT_A_WORKORDER)))
    details = [f"Work order {request.identifier} is confirmed once its external id is scanned "
               f"(within {EXTERNAL_ID_WAIT_S:g} s).", "CMD:CANCEL drops it."]
    if expired is not None:
        details.append(f"Work order {expired} waited too long for its external id and was dropped.")
    return Step({"pending": {"workorder": request.identifier, "since": now}},
                reply=LocalReply("ok", "Now scan the external id", tuple(details),
                                 fields=(DisplayField("order_number", "Work order", request.identifier),)))


def show(state: State) -> tuple[DisplayField, ...]:
    pending = state.get("pending")
    if isinstance(pending, dict) and isinstance(pending.get("workorder"), str):
        return (DisplayField("pending_workorder", "Waiting for the external id of work order", pending["workorder"]),)
    return ()


CONFIRM = ActionSpec(CONFIRM_NAME, verb="confirmed", queueable=True, idempotent=False,
                     commands=frozenset({"CANCEL"}), step=step, show=show)
ACTIONS: Mapping[str, ActionSpec] = {CONFIRM.name: CONFIRM}


# --- the connector ---------------------------------------------------------------------------


class ScantrustConnector:
    """Confirm work orders for printing; see the module docstring for the assumptions."""

    vendor = "scantrust"
    actions = ACTIONS

    def __init__(self, name: str, backend: ScantrustConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.backend = backend
        self._where = backend.display_url
        token = read_token(name, backend)
        url, basic = split_credentials(backend.base_url)
        headers = {"Accept": "application/json", "User-Agent": "kiosk-scantrust"}
        if basic is not None:
            headers["Authorization"] = basic
        if token is not None:
            headers[backend.token_header] = f"{backend.token_scheme} {token}" if backend.token_scheme else token
        self._base = httpx.URL(url)
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(backend.timeout_s),
                                         transport=transport)
        # The station uses these: the step checks each confirmation against this backend's ids.
        self.actions = {CONFIRM.name: replace(CONFIRM, step=partial(step, backend=backend, name=name))}

    def __repr__(self) -> str:
        return f"ScantrustConnector(name={self.name!r}, base_url={self._where!r})"

    def workorder_url(self, workorder: str, suffix: str = CONFIRM_SUFFIX) -> httpx.URL:
        """The work order's URL with the id as one encoded segment, sent exactly as built."""
        raw_path = (self._base.raw_path.split(b"?", 1)[0].rstrip(b"/") + WORKORDERS.encode()
                    + workorder_segment(workorder).encode() + suffix.encode())
        # Giving raw_path keeps httpx from normalising or re-encoding the segment.
        return self._base.copy_with(raw_path=raw_path, query=None, fragment=None)

    async def perform(self, request: Request) -> Answer:
        if request.action != CONFIRM.name:
            raise ValueError(f"the scantrust connector has no action {request.action!r}")
        if request.command is not None:
            raise ValueError(f"{CONFIRM.name}: command {request.command!r} is answered by the action's step, "
                             "never sent")
        checked = confirmation(request.params, self.backend, self.name)
        if isinstance(checked, Refusal):
            return Rejected(checked.title, checked.details, NO_HTTP)
        try:
            url = self.workorder_url(request.identifier)
        except NotASegment as exc:
            return Rejected("Not a work order id", (str(exc), NOT_A_WORKORDER), NO_HTTP)
        reply = await self._exchange(self._client.build_request("PATCH", url, json=checked.body()))
        if not isinstance(reply, BoundedResponse):
            return reply
        return self._interpret(reply, request.identifier)

    def _interpret(self, reply: BoundedResponse, workorder: str) -> Answer:
        status = reply.status
        if status >= 500 or status == 429:
            return self._bad(reply, f"{THE_SERVER} answered HTTP {status} {reply.reason}".rstrip())
        is_json, data = _json(reply.content)
        if 200 <= status < 300:
            if isinstance(data, dict) and isinstance(data.get("state"), str):
                return _confirmed(data, workorder, status)
            what = "with JSON that is not a work order" if is_json else "but not with JSON"
            return self._bad(reply, f"{THE_SERVER} answered HTTP {status} {what}", unknown=True)
        if 400 <= status < 500 and isinstance(data, dict) and data:
            return self._rejected(data, workorder, status)
        return self._bad(reply, f"{THE_SERVER} answered HTTP {status} {reply.reason}".rstrip())

    def _rejected(self, data: dict[str, Any], workorder: str, status: int) -> Answer:
        detail = data.get("detail")
        detail_text = _text(detail) if isinstance(detail, str) else ""
        shown = cap_field(visible(workorder), 40)
        source = (f"environment variable {self.backend.token_env}" if self.backend.token_env else
                  f"token file {self.backend.token_file}" if self.backend.token_file else "no token source")
        if status == 401:
            return Rejected("Token not accepted", tuple(filter(None, (
                detail_text, f"Check the UAT token of backend {self.name!r} ({source}); it is sent as "
                             f"{self.backend.token_header}: {self.backend.token_scheme or '(bare token)'} …"))), status)
        if status == 403:
            return Rejected("Permission missing", tuple(filter(None, (
                detail_text, "The UAT token needs the workorder_edit permission to confirm work orders "
                             "(the document lists workorder_view, _create, _edit, _cancel, _archive)."))), status)
        if status == 404:
            return Rejected("Work order not found", (
                f"Scantrust has no work order {shown} for this printing partner: check the number on the "
                "work order sheet.",), status)
        if detail_text:
            return Rejected(detail_text, _state_advice(detail_text), status)
        lines = _error_lines(data)
        hint: tuple[str, ...] = ()
        if any(key in data for key in ("substrate", "equipment")):
            hint = (f"The station's substrate and equipment come from the profile's params or backends.{self.name}.",)
        return Rejected("Confirmation refused", lines + hint, status)

    def _bad(self, reply: BoundedResponse, message: str, *, unknown: bool = False) -> BadAnswer:
        shown = excerpt(reply.content)
        return BadAnswer(message=f"{message}: {shown}" if shown else f"{message} (empty body)",
                         http_status=reply.status, excerpt=shown,
                         retry_after_s=parse_retry_after(reply.headers.get("Retry-After")), unknown=unknown)

    # --- the wire ----------------------------------------------------------------------------

    async def _exchange(self, request: httpx.Request) -> BoundedResponse | Unreachable | BadAnswer:
        """Every request of this connector: ``kiosk.connectors.http.exchange`` with ``timeout_s``
        as the whole-exchange deadline and at most ``MAX_ANSWER_BYTES`` of answer."""
        try:
            return await exchange(self._client, request, deadline_s=self.backend.timeout_s, max_bytes=MAX_ANSWER_BYTES)
        except ExchangeError as exc:
            return exchange_failure(exc, server=SERVER, where=self._where, timeout_s=self.backend.timeout_s, may=MAY)

    async def probe(self, station: str | None = None) -> Probe:
        """GET work order 0 (read-only): a JSON 404 or a 200 means the API took the token.

        The station is not checked: a confirmation names no station. Whether the token may
        confirm (workorder_edit) cannot be seen without confirming."""
        started = time.perf_counter()
        reply = await self._exchange(self._client.build_request("GET", self.workorder_url("0", "/")))
        extra = {"base_url": self._where}
        if isinstance(reply, Unreachable):
            return Probe(ok=False, message=reply.message, extra=extra, problem="unreachable")
        if isinstance(reply, BadAnswer):
            return Probe(ok=False, message=reply.message, http_status=reply.http_status, extra=extra,
                         problem="answer")
        latency_ms = (time.perf_counter() - started) * 1000
        _, data = _json(reply.content)
        answered = f"{THE_SERVER} at {self._where} answered HTTP {reply.status} {reply.reason}".rstrip()
        common: dict[str, Any] = dict(http_status=reply.status, latency_ms=latency_ms, extra=extra)
        if reply.status == 200 or (reply.status == 404 and isinstance(data, dict) and "detail" in data):
            return Probe(ok=True, message=f"{THE_SERVER} at {self._where} took the token "
                                          f"(a look-up of work order 0 answered HTTP {reply.status}, "
                                          f"{latency_ms:.0f} ms)", **common)
        if reply.status in (401, 403):
            answer = self._rejected(data if isinstance(data, dict) else {}, "0", reply.status)
            lines = (answer.title + ".",) + answer.details if isinstance(answer, Rejected) else ()
            return Probe(ok=False, message=f"{answered}: " + " ".join(lines), problem="token", **common)
        if reply.status >= 500 or reply.status == 429:
            return Probe(ok=False, message=f"{answered}: {excerpt(reply.content)}", problem="server", **common)
        return Probe(ok=False, message=f"{answered}, not like the Scantrust work-order API: "
                                       f"{excerpt(reply.content) or '(empty body)'}",
                     problem="base_url" if reply.status == 404 else "answer", **common)

    async def aclose(self) -> None:
        await self._client.aclose()


def _build(name: str, config: ScantrustConfig, *, base_dir: Path | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> ScantrustConnector:
    if config.token_file is not None and base_dir is not None and not config.token_file.is_absolute():
        config = config.model_copy(update={"token_file": base_dir / config.token_file})
    return ScantrustConnector(name, config, transport=transport)


PLUGIN = ConnectorPlugin(vendor="scantrust", config_model=ScantrustConfig, factory=_build, actions=ACTIONS,
                         description="Scantrust print station: confirm an SSC work order for printing "
                                     "(PATCH /api/v2/workorders/{id}/printer-confirm/)")
