"""Connector for the Movilitas.Cloud Manufacturer V2 API (vendor "movilitas"): a packaging line.

Action ``release-to-line``: a scanned packaging order id is sent as
``PATCH {base_url}/v1/manufacturer/v2/api/packaging_order/release_to_line`` with
``{"order_id": <id>}``, the token as ``x-access-token: <token>`` or ``Authorization: Bearer
<token>`` (``token_header``) and the channel key as ``x-channel-key``. Success is a
``Released`` answer (order, status "In progress", how many serial numbers were assigned).
``CMD:SERIALS`` shows the serial numbers of the station's last release.

Assumptions where ../shared/vendor-docs/movilitas-release-to-line.txt is silent:
- Not queueable: releasing starts the line, and its answer (the serial numbers) is what the
  line needs now; an hour-late release from the outbox would surprise everyone. Offline, the
  scan is refused with the reason. Not idempotent: sent twice, the second answer is "Packaging
  order <id> is in status: In progress", a refusal that hides the success; an unknown result
  is never resent blindly (the operator scans again and reads the status).
- The document gives messages and codes but neither HTTP statuses nor a body shape. The body
  decides, not the status: ``{"success": false, "message": ..., "code": ..., "details":
  [...]}`` (what the simulator answers) or a plain-text body holding the message. Any 4xx
  with a message is a ``Rejected`` titled with the vendor's message; the document's known
  messages (matched without regard to case or a final full stop, or by code ERR0001 /
  ERR0000) get the document's advice as details. A 2xx ``{"success": false, "message"}``
  is a refusal too. 5xx and 429 are transient whatever their body.
- Success: ``{"success": true, "data": [serial, ...]}``; the status after a release is
  "In progress" (the document says so; the answer does not repeat it). A 2xx without that
  shape is ``BadAnswer(unknown=True)``: the order may well have been released.
- The last release at each station is kept in the action's state (``step``/``settle``,
  journaled, so it survives a restart): order, time, serial count and the first
  ``SERIALS_SHOWN`` serial numbers (the whole list stays in Movilitas, under Packaging
  orders → the order; a 100 000-serial list is not rewritten to the journal on every scan).
  ``CMD:SERIALS`` is answered from it by the kiosk, nothing is sent. A profile's ``params``
  are refused (the action takes none) before anything is sent.
- Refusals the kiosk makes itself when ``perform`` is called without the step (a journaled
  request from an older version) carry ``http_status`` 0: no HTTP exchange took place.
- Token and channel key come from ``token_env``/``token_file`` and
  ``channel_key_env``/``channel_key_file`` (first line of the file), never from the config
  file. A backend that names no source sends no such header: the vendor's refusal ("No token
  provided", "Channel ID is missing ...") says what is missing, and ``kiosk doctor`` shows it.
- ``probe()`` sends the release request with an empty JSON object: the document's
  validation rejects it before any order is looked up, so nothing changes; "Validation
  error" or "could not be parsed" proves the address, the token and the channel key.
- Every request is one ``kiosk.connectors.http.exchange``: ``timeout_s`` bounds it from
  connect to the last byte, the answer is at most ``MAX_ANSWER_BYTES`` (8 MiB: a release of
  100 000 serial numbers is about 2.5 MB of JSON); a 2xx the kiosk will not read (too large,
  undecodable) is ``BadAnswer(unknown=True)``. A ``user:password@`` in ``base_url`` is sent
  as Basic authorization and never shown.

Token and channel key are never logged, never part of a message and not in ``repr()``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Mapping

import httpx
from pydantic import model_validator

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
from kiosk.connectors.common import SecretUnavailable as SecretUnavailable  # raised by read_secret
from kiosk.connectors.common import exchange_failure, read_secret
from kiosk.connectors.http import (
    FIELD_MAX_CHARS,
    BoundedResponse,
    ExchangeError,
    UnreadableJson,
    cap_field,
    excerpt,
    exchange,
    parse_retry_after,
    read_json,
    split_credentials,
)

RELEASE_ENDPOINT = "/v1/manufacturer/v2/api/packaging_order/release_to_line"
SERVER = "the Movilitas server"
THE_SERVER = "The Movilitas server"
MAY = "the order may or may not have been released: scan it again to see its status"
MAX_ANSWER_BYTES = 8 * 1024 * 1024
"""A release of 100 000 serial numbers is about 2.5 MB of JSON."""
SERIALS_SHOWN = 60
NO_HTTP = 0
"""``http_status`` of an answer the kiosk gave itself."""
IN_PROGRESS = "In progress"
RELEASED_TITLE = "Packaging order released"

RELEASE_NAME = "release-to-line"


class MovilitasConfig(BackendConfig):
    """A Movilitas.Cloud Manufacturer V2 API channel: address, token and channel key sources."""

    vendor: Literal["movilitas"]
    token_env: str | None = None
    """Environment variable holding the authentication token (static or dynamic)."""
    token_file: Path | None = None
    """File holding the token (first line); used when token_env is not set."""
    token_header: Literal["x-access-token", "authorization"] = "x-access-token"
    """How the token is sent: ``x-access-token: <token>`` or ``Authorization: Bearer <token>``."""
    channel_key_env: str | None = None
    """Environment variable holding the Manufacturer V2 API channel key."""
    channel_key_file: Path | None = None
    """File holding the channel key (first line); used when channel_key_env is not set."""

    @model_validator(mode="after")
    def _one_source_each(self) -> "MovilitasConfig":
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
        if self.channel_key_env and self.channel_key_file:
            raise ValueError("give channel_key_env or channel_key_file, not both")
        if ((self.token_env or self.token_file) and self.token_header == "authorization"
                and split_credentials(self.base_url)[1] is not None):
            raise ValueError("base_url carries user:password and the token goes in the Authorization header "
                             'too: use one of them (or token_header = "x-access-token")')
        return self


# --- answers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Released(Accepted):
    """Movilitas released the packaging order to the line and assigned these serial numbers."""

    order_id: str = ""
    serials: tuple[str, ...] = ()
    status: str = IN_PROGRESS
    title: str = RELEASED_TITLE
    http_status: int = 200

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        return (DisplayField("order_number", "Packaging order", self.order_id),
                DisplayField("status", "Status", self.status),
                DisplayField("serial_count", "Serial numbers assigned", str(len(self.serials))))


# The document's error table: message -> advice (its "Description" column), and the codes.
_ADVICE: dict[str, str] = {
    "no token provided":
        "No authentication token is provided. Ensure that you add the authentication token to the header "
        "of the request.",
    "failed to authenticate token":
        "Failed to authenticate the provided token. Double-check if your token has expired or has been revoked. "
        "Obtain a valid token by generating a static one or by getting a dynamic one through Authentication API.",
    "channel id is missing or it needs to be in correct format":
        "The channel key of your Manufacturer V2 API channel is not specified in the request. To get the channel "
        "key, go to Tenant Dashboard --> Channels in the Admin UI, open your Manufacturer V2 API channel, and find "
        "the channel key on the top of the Edit shopfloor channel panel.",
    "request body could not be parsed":
        "The syntax of the request body is not correct. Make sure that the request body is defined in the correct "
        "way and that you use JSON format.",
    "validation error":
        "The given data is invalid. It does not follow the required data type or pattern. Follow the explanation "
        "in the response and correct your data.",
    "packaging order not found":
        "The packaging order does not exist in the application with the given order ID. Make sure that the order "
        "exists and that you give the correct ID.",
}
_CODES = {"ERR0001": "no token provided", "ERR0000": "failed to authenticate token"}
_WRONG_STATUS = re.compile(r"Packaging order (?P<order>.*) is in status: (?P<status>[^\r\n]*?)\.?", re.IGNORECASE)
_WRONG_STATUS_ADVICE = ("The packaging order is in the status returned by the system and cannot be released. "
                        "The packaging order must be in Pending release status by assigning serials to the "
                        "packaging order.")


def _json(content: bytes) -> tuple[bool, Any]:
    """(True, the value) for a JSON body the kiosk reads (bounded depth, strict UTF-8), else (False, None)."""
    try:
        return True, read_json(content)
    except UnreadableJson:
        return False, None


@dataclass(frozen=True)
class VendorError:
    """A refusal as Movilitas words it: the message, its code and any details."""

    message: str
    code: str | None = None
    details: tuple[str, ...] = ()


def vendor_error(reply: BoundedResponse) -> VendorError | None:
    """The refusal in a JSON ``{"success": false, "message", "code"}`` or plain-text body, else None."""
    is_json, data = _json(reply.content)
    if is_json:
        if not isinstance(data, dict) or data.get("success") is True or not isinstance(data.get("message"), str):
            return None
        code = data.get("code")
        raw = data.get("details")
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        details = tuple(cap_field(item if isinstance(item, str) else json.dumps(item)) for item in items[:20])
        return VendorError(cap_field(data["message"].strip()), code if isinstance(code, str) else None, details)
    media = reply.headers.get("Content-Type", "text/plain").split(";")[0].strip().lower()
    text = reply.content.decode("utf-8", errors="replace").strip()
    if media != "text/plain" or not text or len(text) > 4 * FIELD_MAX_CHARS:
        return None
    return VendorError(cap_field(text.splitlines()[0].strip()))


def advice(error: VendorError) -> tuple[str, ...]:
    """The document's advice for a refusal, or nothing when the document does not list it."""
    key = error.message.strip().rstrip(".").lower()
    if key not in _ADVICE and error.code in _CODES:
        key = _CODES[error.code]
    if key in _ADVICE:
        return (_ADVICE[key],)
    if _WRONG_STATUS.fullmatch(error.message.strip()):
        return (_WRONG_STATUS_ADVICE,)
    return ()


def _serials(data: Any) -> tuple[str, ...] | None:
    if not isinstance(data, list):
        return None
    out = []
    for item in data:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            return None
        out.append(cap_field(str(item)))
    return tuple(out)


# --- the action's state at a station: the last release -----------------------------------------


def params_problem(params: Mapping[str, Any]) -> str | None:
    """Why a profile's params cannot be used with this action (it takes none), or None."""
    if not params:
        return None
    return (f"The {RELEASE_NAME} action takes no params (the profile gives: {', '.join(sorted(params))}); "
            "remove them from the profile.")


def _last_release(state: State) -> dict[str, Any] | None:
    last = state.get("last")
    if not isinstance(last, dict) or not isinstance(last.get("order_id"), str):
        return None
    return last


def step(state: State, request: Request, now: float) -> Step:
    """``CMD:SERIALS`` is answered from the state; a release goes out (params refused first)."""
    if request.command == "SERIALS":
        return Step(state, reply=serials_reply(state, request.station))
    problem = params_problem(request.params)
    if problem:
        return Step(state, reply=LocalReply("denied", "Profile not usable", (problem,)))
    return Step(state, request=request)


def settle(state: State, request: Request, answer: Answer, now: float) -> State:
    """After a release: its order, time, serial count and the first ``SERIALS_SHOWN`` serials."""
    if not isinstance(answer, Released):
        return state
    at = datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds")
    return {**state, "last": {"order_id": answer.order_id, "at": at, "count": len(answer.serials),
                              "serials": list(answer.serials[:SERIALS_SHOWN])}}


def show(state: State) -> tuple[DisplayField, ...]:
    last = _last_release(state)
    if last is None:
        return ()
    count = last.get("count", 0)
    return (DisplayField("last_release", "Last release", f"{last['order_id']} ({count} serial numbers)"),)


def serials_reply(state: State, station: str) -> LocalReply:
    """The serial numbers of the station's last release, as kept in the state."""
    last = _last_release(state)
    if last is None:
        return LocalReply("ignored", "No serial numbers to show", (
            f"No packaging order has been released at station {station} yet.",
            "Movilitas lists every order's serial numbers under Packaging → Packaging orders → the order."))
    serials = [str(s) for s in last.get("serials", []) if isinstance(s, str)]
    count = last.get("count")
    if not isinstance(count, int):
        count = len(serials)
    listed = " ".join(serials)
    if count > len(serials):
        listed += f" … and {count - len(serials)} more (all of them in Movilitas)"
    return LocalReply("ok", "Serial numbers of the last release", fields=(
        DisplayField("order_number", "Packaging order", last["order_id"]),
        DisplayField("released_at", "Released at", str(last.get("at", ""))),
        DisplayField("serial_count", "Serial numbers assigned", str(count)),
        DisplayField("serial_list", "Serial numbers", listed or "none"),
    ))


RELEASE = ActionSpec(RELEASE_NAME, verb="released", queueable=False, idempotent=False,
                     commands=frozenset({"SERIALS"}), step=step, settle=settle, show=show)
ACTIONS: Mapping[str, ActionSpec] = {RELEASE.name: RELEASE}


# --- the connector ---------------------------------------------------------------------------


class MovilitasConnector:
    """Release packaging orders to the line; see the module docstring for the assumptions."""

    vendor = "movilitas"
    actions = ACTIONS

    def __init__(self, name: str, backend: MovilitasConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.backend = backend
        self._where = backend.display_url
        token = read_secret(name, "token", backend.token_env, backend.token_file, what="token")
        channel_key = read_secret(name, "channel_key", backend.channel_key_env, backend.channel_key_file,
                                  what="channel key")
        url, basic = split_credentials(backend.base_url)
        headers = {"Accept": "application/json", "User-Agent": "kiosk-movilitas"}
        if basic is not None:
            headers["Authorization"] = basic
        if token is not None:
            if backend.token_header == "authorization":
                headers["Authorization"] = f"Bearer {token}"
            else:
                headers["x-access-token"] = token
        if channel_key is not None:
            headers["x-channel-key"] = channel_key
        self._base = httpx.URL(url)
        raw_path = self._base.raw_path.split(b"?", 1)[0].rstrip(b"/") + RELEASE_ENDPOINT.encode()
        self.release_url = self._base.copy_with(raw_path=raw_path, query=None, fragment=None)
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(backend.timeout_s),
                                         transport=transport)

    def __repr__(self) -> str:
        return f"MovilitasConnector(name={self.name!r}, base_url={self._where!r})"

    async def perform(self, request: Request) -> Answer:
        if request.action != RELEASE.name:
            raise ValueError(f"the movilitas connector has no action {request.action!r}")
        if request.command is not None:
            raise ValueError(f"{RELEASE.name}: command {request.command!r} is answered by the action's step, "
                             "never sent")
        problem = params_problem(request.params)
        if problem:
            return Rejected("Profile not usable", (problem,), NO_HTTP)
        return await self.release(request.identifier)

    async def release(self, order_id: str) -> Answer:
        """Release ``order_id`` to the line."""
        reply = await self._exchange(self._client.build_request("PATCH", self.release_url, json={"order_id": order_id}))
        if not isinstance(reply, BoundedResponse):
            return reply
        return self._interpret(reply, order_id)

    def _interpret(self, reply: BoundedResponse, order_id: str) -> Answer:
        status = reply.status
        if status >= 500 or status == 429:
            return self._bad(reply, f"{THE_SERVER} answered HTTP {status} {reply.reason}".rstrip())
        if 200 <= status < 300:
            is_json, data = _json(reply.content)
            if isinstance(data, dict) and data.get("success") is True:
                serials = _serials(data.get("data"))
                if serials is not None:
                    return Released(order_id=order_id, serials=serials, http_status=status)
            elif isinstance(data, dict) and data.get("success") is False:
                error = vendor_error(reply)
                if error is not None:
                    return self._rejected(error, status)
            what = "with JSON that is not a release answer" if is_json else "but not with JSON"
            return self._bad(reply, f"{THE_SERVER} answered HTTP {status} {what}", unknown=True)
        if 400 <= status < 500:
            error = vendor_error(reply)
            if error is not None:
                return self._rejected(error, status)
        return self._bad(reply, f"{THE_SERVER} answered HTTP {status} {reply.reason}".rstrip())

    def _rejected(self, error: VendorError, status: int) -> Rejected:
        details = advice(error) + error.details + self._hint(error)
        return Rejected(title=error.message or f"Refused (HTTP {status})", details=details, http_status=status)

    def _hint(self, error: VendorError) -> tuple[str, ...]:
        """Where this backend's token and channel key come from, when the vendor missed one."""
        key = error.message.strip().rstrip(".").lower()
        backend = self.backend
        if key == "no token provided" or error.code == "ERR0001":
            return (f"The kiosk sends the token named by backends.{self.name}.token_env or token_file: "
                    "this backend names neither.",) if not (backend.token_env or backend.token_file) else ()
        if key.startswith("channel id is missing") and not (backend.channel_key_env or backend.channel_key_file):
            return (f"The kiosk sends the channel key named by backends.{self.name}.channel_key_env or "
                    "channel_key_file: this backend names neither.",)
        return ()

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
        """Send the release request with ``{}``: refused by validation, it proves address, token and key.

        The station is not checked: a release names no station."""
        started = time.perf_counter()
        reply = await self._exchange(self._client.build_request("PATCH", self.release_url, json={}))
        extra = {"base_url": self._where}
        if isinstance(reply, Unreachable):
            return Probe(ok=False, message=reply.message, extra=extra, problem="unreachable")
        if isinstance(reply, BadAnswer):
            return Probe(ok=False, message=reply.message, http_status=reply.http_status, extra=extra,
                         problem="answer")
        latency_ms = (time.perf_counter() - started) * 1000
        answered = f"{THE_SERVER} at {self._where} answered HTTP {reply.status} {reply.reason}".rstrip()
        common: dict[str, Any] = dict(http_status=reply.status, latency_ms=latency_ms, extra=extra)
        if reply.status >= 500 or reply.status == 429:
            return Probe(ok=False, message=f"{answered}: {excerpt(reply.content)}", problem="server", **common)
        error = vendor_error(reply) if 400 <= reply.status < 500 else None
        key = error.message.strip().rstrip(".").lower() if error else ""
        if key in ("validation error", "request body could not be parsed"):
            return Probe(ok=True, message=f"{THE_SERVER} at {self._where} took the token and channel key (an empty "
                                          f"release was refused as expected, {latency_ms:.0f} ms)", **common)
        if error is not None:
            credentials = bool(error.code) or key.startswith(("no token", "failed to authenticate", "channel id"))
            message = f'{answered}: "{error.message}". ' + " ".join(advice(error) + self._hint(error))
            return Probe(ok=False, message=message.rstrip(), problem="token" if credentials else "answer", **common)
        return Probe(ok=False, message=f"{answered}, not like the Movilitas release API: "
                                       f"{excerpt(reply.content) or '(empty body)'}",
                     problem="base_url" if reply.status == 404 else "answer", **common)

    async def aclose(self) -> None:
        await self._client.aclose()


def _build(name: str, config: MovilitasConfig, *, base_dir: Path | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> MovilitasConnector:
    if base_dir is not None:
        update = {key: base_dir / path for key in ("token_file", "channel_key_file")
                  if (path := getattr(config, key)) is not None and not path.is_absolute()}
        if update:
            config = config.model_copy(update=update)
    return MovilitasConnector(name, config, transport=transport)


PLUGIN = ConnectorPlugin(vendor="movilitas", config_model=MovilitasConfig, factory=_build, actions=ACTIONS,
                         description="Movilitas.Cloud packaging line: release a packaging order to the line "
                                     "(PATCH .../packaging_order/release_to_line)")
