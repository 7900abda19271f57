"""One factory for everything a running kiosk needs: journal, connectors, station service.

Headless mode, the Textual app, the demo and the tests all build their service here, so
there is one way to start a station. Start-up problems (journal, token) raise
``StartupError`` with a message for the user.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from kiosk.config import Config
import httpx

from kiosk.connectors import make_connector
from kiosk.connectors.base import Connector, ConnectorError
from kiosk.journal import Journal, JournalError
from kiosk.service import StationService


class StartupError(Exception):
    """The kiosk cannot start; ``str()`` says why and what to do."""


@dataclass
class Runtime:
    config: Config
    journal: Journal
    connectors: dict[str, Connector]
    service: StationService

    async def start(self) -> None:
        await self.service.start()

    async def close(self) -> None:
        await self.service.stop()
        self.journal.close()


def build_connectors(config: Config, *,
                     transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Connector]:
    """One connector per backend; relative paths in a backend resolve against the config's folder."""
    connectors: dict[str, Connector] = {}
    for name, backend in config.backends.items():
        try:
            connectors[name] = make_connector(name, backend, base_dir=config.path.parent, transport=transport)
        except (ConnectorError, ValueError) as exc:
            raise StartupError(str(exc)) from None
    return connectors


def build_runtime(config: Config, *, clock: Callable[[], float] = time.monotonic,
                  wall: Callable[[], float] = time.time,
                  transport: httpx.AsyncBaseTransport | None = None) -> Runtime:
    try:
        journal = Journal.open(config.journal_path, config.kiosk.journal_retention_days)
    except JournalError as exc:
        raise StartupError(str(exc)) from None
    try:
        connectors = build_connectors(config, transport=transport)
    except StartupError:
        journal.close()
        raise
    service = StationService(config, journal, connectors, clock=clock, wall=wall)
    return Runtime(config, journal, connectors, service)
