"""A small real HTTP server on 127.0.0.1 for vendor simulators (stdlib only).

``SimServer(app)`` serves ``app`` from a background thread with
``http.server.ThreadingHTTPServer`` speaking HTTP/1.1, so clients can keep connections
alive. It logs nothing. An app is any object with::

    handle(method: str, raw_path: str, headers: dict[str, str], body: bytes)
        -> tuple[int, dict[str, str], bytes] | CloseConnection

``raw_path`` is the request target exactly as received (still percent-encoded, query
included); header names are lower-cased. Returning ``CLOSE_CONNECTION`` drops the connection
without an answer, the way a crashed or unplugged server looks to a client.

``serve_cli(app, port)`` is the body of a ``simulate`` command: it prints
``listening on http://127.0.0.1:PORT`` as its first stdout line and serves until SIGTERM or
SIGINT.
"""

from __future__ import annotations

import json
import signal
import socket
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

Answer = tuple[int, dict[str, str], bytes]

IDLE_CONNECTION_TIMEOUT_S = 60.0
# How often the serving loop looks for stop(): short so tests starting many servers stay fast.
SHUTDOWN_POLL_S = 0.01


class CloseConnection:
    """The signal to drop the connection without answering."""

    def __repr__(self) -> str:
        return "CLOSE_CONNECTION"


CLOSE_CONNECTION = CloseConnection()


class SimApp(Protocol):
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer | CloseConnection: ...


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> Answer:
    """An answer with a JSON body and the matching Content-Type."""
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return status, {"Content-Type": "application/json; charset=utf-8", **(headers or {})}, body


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"
    timeout = IDLE_CONNECTION_TIMEOUT_S
    # One buffered write per answer and no Nagle delay: loopback answers in well under 1 ms.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away or the connection was shut down by stop()
            self.close_connection = True

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self._send(*json_answer(400, {"error": "Bad request", "details": [str(exc)]}))
            self.close_connection = True
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            answer = self.server.app.handle(self.command, self.path, headers, body)
        except Exception as exc:  # the simulator must answer, not die, on its own bugs
            answer = json_answer(500, {"error": "Simulator error", "details": [f"{type(exc).__name__}: {exc}"]})
        if isinstance(answer, CloseConnection):
            self.close_connection = True
            return
        self._send(*answer)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit():
            raise ValueError("Content-Length is not a number")
        return self.rfile.read(int(length))

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            size_line = self.rfile.readline(1024).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ValueError("bad chunk size in a chunked body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():
                    pass
                return b"".join(chunks)
            chunks.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        self.send_response(status, reason)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections must not hold up stop(); stop() closes them instead.
    block_on_close = False

    def __init__(self, address: tuple[str, int], app: SimApp) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (a timeout, a killed kiosk) is normal here: no traceback."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class SimServer:
    """Serve an app on ``host``:``port`` (0 picks a free port) from a background thread.

    The port is bound in the constructor, so a port in use raises ``OSError`` there.
    """

    def __init__(self, app: SimApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._server = _Server((host, port), app)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "SimServer":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_S},
                name=f"sim-{self.port}", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.close_connections()
        self._server.server_close()
        stop_app = getattr(self.app, "stop", None)
        if callable(stop_app):
            stop_app()

    def __enter__(self) -> "SimServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_cli(app: SimApp, port: int) -> int:
    """Serve until SIGTERM/SIGINT; the first stdout line says where. Bind errors raise OSError."""
    server = SimServer(app, port=port)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.start()
        print(f"listening on {server.url}", flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sys.stdout.flush()
    return 0
