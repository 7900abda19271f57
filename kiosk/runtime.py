"""One factory for everything a running kiosk needs: journal, connectors, station service.

Headless mode, the Textual app, the demo and the tests all build their service here, so
there is one way to start a station. Start-up problems (journal, token) raise
``StartupError`` with a message for the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from kiosk.config import Config
from kiosk.connectors import make_connector
from kiosk.connectors.base import Connector, ConnectorError
from kiosk.journal import Journal, JournalError
from kiosk.service import StationService


class StartupError(Exception):
    """The kiosk cannot start: ``message`` says why, ``advice`` what to do; ``str()`` has both."""

    def __init__(self, message: str, advice: str = "") -> None:
        super().__init__(message + (f"\n  what to do: {advice}" if advice else ""))
        self.message = message
        self.advice = advice


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


def build_connector(config: Config, name: str, *,
                    transport: httpx.AsyncBaseTransport | None = None) -> Connector:
    """The connector for ``config.backends[name]``; relative paths in the backend resolve against
    the config's folder. A problem raises ``StartupError`` naming the file and the key."""
    try:
        return make_connector(name, config.backends[name], base_dir=config.path.parent, transport=transport)
    except ConnectorError as exc:
        key = f"backends.{name}" + (f".{exc.key}" if exc.key else "")
        raise StartupError(f"{config.path}: {key}: {exc}", exc.advice) from None
    except ValueError as exc:
        raise StartupError(f"{config.path}: backends.{name}: {exc}") from None


def build_connectors(config: Config, *,
                     transport: httpx.AsyncBaseTransport | None = None) -> dict[str, Connector]:
    """One connector per backend (see ``build_connector``)."""
    return {name: build_connector(config, name, transport=transport) for name in config.backends}


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
