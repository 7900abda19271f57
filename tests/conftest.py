"""Shared fixtures: a running job-track simulator on loopback and connectors pointed at it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kiosk.connectors.base import Request
from kiosk.connectors.jobtrack import JobTrackConfig, JobTrackConnector
from kiosk.simulators.jobtrack import JobTrackSim
from kiosk.simulators.server import Answer, SimServer

JOBTRACK_TOKEN_ENV = "KIOSK_TEST_JOBTRACK_TOKEN"


def checkin(station: str, identifier: str, operator: str | None = None) -> Request:
    """A job-track check-in request, as the station core builds one."""
    return Request("checkin", station, identifier, operator)

JOBTRACK_TOKEN = "s3cret-t0ken-value"


@dataclass
class RunningSim:
    sim: JobTrackSim
    server: SimServer

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture
def jobtrack_sim() -> Iterator[RunningSim]:
    """The job-track simulator with fresh demo data, served on a free loopback port."""
    sim = JobTrackSim()
    with SimServer(sim) as server:
        yield RunningSim(sim, server)


@pytest.fixture
def jobtrack_backend(jobtrack_sim: RunningSim, monkeypatch: pytest.MonkeyPatch) -> Callable[..., JobTrackConfig]:
    """Build a JobTrackConfig for the running simulator (token in an env var); override fields by keyword."""
    monkeypatch.setenv(JOBTRACK_TOKEN_ENV, JOBTRACK_TOKEN)

    def build(**overrides: Any) -> JobTrackConfig:
        fields: dict[str, Any] = {"vendor": "jobtrack", "base_url": jobtrack_sim.url, "token_env": JOBTRACK_TOKEN_ENV}
        fields.update(overrides)
        return JobTrackConfig(**fields)

    return build


@pytest.fixture
async def jobtrack_connector(jobtrack_backend: Callable[..., JobTrackConfig]) -> AsyncIterator[JobTrackConnector]:
    connector = JobTrackConnector("jt", jobtrack_backend(timeout_s=2))
    yield connector
    await connector.aclose()


class CannedApp:
    """A SimServer app that gives every request the same answer."""

    def __init__(self, status: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> None:
        self.answer: Answer = (status, headers or {}, body.encode() if isinstance(body, str) else body)

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer:
        return self.answer


@pytest.fixture
def canned_server() -> Iterator[Callable[..., SimServer]]:
    """Start a loopback server that gives one fixed answer: ``canned_server(status, body, headers)``."""
    servers: list[SimServer] = []

    def start(status: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> SimServer:
        server = SimServer(CannedApp(status, body, headers)).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- store-and-forward: many distinct orders, kiosk configs, a request recorder ----------

BURST_ORDERS = 3000
ON_HOLD_ORDERS = 50


def order_code(n: int) -> str:
    """The n-th active order of ``burst_data`` (each check-in of it is a distinct event)."""
    return f"J{n:05d}"


def hold_code(n: int) -> str:
    """The n-th on-hold order of ``burst_data``: every check-in is refused ("Order on hold")."""
    return f"H{n:03d}"


def burst_data() -> Any:
    """Simulator data with stations LP and BC and thousands of active orders."""
    from kiosk.simulators.jobtrack import Order, SimData, Station

    orders = [Order(order_number=order_code(n)) for n in range(BURST_ORDERS)]
    orders += [Order(order_number=hold_code(n), state="hold") for n in range(ON_HOLD_ORDERS)]
    return SimData(stations=[Station(code="LP", desc="Lens Processing"), Station(code="BC", desc="Coat")],
                   orders=orders)


class RecordingApp:
    """Wraps a simulator app: notes when each API request arrived and the most in flight at once."""

    def __init__(self, app: Any) -> None:
        import threading
        import time

        self.app = app
        self.arrivals: list[tuple[float, str]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._clock = time.monotonic

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Any:
        if raw_path.startswith("/__sim__/"):
            return self.app.handle(method, raw_path, headers, body)
        with self._lock:
            self.arrivals.append((self._clock(), body.decode("utf-8", "replace")))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return self.app.handle(method, raw_path, headers, body)
        finally:
            with self._lock:
                self.in_flight -= 1

    def stop(self) -> None:
        self.app.stop()


@dataclass
class BurstSim:
    sim: JobTrackSim
    recorder: RecordingApp
    server: SimServer

    @property
    def url(self) -> str:
        return self.server.url

    def delivered(self, station: str | None = None) -> list[str]:
        """Order numbers of accepted check-ins, oldest first."""
        return [e["order_number"] for e in self.sim.events() if station is None or e["station"] == station]


@pytest.fixture
def burst_sim() -> Iterator[BurstSim]:
    """The job-track simulator with ``burst_data`` behind a ``RecordingApp``, on loopback."""
    sim = JobTrackSim(burst_data())
    recorder = RecordingApp(sim)
    with SimServer(recorder) as server:
        yield BurstSim(sim, recorder, server)


def kiosk_config_text(base_url: str, *, journal: str = "journal.sqlite3", backend: dict[str, Any] | None = None,
                      profile: dict[str, Any] | None = None) -> str:
    """A kiosk config: backend ``jt``; profiles LP (active) and BC; lead badges ``LEAD...``.

    ``backend`` and ``profile`` override keys of ``[backends.jt]`` and of both profiles.
    Duplicate suppression is off so one order may be scanned twice in a row."""
    def toml_value(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return repr(value)
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'

    backend_keys = {"vendor": "jobtrack", "base_url": base_url, "timeout_s": 2.0, **(backend or {})}
    lines = ["[kiosk]", 'profile = "LP"', f"journal = {toml_value(journal)}", "", "[backends.jt]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in backend_keys.items()]
    lines += ["", "[lead]", 'badge_pattern = "^LEAD"']
    for name in ("LP", "BC"):
        keys = {"name": name, "backend": "jt", "station": name, "duplicate_window_s": 0, **(profile or {})}
        lines += ["", "[[profiles]]"] + [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def write_config(tmp_path: Any) -> Callable[..., Any]:
    """``write_config(url, **kiosk_config_text options)`` writes tmp_path/kiosk.toml and returns its path."""
    def write(base_url: str, name: str = "kiosk.toml", **options: Any) -> Any:
        path = tmp_path / name
        path.write_text(kiosk_config_text(base_url, **options), encoding="utf-8")
        return path

    return write
