"""Hostile vendor answers, through the real path, against a small hostile server of our own.

The server (below) speaks raw HTTP/1.1 on loopback from its own thread and can break every
rule: drip the headers, the body or chunked data one byte at a time, flood ``102
Processing``, send a gzip bomb or a 50 MB field, or answer 2xx with a body nobody can read.
Each case goes through ``exchange()``, the one bounded request every connector makes, then
through the job-track connector (a 2xx it cannot read is "unknown whether checked in", never
a refusal), and the drip case through the headless CLI with SIGTERM and on the Textual screen.

No timing assertions: a drip case proves the deadline by the error it gets (the server
never stops dripping, and each byte comes far inside any per-read timeout). ``HANG_GUARD_S``
only stops a broken build from hanging the suite.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import httpx
import pytest

from kiosk.connectors import make_connector
from kiosk.connectors.base import (
    Accepted,
    Answer,
    BadAnswer,
    Connector,
    Rejected,
    Request,
    Unreachable,
)
from kiosk.connectors.http import (
    MAX_ANSWER_BYTES,
    AnswerTooLarge,
    AnswerUndecodable,
    BoundedResponse,
    DeadlineAfterSend,
    DeadlineBeforeSend,
    TransportFailed,
    UnreadableJson,
    cap_field,
    exchange,
    read_json,
)
from kiosk.connectors.jobtrack import JobTrackConfig
from kiosk.journal import Journal

HANG_GUARD_S = 60.0
DEADLINE_S = 0.5
REPO = Path(__file__).resolve().parent.parent

# --- the hostile server ------------------------------------------------------------------------

Behaviour = Callable[[asyncio.StreamWriter], Awaitable[None]]

DRIP_S = 0.05
"""Gap between dripped bytes: far inside any per-read timeout, so only a whole-exchange bound ends it."""


@dataclass
class Seen:
    requests: list[bytes] = field(default_factory=list)
    """Each request's head and body, as received."""
    hung_up: threading.Event = field(default_factory=threading.Event)
    """Set when a client closed the connection while a behaviour was still writing."""


class HostileServer:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.seen = Seen()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-server", daemon=True)
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._connection, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed a kept-alive connection
                length = 0
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                self.seen.requests.append(head + (await reader.readexactly(length) if length else b""))
                await self.behaviour(writer)
                await writer.drain()
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            self.seen.hung_up.set()
        finally:
            writer.close()


async def _drip(writer: asyncio.StreamWriter, data: bytes) -> None:
    for byte in data:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(DRIP_S)


async def _forever(writer: asyncio.StreamWriter, unit: bytes) -> None:
    while True:
        await _drip(writer, unit)


async def drip_headers(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\n")
    await _forever(writer, b"X-Slow: " + b"a" * 30 + b"\r\n")


async def drip_body(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    await _forever(writer, b" ")


async def drip_chunked(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    await _forever(writer, b"1\r\n \r\n")


async def processing_flood(writer: asyncio.StreamWriter) -> None:
    while True:
        writer.write(b"HTTP/1.1 102 Processing\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(DRIP_S)


async def silent(writer: asyncio.StreamWriter) -> None:
    """Take the request, never answer, keep the connection open."""
    await asyncio.sleep(3600)


async def hang_up(writer: asyncio.StreamWriter) -> None:
    """Take the request, then close the connection without a word."""
    writer.close()


BOMB_SEGMENTS = 2048
"""Segments of 1 MiB of zeros: 2 GiB inflated, about 2 MB on the wire."""


def gzip_bomb(*, chunked: bool) -> Behaviour:
    """2 GiB of zeros gzipped, with its length announced or (``chunked``) not."""

    async def send(writer: asyncio.StreamWriter) -> None:
        zeros = bytes(1 << 20)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
        # After a full flush the compressor starts afresh, so one compressed segment repeats.
        segment = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
        final = compressor.flush(zlib.Z_FINISH)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
        size = len(header) + len(segment) * BOMB_SEGMENTS + len(final) + 8
        framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                     + f"{framing}\r\n\r\n".encode())

        def frame(data: bytes) -> bytes:
            return f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data

        writer.write(frame(header))
        for _ in range(BOMB_SEGMENTS):
            writer.write(frame(segment))
            await writer.drain()
        crc = 0
        for _ in range(BOMB_SEGMENTS):  # only reached by a client that took all of it
            crc = zlib.crc32(zeros, crc)
        total = (len(zeros) * BOMB_SEGMENTS) & 0xFFFFFFFF
        writer.write(frame(final + crc.to_bytes(4, "little") + total.to_bytes(4, "little")))
        if chunked:
            writer.write(b"0\r\n\r\n")

    send.__name__ = "gzip_bomb_chunked" if chunked else "gzip_bomb_declared"
    return send


HUGE_FIELD = 50 * 1024 * 1024


async def huge_field_chunked(writer: asyncio.StreamWriter) -> None:
    """A 50 MB orderNumber, chunked (no length announced up front)."""
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    opening = b'{"orderNumber": "'
    writer.write(f"{len(opening):x}\r\n".encode() + opening + b"\r\n")
    block = b"7" * 65536
    for _ in range(HUGE_FIELD // len(block)):
        writer.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
        await writer.drain()
    writer.write(b'2\r\n"}\r\n0\r\n\r\n')


def canned(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    """A fixed answer; ``Content-Length`` is added unless the status has no body."""
    fields = dict(headers or {})
    if status not in (204, 304):
        fields.setdefault("Content-Length", str(len(body)))
    head = f"HTTP/1.1 {status} Whatever\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields.items())
    payload = head.encode("latin-1") + b"\r\n" + (b"" if status in (204, 304) else body)

    async def answer(writer: asyncio.StreamWriter) -> None:
        writer.write(payload)

    return answer


def huge_field_declared() -> Behaviour:
    body = b'{"orderNumber": "' + b"7" * HUGE_FIELD + b'"}'
    return canned(200, body, {"Content-Type": "application/json"})


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


UNREADABLE_2XX = {
    "not JSON": canned(200, b"<html>Checked in!</html>", {"Content-Type": "text/html"}),
    "a JSON list": canned(200, b"[1, 2]", {"Content-Type": "application/json"}),
    "JSON null": canned(200, b"null", {"Content-Type": "application/json"}),
    "204 no content": canned(204),
    "invalid UTF-8": canned(200, b'{"orderNumber": "\xff\xfe"}', {"Content-Type": "application/json"}),
    "nested 100,000 deep": canned(200, nested(100_000), {"Content-Type": "application/json"}),
    "empty object": canned(200, b"{}", {"Content-Type": "application/json"}),
}


@pytest.fixture
def serve() -> Iterator[Callable[[Behaviour], HostileServer]]:
    servers: list[HostileServer] = []

    def start(behaviour: Behaviour) -> HostileServer:
        server = HostileServer(behaviour).__enter__()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.__exit__()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


async def post(client: httpx.AsyncClient, url: str, *, deadline_s: float = DEADLINE_S,
               max_bytes: int = MAX_ANSWER_BYTES) -> BoundedResponse:
    request = client.build_request("POST", url + "/api/v2/job_track/stations/LP", json={"order": "72544"})
    return await asyncio.wait_for(exchange(client, request, deadline_s=deadline_s, max_bytes=max_bytes), HANG_GUARD_S)


# --- exchange(): time ----------------------------------------------------------------------


@pytest.mark.parametrize("behaviour", [drip_headers, drip_body, drip_chunked, processing_flood, silent],
                         ids=lambda b: b.__name__)
async def test_a_vendor_that_never_finishes_is_cut_off_at_the_deadline(serve, client, behaviour) -> None:
    server = serve(behaviour)
    with pytest.raises(DeadlineAfterSend) as caught:
        await post(client, server.url)
    assert caught.value.sent is True
    assert "within 0.5 s" in str(caught.value)
    assert len(server.seen.requests) == 1


async def test_waiting_for_a_connection_past_the_deadline_means_nothing_was_sent(serve) -> None:
    server = serve(silent)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) as one_connection:
        first = asyncio.create_task(post(one_connection, server.url, deadline_s=30))
        while not server.seen.requests:
            await asyncio.sleep(0.01)
        with pytest.raises(DeadlineBeforeSend) as caught:
            await post(one_connection, server.url)
        first.cancel()
    assert caught.value.sent is False
    assert len(server.seen.requests) == 1


@pytest.mark.parametrize("behaviour", [drip_headers, drip_body, processing_flood], ids=lambda b: b.__name__)
async def test_cancelling_ends_the_exchange_and_closes_the_connection(serve, client, behaviour) -> None:
    server = serve(behaviour)
    task = asyncio.create_task(post(client, server.url, deadline_s=30))
    while not server.seen.requests:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(server.seen.hung_up.wait, HANG_GUARD_S)


# --- exchange(): size ----------------------------------------------------------------------


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "declared"])
async def test_a_gzip_bomb_is_never_inflated_past_the_cap(serve, client, chunked: bool) -> None:
    server = serve(gzip_bomb(chunked=chunked))
    tracemalloc.start()
    try:
        with pytest.raises(AnswerTooLarge) as caught:
            await post(client, server.url, deadline_s=HANG_GUARD_S)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.status == 200
    assert caught.value.sent is True
    assert str(MAX_ANSWER_BYTES) in str(caught.value)
    # 2 GiB inflated would be 2 GiB allocated; the cap keeps it to a few MiB.
    assert peak < 8 * MAX_ANSWER_BYTES


@pytest.mark.parametrize("behaviour", [huge_field_declared(), huge_field_chunked], ids=["declared", "chunked"])
async def test_a_50_mb_field_is_refused_as_too_large(serve, client, behaviour) -> None:
    server = serve(behaviour)
    with pytest.raises(AnswerTooLarge) as caught:
        await post(client, server.url, deadline_s=HANG_GUARD_S)
    assert caught.value.status == 200


async def test_the_cap_counts_bytes_after_decompression(serve, client) -> None:
    body = json.dumps({"orderNumber": "7" * 5000}).encode()
    server = serve(canned(200, zlib.compress(body, wbits=zlib.MAX_WBITS | 16), {"Content-Encoding": "gzip"}))
    assert (await post(client, server.url)).content == body
    with pytest.raises(AnswerTooLarge):
        await post(client, server.url, max_bytes=len(body) - 1)
    assert (await post(client, server.url, max_bytes=len(body))).content == body


@pytest.mark.parametrize(("coding", "payload"), [
    ("gzip", b"\x1f\x8b\x08\x00 this is not gzip"),
    ("gzip", zlib.compress(b'{"a": 1}', wbits=zlib.MAX_WBITS | 16)[:-12]),
    ("br", b"\x0b\x02\x80{}\x03"),
])
async def test_broken_or_unasked_for_compression_is_undecodable(serve, client, coding, payload) -> None:
    server = serve(canned(200, payload, {"Content-Encoding": coding}))
    with pytest.raises(AnswerUndecodable) as caught:
        await post(client, server.url)
    assert (caught.value.status, caught.value.sent) == (200, True)


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
async def test_deflate_with_or_without_zlib_header_is_read(serve, client, wbits) -> None:
    compressor = zlib.compressobj(6, zlib.DEFLATED, wbits)
    server = serve(canned(200, compressor.compress(b'{"a": 1}') + compressor.flush(), {"Content-Encoding": "deflate"}))
    assert (await post(client, server.url)).content == b'{"a": 1}'


# --- exchange(): transport -------------------------------------------------------------------


async def test_a_closed_port_is_not_sent(client, closed_port) -> None:
    with pytest.raises(TransportFailed) as caught:
        await post(client, f"http://127.0.0.1:{closed_port}")
    assert (caught.value.sent, caught.value.reason) == (False, "connection refused")


async def test_a_server_that_hangs_up_may_have_it(serve, client) -> None:
    server = serve(hang_up)
    with pytest.raises(TransportFailed) as caught:
        await post(client, server.url)
    assert caught.value.sent is True
    assert caught.value.reason == "the server closed the connection without answering"


# --- every unreadable 2xx --------------------------------------------------------------------


@pytest.mark.parametrize("case", list(UNREADABLE_2XX), ids=str)
async def test_an_unreadable_2xx_arrives_whole_and_read_json_says_why(serve, client, case) -> None:
    server = serve(UNREADABLE_2XX[case])
    answer = await post(client, server.url)
    assert 200 <= answer.status < 300
    if case in ("a JSON list", "JSON null", "empty object"):
        assert read_json(answer.content) in ([1, 2], None, {})  # JSON, but not a record: the connector decides
        return
    with pytest.raises(UnreadableJson) as caught:
        read_json(answer.content)
    expected = {"not JSON": "not JSON", "204 no content": "not JSON", "invalid UTF-8": "not UTF-8",
                "nested 100,000 deep": "nested more than 32 levels"}[case]
    assert str(caught.value).startswith(expected)


@pytest.mark.parametrize("depth", [32, 33, 999, 5000, 100_000])
def test_json_nesting_is_refused_past_the_limit_without_recursion_error(depth: int) -> None:
    text = b'{"a": ' * depth + b"1" + b"}" * depth
    if depth <= 32:
        assert read_json(text) is not None
    else:
        with pytest.raises(UnreadableJson, match="nested more than 32"):
            read_json(text)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"orderNumber": "[" * 5000 + '\\"{' * 100, "x": [[1]]}).encode()
    assert read_json(text)["x"] == [[1]]


def test_a_field_is_capped_with_an_ellipsis() -> None:
    assert cap_field("x" * 200) == "x" * 200
    assert cap_field("x" * 201) == "x" * 199 + "…"
    assert len(cap_field("7" * HUGE_FIELD)) == 200


# --- the same answers through the job-track connector --------------------------------------------


def jobtrack(url: str, timeout_s: float = DEADLINE_S) -> Connector:
    return make_connector("jt", JobTrackConfig(vendor="jobtrack", base_url=url, timeout_s=timeout_s))


async def check_in(url: str, timeout_s: float = DEADLINE_S) -> Answer:
    connector = jobtrack(url, timeout_s)
    try:
        return await asyncio.wait_for(connector.perform(Request("checkin", "LP", "72544")), HANG_GUARD_S)
    finally:
        await connector.aclose()


@pytest.mark.parametrize("behaviour", [drip_headers, drip_body, drip_chunked, processing_flood, silent],
                         ids=lambda b: b.__name__)
async def test_connector_a_vendor_that_never_finishes_is_unknown_after_timeout_s(serve, behaviour) -> None:
    server = serve(behaviour)
    answer = await check_in(server.url)
    assert answer == Unreachable(f"The job-track server at {server.url} did not answer within 0.5 s; "
                                 "the check-in may or may not have been recorded", sent=True)


UNKNOWN_2XX: dict[str, Behaviour] = {
    **UNREADABLE_2XX,
    "gzip bomb (chunked)": gzip_bomb(chunked=True),
    "gzip bomb (declared)": gzip_bomb(chunked=False),
    "50 MB orderNumber (declared)": huge_field_declared(),
    "50 MB orderNumber (chunked)": huge_field_chunked,
}


@pytest.mark.parametrize("case", list(UNKNOWN_2XX), ids=str)
async def test_connector_a_2xx_it_cannot_read_is_unknown_never_a_refusal(serve, case: str) -> None:
    server = serve(UNKNOWN_2XX[case])
    answer = await check_in(server.url, timeout_s=HANG_GUARD_S)
    assert isinstance(answer, BadAnswer), answer
    assert answer.unknown is True
    assert 200 <= (answer.http_status or 0) < 300
    assert answer.message.endswith("the check-in may or may not have been recorded")
    assert len(answer.excerpt) <= 121 and "\x00" not in answer.message


async def test_connector_every_value_shown_or_journaled_is_capped(serve) -> None:
    record = {"orderNumber": "7" * 900_000, "trayNumber": "T1", "code": "LP", "desc": "\x1b[31m" + "d" * 5000}
    server = serve(canned(200, json.dumps(record).encode(), {"Content-Type": "application/json"}))
    answer = await check_in(server.url)
    assert isinstance(answer, Accepted)
    values = answer.values()
    assert values["order_number"] == "7" * 199 + "…"
    assert len(values["station_desc"]) == 200 and values["tray_number"] == "T1"


async def test_connector_a_refusal_with_endless_details_is_capped(serve) -> None:
    body = json.dumps({"error": "E" * 5000, "details": ["x" * 500] * 1000}).encode()
    server = serve(canned(404, body, {"Content-Type": "application/json"}))
    answer = await check_in(server.url)
    assert isinstance(answer, Rejected)
    assert len(answer.title) == 200 and len(answer.details) == 11
    assert all(len(line) <= 200 for line in answer.details) and answer.details[-1] == "… and 990 more"


async def test_connector_an_oversized_5xx_is_a_transient_bad_answer(serve) -> None:
    server = serve(gzip_bomb(chunked=True))
    # Only the status differs from the bomb above: a 5xx is worth sending again, not unknown.
    server.behaviour = _with_status(gzip_bomb(chunked=True), 503)
    answer = await check_in(server.url, timeout_s=HANG_GUARD_S)
    assert isinstance(answer, BadAnswer)
    assert (answer.http_status, answer.transient, answer.unknown) == (503, True, False)


def _with_status(behaviour: Behaviour, status: int) -> Behaviour:
    class Rewrite:
        def __init__(self, writer: asyncio.StreamWriter) -> None:
            self.writer, self.first = writer, True

        def write(self, data: bytes) -> None:
            if self.first:
                data, self.first = data.replace(b"HTTP/1.1 200 OK", f"HTTP/1.1 {status} Busy".encode(), 1), False
            self.writer.write(data)

        async def drain(self) -> None:
            await self.writer.drain()

    async def answer(writer: asyncio.StreamWriter) -> None:
        await behaviour(Rewrite(writer))  # type: ignore[arg-type]

    return answer


# --- an unreadable 2xx through the headless CLI: unknown, never "NOT checked in" --------------------


@pytest.mark.parametrize(("on_unknown", "outcome"), [("resend", "queued"), ("park", "parked")])
@pytest.mark.parametrize("case", ["empty object", "204 no content", "invalid UTF-8", "nested 100,000 deep"], ids=str)
def test_headless_an_unreadable_2xx_is_unknown_and_says_so(serve, write_config, case: str, on_unknown: str,
                                                          outcome: str) -> None:
    server = serve(UNREADABLE_2XX[case])
    config = write_config(server.url, profile={"on_unknown": on_unknown})
    done = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                          input=b"72544\n", capture_output=True, timeout=HANG_GUARD_S, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    (line,) = [json.loads(text) for text in done.stdout.splitlines()]
    assert line["outcome"] == outcome
    shown = " ".join([line["title"], *line["details"]])
    assert "Unknown whether checked in" in shown
    if outcome == "parked":  # the lead who decides sees why
        assert "the check-in may or may not have been recorded" in shown


# --- the drip case through the headless CLI, ended by SIGTERM -------------------------------------


@pytest.mark.parametrize(("on_unknown", "status"), [("resend", "queued"), ("park", "parked")])
@pytest.mark.parametrize("behaviour", [drip_body, processing_flood], ids=lambda b: b.__name__)
def test_sigterm_ends_a_kiosk_waiting_on_a_dripping_vendor_and_keeps_the_scan_as_unknown(
        serve, write_config, tmp_path: Path, behaviour: Behaviour, on_unknown: str, status: str) -> None:
    server = serve(behaviour)
    # timeout_s at its maximum: ending this run by waiting for it would take 300 s, not seconds.
    config = write_config(server.url, backend={"timeout_s": 300}, profile={"on_unknown": on_unknown})
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"72544\n")
        proc.stdin.flush()
        while not server.seen.requests:  # the check-in has reached the vendor, which now drips
            assert proc.poll() is None
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert b"Traceback" not in err
    assert out == b""  # no result was shown: the kiosk stopped before the answer came
    assert len(server.seen.requests) == 1  # and it did not send it again on its way out
    journal = Journal.open(tmp_path / "journal.sqlite3")
    try:
        (row,) = journal.parked() if status == "parked" else journal.outbox()
    finally:
        journal.close()
    assert (row.text, row.status, row.title) == ("72544", status, "Unknown whether checked in")


# --- the drip case on the Textual screen ---------------------------------------------------------


async def test_the_screen_answers_keys_while_a_vendor_drips_and_the_scan_ends_unknown(serve, tmp_path: Path) -> None:
    from tuikit import kiosk, scan, until
    from tuikit import write_config as tui_config

    from kiosk.tui.screens import MainScreen, PinScreen

    server = serve(drip_chunked)
    async with kiosk(tui_config(tmp_path, server.url)) as (app, pilot):  # timeout_s = 2
        await scan(pilot, "72544")
        await until(pilot, lambda: bool(server.seen.requests))
        assert app.inbox.processing is not None  # the check-in is in flight ...
        await pilot.press("f3")  # ... and the screen still takes keys
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await until(pilot, lambda: bool(app.results), timeout=HANG_GUARD_S)
        result = app.results[-1]
    assert (result.scan, result.outcome) == ("72544", "queued")
    assert result.details == ("1 waiting", "No answer from the server", "Unknown whether checked in: it is sent again")
