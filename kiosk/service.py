"""The station service: the one path every scan takes, shared by the screen and headless mode.

scan ──► station logic (pure) ──► journal (durable) ──► connector ──► journal ──► ScanResult

Every scan is written to the journal as it arrives (``receive``), and scans are processed
one at a time, in arrival order; a job scan's row says ``sending`` before anything is sent.
It goes out live only when nothing for its backend is waiting in
the outbox (so nothing overtakes an earlier scan) and the request budget allows; otherwise
it waits in the outbox and the backend's sender (``kiosk.sender``) delivers it in order.
At most one request per backend is in flight: a live scan goes out only when the outbox
(which holds the sender's row in flight, status ``sending``) is empty, and the sender waits
while a live scan of its backend is in flight. Under ``offline = "reject"`` a scan is never
queued, so while earlier scans wait it is refused rather than sent ahead of them.
Results go to the subscribers: the front ends show them, headless prints them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from datetime import datetime, timezone
from typing import Callable

from kiosk.config import Config, ProfileConfig
from kiosk.connectors.base import Accepted, BadAnswer, CheckIn, Connector, Outcome, Rejected, Unreachable
from kiosk.journal import Journal, ScanRow
from kiosk.ratelimit import TokenBucket
from kiosk.results import ScanResult
from kiosk.sender import Sender, backoff_delay
from kiosk.station import Audit, Reply, Scan, Send, Station
from kiosk.station.actions import Action, Expire
from kiosk.station.pin import verify_pin

log = logging.getLogger(__name__)

Listener = Callable[[ScanResult], None]


class JournalDown(Exception):
    """The journal cannot take writes: the kiosk must stop accepting scans."""


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status_time(accepted: Accepted) -> str | None:
    return accepted.status_time.isoformat() if accepted.status_time else None


class StationService:
    def __init__(self, config: Config, journal: Journal, connectors: dict[str, Connector], *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.config = config
        self.journal = journal
        self.connectors = connectors
        self.clock = clock
        self.wall = wall
        self.station = Station(config, self._saved_profile())
        self.counts: Counter[str] = Counter()
        self.last_result: ScanResult | None = None
        self.journal_error: str | None = None
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._held_rows: dict[int, int] = {}
        """Scan seq -> journal row of a job scan waiting for an operator badge."""
        self._received: dict[int, int] = {}
        """Scan seq -> journal row written on arrival by ``receive``."""
        self._live: set[str] = set()
        """Backends with a live scan in flight (their sender waits for it)."""
        self.buckets = {name: TokenBucket(b.max_requests_per_minute) for name, b in config.backends.items()}
        self.senders = {name: Sender(self, name) for name in config.backends}

    # --- lifecycle -----------------------------------------------------------------

    def _saved_profile(self) -> str:
        saved = self.journal.get_setting("profile")
        names = {p.name for p in self.config.profiles}
        return saved if saved in names else self.config.kiosk.profile

    async def start(self) -> None:
        """Settle scans a crash left in flight, then start one sender per backend."""
        for row in self.journal.outbox():
            if row.status == "sending":
                self._settle_interrupted(row)
        for sender in self.senders.values():
            sender.start()

    def _settle_interrupted(self, row: ScanRow) -> None:
        profile = self._profile_for(row)
        # A reject profile never queues: its operator was never told, so a lead must decide.
        if profile.on_unknown == "park" or profile.offline == "reject":
            self._write(row.id, status="parked", outcome="parked", title="Unknown whether checked in",
                        details=("The kiosk stopped while this check-in was being sent.",
                                 "Check the job in the vendor system, then retry or dismiss."))
        else:
            self._write(row.id, status="queued", outcome="queued")

    async def stop(self) -> None:
        for sender in self.senders.values():
            await sender.stop()
        for connector in self.connectors.values():
            await connector.aclose()

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def emit(self, result: ScanResult) -> None:
        self.counts[result.outcome] += 1
        if result.id is not None and not result.replay:
            self.last_result = result
        for listener in list(self._listeners):
            listener(result)

    # --- queries for front ends ----------------------------------------------------

    @property
    def profile(self) -> ProfileConfig:
        return self.station.profile

    def waiting(self, backend: str | None = None) -> int:
        return self.journal.outbox_count(backend)

    def live_in_flight(self, backend: str) -> bool:
        """True while a live scan of ``backend`` waits for its answer."""
        return backend in self._live

    def parked(self) -> list[ScanRow]:
        return self.journal.parked()

    def parked_count(self) -> int:
        return self.journal.count_status("parked")

    def _profile_for(self, row: ScanRow) -> ProfileConfig:
        return self._profile_named(row.profile)

    def _profile_named(self, name: str) -> ProfileConfig:
        """The named profile, or the active one when a journal row names a profile since removed."""
        try:
            return self.config.profile(name)
        except KeyError:
            return self.station.profile

    # --- journal writes ------------------------------------------------------------

    def _write(self, scan_id: int, **fields: object) -> None:
        try:
            self.journal.update_scan(scan_id, **fields)
        except Exception as exc:  # sqlite3 errors, disk full, JournalError
            self._journal_failed(exc)

    def _add(self, scan: Scan, kind: str | None, status: str, operator: str | None,
             backend: str, outcome: str | None = None, title: str | None = None,
             details: tuple[str, ...] = ()) -> int:
        """Write the scan's row: a new one, or the row ``receive`` wrote when it arrived."""
        received = self._received.pop(scan.seq, None)
        if received is not None:
            self._write(received, kind=kind or "unknown", status=status, outcome=outcome, title=title,
                        details=details, operator=operator, backend=backend, profile=self.profile.name,
                        station=self.profile.station)
            return received
        raw = scan.raw if scan.raw is not None and scan.raw != scan.text.encode("utf-8") else None
        try:
            return self.journal.add_scan(
                scanner=scan.scanner, source=scan.source, profile=self.profile.name,
                station=self.profile.station, backend=backend, operator=operator, kind=kind or "unknown",
                text=scan.text, raw=raw, symbology=scan.symbology, status=status, outcome=outcome,
                title=title, details=details)
        except Exception as exc:
            self._journal_failed(exc)
            raise AssertionError("unreachable")  # _journal_failed raises

    def _audit(self, audit: Audit) -> None:
        try:
            self.journal.add_event(audit.kind, audit.who, audit.profile, audit.detail or None)
        except Exception as exc:
            self._journal_failed(exc)

    def _read(self, query: Callable[[], object]) -> object:
        """A journal read on the scan path; a failure stops the kiosk like a failed write."""
        try:
            return query()
        except Exception as exc:
            self._journal_failed(exc)
            raise AssertionError("unreachable")

    def _waiting(self, backend: str) -> int:
        return self._read(lambda: self.waiting(backend))  # type: ignore[return-value]

    def _journal_failed(self, exc: BaseException) -> None:
        self.journal_error = f"The scan journal cannot be written: {exc}"
        log.error("%s", self.journal_error)
        raise JournalDown(self.journal_error) from exc

    # --- scans ---------------------------------------------------------------------

    def receive(self, scan: Scan) -> int:
        """Write a scan durably the moment it arrives, before it waits its turn (behind an
        error screen, behind a burst); ``process`` later completes the same row."""
        if self.journal_error:
            raise JournalDown(self.journal_error)
        kind = self.station.classify(scan.text).kind.value
        scan_id = self._add(scan, kind, "received", self.station.operator_code, self.profile.backend)
        self._received[scan.seq] = scan_id
        return scan_id

    def recover_received(self) -> list[Scan]:
        """Scans a previous run took in but never handled, oldest first, to process before new ones."""
        rows = self._read(self.journal.received)
        scans = []
        for row in rows:  # type: ignore[attr-defined]
            scan = Scan(row.text, row.scanner, row.source, row.raw, row.symbology)
            self._received[scan.seq] = row.id
            scans.append(scan)
        return scans

    async def process(self, scan: Scan) -> ScanResult:
        """Handle one scan completely; results also go to the subscribers."""
        if self.journal_error:
            raise JournalDown(self.journal_error)
        async with self._lock:
            actions = self.station.handle(scan, self.clock())
            return await self._run(actions, scan)

    def tick(self) -> None:
        """Run the station's timers (idle logout, lead lapse, held jobs expiring)."""
        actions = self.station.tick(self.clock())
        if actions:
            asyncio.get_running_loop().create_task(self._locked_run(actions))

    async def _locked_run(self, actions: list[Action]) -> None:
        async with self._lock:
            await self._run(actions, None)

    async def _run(self, actions: list[Action], scan: Scan | None) -> ScanResult:
        answer: ScanResult | None = None
        for action in actions:
            result: ScanResult | None = None
            if isinstance(action, Audit):
                self._audit(action)
            elif isinstance(action, Reply):
                result = self._reply(action)
            elif isinstance(action, Send):
                result = await self._send(action)
            elif isinstance(action, Expire):
                row_id = self._held_rows.pop(action.scan.seq, None)
                if row_id is not None:
                    self._write(row_id, title=action.title, details=action.details)
            if result is None:
                continue
            if action.scan is scan and answer is None:
                answer = result  # the reply to this scan (or, with no scan, to this call)
            else:
                self.emit(result)
        if any(isinstance(a, Audit) and a.kind == "profile_switch" for a in actions):
            self._save_profile()
        if answer is None:
            answer = self._result_for(scan or Scan(""), None, "ignored", "Nothing to do")
            if scan is None:
                return answer  # a timer or lead call with nothing to report
        self.emit(answer)
        return answer

    def _save_profile(self) -> None:
        try:
            self.journal.set_setting("profile", self.profile.name)
        except Exception as exc:
            self._journal_failed(exc)

    def _reply(self, reply: Reply) -> ScanResult:
        scan = reply.scan
        if scan is None:
            return self._result_for(Scan(""), None, reply.outcome, reply.title, reply.details)
        scan_id = self._add(scan, reply.kind, "done", self.station.operator_code, self.profile.backend,
                            reply.outcome, reply.title, reply.details)
        if reply.outcome == "rejected" and reply.title == "Operator required":
            self._held_rows[scan.seq] = scan_id
        return self._result_for(scan, scan_id, reply.outcome, reply.title, reply.details,
                                kind=reply.kind.value if reply.kind else None)

    async def _send(self, send: Send) -> ScanResult:
        scan = send.scan
        profile = self._profile_named(send.profile)
        sender = self.senders[send.backend]
        now = self.clock()
        row_id = self._held_rows.pop(scan.seq, None)
        waiting = self._waiting(send.backend)
        reject = profile.offline == "reject"
        if reject and waiting:
            return self._final(scan, row_id, send, "error", "Not sent: earlier scans are waiting",
                               (f"{waiting} earlier scan(s) for this server are still waiting to be sent.",
                                "Scan again when they have gone out."))
        live = reject or (not waiting and not sender.blocked(now))
        if live and not self.buckets[send.backend].try_take(now):
            if reject:
                wait = self.buckets[send.backend].wait_time(now)
                return self._final(scan, row_id, send, "error", "Request budget used up",
                                   (f"Too many scans for this backend: try again in {wait:.0f} s.",))
            live = False
        status = "sending" if live else "pending"
        if row_id is None:
            row_id = self._add(scan, "job", status, send.operator, send.backend)
        else:
            self._write(row_id, status=status, operator=send.operator, outcome=None, title=None, details=())
        if not live:
            self.station.confirm_sent(send.identifier, send.station, now)
            sender.wake()
            waiting = self._waiting(send.backend)
            return self._result_for(scan, row_id, "queued", "Saved. Will be sent when the connection is back.",
                                    (f"{waiting} waiting",), send=send, waiting=waiting, replay=send.held)
        self._live.add(send.backend)
        try:
            outcome = await self._check_in(send.backend, CheckIn(send.station, send.identifier, send.operator))
        finally:
            self._live.discard(send.backend)
            sender.wake()
        latency_ms = (self.clock() - scan.t_last) * 1000 if scan.t_last is not None else None
        result = self._settle(row_id, scan, send, outcome, attempts=1, origin="held" if send.held else "live",
                              latency_ms=latency_ms)
        assert result is not None
        return result

    def _final(self, scan: Scan, row_id: int | None, send: Send, outcome: str, title: str,
               details: tuple[str, ...]) -> ScanResult:
        if row_id is None:
            row_id = self._add(scan, "job", "done", send.operator, send.backend, outcome, title, details)
        else:
            self._write(row_id, status="done", outcome=outcome, title=title, details=details)
        return self._result_for(scan, row_id, outcome, title, details, send=send)

    def _settle(self, row_id: int, scan: Scan, send: Send, outcome: Outcome, *, attempts: int,
                origin: str, latency_ms: float | None) -> ScanResult | None:
        """Record a connector outcome for a journal row and turn it into a result.

        ``origin`` is ``live`` (scanned just now), ``held`` (released by an operator badge) or
        ``sender`` (a replay from the outbox: a refusal parks it, and a further transient
        failure reports nothing new).
        """
        replay = origin != "live"
        from_sender = origin == "sender"
        profile = self._profile_named(send.profile)
        sender = self.senders[send.backend]
        common = dict(attempts=attempts, latency_ms=latency_ms)
        if isinstance(outcome, Accepted):
            sender.note_success()
            self._write(row_id, status="done", outcome="ok", title="Checked in", details=(),
                        http_status=outcome.http_status, order_number=outcome.order_number,
                        tray_number=outcome.tray_number, po_number=outcome.po_number, **common)
            self.station.confirm_sent(send.identifier, send.station, self.clock())
            return self._result_for(scan, row_id, "ok", "Checked in", (), send=send, accepted=outcome,
                                    replay=replay, latency_ms=latency_ms, http_status=outcome.http_status)
        if isinstance(outcome, Rejected):
            sender.note_success()
            status, word = ("parked", "parked") if from_sender else ("done", "rejected")
            self._write(row_id, status=status, outcome=word, title=outcome.title, details=outcome.details,
                        http_status=outcome.http_status, **common)
            return self._result_for(scan, row_id, word, outcome.title, outcome.details, send=send,
                                    replay=replay, latency_ms=latency_ms, http_status=outcome.http_status)
        retryable, title, details, status_code, retry_after = _failure(outcome)
        unknown = isinstance(outcome, Unreachable) and outcome.sent
        if retryable and profile.offline == "queue":
            if unknown and profile.on_unknown == "park":
                self._write(row_id, status="parked", outcome="parked", title="Unknown whether checked in",
                            details=details, http_status=status_code, **common)
                return self._result_for(scan, row_id, "parked", "Unknown whether checked in", details,
                                        send=send, replay=replay, latency_ms=latency_ms)
            delay = retry_after if retry_after is not None else backoff_delay(sender.failures)
            sender.note_failure(delay, title)
            self._write(row_id, status="queued", outcome="queued", title=title, details=details,
                        http_status=status_code, next_attempt_at=self.wall() + delay, **common)
            self.station.confirm_sent(send.identifier, send.station, self.clock())
            sender.wake()
            if from_sender:
                return None  # still waiting: nothing new to report
            waiting = self._waiting(send.backend)
            return self._result_for(scan, row_id, "queued", "Saved. Will be sent when the connection is back.",
                                    (f"{waiting} waiting", title), send=send, waiting=waiting,
                                    latency_ms=latency_ms, http_status=status_code)
        if from_sender:
            self._write(row_id, status="parked", outcome="parked", title=title, details=details,
                        http_status=status_code, **common)
            return self._result_for(scan, row_id, "parked", title, details, send=send, replay=True,
                                    latency_ms=latency_ms, http_status=status_code)
        self._write(row_id, status="done", outcome="error", title=title, details=details,
                    http_status=status_code, **common)
        return self._result_for(scan, row_id, "error", title, details, send=send, replay=replay,
                                latency_ms=latency_ms, http_status=status_code)

    def _result_for(self, scan: Scan, scan_id: int | None, outcome: str, title: str,
                    details: tuple[str, ...] = (), *, send: Send | None = None,
                    accepted: Accepted | None = None, replay: bool = False, waiting: int = 0,
                    latency_ms: float | None = None, http_status: int | None = None,
                    kind: str | None = None) -> ScanResult:
        if latency_ms is None and scan.t_last is not None and not replay:
            latency_ms = (self.clock() - scan.t_last) * 1000
        profile = self._profile_named(send.profile) if send else self.profile
        return ScanResult(
            id=scan_id, ts=iso_now(), scan=scan.text, scanner=scan.scanner, source=scan.source,
            profile=profile.name, station=send.station if send else profile.station,
            operator=send.operator if send else self.station.operator_code, outcome=outcome, title=title,
            details=tuple(details),
            order_number=accepted.order_number if accepted else None,
            tray_number=accepted.tray_number if accepted else None,
            po_number=accepted.po_number if accepted else None,
            latency_ms=round(latency_ms, 3) if latency_ms is not None else None,
            replay=replay, http_status=http_status,
            station_desc=accepted.station_desc if accepted else "",
            status_time=_status_time(accepted) if accepted else None,
            waiting=waiting, kind=kind or ("job" if send else None))

    # --- replay (called by the senders) --------------------------------------------

    async def replay(self, row: ScanRow) -> None:
        """Send one outbox row again and report its outcome when it is final."""
        send = Send(Scan(row.text, row.scanner, row.source, row.raw), row.station, row.backend,
                    row.text, row.operator, row.profile)
        self._write(row.id, status="sending", attempts=row.attempts + 1)
        outcome = await self._check_in(row.backend, CheckIn(row.station, row.text, row.operator))
        result = self._settle(row.id, send.scan, send, outcome, attempts=row.attempts + 1,
                              origin="sender", latency_ms=None)
        if result is not None:
            self.emit(result)

    async def _check_in(self, backend: str, request: CheckIn) -> Outcome:
        """The connector's outcome; a connector bug becomes a final (non-retryable) answer,
        so one bad row can neither crash the kiosk nor block its backend's outbox."""
        try:
            return await self.connectors[backend].check_in(request)
        except Exception as exc:
            log.exception("connector %s failed", backend)
            return BadAnswer(f"The kiosk could not send this check-in: {type(exc).__name__}: {exc}")

    # --- lead functions ------------------------------------------------------------

    async def lead_pin(self, pin: str) -> ScanResult:
        pin_hash = self.config.lead.pin_hash
        if self.config.lead.pin_hash_env:
            pin_hash = os.environ.get(self.config.lead.pin_hash_env) or pin_hash
        # scrypt is slow on purpose: check off the loop, change the station on it.
        pin_ok = bool(pin_hash) and await asyncio.to_thread(verify_pin, pin, pin_hash or "")
        async with self._lock:
            return await self._run(self.station.lead_pin_checked(pin_ok, self.clock()), None)

    async def switch_profile(self, name: str) -> ScanResult:
        async with self._lock:
            return await self._run(self.station.switch_profile(name, self.clock()), None)

    def lead_action(self, action: str, **detail: object) -> bool:
        """True when a lead may do ``action`` now (and the action is journaled)."""
        actions = self.station.lead_action(action, self.clock(), **detail)
        for a in actions:
            if isinstance(a, Audit):
                self._audit(a)
        return not any(isinstance(a, Reply) for a in actions)

    def end_lead(self) -> None:
        for a in self.station.end_lead(self.clock()):
            self._audit(a)

    def dismiss_parked(self, scan_id: int, why: str) -> bool:
        """Dismiss a parked scan; the event records the lead (who) and ``why`` (required)."""
        row = self.journal.get(scan_id)
        if row is None or row.status != "parked" or not why.strip():
            return False
        if not self.lead_action("dismiss", scan_id=scan_id, why=why):
            return False
        self._write(scan_id, status="dismissed")
        return True

    def retry_parked(self, scan_id: int) -> bool:
        row = self.journal.get(scan_id)
        if row is None or row.status != "parked" or not self.lead_action("retry", scan_id=scan_id):
            return False
        self._write(scan_id, status="queued", next_attempt_at=None)
        self.senders[row.backend].wake()
        return True


def _failure(outcome: Outcome) -> tuple[bool, str, tuple[str, ...], int | None, float | None]:
    """(worth retrying, title, details, HTTP status, Retry-After) for a non-final outcome."""
    if isinstance(outcome, Unreachable):
        title = "No answer from the server" if outcome.sent else "Server not reachable"
        return True, title, (outcome.message,), None, None
    assert isinstance(outcome, BadAnswer)
    title = "Server busy" if outcome.http_status == 429 else (
        "Server error" if outcome.transient else "Unexpected answer from the server")
    details = (outcome.message,) + ((outcome.excerpt,) if outcome.excerpt else ())
    return outcome.transient, title, details, outcome.http_status, outcome.retry_after_s
