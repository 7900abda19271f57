"""Shared fixtures: a running job-track simulator on loopback and connectors pointed at it."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from kiosk.config import BackendConfig
from kiosk.connectors.jobtrack import JobTrackConnector
from kiosk.simulators.jobtrack import JobTrackSim
from kiosk.simulators.server import Answer, SimServer

JOBTRACK_TOKEN_ENV = "KIOSK_TEST_JOBTRACK_TOKEN"
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
def jobtrack_backend(jobtrack_sim: RunningSim, monkeypatch: pytest.MonkeyPatch) -> Callable[..., BackendConfig]:
    """Build a BackendConfig for the running simulator (token in an env var); override fields by keyword."""
    monkeypatch.setenv(JOBTRACK_TOKEN_ENV, JOBTRACK_TOKEN)

    def build(**overrides: Any) -> BackendConfig:
        fields: dict[str, Any] = {"vendor": "jobtrack", "base_url": jobtrack_sim.url, "token_env": JOBTRACK_TOKEN_ENV}
        fields.update(overrides)
        return BackendConfig(**fields)

    return build


@pytest.fixture
async def jobtrack_connector(jobtrack_backend: Callable[..., BackendConfig]) -> AsyncIterator[JobTrackConnector]:
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
