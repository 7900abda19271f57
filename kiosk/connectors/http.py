"""One bounded HTTP exchange for every connector, and safe readers for what comes back.

``exchange()`` sends one request and reads the whole answer under three bounds:
- time: ``deadline_s`` bounds the WHOLE exchange, connect to last byte. A server that drips
  one byte a second into the headers, the body or chunked data, or sends ``102 Processing``
  for ever, is cut off at the deadline (httpx's own timeouts only bound each socket read);
- size: the body is streamed and decoded here (identity, gzip, deflate) with a cap on the
  bytes AFTER decompression; a gzip bomb is never inflated more than one byte past the cap;
- cancellation: cancelling the awaiting task ends the exchange at once and closes the
  connection (SIGTERM ends the kiosk without waiting for a vendor).

Failures are typed, so a connector can tell the operator what the vendor may have:
``DeadlineBeforeSend`` / ``TransportFailed(sent=False)`` mean nothing left the kiosk (safe to
send again); ``DeadlineAfterSend`` / ``TransportFailed(sent=True)`` mean the vendor may have
recorded it; ``AnswerTooLarge`` / ``AnswerUndecodable`` mean the vendor answered (status
known) with a body the kiosk will not read. "Sent" starts when the first byte of the
request headers is handed to the socket (httpcore's trace of ``send_request_headers``).

``read_json()`` parses an answer body without ever raising RecursionError or accepting
invalid UTF-8; ``cap_field()`` cuts one vendor value to what a screen or journal row shows;
``excerpt()`` shows the start of a body as one safe line; ``parse_retry_after()`` reads a
``Retry-After`` header. ``path_segment()`` makes one value one percent-encoded URL path segment.
``split_credentials()`` moves the ``user:password@`` of a URL into a Basic
``Authorization`` value, so the URL httpx sends and logs carries no password (what is
shown uses ``base.redact_url``).
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from devices.text import visible

MAX_ANSWER_BYTES = 1024 * 1024
"""A vendor answer is a few KB: 1 MiB (after decompression) is generous."""
MAX_JSON_DEPTH = 32
"""Nesting deeper than this is refused before parsing (a check-in record is 1–2 levels)."""
FIELD_MAX_CHARS = 200
"""One vendor value as shown on screen or written to the journal."""
EXCERPT_CHARS = 120
"""The start of an answer body shown in a message (``excerpt()``)."""
ACCEPT_ENCODING = "gzip, deflate"
"""The encodings ``exchange()`` decodes itself; requests ask for nothing else."""
_RAW_SLACK = 64 * 1024
"""Compressed bytes beyond the cap still worth reading (framing, empty blocks)."""


# --- errors ----------------------------------------------------------------------------------


class ExchangeError(Exception):
    """The exchange gave no usable answer. ``sent``: the vendor may have the request."""

    sent: bool = True

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.sent = sent


class DeadlineExceeded(ExchangeError):
    """``deadline_s`` passed before the whole answer arrived."""

    def __init__(self, deadline_s: float, *, sent: bool) -> None:
        when = "before the request was sent" if not sent else "before the whole answer arrived"
        super().__init__(f"no complete answer within {deadline_s:g} s ({when})", sent=sent)
        self.deadline_s = deadline_s


class DeadlineBeforeSend(DeadlineExceeded):
    """Connecting (or waiting for a connection) took the whole deadline: nothing was sent."""

    def __init__(self, deadline_s: float) -> None:
        super().__init__(deadline_s, sent=False)


class DeadlineAfterSend(DeadlineExceeded):
    """The request went out, the answer did not complete in time: the vendor may have it."""

    def __init__(self, deadline_s: float) -> None:
        super().__init__(deadline_s, sent=True)


class TransportFailed(ExchangeError):
    """A network failure (refused, reset, protocol error); ``reason`` in plain words."""

    def __init__(self, reason: str, *, sent: bool, cause: httpx.TransportError) -> None:
        super().__init__(reason, sent=sent)
        self.reason = reason
        self.cause = cause


class BadBody(ExchangeError):
    """The vendor answered (``status`` known) but the body will not be read; ``head`` is the
    start of what arrived (decoded where possible), for an excerpt."""

    def __init__(self, message: str, *, status: int, reason: str, headers: httpx.Headers, head: bytes) -> None:
        super().__init__(message, sent=True)
        self.status = status
        self.reason = reason
        self.headers = headers
        self.head = head


class AnswerTooLarge(BadBody):
    """The body (after decompression) is longer than ``max_bytes``."""


class AnswerUndecodable(BadBody):
    """The body is in an encoding the kiosk did not ask for, or its compression is broken."""


# --- the exchange ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoundedResponse:
    """A complete answer: status line, headers and the decoded body (at most ``max_bytes``)."""

    status: int
    reason: str
    headers: httpx.Headers
    content: bytes


class _Progress:
    """Set by httpcore's trace hook: has any byte of the request been handed to the socket?"""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        if not self.sent and event.endswith("send_request_headers.started"):
            self.sent = True


async def exchange(client: httpx.AsyncClient, request: httpx.Request, *, deadline_s: float,
                   max_bytes: int = MAX_ANSWER_BYTES) -> BoundedResponse:
    """Send ``request`` and read the whole answer within ``deadline_s`` and ``max_bytes``.

    Raises ``DeadlineBeforeSend``, ``DeadlineAfterSend``, ``TransportFailed``,
    ``AnswerTooLarge`` or ``AnswerUndecodable``; cancellation propagates unchanged.
    """
    progress = _Progress()
    request.extensions["trace"] = progress.trace
    # httpx's per-operation timeouts become a backstop; the deadline below is the bound.
    request.extensions["timeout"] = {"connect": deadline_s, "read": deadline_s, "write": deadline_s, "pool": deadline_s}
    request.headers["Accept-Encoding"] = ACCEPT_ENCODING
    try:
        async with asyncio.timeout(deadline_s):
            response = await client.send(request, stream=True)
            try:
                content = await _read_body(response, max_bytes)
            finally:
                await response.aclose()
    except TimeoutError:
        raise (DeadlineAfterSend(deadline_s) if progress.sent else DeadlineBeforeSend(deadline_s)) from None
    except httpx.TimeoutException as exc:
        sent = progress.sent and not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout))
        raise (DeadlineAfterSend(deadline_s) if sent else DeadlineBeforeSend(deadline_s)) from None
    except httpx.TransportError as exc:
        sent = progress.sent and not isinstance(exc, httpx.ConnectError)
        raise TransportFailed(network_reason(exc), sent=sent, cause=exc) from None
    return BoundedResponse(response.status_code, response.reason_phrase, response.headers, content)


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    def bad(kind: type[BadBody], message: str, head: bytes) -> BadBody:
        return kind(message, status=response.status_code, reason=response.reason_phrase,
                    headers=response.headers, head=head[:1024])

    coding = response.headers.get("Content-Encoding", "identity").strip().lower()
    decoder = _Decoder.for_coding(coding)
    if decoder is None:
        raise bad(AnswerUndecodable, f"the answer is in an encoding the kiosk did not ask for ({coding[:40]!r})", b"")
    # Compressed data a little longer than the cap may still inflate to less than the cap.
    raw_limit = max_bytes if decoder.identity else max_bytes + _RAW_SLACK
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > raw_limit:
        raise bad(AnswerTooLarge, f"the answer is {int(declared)} bytes long (the limit is {max_bytes})", b"")
    body = bytearray()
    raw_total = 0
    async for raw in response.aiter_raw():
        raw_total += len(raw)
        if raw_total > raw_limit:
            raise bad(AnswerTooLarge, f"the answer is longer than {max_bytes} bytes", bytes(body))
        try:
            piece = decoder.feed(raw, max_bytes - len(body) + 1)
        except zlib.error:
            raise bad(AnswerUndecodable, f"the {coding} answer is corrupt", bytes(body)) from None
        body += piece
        if len(body) > max_bytes or decoder.pending:
            raise bad(AnswerTooLarge, f"the answer is longer than {max_bytes} bytes", bytes(body))
    if not decoder.complete():
        raise bad(AnswerUndecodable, f"the {coding} answer ends before its compressed data does", bytes(body))
    return bytes(body)


class _Decoder:
    """Identity, gzip or deflate, never producing more than asked for per call."""

    def __init__(self, wbits: int | None) -> None:
        self._wbits = wbits
        self._zlib = zlib.decompressobj(wbits) if wbits is not None else None
        self._started = False
        self.identity = wbits is None
        self.pending = False
        """True when compressed input is left that would inflate beyond what was asked for."""

    @classmethod
    def for_coding(cls, coding: str) -> _Decoder | None:
        if coding in ("", "identity"):
            return cls(None)
        if coding in ("gzip", "x-gzip"):
            return cls(zlib.MAX_WBITS | 16)
        if coding == "deflate":
            return cls(zlib.MAX_WBITS)
        return None

    def feed(self, data: bytes, limit: int) -> bytes:
        if self._zlib is None:
            return data
        if self._zlib.eof:
            return b""  # bytes after the end of the compressed data are ignored, as httpx does
        try:
            out = self._zlib.decompress(data, limit)
        except zlib.error:
            if self._started or self._wbits != zlib.MAX_WBITS:
                raise
            # "deflate" is often sent as a raw deflate stream without the zlib header.
            self._wbits = -zlib.MAX_WBITS
            self._zlib = zlib.decompressobj(self._wbits)
            out = self._zlib.decompress(data, limit)
        self._started = True
        self.pending = bool(self._zlib.unconsumed_tail)
        return out

    def complete(self) -> bool:
        return self._zlib is None or self._zlib.eof or not self._started


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
    ("without sending complete message", "the server closed the connection without answering"),
    ("server disconnected", "the server closed the connection without answering"),
)


def network_reason(exc: BaseException) -> str:
    """Plain words for a network failure, from the exception or what caused it (anyio wraps)."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < 8:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    if any(isinstance(link, ConnectionRefusedError) for link in chain):
        return "connection refused"
    text = " ".join(str(link).lower() for link in chain)
    for needle, reason in _REASONS:
        if needle in text:
            return reason
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke the HTTP protocol"
    return "network error"


# --- reading what came back ------------------------------------------------------------------


class UnreadableJson(ValueError):
    """An answer body that is not JSON the kiosk will read; ``str()`` says why, briefly."""


_JSON_SKIP = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[^"\[\]{}]+')


def read_json(content: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a JSON body: strict UTF-8 (a leading BOM is allowed), nesting at most
    ``max_depth``; anything else raises ``UnreadableJson``."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnreadableJson(f"not UTF-8 text (byte {exc.start})") from None
    if content.count(b"[") + content.count(b"{") > max_depth:
        _check_depth(content, max_depth)
    try:
        return json.loads(text)
    except RecursionError:  # defence in depth: _check_depth refuses this first
        raise UnreadableJson(f"nested more than {max_depth} levels deep") from None
    except ValueError as exc:
        raise UnreadableJson(f"not JSON ({exc})") from None


def _check_depth(content: bytes, max_depth: int) -> None:
    """Refuse nesting beyond ``max_depth`` without building anything; strings are skipped."""
    depth = 0
    pos = 0
    size = len(content)
    skip = _JSON_SKIP.match
    while pos < size:
        match = skip(content, pos)
        if match is not None:
            pos = match.end()
            continue
        byte = content[pos]
        pos += 1
        if byte in b"[{":
            depth += 1
            if depth > max_depth:
                raise UnreadableJson(f"nested more than {max_depth} levels deep")
        elif byte in b"]}":
            depth -= 1
        # a lone quote (unterminated string) falls through: json.loads reports it


def cap_field(value: str, limit: int = FIELD_MAX_CHARS) -> str:
    """``value`` cut to ``limit`` characters, the last one an ellipsis when anything was cut."""
    return value if len(value) <= limit else value[: limit - 1] + "…"


def excerpt(content: bytes, more: bool = False) -> str:
    """The start of a body as one safe line of at most ``EXCERPT_CHARS`` characters (control
    characters made visible), ending in "…" when anything was cut or ``more`` is true."""
    head = content[: EXCERPT_CHARS * 4]
    text = head.decode("utf-8", errors="replace")
    shown = visible(text[:EXCERPT_CHARS])[:EXCERPT_CHARS]  # a control character shows as a few
    cut = more or len(text) > len(shown) or len(content) > len(head)
    return shown + ("…" if cut else "")


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
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


# --- URLs ------------------------------------------------------------------------------------


class NotASegment(ValueError):
    """A value that cannot be one URL path segment; ``str()`` says why, naming what it is."""


def path_segment(value: str, what: str) -> str:
    """``value`` (a ``what``, e.g. "work order id") as one percent-encoded path segment:
    everything but RFC 3986 unreserved characters is encoded, ``%`` included. "", "." and ".."
    and text that is not valid Unicode raise ``NotASegment``."""
    if value in ("", ".", ".."):
        shown = f"An empty {what}" if value == "" else f"{what[:1].upper()}{what[1:]} {value!r}"
        raise NotASegment(f"{shown} cannot be sent: it is not a path segment")
    try:
        return quote(value, safe="", encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        raise NotASegment(f"The {what} cannot be sent: it is not valid Unicode text") from None


# --- credentials in a URL --------------------------------------------------------------------

def split_credentials(url: str) -> tuple[str, str | None]:
    """(``url`` without its userinfo, the Basic ``Authorization`` value for it or None)."""
    parsed = httpx.URL(url)
    if not parsed.userinfo:
        return url, None
    pair = f"{parsed.username}:{parsed.password}".encode()
    return str(parsed.copy_with(userinfo=b"")), "Basic " + base64.b64encode(pair).decode("ascii")
