"""One factory for everything a running kiosk needs: journal, connectors, station service.

Headless mode, the Textual app, the demo and the tests all build their service here, so
there is one way to start a station. Start-up problems (journal, token) raise
``StartupError`` with a message for the user.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import Config
from kiosk.connectors import make_connector
from kiosk.connectors.base import Connector, TokenUnavailable
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


def build_connector(config: Config, name: str) -> Connector:
    """The connector for ``config.backends[name]``, its token file resolved against the config's
    folder; a token or other problem raises ``StartupError`` naming the file and the key."""
    backend = config.backends[name]
    if backend.token_file is not None:
        backend = backend.model_copy(update={"token_file": config.resolve(backend.token_file)})
    try:
        return make_connector(name, backend)
    except TokenUnavailable as exc:
        raise StartupError(f"{config.path}: backends.{name}.{exc.key}: {exc}", exc.advice) from None
    except ValueError as exc:
        raise StartupError(f"{config.path}: backends.{name}: {exc}") from None


def build_connectors(config: Config) -> dict[str, Connector]:
    return {name: build_connector(config, name) for name in config.backends}


def build_runtime(config: Config, *, clock: Callable[[], float] = time.monotonic,
                  wall: Callable[[], float] = time.time) -> Runtime:
    try:
        journal = Journal.open(config.journal_path, config.kiosk.journal_retention_days)
    except JournalError as exc:
        raise StartupError(str(exc)) from None
    try:
        connectors = build_connectors(config)
    except StartupError:
        journal.close()
        raise
    service = StationService(config, journal, connectors, clock=clock, wall=wall)
    return Runtime(config, journal, connectors, service)
