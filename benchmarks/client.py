"""Benchmark: what the async HTTP client costs per request, and where.

The kiosk's connectors use one keep-alive ``httpx.AsyncClient``; a bare sync client to the
same simulator is faster. This benchmark shows by how much and where the difference goes.
All clients post the same check-in to the same simulator (its own process, loopback), one
request at a time, from one running event loop, round-robin sample by sample so machine
noise hits them alike:

- ``sync_stdlib``: ``http.client`` (sync), ``sync_httpx``: ``httpx.Client`` (sync);
- ``raw_asyncio``: a hand-written HTTP/1.1 POST on ``asyncio`` streams, the floor for any
  asyncio client on this loop;
- ``async_default``: ``httpx.AsyncClient`` built as the job-track connector builds it;
- variants of it: ``AsyncHTTPTransport(retries=0, http2=False)``, ``Limits`` of one
  connection, no timeout (so no anyio cancel scope per read/write), the failed
  ``import sniffio`` short-circuited (httpcore looks for sniffio a few times per request;
  when it is not installed each look is a failed import that searches ``sys.path``),
  no cookie extraction into the client's jar (httpx builds a ``urllib`` request for each
  response to do it), both of these, ``httpcore.AsyncConnectionPool`` without httpx on top,
  and the sync client run in a worker thread (``asyncio.to_thread``: the loop stays free,
  one thread hop each way);
- ``connector``: the kiosk's own job-track connector (``perform``), answer parsing included.

Per variant: p50/p95/p99 per request, the cost over ``sync_httpx``, and the event-loop
iterations per request. For ``async_default`` a breakdown by layer (exclusive time in httpx's
client, httpx's transport, httpcore's pool, httpcore's connection + h11, and anyio's socket
read/write, which includes waiting for the server), taken on a separate run with timing
wrappers, and the cost of one ``current_async_library()`` call.
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, Self

import httpx

from benchmarks.harness import (
    BACKEND,
    STATION,
    Simulator,
    Workspace,
    order_code,
    percentiles,
)
from benchmarks.latency import (
    HEADERS,
    StdlibClient,
    SyncClient,
    _body,
    _expect_200,
    check_in_path,
)

WARMUP = 20
BREAKDOWN_REQUESTS = 300
LOOP_COUNT_REQUESTS = 50
ORDERS = 50
Sample = Callable[[str], Awaitable[float]]


class RawAsyncio:
    """HTTP/1.1 POST on asyncio streams, by hand: no pool, no timeouts, no parsing to speak of."""

    def __init__(self, base_url: str) -> None:
        url = httpx.URL(base_url)
        self.host, self.port = url.host, url.port or 80
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def check_in_ms(self, code: str) -> float:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        body = _body(code)
        head = (f"POST {check_in_path()} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in HEADERS.items())
                + f"Content-Length: {len(body)}\r\n\r\n").encode()
        t0 = time.monotonic()
        writer.write(head + body)
        await writer.drain()
        header = await reader.readuntil(b"\r\n\r\n")
        status = int(header.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in header.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        await reader.readexactly(length)
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(status, code)
        return elapsed

    async def aclose(self) -> None:
        if self.streams is not None:
            self.streams[1].close()


class AsyncHttpx:
    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self.url = base_url + check_in_path()
        self.client = httpx.AsyncClient(headers=HEADERS, **kwargs)

    async def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        response = await self.client.post(self.url, content=_body(code))
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(response.status_code, code)
        return elapsed

    async def aclose(self) -> None:
        await self.client.aclose()


class NoSniffioLookup(AsyncHttpx):
    """``async_default`` with httpcore's ``import sniffio`` answered from ``sys.modules``."""

    async def check_in_ms(self, code: str) -> float:
        if "sniffio" in sys.modules:
            return await super().check_in_ms(code)
        sys.modules["sniffio"] = None  # type: ignore[assignment]  # import fails at once
        try:
            return await super().check_in_ms(code)
        finally:
            del sys.modules["sniffio"]


class NoCookieJar(AsyncHttpx):
    """``async_default`` without reading ``Set-Cookie`` into the client's jar (httpx builds a
    ``urllib`` request per response for that); ``lookup=False`` also drops the sniffio look-up."""

    def __init__(self, base_url: str, *, lookup: bool = True, **kwargs: Any) -> None:
        super().__init__(base_url, **kwargs)
        self.lookup = lookup
        jar: Any = self.client.cookies
        jar.extract_cookies = lambda response: None

    async def check_in_ms(self, code: str) -> float:
        if self.lookup or "sniffio" in sys.modules:
            return await super().check_in_ms(code)
        sys.modules["sniffio"] = None  # type: ignore[assignment]
        try:
            return await super().check_in_ms(code)
        finally:
            del sys.modules["sniffio"]


class HttpcorePool:
    """``httpcore.AsyncConnectionPool`` directly: httpx's client and transport layers left out."""

    def __init__(self, base_url: str) -> None:
        import httpcore

        self.url = (base_url + check_in_path()).encode()
        self.pool = httpcore.AsyncConnectionPool()
        self.headers = [(k.encode(), v.encode()) for k, v in HEADERS.items()]

    async def check_in_ms(self, code: str) -> float:
        body = _body(code)
        t0 = time.monotonic()
        response = await self.pool.request("POST", self.url, headers=self.headers + [
            (b"Content-Length", str(len(body)).encode())], content=body)
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(response.status, code)
        return elapsed

    async def aclose(self) -> None:
        await self.pool.aclose()


class Threaded:
    """The sync ``httpx.Client`` in a worker thread: the loop stays free while it waits."""

    def __init__(self, base_url: str) -> None:
        self.sync = SyncClient(base_url)

    async def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        await asyncio.to_thread(self.sync.check_in_ms, code)
        return (time.monotonic() - t0) * 1000

    async def aclose(self) -> None:
        self.sync.close()


class Connector:
    """The kiosk's own job-track connector, as the service calls it."""

    def __init__(self, base_url: str) -> None:
        self.connector: Any = _jobtrack(BACKEND, base_url)
        self.request: Any = _request_type()

    async def check_in_ms(self, code: str) -> float:
        t0 = time.monotonic()
        if hasattr(self.connector, "perform"):
            answer = await self.connector.perform(self.request(action="checkin", station=STATION, identifier=code))
        else:
            answer = await self.connector.check_in(self.request(STATION, code))
        elapsed = (time.monotonic() - t0) * 1000
        _expect_200(getattr(answer, "http_status", 0) or 0, code)
        return elapsed

    async def aclose(self) -> None:
        await self.connector.aclose()


def _jobtrack(name: str, base_url: str) -> Any:
    """The job-track connector for ``base_url``, built the way this code version builds it."""
    from kiosk import connectors

    try:
        from kiosk.connectors.jobtrack import JobTrackConfig

        backend: Any = JobTrackConfig.model_validate({"vendor": "jobtrack", "base_url": base_url})
    except ImportError:  # before the station core: one backend model for every vendor
        from kiosk.config import BackendConfig

        backend = BackendConfig.model_validate({"vendor": "jobtrack", "base_url": base_url})
    return connectors.make_connector(name, backend)


def _request_type() -> Any:
    try:
        from kiosk.connectors.base import Request

        def build(action: str, station: str, identifier: str) -> Any:
            return Request(action=action, profile=STATION, station=station, operator=None,
                           identifier=identifier, params={})

        return build
    except ImportError:  # before the station core: CheckIn(station, identifier)
        return importlib.import_module("kiosk.connectors.base").CheckIn


class SyncAdapter:
    """A sync baseline called from the loop (blocking it, as a bare sync program would)."""

    def __init__(self, client: SyncClient | StdlibClient) -> None:
        self.client = client

    async def check_in_ms(self, code: str) -> float:
        return self.client.check_in_ms(code)

    async def aclose(self) -> None:
        self.client.close()


def variants(base_url: str) -> dict[str, Any]:
    timeout = httpx.Timeout(5.0)
    return {
        "sync_stdlib": SyncAdapter(StdlibClient(base_url)),
        "sync_httpx": SyncAdapter(SyncClient(base_url)),
        "raw_asyncio": RawAsyncio(base_url),
        "async_default": AsyncHttpx(base_url, timeout=timeout),
        "async_retries0_http1": AsyncHttpx(base_url, timeout=timeout, transport=httpx.AsyncHTTPTransport(
            retries=0, http2=False)),
        "async_limits_1": AsyncHttpx(base_url, timeout=timeout, limits=httpx.Limits(
            max_connections=1, max_keepalive_connections=1)),
        "async_no_timeout": AsyncHttpx(base_url, timeout=None),
        "async_no_sniffio_lookup": NoSniffioLookup(base_url, timeout=timeout),
        "async_no_cookie_jar": NoCookieJar(base_url, timeout=timeout),
        "async_both": NoCookieJar(base_url, lookup=False, timeout=timeout),
        "httpcore_pool": HttpcorePool(base_url),
        "sync_in_thread": Threaded(base_url),
        "connector": Connector(base_url),
    }


DESCRIPTIONS = {
    "sync_stdlib": "http.client, sync",
    "sync_httpx": "httpx.Client, sync",
    "raw_asyncio": "hand-written HTTP/1.1 on asyncio streams",
    "async_default": "httpx.AsyncClient as the connector builds it",
    "async_retries0_http1": "+ AsyncHTTPTransport(retries=0, http2=False)",
    "async_limits_1": "+ Limits(max_connections=1)",
    "async_no_timeout": "+ timeout=None (no anyio cancel scopes)",
    "async_no_sniffio_lookup": "+ failed `import sniffio` answered from sys.modules",
    "async_no_cookie_jar": "+ no Set-Cookie extraction into the jar",
    "async_both": "+ both of the above",
    "httpcore_pool": "httpcore.AsyncConnectionPool, no httpx layers",
    "sync_in_thread": "httpx.Client in asyncio.to_thread",
    "connector": "the kiosk's job-track connector (perform)",
}


class LoopCounter:
    """Counts the event loop's iterations (``_run_once``) while active."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop: Any = loop
        self.count = 0

    def __enter__(self) -> Self:
        original = self.loop._run_once

        def counted() -> None:
            self.count += 1
            original()

        self.loop._run_once = counted
        return self

    def __exit__(self, *exc: object) -> None:
        del self.loop._run_once


class LayerClock:
    """Exclusive time per layer of an async call stack (one request at a time)."""

    def __init__(self) -> None:
        self.exclusive: dict[str, float] = defaultdict(float)
        self._stack: list[list[Any]] = []
        self._undo: list[tuple[type, str, Any]] = []

    def wrap(self, owner: type, attr: str, layer: str) -> None:
        original = getattr(owner, attr)
        clock = self

        async def timed(*args: Any, **kwargs: Any) -> Any:
            clock._stack.append([time.perf_counter(), 0.0])
            try:
                return await original(*args, **kwargs)
            finally:
                t0, inner = clock._stack.pop()
                spent = time.perf_counter() - t0
                clock.exclusive[layer] += spent - inner
                if clock._stack:
                    clock._stack[-1][1] += spent

        self._undo.append((owner, attr, vars(owner).get(attr)))
        setattr(owner, attr, timed)

    def restore(self) -> None:
        for owner, attr, original in reversed(self._undo):
            if original is None:
                delattr(owner, attr)
            else:
                setattr(owner, attr, original)
        self._undo.clear()


async def breakdown(base_url: str) -> dict[str, Any]:
    """Where ``async_default``'s time per request goes, by layer (ms per request)."""
    import httpcore._async.connection_pool as pool
    import httpcore._backends.anyio as anyio_backend
    import httpx._transports.default as transport
    from httpcore._async import connection, http11

    client = AsyncHttpx(base_url, timeout=httpx.Timeout(5.0))
    raw = RawAsyncio(base_url)
    for i in range(WARMUP):
        await client.check_in_ms(order_code(i))
        await raw.check_in_ms(order_code(i))
    clock = LayerClock()
    clock.wrap(httpx.AsyncClient, "send", "httpx client (build, auth, redirects, cookies, body read)")
    clock.wrap(transport.AsyncHTTPTransport, "handle_async_request", "httpx transport (mapping to/from httpcore)")
    clock.wrap(pool.AsyncConnectionPool, "handle_async_request", "httpcore pool (queue, locks, assign)")
    clock.wrap(connection.AsyncHTTPConnection, "handle_async_request", "httpcore connection + h11")
    clock.wrap(http11.AsyncHTTP11Connection, "handle_async_request", "httpcore connection + h11")
    clock.wrap(anyio_backend.AnyIOStream, "read", "anyio socket read/write (incl. the server's time)")
    clock.wrap(anyio_backend.AnyIOStream, "write", "anyio socket read/write (incl. the server's time)")
    totals: list[float] = []
    raw_ms: list[float] = []
    try:
        for i in range(BREAKDOWN_REQUESTS):
            totals.append(await client.check_in_ms(order_code(i % ORDERS)))
            raw_ms.append(await raw.check_in_ms(order_code(i % ORDERS)))
    finally:
        clock.restore()
        await client.aclose()
        await raw.aclose()
    layers = {layer: seconds * 1000 / BREAKDOWN_REQUESTS for layer, seconds in clock.exclusive.items()}
    return {"requests": BREAKDOWN_REQUESTS, "mean_total_ms": sum(totals) / len(totals),
            "mean_raw_asyncio_ms": sum(raw_ms) / len(raw_ms), "layers_ms": layers,
            "note": "exclusive time per layer under timing wrappers (they add a little each)"}


def sniffio_cost() -> dict[str, Any]:
    """What httpcore's async-library check costs per call, and how often a request calls it."""
    from httpcore import _synchronization

    async def per_call() -> float:
        calls = 2000
        t0 = time.perf_counter()
        for _ in range(calls):
            _synchronization.current_async_library()
        return (time.perf_counter() - t0) / calls * 1e6

    return {"sniffio_installed": importlib.util.find_spec("sniffio") is not None,
            "current_async_library_us": asyncio.run(per_call()), "sys_path_entries": len(sys.path)}


async def calls_per_request(base_url: str) -> float:
    from httpcore import _synchronization

    original = _synchronization.current_async_library
    count = 0

    def counted() -> str:
        nonlocal count
        count += 1
        return original()

    client = AsyncHttpx(base_url, timeout=httpx.Timeout(5.0))
    await client.check_in_ms(order_code(0))
    _synchronization.current_async_library = counted  # type: ignore[assignment]
    try:
        for i in range(20):
            await client.check_in_ms(order_code(i))
    finally:
        _synchronization.current_async_library = original  # type: ignore[assignment]
        await client.aclose()
    return count / 20


async def measure(base_url: str, n: int) -> dict[str, Any]:
    clients = variants(base_url)
    samples: dict[str, list[float]] = {name: [] for name in clients}
    loops: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    try:
        for i in range(WARMUP + n):
            names = list(clients)
            shift = i % len(names)  # rotate who goes first
            for name in names[shift:] + names[:shift]:
                value = await clients[name].check_in_ms(order_code(i % ORDERS))
                if i >= WARMUP:
                    samples[name].append(value)
        for name, client in clients.items():
            with LoopCounter(loop) as counter:
                for i in range(LOOP_COUNT_REQUESTS):
                    await client.check_in_ms(order_code(i))
            loops[name] = counter.count / LOOP_COUNT_REQUESTS
    finally:
        for client in clients.values():
            await client.aclose()
    stats = {name: percentiles(values) for name, values in samples.items()}
    base = stats["sync_httpx"]
    return {name: {"ms": stats[name], "over_sync_httpx_ms": {p: stats[name][p] - base[p] for p in ("p50", "p99")},
                   "over_async_default_ms": {p: stats[name][p] - stats["async_default"][p] for p in ("p50", "p99")},
                   "loop_iterations": loops[name], "what": DESCRIPTIONS[name]}
            for name in samples}


def run(quick: bool) -> dict[str, Any]:
    n = 60 if quick else 500
    with Workspace("client") as ws:
        sim = Simulator(ws, ORDERS)
        clients = asyncio.run(measure(sim.url, n))
        layers = asyncio.run(breakdown(sim.url))
        sniffio = sniffio_cost()
        sniffio["calls_per_request"] = asyncio.run(calls_per_request(sim.url))
    async_gap = clients["async_default"]["ms"]["p50"] - clients["sync_httpx"]["ms"]["p50"]
    best = min((name for name in clients if name.startswith("async_") and name != "async_default"),
               key=lambda name: clients[name]["ms"]["p50"])
    return {"samples": n, "clients": clients, "breakdown": layers, "sniffio": sniffio,
            "async_over_sync_p50_ms": async_gap, "best_async_setting": best}
