"""Connector for the Rx-Universe "Perform Job Track Checkin" API (vendor "jobtrack").

``POST {base_url}/api/v2/job_track/stations/{code}`` with a JSON body; one shared
``httpx.AsyncClient`` (keep-alive) per connector. Every request is one bounded
``kiosk.connectors.http.exchange``: ``timeout_s`` bounds it from connect to the last byte,
the answer is read up to 1 MiB (after decompression), and each value shown or journaled is
cut to 200 characters (at most 10 detail lines).

Assumptions where ../shared/vendor-docs/jobtrack-checkin.txt is silent or contradicts itself:
- Request body: JSON ``{order_field: identifier, operator_field: operator}`` (defaults
  "order" and "operator", from the vendor's v1 endpoint); the operator key is sent only when
  an operator is given.
- Authentication is not described: header ``backend.auth_header`` carrying
  ``"{auth_scheme} {token}"`` (the bare token when the scheme is empty); no header when the
  backend names no token source. The token comes from the environment variable
  ``token_env`` or the first line of ``token_file`` (a regular file of at most 64 KiB; a
  file other users can read is used, with a warning). A ``user:password@`` in ``base_url``
  is sent as a Basic ``Authorization`` header, never as part of the URL (which httpx logs).
- Success: a 2xx JSON object is a check-in record when it names the order (a non-empty
  ``orderNumber``, ``trayNumber`` or ``poNumber``). Any other 2xx (``{}``, ``[1,2]``,
  ``null``, 204, not JSON, invalid UTF-8, nested too deep, over 1 MiB) is
  ``BadAnswer(unknown=True)``: the server may well have checked the job in, so the kiosk
  resends or parks it (``on_unknown``) and never shows a final "not checked in".
- Refusals: the document gives both 400 and 404 for some errors, so a 400 or 404 whose body
  is ``{"error": str, "details": [str, ...] | str}`` is a ``Rejected`` either way.
- ``statusDateTime`` is ISO 8601 with ``Z`` or an offset and any number of fractional digits;
  a time without a zone is taken as UTC (the documented format is UTC); an unreadable time
  gives ``status_time=None``, not an error.
- The station code is one percent-encoded path segment (everything but RFC 3986 unreserved
  characters is encoded, ``%`` included); "", "." and ".." raise ``InvalidStationCode``
  before anything is sent.

- ``probe(station)`` POSTs an empty order identifier: the document has no read-only endpoint,
  and an empty identifier can match no order, so the vendor refuses it without recording
  anything (see ``JobTrackConnector.probe``).

The token is never logged, never part of an exception message and not in ``repr()``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Literal

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
    Probe,
    ProbeProblem,
    Rejected,
    Request,
    Unreachable,
)
from kiosk.connectors.common import SecretUnavailable, exchange_failure, read_secret
from kiosk.connectors.http import (
    BadBody,
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

ENDPOINT = "/api/v2/job_track/stations/"
MAX_DETAIL_LINES = 10
SERVER = "the job-track server"
STATION_NOT_FOUND = "Station not found"
NOT_PERFORMED = "Checkin not performed"
MAY = "the check-in may or may not have been recorded"
_HTTP_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class JobTrackConfig(BackendConfig):
    """A job-track backend: the check-in API's address, token source and field names."""

    vendor: Literal["jobtrack"]
    token_env: str | None = None
    """Name of the environment variable holding the API token."""
    token_file: Path | None = None
    """File holding the API token (first line); used when token_env is not set."""
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    """Put before the token in the auth header; empty for the bare token."""
    order_field: str = Field(default="order", min_length=1)
    operator_field: str = Field(default="operator", min_length=1)

    @field_validator("token_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and not _ENV_NAME.fullmatch(value):
            raise ValueError("must be the name of an environment variable (letters, digits and _, "
                             "not starting with a digit); leave the key out to send no token")
        return value

    @field_validator("token_file")
    @classmethod
    def _token_path(cls, value: Path | None) -> Path | None:
        if value is not None and ("\x00" in str(value) or str(value) in ("", ".")):
            raise ValueError("must be the path of a file (no NUL characters)")
        return value

    @field_validator("auth_header")
    @classmethod
    def _header_name(cls, value: str) -> str:
        if not _HTTP_TOKEN.fullmatch(value):
            raise ValueError("must be an HTTP header name (letters, digits and !#$%&'*+.^_`|~-; "
                             "no spaces, colons, CR or LF)")
        return value

    @field_validator("auth_scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value and not _HTTP_TOKEN.fullmatch(value):
            raise ValueError("must be one word such as Bearer or Token (no spaces, CR or LF), "
                             "or empty for the bare token")
        return value

    @model_validator(mode="after")
    def _one_token_source(self) -> JobTrackConfig:
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
        if ((self.token_env or self.token_file) and self.auth_header.lower() == "authorization"
                and split_credentials(self.base_url)[1] is not None):
            raise ValueError("base_url carries user:password and the token goes in the Authorization header "
                             "too: use one of them (or set auth_header for the token)")
        return self


CHECKIN = ActionSpec("checkin", verb="checked in", queueable=True, idempotent=True)
ACTIONS: Mapping[str, ActionSpec] = {CHECKIN.name: CHECKIN}


@dataclass(frozen=True)
class CheckedIn(Accepted):
    """The job-track server checked the job in: its check-in record."""

    order_number: str = ""
    tray_number: str = ""
    po_number: str = ""
    station: str = ""
    station_desc: str = ""
    customer_desc: str = ""
    status_time: datetime | None = None
    http_status: int = 200
    title: str = "Checked in"

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        shown = (("order_number", "Order", self.order_number), ("tray_number", "Tray", self.tray_number),
                 ("po_number", "PO", self.po_number), ("station", "Station", self.station),
                 ("station_desc", "", self.station_desc), ("customer_desc", "Customer", self.customer_desc),
                 ("status_time", "At", self.status_time.isoformat() if self.status_time else ""))
        return tuple(DisplayField(key, label, value) for key, label, value in shown if value)


class InvalidStationCode(NotASegment):
    """A station code that cannot be one URL path segment ("", "." or ".."); nothing was sent."""


TokenUnavailable = SecretUnavailable
"""The backend's token source is missing or unusable (``key`` ``token_env`` or ``token_file``)."""


def station_segment(code: str) -> str:
    """``code`` as one percent-encoded path segment; raise ``InvalidStationCode`` if impossible."""
    try:
        return path_segment(code, "station code")
    except NotASegment as exc:
        raise InvalidStationCode(str(exc)) from None


def read_token(name: str, backend: JobTrackConfig) -> str | None:
    """The API token from ``token_env`` or ``token_file``; None when neither is configured
    (``kiosk.connectors.common.read_secret``)."""
    return read_secret(name, "token", backend.token_env, backend.token_file, what="API token")


# --- reading answers -----------------------------------------------------------------------

_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_status_time(value: Any) -> datetime | None:
    """An ISO 8601 date-time as an aware datetime, or None when it cannot be read."""
    if not isinstance(value, str):
        return None
    match = _ISO_TIME.fullmatch(value.strip())
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        tz = _zone(zone)
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tzinfo=tz)
    except ValueError:
        return None


def _zone(zone: str | None) -> timezone:
    if zone is None or zone in ("Z", "z"):
        return UTC
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(sign * offset)


def _text(value: Any) -> str:
    """A scalar vendor value as capped text; objects and lists are not shown."""
    if value is None or isinstance(value, (dict, list)):
        return ""
    return cap_field(value if isinstance(value, str) else str(value))


RECORD_KEYS = ("orderNumber", "trayNumber", "poNumber")
"""A 2xx object naming none of these is not a check-in record (``200 {}`` is not one)."""


def _is_record(data: Any) -> bool:
    return isinstance(data, dict) and any(_text(data.get(key)) for key in RECORD_KEYS)


def _accepted(data: dict[str, Any], status: int) -> CheckedIn:
    return CheckedIn(
        order_number=_text(data.get("orderNumber")),
        tray_number=_text(data.get("trayNumber")),
        po_number=_text(data.get("poNumber")),
        station=_text(data.get("code")),
        station_desc=_text(data.get("desc")),
        customer_desc=_text(data.get("customerDesc")),
        status_time=parse_status_time(data.get("statusDateTime")),
        http_status=status,
    )


def _rejected(data: Any, status: int) -> Rejected | None:
    """The vendor's refusal body as ``Rejected``, or None when it has another shape."""
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return None
    details = data.get("details")
    if details is None:
        lines: tuple[str, ...] = ()
    elif isinstance(details, str):
        lines = (_text(details),)
    elif isinstance(details, list):
        lines = tuple(_text(item) for item in details[:MAX_DETAIL_LINES])
        if len(details) > MAX_DETAIL_LINES:
            lines += (f"… and {len(details) - MAX_DETAIL_LINES} more",)
    else:
        return None
    return Rejected(title=_text(data["error"]), details=lines, http_status=status)


def _unreadable_2xx(data: Any, problem: str | None, status: int) -> str:
    if problem is None:
        what = "a JSON object that is not a check-in record" if isinstance(data, dict) else \
            "JSON that is not a check-in record"
    elif problem.startswith("not JSON"):
        what = "no JSON at all" if status == 204 else "an answer that is not JSON"
    else:
        what = f"an answer it cannot read ({problem})"
    return f"{SERVER.capitalize()} answered HTTP {status} with {what}"


def interpret(answer: BoundedResponse) -> Answer:
    """Turn a complete check-in answer into an ``Answer``."""
    status = answer.status
    problem: str | None = None
    try:
        data = read_json(answer.content)
    except UnreadableJson as exc:
        data, problem = None, str(exc)
    if 200 <= status < 300:
        if problem is None and _is_record(data):
            return _accepted(data, status)
        return _bad(answer.content, answer.headers, status, _unreadable_2xx(data, problem, status), unknown=True)
    if status in (400, 404) and problem is None:
        rejected = _rejected(data, status)
        if rejected is not None:
            return rejected
    return _bad(answer.content, answer.headers, status, _status_words(status, answer.reason))


def _status_words(status: int, reason: str) -> str:
    return f"The job-track server answered HTTP {status} {visible(cap_field(reason, 60))}".rstrip()


def _bad(content: bytes, headers: httpx.Headers, status: int, message: str, *, unknown: bool = False) -> BadAnswer:
    shown = excerpt(content)
    message = f"{message}: {shown}" if shown else f"{message} (empty body)"
    return BadAnswer(
        message=f"{message}; {MAY}" if unknown else message,
        http_status=status,
        excerpt=shown,
        retry_after_s=parse_retry_after(headers.get("Retry-After")),
        unknown=unknown,
    )


# --- the connector -------------------------------------------------------------------------


class JobTrackConnector:
    """Check jobs in through the job-track API; see the module docstring for the assumptions."""

    vendor = "jobtrack"
    actions = ACTIONS

    def __init__(self, name: str, backend: JobTrackConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.backend = backend
        self.base_url = backend.display_url
        self._where = self.base_url
        token = read_token(name, backend)
        self._has_token = token is not None
        url, basic = split_credentials(backend.base_url)
        headers = {"Accept": "application/json", "User-Agent": "kiosk-jobtrack"}
        if basic is not None:
            headers["Authorization"] = basic
        if token is not None:
            headers[backend.auth_header] = f"{backend.auth_scheme} {token}" if backend.auth_scheme else token
        self._base = httpx.URL(url)
        self._urls: dict[str, httpx.URL] = {}
        """Built check-in URLs by station (building one parses the URL again)."""
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(backend.timeout_s),
                                         transport=transport)

    def __repr__(self) -> str:
        return f"JobTrackConnector(name={self.name!r}, base_url={self._where!r})"

    def station_url(self, station: str) -> httpx.URL:
        """The check-in URL with the station as one encoded segment, sent exactly as built."""
        url = self._urls.get(station)
        if url is None:
            url = self._build_url(station)
            if len(self._urls) < 64:  # a station has a handful of codes; never grow without bound
                self._urls[station] = url
        return url

    def _build_url(self, station: str) -> httpx.URL:
        prefix = self._base.raw_path.split(b"?", 1)[0].rstrip(b"/")
        raw_path = prefix + ENDPOINT.encode() + station_segment(station).encode()
        # Giving raw_path keeps httpx from normalising or re-encoding the segment.
        return self._base.copy_with(raw_path=raw_path, query=None, fragment=None)

    async def perform(self, request: Request) -> Answer:
        if request.action != CHECKIN.name:
            raise ValueError(f"the job-track connector has no action {request.action!r}")
        return await self.check_in(request.station, request.identifier, request.operator)

    async def check_in(self, station: str, identifier: str, operator: str | None = None) -> Answer:
        body = {self.backend.order_field: identifier}
        if operator:
            body[self.backend.operator_field] = operator
        request = self._client.build_request("POST", self.station_url(station), json=body)
        try:
            answer = await exchange(self._client, request, deadline_s=self.backend.timeout_s)
        except ExchangeError as exc:
            return self._failure(exc)
        return interpret(answer)

    async def probe(self, station: str | None = None) -> Probe:
        """Prove the base URL, the token and ``station`` with a check-in that checks nothing in.

        POST ``{order_field: ""}`` (no operator) to the station's check-in URL. An empty
        order identifier matches no order, so the vendor refuses it ("Order not found", or
        "Station not found" for an unknown station): that refusal proves the base URL and the
        token. 401/403 means the token was refused; a 404 without the vendor's refusal body
        means there is no check-in API under base_url. Without a station only whether the
        server answers at all is checked (GET base_url). Bounded like every request.
        """
        started = time.perf_counter()
        extra = {"base_url": self._where}
        if station is None:
            return await self._reachable(started, extra)
        try:
            url = self.station_url(station)
        except InvalidStationCode as exc:
            return Probe(ok=False, message=str(exc), extra=extra, problem="station")
        request = self._client.build_request("POST", url, json={self.backend.order_field: ""})
        try:
            answer = await exchange(self._client, request, deadline_s=self.backend.timeout_s)
        except BadBody as exc:
            answer = BoundedResponse(exc.status, exc.reason, exc.headers, exc.head)
        except ExchangeError as exc:
            return Probe(ok=False, message=self._failure(exc).message, extra=extra, problem="unreachable")
        latency_ms = (time.perf_counter() - started) * 1000
        problem, message = self._judge_probe(answer, url, station, latency_ms)
        return Probe(ok=not problem, message=message, http_status=answer.status, latency_ms=latency_ms,
                     extra=extra, problem=problem)

    def _judge_probe(self, answer: BoundedResponse, url: httpx.URL, station: str,
                     latency_ms: float) -> tuple[ProbeProblem, str]:
        status = answer.status
        answered = f"{self._where} answered HTTP {status} {visible(cap_field(answer.reason, 60))}".rstrip()
        try:
            data, is_json = read_json(answer.content), True
        except UnreadableJson:
            data, is_json = None, False
        refusal = _rejected(data, status) if status in (400, 404) and is_json else None
        if status == 404 and refusal is not None and refusal.title != NOT_PERFORMED:
            refusal = None  # a 404 from the check-in API itself always says "Checkin not performed"
        shown = visible(repr(station))
        if status in (401, 403):
            missing = "" if self._has_token else " (no token is configured for this backend)"
            return "token", f"token refused: {answered}{missing}"
        if refusal is not None and STATION_NOT_FOUND in refusal.details:
            return "station", (f'station {shown} not found: the server answered "{STATION_NOT_FOUND}" '
                               "(base URL and token are right)")
        if refusal is not None:
            return "", (f"base URL and token accepted, station {shown} found "
                        f"(an empty check-in was refused as expected, {latency_ms:.0f} ms)")
        body = excerpt(answer.content) or "(empty body)"
        if status == 404:
            path = visible(url.raw_path.decode("ascii", "replace"))
            return "base_url", f"wrong base_url: {answered} for the check-in path {path}"
        if status >= 500 or status == 429:
            return "server", f"server problem: {answered}: {body}"
        return "answer", f"{answered}, not like the job-track check-in API: {body}"

    async def _reachable(self, started: float, extra: dict[str, str]) -> Probe:
        try:
            answer = await exchange(self._client, self._client.build_request("GET", self._base),
                                    deadline_s=self.backend.timeout_s)
            status = answer.status
        except BadBody as exc:
            status = exc.status
        except ExchangeError as exc:
            return Probe(ok=False, message=self._failure(exc).message, extra=extra, problem="unreachable")
        latency_ms = (time.perf_counter() - started) * 1000
        message = (f"{SERVER} at {self._where} answers (HTTP {status}, {latency_ms:.0f} ms); "
                   "no profile uses this backend, so the token and a station were not checked")
        return Probe(ok=True, message=message, http_status=status, latency_ms=latency_ms, extra=extra)

    async def aclose(self) -> None:
        await self._client.aclose()

    def _failure(self, exc: ExchangeError) -> BadAnswer | Unreachable:
        return exchange_failure(exc, server=SERVER, where=self._where, timeout_s=self.backend.timeout_s, may=MAY)


def _build(name: str, config: JobTrackConfig, *, base_dir: Path | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> JobTrackConnector:
    if config.token_file is not None and base_dir is not None and not config.token_file.is_absolute():
        config = config.model_copy(update={"token_file": base_dir / config.token_file})
    return JobTrackConnector(name, config, transport=transport)


PLUGIN = ConnectorPlugin(vendor="jobtrack", config_model=JobTrackConfig, factory=_build, actions=ACTIONS,
                         description="Rx-Universe job-track check-in (POST /api/v2/job_track/stations/{code})")
