"""A station in the benchmark's own process: the real service and journal, an instant vendor.

``Rig`` builds what ``kiosk.runtime`` builds (config from a TOML file, ``Journal.open`` with
the config's retention, ``StationService``), but with ``InstantConnector`` as the backend: a
connector object whose ``perform(request)`` answers a check-in at once, without a network,
so what is timed is the kiosk's own path per scan (station logic, journal commits, result).

Scans go in the way the front ends hand them over: through ``kiosk.inbox.ScanInbox``
(``arrive``, then the inbox's worker processes them in order) when the code has one, else
the way headless did before the inbox existed (``service.receive`` on arrival, then
``service.process``). So the same benchmark measures the commit before and after the
station core changed, and picks up whatever calls the service makes per scan.
"""

from __future__ import annotations

import asyncio
import importlib.util
import itertools
import sqlite3
import time
from pathlib import Path
from typing import Any, Self

from benchmarks.harness import BACKEND, STATION, STATION_DESC, order_code, write_config


class InstantConnector:
    """A job-track connector that answers every check-in at once (new and old interface)."""

    vendor = "jobtrack"

    def __init__(self, name: str) -> None:
        self.name = name
        self.requests = 0
        try:
            from kiosk.connectors.jobtrack import ACTIONS, CheckedIn

            self.actions: Any = ACTIONS
            self._answer: Any = CheckedIn
        except ImportError:  # before the station core: Accepted carried the job-track fields
            from kiosk.connectors.base import Accepted

            self.actions, self._answer = {}, Accepted

    def _accepted(self, station: str, identifier: str) -> Any:
        self.requests += 1
        return self._answer(order_number=identifier, tray_number="T" + identifier[-3:], po_number="PO-1",
                            station=station, station_desc=STATION_DESC, http_status=200)

    async def perform(self, request: Any) -> Any:
        return self._accepted(request.station, request.identifier)

    async def check_in(self, request: Any) -> Any:
        return self._accepted(request.station, request.identifier)

    async def probe(self, station: str | None = None) -> Any:
        raise NotImplementedError("not used by the benchmarks")

    async def aclose(self) -> None:
        return None


def has_inbox() -> bool:
    try:
        return importlib.util.find_spec("kiosk.inbox") is not None
    except ImportError:
        return False


def connection_of(journal: Any) -> sqlite3.Connection:
    """The journal's SQLite connection (whatever the attribute is called in this version)."""
    for value in vars(journal).values():
        if isinstance(value, sqlite3.Connection):
            return value
    raise RuntimeError("the journal holds no sqlite3.Connection the benchmark can find")


class Rig:
    """Config, journal, service and (when there is one) inbox for ``folder``; async context."""

    def __init__(self, folder: Path, *, synchronous: str = "FULL", retention_days: float | None = None,
                 journal: str | None = None) -> None:
        from kiosk.config import load_config

        folder.mkdir(parents=True, exist_ok=True)
        kwargs: dict[str, Any] = {"retention_days": retention_days}
        if journal is not None:
            kwargs["journal"] = journal
        self.config = load_config(write_config(folder / "kiosk-inprocess.toml", "http://127.0.0.1:9", None, **kwargs))
        self.synchronous = synchronous
        self.connector = InstantConnector(BACKEND)
        self.results: list[Any] = []
        self.inbox: Any = None
        self._worker: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        from kiosk.journal import Journal
        from kiosk.service import StationService

        t0 = time.perf_counter()
        self.journal = Journal.open(self.config.journal_path, self.config.kiosk.journal_retention_days)
        self.open_s = time.perf_counter() - t0
        self.db = connection_of(self.journal)
        if self.synchronous != "FULL":
            self.db.execute(f"PRAGMA synchronous = {self.synchronous}")  # the baseline only
        connectors: dict[str, Any] = {BACKEND: self.connector}  # duck-typed: old and new interface
        self.service = StationService(self.config, self.journal, connectors)
        self.service.subscribe(self.results.append)
        await self.service.start()
        if has_inbox():
            from kiosk.inbox import ScanInbox

            self.inbox = ScanInbox(self.service)
            self.inbox.attach()
            self._worker = asyncio.get_running_loop().create_task(self.inbox.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        await self.service.stop()
        self.journal.close()

    def scan(self, i: int) -> Any:
        from kiosk.station import Scan

        return Scan(order_code(i), "bench", "scanner", None, None, time.monotonic())

    async def one_by_one(self, start: int, count: int) -> None:
        """Each scan arrives when the one before has its result: an idle station's path."""
        for i in range(start, start + count):
            scan = self.scan(i)
            if self.inbox is not None:
                self.inbox.arrive(scan)
                await self.inbox.idle()
            else:
                self.service.receive(scan)
                await self.service.process(scan)

    async def burst(self, start: int, count: int) -> None:
        """``count`` scans arrive at once (a scanner's buffer, a batch): then all processed."""
        scans = [self.scan(i) for i in range(start, start + count)]
        if self.inbox is not None:
            for scan in scans:
                self.inbox.arrive(scan)
            await self.inbox.idle()
        else:
            for scan in scans:
                self.service.receive(scan)
            for scan in scans:
                await self.service.process(scan)

    def commits_during(self) -> CommitCounter:
        return CommitCounter(self.db)


class CommitCounter:
    """Counts COMMITs (one fsync'd transaction each under ``synchronous=FULL``) in a block."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.commits = 0

    def _trace(self, statement: str) -> None:
        if statement.lstrip().upper().startswith(("COMMIT", "END")):
            self.commits += 1

    def __enter__(self) -> Self:
        self.db.set_trace_callback(self._trace)
        return self

    def __exit__(self, *exc: object) -> None:
        self.db.set_trace_callback(None)


def check_results(results: list[Any], first: int, count: int) -> dict[str, Any]:
    """No scan lost, none twice, results in scan order with increasing journal ids."""
    mine = [r for r in results if str(getattr(r, "scan", "")).startswith("B")]
    scans = [r.scan for r in mine]
    expected = [order_code(i) for i in range(first, first + count)]
    ids = [r.id for r in mine]
    ok = [r for r in mine if str(r.outcome) == "ok"]
    return {"results": len(mine), "ok": len(ok), "lost": len(set(expected) - set(scans)),
            "duplicates": len(scans) - len(set(scans)), "in_order": scans == expected,
            "ids_increasing": all(a < b for a, b in itertools.pairwise(ids))}


__all__ = ["STATION", "InstantConnector", "Rig", "check_results", "connection_of", "has_inbox"]
