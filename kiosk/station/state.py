"""The station's state machine: active profile, operator session, lead authority, held jobs.

Every public method takes ``now`` (monotonic seconds) and returns actions; nothing here
sleeps, reads a clock or does I/O (``handle`` takes today's date too, for GS1 expiry dates).
On a ``gs1`` profile a job scan is read as a GS1 barcode (``kiosk.station.gs1``): a refusal
(bad check digit, expired, not GS1, no ``identifier_ai`` element) is answered at once with
its reason and the elements read; an accepted one sends ``identifier_ai``'s value (or the
whole text) with the elements as display fields and GS1 values.

The invariants (checked by property tests):
- at most one operator is logged in, and only while their idle time is under the limit;
- lead authority exists only while its idle time is under the limit;
- a held job is never older than the profile's ``operator_wait_s``;
- every scan handed to ``handle`` gets exactly one Reply or Send for itself.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

from devices.events import ScanEvent
from kiosk.config import Config, ProfileConfig
from kiosk.connectors.base import ActionSpec, DisplayField
from kiosk.outcomes import Outcome
from kiosk.station.actions import Action, Audit, Expire, Reply, Send
from kiosk.station.classify import Classified, Kind, classify, matches_any
from kiosk.station.pin import verify_pin

_seq = itertools.count(1)


@dataclass(frozen=True)
class Scan:
    text: str
    scanner: str = "keyboard"
    source: str = "scanner"
    raw: bytes | None = None
    symbology: str | None = None
    t_last: float | None = None
    """Monotonic time of the last byte, for latency; None when unknown."""
    seq: int = field(default_factory=lambda: next(_seq), compare=False)
    """Unique per process, so the service can find the journal row of a held scan."""

    @classmethod
    def from_event(cls, event: ScanEvent) -> "Scan":
        return cls(event.text, event.scanner, event.source, event.raw, event.symbology,
                   event.t_last or time.monotonic())


@dataclass
class OperatorSession:
    code: str
    since: float
    last_active: float


@dataclass(frozen=True)
class _Job:
    """What a job scan sends: its identifier, and what the station read from it (GS1)."""

    identifier: str
    fields: tuple[DisplayField, ...] = ()
    gs1: Mapping[str, str] = field(default_factory=dict)


@dataclass
class _Held:
    scan: Scan
    at: float
    profile: str
    job: _Job


def _ago(seconds: float) -> str:
    return f"{max(1, round(seconds))} s ago"


def lead_label(badge: str) -> str:
    """How a lead badge is recorded and shown: never its value, a short tag of its hash."""
    tag = hashlib.sha256(badge.encode("utf-8", "surrogatepass")).hexdigest()[-4:].upper()
    return f"lead (badge …{tag})"


def _plain_action(profile: ProfileConfig) -> ActionSpec:
    """Without a connector to ask: the default action is the job-track check-in."""
    return ActionSpec(profile.action, verb="checked in" if profile.action == "checkin" else "sent")


class Station:
    def __init__(self, config: Config, profile: str | None = None, *,
                 action_of: Callable[[ProfileConfig], ActionSpec] = _plain_action) -> None:
        """``action_of`` tells what a profile's action is (the connector declares it)."""
        self.config = config
        self._action_of = action_of
        self.profile: ProfileConfig = config.profile(profile or config.kiosk.profile)
        self.operator: OperatorSession | None = None
        self.lead_who: str | None = None
        self._lead_active_at: float | None = None
        self._held: list[_Held] = []
        self._sent_at: dict[tuple[str, str], float] = {}

    # --- queries -------------------------------------------------------------------

    @property
    def operator_code(self) -> str | None:
        return self.operator.code if self.operator else None

    def lead_active(self, now: float) -> bool:
        return self._lead_active_at is not None and now - self._lead_active_at < self.config.lead.idle_s

    @property
    def held_count(self) -> int:
        return len(self._held)

    @property
    def lead_configured(self) -> bool:
        lead = self.config.lead
        return bool(lead.pin_hash or lead.pin_hash_env or lead.badge_pattern)

    def classify(self, text: str) -> Classified:
        return classify(text, self.profile, self.config.lead)

    # --- scans ---------------------------------------------------------------------

    def handle(self, scan: Scan, now: float, today: dt.date | None = None) -> list[Action]:
        """Decide what ``scan`` means; the first Reply/Send in the result answers it.

        ``today`` (the local date) is needed on a ``gs1`` profile, to refuse expired products."""
        actions: list[Action] = self.tick(now)
        c = self.classify(scan.text)
        if not scan.text.strip():
            actions.append(Reply(scan, Kind.UNKNOWN, Outcome.IGNORED, "Empty scan",
                                 ("The scan held only spaces or line ends: scan again.",)))
            return actions
        if scan.source == "manual" and not self.profile.allow_manual:
            actions.append(Reply(scan, c.kind, Outcome.DENIED, "Manual entry not allowed",
                                 ("Scan the barcode with the scanner.",)))
            return actions
        if c.kind is Kind.OPERATOR:
            actions += self._login(scan, c, now)
        elif c.kind is Kind.LEAD:
            actions += self._lead_badge(scan, c, now)
        elif c.kind is Kind.COMMAND:
            actions += self._command(scan, c, now)
        elif c.kind is Kind.JOB:
            actions += self._job(scan, now, today)
        else:
            actions.append(Reply(scan, c.kind, Outcome.IGNORED, "Not a tray or order barcode",
                                 ("This barcode is not a tray, order or PO number for this station.",)))
        return actions

    def confirm_sent(self, identifier: str, station: str, now: float) -> None:
        """Remember a check-in that was accepted or queued, for the duplicate window."""
        self._sent_at[(station, identifier)] = now
        window = self.profile.duplicate_window_s
        if len(self._sent_at) > 256:
            self._sent_at = {k: t for k, t in self._sent_at.items() if now - t < window}

    def tick(self, now: float) -> list[Action]:
        """Timers: operator idle logout, lead lapse, held jobs that waited too long."""
        actions: list[Action] = []
        if self.operator and now - self.operator.last_active >= self.profile.operator_idle_logout_s:
            code = self.operator.code
            self.operator = None
            actions.append(Reply(None, None, Outcome.LOGOUT, "Logged out",
                                 (f"Operator {code} was idle and has been logged out.",)))
            actions.append(Audit("logout", code, self.profile.name, {"reason": "idle"}))
        if self._lead_active_at is not None and not self.lead_active(now):
            actions.append(Audit("lead_lapsed", self.lead_who, self.profile.name))
            self._lead_active_at = None
            self.lead_who = None
        while self._held and now - self._held[0].at >= self.profile.operator_wait_s:
            held = self._held.pop(0)
            actions.append(Expire(held.scan, "Operator required",
                                  ("No operator badge was scanned in time: scan the tray again.",)))
        return actions

    # --- operators -----------------------------------------------------------------

    def _login(self, scan: Scan, c: Classified, now: float) -> list[Action]:
        previous = self.operator_code
        self.operator = OperatorSession(scan.text, now, now)
        actions: list[Action] = []
        if previous and previous != scan.text:
            actions.append(Audit("logout", previous, self.profile.name, {"reason": "switched"}))
        title = "Operator switched" if previous and previous != scan.text else "Operator logged in"
        actions.append(Reply(scan, c.kind, Outcome.OPERATOR, title, (f"Operator {scan.text}",)))
        actions.append(Audit("login", scan.text, self.profile.name))
        held, self._held = self._held, []
        for h in held:
            actions.append(self._send(h.scan, now, held=True, job=h.job))
        return actions

    def logout(self, scan: Scan | None, now: float, reason: str = "command") -> list[Action]:
        code = self.operator_code
        self.operator = None
        if code is None:
            return [Reply(scan, Kind.COMMAND, Outcome.LOGOUT, "No operator logged in", ())]
        return [Reply(scan, Kind.COMMAND, Outcome.LOGOUT, "Logged out", (f"Operator {code} logged out.",)),
                Audit("logout", code, self.profile.name, {"reason": reason})]

    # --- jobs ----------------------------------------------------------------------

    def _job(self, scan: Scan, now: float, today: dt.date | None) -> list[Action]:
        if self.operator:
            self.operator.last_active = now
        job = self._read(scan, today)
        if isinstance(job, Reply):
            return [job]
        key = (self.profile.station, job.identifier)
        last = self._sent_at.get(key)
        if last is not None and now - last < self.profile.duplicate_window_s:
            verb = self._action_of(self.profile).verb
            return [Reply(scan, Kind.JOB, Outcome.DUPLICATE, f"Already {verb} {_ago(now - last)}",
                          (f"{job.identifier} at {self.profile.station}: not sent again.",), fields=job.fields)]
        if self.profile.requires_operator and not self.operator:
            self._held.append(_Held(scan, now, self.profile.name, job))
            return [Reply(scan, Kind.JOB, Outcome.HOLD, "Operator required",
                          ("Scan your operator badge first",), fields=job.fields)]
        return [self._send(scan, now, job=job)]

    def _read(self, scan: Scan, today: dt.date | None) -> _Job | Reply:
        """What a job scan sends; on a gs1 profile, a refusal when it is no usable GS1 barcode."""
        p = self.profile
        if not p.gs1 or matches_any(p.plain_patterns, scan.text):
            return _Job(scan.text)
        if today is None:
            raise ValueError("a gs1 profile needs today's date: pass today to Station.handle")
        # Imported here: GS1 parsing (biip) costs about 15 MB, and only GS1 stations need it.
        from kiosk.station.gs1 import Gs1Data, display_fields, identifier_for, parse_gs1, refusal_title

        parsed = parse_gs1(scan.text, scan.symbology, today=today)
        if isinstance(parsed, Gs1Data):
            identifier = identifier_for(parsed, p.identifier_ai)
            if isinstance(identifier, str):
                return _Job(identifier, display_fields(parsed), parsed.values())
            parsed = identifier
        return Reply(scan, Kind.JOB, Outcome.DENIED, refusal_title(parsed, p.identifier_ai), (parsed.message,),
                     fields=display_fields(parsed.data))

    def _send(self, scan: Scan, now: float, held: bool = False, command: str | None = None,
              argument: str | None = None, job: _Job | None = None) -> Send:
        p = self.profile
        job = job or _Job(scan.text)
        return Send(scan, p.station, p.backend, job.identifier, self.operator_code, p.name, held=held,
                    action=p.action, command=command, argument=argument, params=p.params, fields=job.fields,
                    gs1=job.gs1)

    def action_commands(self) -> frozenset[str]:
        """The command words the active profile's action takes (e.g. ACTIVATE, SUBMIT)."""
        return self._action_of(self.profile).commands

    # --- lead and commands ---------------------------------------------------------

    def _lead_badge(self, scan: Scan, c: Classified, now: float) -> list[Action]:
        who = lead_label(scan.text)
        self._grant_lead(who, now)
        return [Reply(scan, c.kind, Outcome.LEAD, "Lead mode", ("Lead functions unlocked.",)),
                Audit("lead_login", who, self.profile.name, {"method": "badge"})]

    def lead_pin(self, pin: str, now: float, pin_hash: str | None) -> list[Action]:
        """Try a PIN typed on the lead screen; ``pin_hash`` comes from config or environment."""
        return self.lead_pin_checked(bool(pin_hash) and verify_pin(pin, pin_hash or ""), now)

    def lead_pin_checked(self, pin_ok: bool, now: float) -> list[Action]:
        """The outcome of a PIN already checked (the slow hash can run off the event loop)."""
        if pin_ok:
            self._grant_lead("PIN", now)
            return [Reply(None, Kind.LEAD, Outcome.LEAD, "Lead mode", ("Lead functions unlocked.",)),
                    Audit("lead_login", "PIN", self.profile.name, {"method": "pin"})]
        return [Reply(None, Kind.LEAD, Outcome.DENIED, "Wrong PIN", ("Lead functions stay locked.",)),
                Audit("lead_denied", None, self.profile.name, {"method": "pin"})]

    def _grant_lead(self, who: str, now: float) -> None:
        self.lead_who = who
        self._lead_active_at = now

    def lead_action(self, action: str, now: float, **detail: object) -> list[Action]:
        """Check lead authority for ``action``; refresh it and audit when granted."""
        if not self.lead_active(now):
            return [Reply(None, Kind.LEAD, Outcome.DENIED, "Lead authority needed",
                          ("Scan a lead badge or enter the lead PIN first.",))]
        self._lead_active_at = now
        return [Audit(action, self.lead_who, self.profile.name, dict(detail))]

    def end_lead(self, now: float) -> list[Action]:
        if self._lead_active_at is None:
            return []
        who, self.lead_who, self._lead_active_at = self.lead_who, None, None
        return [Audit("lead_logout", who, self.profile.name)]

    def switch_profile(self, name: str, now: float, scan: Scan | None = None) -> list[Action]:
        if not self.lead_active(now):
            return [Reply(scan, Kind.COMMAND, Outcome.DENIED, "Lead authority needed",
                          ("Only a lead can switch the station profile.",))]
        try:
            new = self.config.profile(name)
        except KeyError:
            names = ", ".join(p.name for p in self.config.profiles)
            return [Reply(scan, Kind.COMMAND, Outcome.IGNORED, "Unknown profile",
                          (f"{name!r} is not one of: {names}",))]
        old = self.profile
        actions: list[Action] = []
        if self.operator:
            actions.append(Audit("logout", self.operator.code, old.name, {"reason": "profile switch"}))
            self.operator = None
        for h in self._held:
            actions.append(Expire(h.scan, "Operator required", ("The station profile was switched.",)))
        self._held = []
        self.profile = new
        self._lead_active_at = now
        actions.insert(0, Reply(scan, Kind.COMMAND, Outcome.PROFILE, f"Profile {new.name}",
                                (f"Station {new.station} via {new.backend}",)))
        actions.append(Audit("profile_switch", self.lead_who, new.name, {"from": old.name, "to": new.name}))
        return actions

    def _command(self, scan: Scan, c: Classified, now: float) -> list[Action]:
        if c.command == "ACK":
            return [Reply(scan, c.kind, Outcome.ACK, "Acknowledged", ())]
        if c.command == "LOGOUT":
            return self.logout(scan, now)
        if c.command == "PROFILE":
            return self.switch_profile(c.argument or "", now, scan)
        if c.command in self.action_commands():
            if self.operator:
                self.operator.last_active = now
            return [self._send(scan, now, command=c.command, argument=c.argument)]
        return [Reply(scan, c.kind, Outcome.IGNORED, "Unknown command",
                      (f"{scan.text} is not a command this station knows.",))]
