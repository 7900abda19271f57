"""Connector for the Rx-Universe "Perform Job Track Checkin" API (vendor "jobtrack").

``POST {base_url}/api/v2/job_track/stations/{code}`` with a JSON body; one shared
``httpx.AsyncClient`` (keep-alive) per connector, timeout ``backend.timeout_s``.

Assumptions where ../shared/vendor-docs/jobtrack-checkin.txt is silent or contradicts itself:
- Request body: JSON ``{order_field: identifier, operator_field: operator}`` (defaults
  "order" and "operator", from the vendor's v1 endpoint); the operator key is sent only when
  an operator is given.
- Authentication is not described: header ``backend.auth_header`` carrying
  ``"{auth_scheme} {token}"`` (the bare token when the scheme is empty); no header when the
  backend names no token source. The token comes from the environment variable
  ``token_env`` or the first line of ``token_file`` (a path the caller already resolved).
- Refusals: the document gives both 400 and 404 for some errors, so a 400 or 404 whose body
  is ``{"error": str, "details": [str, ...] | str}`` is a ``Rejected`` either way.
- ``statusDateTime`` is ISO 8601 with ``Z`` or an offset and any number of fractional digits;
  a time without a zone is taken as UTC (the documented format is UTC); an unreadable time
  gives ``status_time=None``, not an error.
- The station code is one percent-encoded path segment (everything but RFC 3986 unreserved
  characters is encoded, ``%`` included); "", "." and ".." raise ``InvalidStationCode``
  before anything is sent.

The token is never logged, never part of an exception message and not in ``repr()``.
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

import httpx
from pydantic import model_validator

from devices.text import visible
from kiosk.connectors.base import (Accepted, ActionSpec, Answer, BackendConfig, BadAnswer, ConnectorError,
                                   ConnectorPlugin, DisplayField, Probe, Rejected, Request, Unreachable)

ENDPOINT = "/api/v2/job_track/stations/"
EXCERPT_CHARS = 120
SERVER = "the job-track server"


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
    order_field: str = "order"
    operator_field: str = "operator"

    @model_validator(mode="after")
    def _one_token_source(self) -> "JobTrackConfig":
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
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


class InvalidStationCode(ValueError):
    """A station code that cannot be one URL path segment ("", "." or ".."); nothing was sent."""


class TokenUnavailable(ConnectorError):
    """The backend's token source is missing or unusable; the message names the source only."""


def station_segment(code: str) -> str:
    """``code`` as one percent-encoded path segment; raise ``InvalidStationCode`` if impossible."""
    if code in ("", ".", ".."):
        shown = "empty" if code == "" else repr(code)
        raise InvalidStationCode(f"Station code {shown} cannot be used: it is not a path segment")
    try:
        return quote(code, safe="", encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        raise InvalidStationCode("Station code cannot be used: it is not valid Unicode text") from None


def read_token(name: str, backend: JobTrackConfig) -> str | None:
    """The API token from ``token_env`` or ``token_file``; None when neither is configured."""
    if backend.token_env:
        token = os.environ.get(backend.token_env, "").strip()
        if not token:
            raise TokenUnavailable(
                f"backend {name!r}: environment variable {backend.token_env} is not set or empty (it must hold the API token)"
            )
        source = f"environment variable {backend.token_env}"
    elif backend.token_file:
        path = backend.token_file
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            raise TokenUnavailable(f"backend {name!r}: token file {path} not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            raise TokenUnavailable(f"backend {name!r}: cannot read token file {path} ({reason})") from None
        token = lines[0].strip() if lines else ""
        if not token:
            raise TokenUnavailable(f"backend {name!r}: token file {path} is empty (the first line must hold the token)")
        source = f"token file {path}"
    else:
        return None
    if not all(0x21 <= ord(ch) <= 0x7E for ch in token):
        raise TokenUnavailable(
            f"backend {name!r}: the token in {source} has characters an HTTP header cannot carry (spaces, controls or non-ASCII)"
        )
    return token


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
        return timezone.utc
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:] or 0))
    return timezone(sign * offset)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP-date; None when unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _excerpt(response: httpx.Response) -> str:
    """The start of the body as one safe line (control characters made visible)."""
    head = response.content[: EXCERPT_CHARS * 4]
    try:
        text = head.decode(response.charset_encoding or "utf-8", errors="replace")
    except LookupError:
        text = head.decode("utf-8", errors="replace")
    cut = len(text) > EXCERPT_CHARS or len(response.content) > len(head)
    return visible(text[:EXCERPT_CHARS]) + ("…" if cut else "")


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


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
        lines = (details,)
    elif isinstance(details, list):
        lines = tuple(_text(item) for item in details)
    else:
        return None
    return Rejected(title=data["error"], details=lines, http_status=status)


def _json(response: httpx.Response) -> tuple[bool, Any]:
    try:
        return True, json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return False, None


def interpret(response: httpx.Response) -> Answer:
    """Turn a check-in answer into an Outcome."""
    status = response.status_code
    is_json, data = _json(response)
    if 200 <= status < 300:
        if isinstance(data, dict):
            return _accepted(data, status)
        if is_json:
            return _bad(response, f"The job-track server answered HTTP {status} with JSON that is not a check-in record")
        return _bad(response, f"The job-track server answered HTTP {status} but not with JSON")
    if status in (400, 404) and is_json:
        rejected = _rejected(data, status)
        if rejected is not None:
            return rejected
    return _bad(response, f"The job-track server answered HTTP {status} {response.reason_phrase}".rstrip())


def _bad(response: httpx.Response, message: str) -> BadAnswer:
    excerpt = _excerpt(response)
    return BadAnswer(
        message=f"{message}: {excerpt}" if excerpt else f"{message} (empty body)",
        http_status=response.status_code,
        excerpt=excerpt,
        retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
    )


# --- the connector -------------------------------------------------------------------------


_REASONS = (
    ("refused", "connection refused"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("name resolution", "host name not found"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
    ("certificate", "TLS certificate problem"),
    ("ssl", "TLS problem"),
    ("reset", "connection reset"),
)


def _connect_reason(exc: BaseException) -> str:
    """Plain words for a network failure, from the exception or what caused it (anyio wraps)."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for link in chain:
        if isinstance(link, ConnectionRefusedError):
            return "connection refused"
    text = " ".join(str(link).lower() for link in chain)
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    return "network error"


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
        headers = {"Accept": "application/json", "User-Agent": "kiosk-jobtrack"}
        if token is not None:
            headers[backend.auth_header] = f"{backend.auth_scheme} {token}" if backend.auth_scheme else token
        self._base = httpx.URL(backend.base_url)
        self._client = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(backend.timeout_s),
                                         transport=transport)

    def __repr__(self) -> str:
        return f"JobTrackConnector(name={self.name!r}, base_url={self._where!r})"

    def station_url(self, station: str) -> httpx.URL:
        """The check-in URL with the station as one encoded segment, sent exactly as built."""
        raw_path = self._base.raw_path.split(b"?", 1)[0].rstrip(b"/") + ENDPOINT.encode() + station_segment(station).encode()
        # Giving raw_path keeps httpx from normalising or re-encoding the segment.
        return self._base.copy_with(raw_path=raw_path, query=None, fragment=None)

    async def perform(self, request: Request) -> Answer:
        if request.action != CHECKIN.name:
            raise ValueError(f"the job-track connector has no action {request.action!r}")
        return await self.check_in(request.station, request.identifier, request.operator)

    async def check_in(self, station: str, identifier: str, operator: str | None = None) -> Answer:
        url = self.station_url(station)
        body = {self.backend.order_field: identifier}
        if operator:
            body[self.backend.operator_field] = operator
        try:
            response = await self._client.post(url, json=body)
        except httpx.TransportError as exc:
            return self._unreachable(exc)
        return interpret(response)

    async def probe(self) -> Probe:
        """GET the base URL: any HTTP answer (even 404/405) means the server is there."""
        started = time.perf_counter()
        try:
            response = await self._client.get(self._base)
        except httpx.TransportError as exc:
            return Probe(ok=False, message=self._unreachable(exc).message, extra={"base_url": self._where})
        latency_ms = (time.perf_counter() - started) * 1000
        return Probe(
            ok=True,
            message=f"The job-track server at {self._where} answered HTTP {response.status_code} in {latency_ms:.0f} ms",
            http_status=response.status_code,
            latency_ms=latency_ms,
            extra={"base_url": self._where},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _unreachable(self, exc: httpx.TransportError) -> Unreachable:
        seconds = f"{self.backend.timeout_s:g} s"
        may = "the check-in may or may not have been recorded"
        if isinstance(exc, httpx.ConnectTimeout):
            return Unreachable(f"Cannot connect to {SERVER} at {self._where} (no answer within {seconds})", sent=False)
        if isinstance(exc, httpx.PoolTimeout):
            return Unreachable(f"Cannot connect to {SERVER} at {self._where} (too many requests waiting)", sent=False)
        if isinstance(exc, httpx.ConnectError):
            return Unreachable(f"Cannot connect to {SERVER} at {self._where} ({_connect_reason(exc)})", sent=False)
        if isinstance(exc, httpx.ReadTimeout):
            return Unreachable(f"The job-track server at {self._where} did not answer within {seconds}; {may}", sent=True)
        if isinstance(exc, httpx.WriteTimeout):
            return Unreachable(f"Sending to {SERVER} at {self._where} took longer than {seconds}; {may}", sent=True)
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.ReadError)):
            return Unreachable(f"The job-track server at {self._where} closed the connection without answering; {may}", sent=True)
        # Anything else (write error, proxy, protocol): it may have reached the server.
        return Unreachable(f"The connection to {SERVER} at {self._where} failed ({_connect_reason(exc)}); {may}", sent=True)


def _build(name: str, config: JobTrackConfig, *, base_dir: Path | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> JobTrackConnector:
    if config.token_file is not None and base_dir is not None and not config.token_file.is_absolute():
        config = config.model_copy(update={"token_file": base_dir / config.token_file})
    return JobTrackConnector(name, config, transport=transport)


PLUGIN = ConnectorPlugin(vendor="jobtrack", config_model=JobTrackConfig, factory=_build, actions=ACTIONS,
                         description="Rx-Universe job-track check-in (POST /api/v2/job_track/stations/{code})")
