"""The station service: the one path every scan takes, shared by the screen and headless mode.

scan ──► station logic (pure) ──► journal (durable) ──► connector ──► journal ──► ScanResult

Scans are processed one at a time, in arrival order (``kiosk.inbox`` hands them over). A scan
that had to wait was written as ``received`` when it arrived; one processed at once is
written for the first time here, directly as ``sending`` when it goes to the vendor, so it is
on disk before anything is sent or shown. It goes out live only when nothing of its backend
waits in the outbox (so nothing overtakes an earlier scan) and the request budget allows;
otherwise it waits in the outbox and the backend's sender (``kiosk.sender``) delivers it in
order. Everything kept per backend (budget, in-flight flag, failures, back-off, waiting
count) is its ``Lane``; at most one request per lane is in flight. Under
``offline = "reject"`` (or an action that cannot be queued) a scan is never queued, so while
earlier scans wait it is refused rather than sent ahead of them. Results go to the
subscribers: the front ends show them, headless prints them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
from collections import Counter
from datetime import date, datetime, timezone
from typing import Any, Callable

from devices.events import UnreadableEvent
from kiosk.config import Config, ProfileConfig
from kiosk.connectors.base import (
    Accepted,
    ActionSpec,
    Answer,
    BadAnswer,
    Connector,
    DisplayField,
    LocalReply,
    Rejected,
    Request,
    State,
    Unreachable,
)
from kiosk.connectors.registry import plugin_for
from kiosk.journal import Journal, ScanRow
from kiosk.lanes import Lane
from kiosk.outcomes import Outcome
from kiosk.results import ScanResult
from kiosk.sender import Sender, backoff_delay
from kiosk.station import Audit, Kind, Reply, Scan, Send, Station
from kiosk.station.actions import Action, Expire
from kiosk.station.pin import verify_pin
from kiosk.station.state import lead_label

log = logging.getLogger(__name__)

Listener = Callable[[ScanResult], None]

DEFAULT_SPEC = ActionSpec("checkin")
PRUNE_BATCH = 2000
PRUNE_PAUSE_S = 0.05
PRUNE_EVERY_S = 3600.0
UNREADABLE_TEXT_CHARS = 64


class JournalDown(Exception):
    """The journal cannot take writes: the kiosk must stop accepting scans."""


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StationService:
    def __init__(self, config: Config, journal: Journal, connectors: dict[str, Connector], *,
                 clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time) -> None:
        self.config = config
        self.journal = journal
        self.clock = clock
        self.wall = wall
        self.station = Station(config, self._saved_profile(), action_of=self.action_spec)
        self.counts: Counter[str] = Counter()
        self.last_result: ScanResult | None = None
        self.journal_error: str | None = None
        self._listeners: list[Listener] = []
        self._lock = asyncio.Lock()
        self._held_rows: dict[int, int] = {}
        """Scan seq -> journal row of a job scan waiting for an operator badge."""
        self._received: dict[int, int] = {}
        """Scan seq -> journal row written on arrival by ``receive``."""
        self._housekeeping: asyncio.Task[None] | None = None
        self._states: dict[str, State] = {}
        """Action state per station (``_state_key``), as journaled."""
        self._processing: int | None = None
        self._processing_row: int | None = None
        """The scan ``process`` is handling, once its row is written."""
        self.lanes = {name: Lane(name, connectors[name], per_minute=b.max_requests_per_minute,
                                 timeout_s=b.timeout_s, clock=clock,
                                 retry_after_max_s=b.retry_after_max_s)
                      for name, b in config.backends.items()}
        self._stopping = False
        """Set when the kiosk stops (or a request was cancelled for it): senders send nothing new."""
        self.senders = {name: Sender(lane, head=self._head, deliver=self.replay, wall=wall,
                                     halted=lambda: self.journal_error is not None or self._stopping)
                        for name, lane in self.lanes.items()}

    @property
    def connectors(self) -> dict[str, Connector]:
        return {name: lane.connector for name, lane in self.lanes.items()}

    # --- lifecycle -----------------------------------------------------------------

    def _saved_profile(self) -> str:
        saved = self.journal.get_setting("profile")
        names = {p.name for p in self.config.profiles}
        return saved if saved in names else self.config.kiosk.profile

    async def start(self) -> None:
        """Settle scans a crash left in flight, count the outbox, start one sender per lane."""
        wall = self.wall()
        for row in self._read(lambda: self.journal.outbox()):
            if row.status == "sending":
                self._settle_interrupted(row)
            elif row.next_attempt_at is not None and row.backend in self.lanes:
                self._cap_retry_time(row, wall)
        counts = self._read(self.journal.outbox_counts)
        for name, lane in self.lanes.items():
            lane.waiting = counts.get(name, 0)
        for sender in self.senders.values():
            sender.start()
        self._housekeeping = asyncio.get_running_loop().create_task(self._keep_house(), name="journal-housekeeping")

    async def _keep_house(self) -> None:
        """Off the path to "ready": check the journal's integrity once, then prune old rows in
        small batches, so a year-old station starts as fast as a new one and keeps scanning."""
        try:
            await asyncio.to_thread(self.journal.check_integrity)
        except Exception as exc:
            self.journal_error = f"The scan journal is damaged: {exc}"
            log.error("%s", self.journal_error)
            return
        while True:
            try:
                while self.journal.prune(self.config.kiosk.journal_retention_days, limit=PRUNE_BATCH) >= PRUNE_BATCH:
                    await asyncio.sleep(PRUNE_PAUSE_S)
            except Exception as exc:  # pruning is housekeeping: a failure must not stop scanning
                log.warning("pruning the journal failed: %s", exc)
            await asyncio.sleep(PRUNE_EVERY_S)

    def _cap_retry_time(self, row: ScanRow, wall: float) -> None:
        """A retry time journaled beyond the backend's ``retry_after_max_s`` (by a kiosk before
        the cap, or with a larger cap) is brought back to it: no restart keeps a scan for years."""
        limit = wall + self.lanes[row.backend].retry_after_max_s
        if row.next_attempt_at is not None and row.next_attempt_at > limit:
            log.warning("scan %s was to wait %.0f s more; waiting %.0f s (retry_after_max_s) instead",
                        row.id, row.next_attempt_at - wall, limit - wall)
            self._write(row.id, next_attempt_at=limit)

    def _settle_interrupted(self, row: ScanRow) -> bool:
        """A row whose request the kiosk stopped in flight: unknown whether the vendor has it.
        Parked for a lead, or queued to be sent again; True when it was queued."""
        profile = self._profile_for(row)
        # A reject profile never queues: its operator was never told, so a lead must decide.
        if self._parks_unknown(profile, row.backend) or profile.offline == "reject":
            self._write(row.id, status="parked", outcome=Outcome.PARKED, title=self._unknown_title(profile),
                        details=("The kiosk stopped while this scan was being sent.",
                                 "Check it in the vendor system, then retry or dismiss."))
            return False
        self._write(row.id, status="queued", outcome=Outcome.QUEUED, title=self._unknown_title(profile),
                    details=("The kiosk stopped while this scan was being sent; it is sent again.",))
        return True

    def _stopped_in_flight(self, row_id: int, send: Send, *, from_sender: bool) -> None:
        """The request of ``row_id`` was cancelled (the kiosk is stopping): settle the row as
        unknown now rather than leave it ``sending`` for the next start to find. Only a
        stopping kiosk cancels a request, so the senders stop sending too."""
        self._stopping = True
        lane = self.lanes[send.backend]
        try:
            row = self._read(lambda: self.journal.get(row_id))
            if row is None:
                return
            queued = self._settle_interrupted(row)
        except JournalDown:
            return  # it stays "sending": the next start settles it the same way
        if queued and not from_sender:
            lane.waiting += 1
        elif not queued and from_sender:
            self._leave_outbox(lane, from_sender)

    async def stop(self) -> None:
        self._stopping = True
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            await asyncio.gather(self._housekeeping, return_exceptions=True)
        for sender in self.senders.values():
            await sender.stop()
        for lane in self.lanes.values():
            await lane.connector.aclose()

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
        """Scans waiting in the outbox (kept in memory; counted from the journal at start)."""
        if backend is not None:
            lane = self.lanes.get(backend)
            return lane.waiting if lane else 0
        return sum(lane.waiting for lane in self.lanes.values())

    def parked(self) -> list[ScanRow]:
        return self.journal.parked()

    def parked_count(self) -> int:
        return self.journal.count_status("parked")

    def action_spec(self, profile: ProfileConfig) -> ActionSpec:
        """The profile's action as its backend's connector declares it. The connector's own
        ``actions`` come first: an instance may bind its config into ``step``/``show`` (a
        dock's item list); the plug-in's are the fallback (a wrapped connector in tests)."""
        lane = getattr(self, "lanes", {}).get(profile.backend)
        actions = getattr(lane.connector, "actions", None) if lane is not None else None
        if actions is None or profile.action not in actions:
            try:
                actions = plugin_for(self.config.backends[profile.backend].vendor).actions
            except KeyError:
                return DEFAULT_SPEC
        return actions.get(profile.action, DEFAULT_SPEC)

    def _profile_for(self, row: ScanRow) -> ProfileConfig:
        return self._profile_named(row.profile)

    def _profile_named(self, name: str) -> ProfileConfig:
        """The named profile, or the active one when a journal row names a profile since removed."""
        try:
            return self.config.profile(name)
        except KeyError:
            return self.station.profile

    def _parks_unknown(self, profile: ProfileConfig, backend: str) -> bool:
        return profile.on_unknown == "park" or not self.action_spec(profile).idempotent

    def _unknown_title(self, profile: ProfileConfig) -> str:
        return f"Unknown whether {self.action_spec(profile).verb}"

    def _queues(self, profile: ProfileConfig) -> bool:
        return profile.offline == "queue" and self.action_spec(profile).queueable

    # --- journal writes ------------------------------------------------------------

    def _write(self, scan_id: int, **fields: object) -> None:
        try:
            self.journal.update_scan(scan_id, **fields)
        except Exception as exc:  # sqlite3 errors, disk full, JournalError
            self._journal_failed(exc)

    def _add(self, scan: Scan, kind: str | None, status: str, operator: str | None,
             backend: str, outcome: str | None = None, title: str | None = None,
             details: tuple[str, ...] = (), *, request: Request | None = None,
             fields: tuple[DisplayField, ...] = ()) -> int:
        """Write the scan's row: a new one, or the row ``receive`` wrote when it arrived."""
        if scan.seq == self._processing:
            self._processing_row = scan.seq
        received = self._received.pop(scan.seq, None)
        if received is not None:
            self._write(received, kind=kind or "unknown", status=status, outcome=outcome, title=title,
                        details=details, operator=operator, backend=backend, profile=self.profile.name,
                        station=self.profile.station, fields=fields,
                        action=request.action if request else None,
                        request=request.as_json() if request else None)
            return received
        text, raw = _stored(scan, kind)
        try:
            return self.journal.add_scan(
                scanner=scan.scanner, source=scan.source, profile=self.profile.name,
                station=self.profile.station, backend=backend, operator=operator, kind=kind or "unknown",
                text=text, raw=raw, symbology=scan.symbology, status=status, outcome=outcome,
                title=title, details=details, fields=fields, action=request.action if request else None,
                request=request.as_json() if request else None)
        except Exception as exc:
            self._journal_failed(exc)
            raise AssertionError("unreachable") from exc  # _journal_failed raises

    def _audit(self, audit: Audit) -> None:
        try:
            self.journal.add_event(audit.kind, audit.who, audit.profile, audit.detail or None)
        except Exception as exc:
            self._journal_failed(exc)

    def _read(self, query: Callable[[], Any]) -> Any:
        """A journal read on the scan path; a failure stops the kiosk like a failed write."""
        try:
            return query()
        except Exception as exc:
            self._journal_failed(exc)
            raise AssertionError("unreachable") from exc

    def _head(self, backend: str) -> ScanRow | None:
        rows = self.journal.outbox(backend, limit=1)
        return rows[0] if rows else None

    def _journal_failed(self, exc: BaseException) -> None:
        self.journal_error = f"The scan journal cannot be written: {exc}"
        log.error("%s", self.journal_error)
        raise JournalDown(self.journal_error) from exc

    # --- scans ---------------------------------------------------------------------

    def receive(self, scan: Scan) -> int:
        """Write a scan durably the moment it arrives when it has to wait its turn (behind an
        error screen, behind a burst); ``process`` later completes the same row."""
        return self.receive_many([scan])[0]

    def receive_many(self, scans: list[Scan]) -> list[int]:
        """``receive`` for scans that arrived together: one commit, ids in arrival order."""
        if self.journal_error:
            raise JournalDown(self.journal_error)
        new = [scan for scan in scans if scan.seq not in self._received]
        rows = []
        for scan in new:
            kind = self.station.classify(scan.text).kind.value
            text, raw = _stored(scan, kind)
            rows.append({"scanner": scan.scanner, "source": scan.source, "profile": self.profile.name,
                         "station": self.profile.station, "backend": self.profile.backend,
                         "operator": self.station.operator_code, "kind": kind, "text": text, "raw": raw,
                         "symbology": scan.symbology, "status": "received"})
        try:
            ids = self.journal.add_scans(rows)
        except Exception as exc:
            self._journal_failed(exc)
        for scan, scan_id in zip(new, ids, strict=True):
            self._received[scan.seq] = scan_id
        return [self._received[scan.seq] for scan in scans]

    def has_row(self, scan: Scan) -> bool:
        """True once the scan has its journal row (written on arrival or as it was processed)."""
        return scan.seq in self._received or scan.seq == self._processing_row

    def recover_received(self) -> list[Scan]:
        """Scans a previous run took in but never handled, oldest first, to process before new ones."""
        rows = self._read(self.journal.received)
        scans = []
        for row in rows:
            scan = Scan(row.text, row.scanner, row.source, row.raw, row.symbology)
            self._received[scan.seq] = row.id
            scans.append(scan)
        return scans

    async def process(self, scan: Scan) -> ScanResult:
        """Handle one scan completely; results also go to the subscribers."""
        if self.journal_error:
            raise JournalDown(self.journal_error)
        async with self._lock:
            self._processing, self._processing_row = scan.seq, None
            try:
                actions = self.station.handle(scan, self.clock(), today=self.today())
                return await self._run(actions, scan)
            finally:
                self._processing = self._processing_row = None

    def unreadable(self, event: UnreadableEvent) -> ScanResult:
        """A trigger pull whose bytes could not be read: journaled (raw bytes kept), shown,
        counted, never sent."""
        if self.journal_error:
            raise JournalDown(self.journal_error)
        shown = event.visible_text(UNREADABLE_TEXT_CHARS)
        details = (event.message, "Scan again.")
        scan = Scan(shown, event.scanner, event.source, event.raw, None, event.t_last or None)
        row_id = self._add(scan, "unreadable", "done", self.station.operator_code, self.profile.backend,
                           Outcome.UNREADABLE, "Scan not readable", details)
        result = self._result_for(scan, row_id, Outcome.UNREADABLE, "Scan not readable", details,
                                  kind="unreadable")
        self.emit(result)
        return result

    def today(self) -> date:
        """The local date by the wall clock (GS1 expiry dates are checked against it)."""
        return datetime.fromtimestamp(self.wall()).date()

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
            if result is None or isinstance(action, Audit):
                continue
            if action.scan is scan and answer is None:
                answer = result  # the reply to this scan (or, with no scan, to this call)
            else:
                self.emit(result)
        if any(isinstance(a, Audit) and a.kind == "profile_switch" for a in actions):
            self._save_profile()
        if answer is None:
            answer = self._result_for(scan or Scan(""), None, Outcome.IGNORED, "Nothing to do")
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
                            reply.outcome, reply.title, reply.details, fields=reply.fields)
        if reply.outcome == Outcome.HOLD:
            self._held_rows[scan.seq] = scan_id
        return self._result_for(scan, scan_id, reply.outcome, reply.title, reply.details, fields=reply.fields,
                                kind=reply.kind.value if reply.kind else None)

    async def _send(self, send: Send) -> ScanResult:
        scan = send.scan
        profile = self._profile_named(send.profile)
        lane = self.lanes[send.backend]
        now = self.clock()
        row_id = self._held_rows.pop(scan.seq, None)
        request = send.request()
        spec = self.action_spec(profile)
        if spec.step is not None:
            step = spec.step(self.action_state_of(profile), request, self.wall())
            self._keep_state(profile, step.state)
            if step.reply is not None or step.request is None:
                reply = step.reply or LocalReply("ignored", "Nothing to send")
                return self._final(scan, row_id, send, reply.outcome, reply.title, reply.details,
                                   fields=reply.fields, request=request)
            request = step.request
        waiting = lane.waiting
        queues = self._queues(profile)
        if not queues and waiting:
            return self._final(scan, row_id, send, Outcome.ERROR, "Not sent: earlier scans are waiting",
                               (f"{waiting} earlier scan(s) for this server are still waiting to be sent.",
                                "Scan again when they have gone out."), request=request)
        live = not queues or (not waiting and not lane.blocked(now) and not lane.in_flight)
        if live and not lane.bucket.try_take(now):
            if not queues:
                wait = lane.bucket.wait_time(now)
                return self._final(scan, row_id, send, Outcome.ERROR, "Request budget used up",
                                   (f"Too many scans for this backend: try again in {math.ceil(wait)} s.",),
                                   request=request)
            live = False
        status = "sending" if live else "pending"
        if row_id is None:
            row_id = self._add(scan, "job", status, send.operator, send.backend, request=request, fields=send.fields)
        else:
            self._write(row_id, status=status, operator=send.operator, outcome=None, title=None, details=(),
                        action=request.action, request=request.as_json(), fields=send.fields)
        if not live:
            lane.waiting += 1
            self.station.confirm_sent(send.identifier, send.station, now)
            lane.wake()
            return self._queued_result(scan, row_id, send, (f"{lane.waiting} waiting",), replay=send.held)
        lane.in_flight = True
        try:
            answer = await self._perform(lane, request)
        except asyncio.CancelledError:
            self._stopped_in_flight(row_id, send, from_sender=False)
            raise
        finally:
            lane.in_flight = False
            lane.wake()
        latency_ms = (self.clock() - scan.t_last) * 1000 if scan.t_last is not None else None
        lane.last_latency_ms = latency_ms
        result = self._settle(row_id, scan, send, request, answer, attempts=1,
                              origin="held" if send.held else "live", latency_ms=latency_ms)
        assert result is not None
        return result

    def _queued_result(self, scan: Scan, row_id: int, send: Send, details: tuple[str, ...], *,
                       replay: bool = False, latency_ms: float | None = None,
                       http_status: int | None = None) -> ScanResult:
        lane = self.lanes[send.backend]
        now = self.clock()
        wait = max(0.0, lane.blocked_until - now, lane.bucket.wait_time(now))
        # The server asked to wait (429, back-off) or the request budget is spent: say when.
        busy = (wait >= 1 and lane.failures == 0) or http_status == 429
        title = (f"Busy, sending in {max(1, math.ceil(wait))} s" if busy
                 else "Saved. Will be sent when the connection is back.")
        return self._result_for(scan, row_id, Outcome.QUEUED, title, details, send=send, waiting=lane.waiting,
                                replay=replay, latency_ms=latency_ms, http_status=http_status)

    def _final(self, scan: Scan, row_id: int | None, send: Send, outcome: str, title: str,
               details: tuple[str, ...], *, fields: tuple[DisplayField, ...] = (),
               request: Request | None = None) -> ScanResult:
        fields = send.fields + fields
        if row_id is None:
            row_id = self._add(scan, "job", "done", send.operator, send.backend, outcome, title, details,
                               request=request, fields=fields)
        else:
            self._write(row_id, status="done", outcome=outcome, title=title, details=details, fields=fields)
        return self._result_for(scan, row_id, outcome, title, details, send=send, fields=fields)

    def _settle(self, row_id: int, scan: Scan, send: Send, request: Request, answer: Answer, *, attempts: int,
                origin: str, latency_ms: float | None) -> ScanResult | None:
        """Record a connector's answer for a journal row and turn it into a result.

        ``origin`` is ``live`` (scanned just now), ``held`` (released by an operator badge) or
        ``sender`` (a replay from the outbox: a refusal parks it, and a further transient
        failure reports nothing new).
        """
        replay = origin != "live"
        from_sender = origin == "sender"
        profile = self._profile_named(send.profile)
        lane = self.lanes[send.backend]
        common: dict[str, Any] = {"attempts": attempts, "latency_ms": latency_ms}
        spec = self.action_spec(profile)
        if spec.settle is not None:
            self._keep_state(profile, spec.settle(self.action_state_of(profile), request, answer, self.wall()))
        if isinstance(answer, Accepted):
            lane.note_success()
            self._leave_outbox(lane, from_sender)
            fields = send.fields + answer.fields
            self._write(row_id, status="done", outcome=Outcome.OK, title=answer.title, details=(),
                        http_status=answer.http_status, fields=fields, **common)
            self.station.confirm_sent(send.identifier, send.station, self.clock())
            return self._result_for(scan, row_id, Outcome.OK, answer.title, (), send=send, fields=fields,
                                    replay=replay, latency_ms=latency_ms, http_status=answer.http_status)
        if isinstance(answer, Rejected):
            lane.note_success()
            self._leave_outbox(lane, from_sender)
            status, word = ("parked", Outcome.PARKED) if from_sender else ("done", Outcome.REJECTED)
            self._write(row_id, status=status, outcome=word, title=answer.title, details=answer.details,
                        http_status=answer.http_status, **common)
            return self._result_for(scan, row_id, word, answer.title, answer.details, send=send,
                                    replay=replay, latency_ms=latency_ms, http_status=answer.http_status)
        retryable, title, details, status_code, retry_after = _failure(answer)
        unknown = (isinstance(answer, Unreachable) and answer.sent) or (
            isinstance(answer, BadAnswer) and answer.unknown)
        if (retryable or unknown) and self._queues(profile):
            if unknown and self._parks_unknown(profile, send.backend):
                self._leave_outbox(lane, from_sender)
                title = self._unknown_title(profile)
                self._write(row_id, status="parked", outcome=Outcome.PARKED, title=title,
                            details=details, http_status=status_code, **common)
                return self._result_for(scan, row_id, Outcome.PARKED, title, details,
                                        send=send, replay=replay, latency_ms=latency_ms)
            delay = lane.note_failure(retry_after if retry_after is not None else backoff_delay(lane.failures), title)
            if not from_sender:
                lane.waiting += 1
            self._write(row_id, status="queued", outcome=Outcome.QUEUED, title=title, details=details,
                        http_status=status_code, next_attempt_at=self.wall() + delay, **common)
            self.station.confirm_sent(send.identifier, send.station, self.clock())
            lane.wake()
            if from_sender:
                return None  # still waiting: nothing new to report
            # An unknown outcome says so: the vendor may have it, and it is sent again.
            shown = (f"{lane.waiting} waiting", title) + (
                (f"{self._unknown_title(profile)}: it is sent again",) if unknown else ())
            return self._queued_result(scan, row_id, send, shown, latency_ms=latency_ms, http_status=status_code)
        self._leave_outbox(lane, from_sender)
        if from_sender:
            self._write(row_id, status="parked", outcome=Outcome.PARKED, title=title, details=details,
                        http_status=status_code, **common)
            return self._result_for(scan, row_id, Outcome.PARKED, title, details, send=send, replay=True,
                                    latency_ms=latency_ms, http_status=status_code)
        self._write(row_id, status="done", outcome=Outcome.ERROR, title=title, details=details,
                    http_status=status_code, **common)
        return self._result_for(scan, row_id, Outcome.ERROR, title, details, send=send, replay=replay,
                                latency_ms=latency_ms, http_status=status_code)

    @staticmethod
    def _leave_outbox(lane: Lane, from_sender: bool) -> None:
        if from_sender:
            lane.waiting = max(0, lane.waiting - 1)

    def _result_for(self, scan: Scan, scan_id: int | None, outcome: str, title: str,
                    details: tuple[str, ...] = (), *, send: Send | None = None,
                    fields: tuple[DisplayField, ...] = (), replay: bool = False, waiting: int = 0,
                    latency_ms: float | None = None, http_status: int | None = None,
                    kind: str | None = None) -> ScanResult:
        if latency_ms is None and scan.t_last is not None and not replay:
            latency_ms = (self.clock() - scan.t_last) * 1000
        profile = self._profile_named(send.profile) if send else self.profile
        if send is not None and not fields:
            fields = send.fields  # a refusal, an error, a queued scan: still what the station read
        shown, _ = _stored(scan, kind)
        return ScanResult(
            id=scan_id, ts=iso_now(), scan=shown, scanner=scan.scanner, source=scan.source,
            profile=profile.name, station=send.station if send else profile.station,
            operator=send.operator if send else self.station.operator_code, outcome=outcome, title=title,
            details=tuple(details), fields=fields, action=send.action if send else None,
            verb=self.action_spec(profile).verb,
            latency_ms=round(latency_ms, 3) if latency_ms is not None else None,
            replay=replay, http_status=http_status, waiting=waiting, kind=kind or ("job" if send else None))

    # --- replay (called by the senders) --------------------------------------------

    async def replay(self, row: ScanRow) -> None:
        """Send one outbox row again and report its outcome when it is final."""
        profile = self._profile_for(row)
        lane = self.lanes[row.backend]
        if self.action_spec(profile).combine == "latest" and self._combined(row, lane):
            return
        request = self._request_of(row, profile)
        send = Send(Scan(row.text, row.scanner, row.source, row.raw), row.station, row.backend,
                    request.identifier, row.operator, row.profile, action=request.action,
                    fields=tuple(DisplayField(f["key"], f["label"], f["value"]) for f in row.fields))
        self._write(row.id, status="sending", attempts=row.attempts + 1)
        try:
            answer = await self._perform(lane, request)
        except asyncio.CancelledError:
            self._stopped_in_flight(row.id, send, from_sender=True)
            raise
        result = self._settle(row.id, send.scan, send, request, answer, attempts=row.attempts + 1,
                              origin="sender", latency_ms=None)
        if result is not None:
            self.emit(result)

    def _request_of(self, row: ScanRow, profile: ProfileConfig) -> Request:
        """The request a journal row was made for (v1 rows: a check-in of its text)."""
        if row.request is not None:
            return Request.from_json(row.request, action=row.action or profile.action, station=row.station,
                                     operator=row.operator, profile=row.profile)
        return Request(row.action or profile.action, row.station, row.text, row.operator, row.profile,
                       params=profile.params)

    def _combined(self, row: ScanRow, lane: Lane) -> bool:
        """For a "latest wins" action (a cumulative counter): when a later request of the same
        station waits behind ``row``, ``row`` and every other request of that station before the
        latest need no sending; they are settled as sent with it, all at once, so a long queue
        costs one request and one turn of the budget, not one per scan."""
        same = [r for r in self._read(lambda: self.journal.outbox(row.backend))
                if r.id >= row.id and r.station == row.station and r.action == row.action]
        if len(same) < 2:
            return False
        latest = same[-1]
        for earlier in same[:-1]:
            self._write(earlier.id, status="done", outcome=Outcome.OK, title="Sent with a later scan",
                        details=(f"Combined into scan {latest.id}, which carries the running total.",))
        lane.waiting = max(0, lane.waiting - (len(same) - 1))
        return True

    async def _perform(self, lane: Lane, request: Request) -> Answer:
        """The connector's answer; a connector bug becomes a final (non-retryable) answer,
        so one bad row can neither crash the kiosk nor block its backend's outbox."""
        try:
            return await lane.connector.perform(request)
        except Exception as exc:
            log.exception("connector %s failed", lane.name)
            return BadAnswer(f"The kiosk could not send this scan: {type(exc).__name__}: {exc}")

    # --- action state --------------------------------------------------------------

    def _state_key(self, profile: ProfileConfig) -> str:
        return f"{profile.backend}|{profile.station}|{profile.action}"

    def action_state_of(self, profile: ProfileConfig) -> State:
        """The action's state at this profile's station (from the journal, cached)."""
        key = self._state_key(profile)
        if key not in self._states:
            draft = self._read(lambda: self.journal.get_draft(key))
            self._states[key] = draft["data"] if draft else {}
        return self._states[key]

    def _keep_state(self, profile: ProfileConfig, state: State) -> None:
        key = self._state_key(profile)
        try:
            self.journal.put_draft(key, profile.action, profile.name, state)
        except Exception as exc:
            self._journal_failed(exc)
        self._states[key] = dict(state)

    def action_state(self, profile: ProfileConfig | None = None) -> tuple[DisplayField, ...]:
        """What the station's screen shows of its action's state (machine stopped since ...)."""
        profile = profile or self.profile
        spec = self.action_spec(profile)
        if spec.show is None:
            return ()
        return spec.show(self.action_state_of(profile))

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
            if isinstance(a, Audit):
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
        lane = self.lanes.get(row.backend)
        if lane is not None:
            lane.waiting += 1
            lane.wake()
        return True

    def send_now(self) -> bool:
        """A lead's "send queued scans now": forget every back-off and Retry-After, the
        lane's and (through ``Lane.row_wait``) each waiting row's own retry time."""
        if not self.lead_action("send_now"):
            return False
        for lane in self.lanes.values():
            lane.unblock()
        return True


def _stored(scan: Scan, kind: str | None) -> tuple[str, bytes | None]:
    """The text and raw bytes to journal and show: a lead badge never appears, only its tag."""
    if kind == Kind.LEAD:
        return lead_label(scan.text), None
    raw = scan.raw if scan.raw is not None and scan.raw != scan.text.encode("utf-8", "surrogateescape") else None
    return scan.text, raw


def _failure(answer: Answer) -> tuple[bool, str, tuple[str, ...], int | None, float | None]:
    """(worth retrying, title, details, HTTP status, Retry-After) for a non-final answer."""
    if isinstance(answer, Unreachable):
        title = "No answer from the server" if answer.sent else "Server not reachable"
        return True, title, (answer.message,), None, None
    assert isinstance(answer, BadAnswer)
    if answer.unknown:
        title = "Unreadable answer from the server"
    elif answer.http_status == 429:
        title = "Server busy"
    elif answer.transient:
        title = "Server error"
    else:
        title = "Unexpected answer from the server"
    details = (answer.message,) + ((answer.excerpt,) if answer.excerpt else ())
    return answer.transient, title, details, answer.http_status, answer.retry_after_s
