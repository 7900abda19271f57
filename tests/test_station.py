"""Station logic (pure): classification, operator sessions, duplicates, profiles, lead authority."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from kiosk.config import Config
from kiosk.station import Audit, Kind, Reply, Scan, Send, Station
from kiosk.station.actions import Expire
from kiosk.station.pin import hash_pin, verify_pin

PIN_HASH = hash_pin("2468", salt=b"0123456789abcdef", n=2**4)


def make_config(**profile_overrides) -> Config:
    lp = {"name": "LP", "backend": "lab", "station": "LP", "operator_pattern": "^OP",
          "job_patterns": [r"^\d{4,8}$", r"^PO-"], "duplicate_window_s": 3}
    lp.update(profile_overrides)
    return Config.model_validate({
        "kiosk": {"profile": "LP"},
        "backends": {"lab": {"vendor": "jobtrack", "base_url": "http://127.0.0.1:9"}},
        "profiles": [lp, {"name": "BC", "backend": "lab", "station": "BC", "operator_pattern": "^OP",
                          "requires_operator": True, "operator_wait_s": 30}],
        "lead": {"pin_hash": PIN_HASH, "badge_pattern": "^LEAD"},
    })


def answer(actions):
    """The Reply or Send that answers the scan (the first one)."""
    return next(a for a in actions if isinstance(a, (Reply, Send)))


def audits(actions):
    return [a.kind for a in actions if isinstance(a, Audit)]


# --- classification ---------------------------------------------------------------

@pytest.mark.parametrize("text,kind,command", [
    ("OP1001", Kind.OPERATOR, None),
    ("LEAD7", Kind.LEAD, None),
    ("CMD:ACK", Kind.COMMAND, "ACK"),
    ("CMD:logout", Kind.COMMAND, "LOGOUT"),
    ("CMD:PROFILE:BC", Kind.COMMAND, "PROFILE"),
    ("CMD:FOO", Kind.COMMAND, "FOO"),
    ("72544", Kind.JOB, None),
    ("PO-77", Kind.JOB, None),
    ("hello", Kind.UNKNOWN, None),
    ("123", Kind.UNKNOWN, None),
])
def test_classification_order(text, kind, command):
    station = Station(make_config())
    c = station.classify(text)
    assert (c.kind, c.command) == (kind, command)


def test_a_command_carries_what_follows_its_word_as_scanned():
    station = Station(make_config())
    assert (station.classify("CMD:notify:Jam: line 3").command, station.classify("CMD:notify:Jam: line 3").argument) \
        == ("NOTIFY", "Jam: line 3")
    assert station.classify("CMD:ACTIVATE").argument is None
    assert station.classify("CMD:NOTIFY:").argument == ""


def test_without_job_patterns_everything_else_is_a_job():
    station = Station(make_config(job_patterns=None))
    assert station.classify("anything at all").kind is Kind.JOB
    assert station.classify("OP1").kind is Kind.OPERATOR


def test_custom_command_prefix_and_ack_barcode():
    station = Station(make_config(command_prefix="#", ack_barcode="ACK-OK"))
    assert station.classify("#LOGOUT").command == "LOGOUT"
    assert station.classify("ACK-OK").command == "ACK"
    assert station.classify("CMD:LOGOUT").kind is Kind.UNKNOWN


def test_unknown_barcode_is_ignored_without_sending():
    station = Station(make_config())
    reply = answer(station.handle(Scan("hello"), 0))
    assert isinstance(reply, Reply)
    assert (reply.outcome, reply.title) == ("ignored", "Not a tray or order barcode")


def test_unknown_command_is_ignored():
    reply = answer(Station(make_config()).handle(Scan("CMD:SELFDESTRUCT"), 0))
    assert (reply.outcome, reply.title) == ("ignored", "Unknown command")


# --- operator sessions ----------------------------------------------------------------

def test_badge_logs_in_and_is_sent_with_jobs():
    station = Station(make_config())
    actions = station.handle(Scan("OP1001"), 0)
    assert answer(actions).outcome == "operator"
    assert audits(actions) == ["login"]
    send = answer(station.handle(Scan("72544"), 1))
    assert isinstance(send, Send) and send.operator == "OP1001" and send.station == "LP"


def test_second_badge_switches_operator():
    station = Station(make_config())
    station.handle(Scan("OP1"), 0)
    actions = station.handle(Scan("OP2"), 1)
    assert answer(actions).title == "Operator switched"
    assert audits(actions) == ["logout", "login"]
    assert station.operator_code == "OP2"


def test_logout_command():
    station = Station(make_config())
    station.handle(Scan("OP1"), 0)
    actions = station.handle(Scan("CMD:LOGOUT"), 1)
    assert answer(actions).outcome == "logout"
    assert station.operator_code is None
    assert audits(actions) == ["logout"]


def test_idle_logout_after_profile_limit_and_activity_extends_it():
    station = Station(make_config(operator_idle_logout_s=60))
    station.handle(Scan("OP1"), 0)
    station.handle(Scan("72544"), 50)  # activity
    assert station.tick(100) == []
    actions = station.tick(110)
    assert answer(actions).outcome == "logout"
    assert station.operator_code is None
    assert audits(actions) == ["logout"]


def test_operator_required_holds_the_job_until_a_badge():
    station = Station(make_config(), "BC")
    scan = Scan("72544")
    reply = answer(station.handle(scan, 0))
    assert (reply.outcome, reply.title, reply.details) == ("hold", "Operator required",
                                                            ("Scan your operator badge first",))
    actions = station.handle(Scan("OP9"), 10)
    sends = [a for a in actions if isinstance(a, Send)]
    assert len(sends) == 1 and sends[0].scan is scan and sends[0].operator == "OP9" and sends[0].held


def test_held_job_expires_after_the_window():
    station = Station(make_config(), "BC")
    scan = Scan("72544")
    station.handle(scan, 0)
    expired = [a for a in station.tick(31) if isinstance(a, Expire)]
    assert [e.scan for e in expired] == [scan]
    actions = station.handle(Scan("OP9"), 32)
    assert not [a for a in actions if isinstance(a, Send)]


def test_manual_entry_refused_when_profile_disallows():
    station = Station(make_config(allow_manual=False))
    reply = answer(station.handle(Scan("72544", source="manual"), 0))
    assert (reply.outcome, reply.title) == ("denied", "Manual entry not allowed")
    assert isinstance(answer(station.handle(Scan("72544", source="scanner"), 0)), Send)


# --- duplicates --------------------------------------------------------------------

def test_duplicate_within_window_not_sent_again():
    station = Station(make_config(duplicate_window_s=3))
    assert isinstance(answer(station.handle(Scan("72544"), 0)), Send)
    station.confirm_sent("72544", "LP", 0)
    reply = answer(station.handle(Scan("72544"), 2.2))
    assert (reply.outcome, reply.title) == ("duplicate", "Already checked in 2 s ago")
    assert isinstance(answer(station.handle(Scan("72544"), 3.5)), Send)


def test_duplicate_only_counts_confirmed_sends():
    station = Station(make_config())
    station.handle(Scan("72544"), 0)  # e.g. rejected by the vendor: never confirmed
    assert isinstance(answer(station.handle(Scan("72544"), 0.1)), Send)


# --- lead and profiles ---------------------------------------------------------------

def test_profile_switch_needs_lead():
    station = Station(make_config())
    reply = answer(station.handle(Scan("CMD:PROFILE:BC"), 0))
    assert (reply.outcome, reply.title) == ("denied", "Lead authority needed")
    assert station.profile.name == "LP"


def test_lead_badge_then_profile_command_switches_and_logs_out_operator():
    station = Station(make_config())
    station.handle(Scan("OP1"), 0)
    assert answer(station.handle(Scan("LEAD7"), 1)).outcome == "lead"
    actions = station.handle(Scan("CMD:PROFILE:BC"), 2)
    assert answer(actions).outcome == "profile"
    assert station.profile.name == "BC" and station.operator_code is None
    assert "profile_switch" in audits(actions) and "logout" in audits(actions)


def test_unknown_profile_refused():
    station = Station(make_config())
    station.handle(Scan("LEAD7"), 0)
    reply = answer(station.handle(Scan("CMD:PROFILE:NOPE"), 1))
    assert (reply.outcome, reply.title) == ("ignored", "Unknown profile")


def test_lead_pin_right_and_wrong():
    station = Station(make_config())
    assert answer(station.lead_pin("1111", 0, PIN_HASH)).title == "Wrong PIN"
    assert not station.lead_active(0)
    assert answer(station.lead_pin("2468", 0, PIN_HASH)).outcome == "lead"
    assert station.lead_active(1)


def test_lead_authority_lapses_after_idle_and_actions_refresh_it():
    station = Station(make_config())
    station.lead_pin("2468", 0, PIN_HASH)
    assert station.lead_action("diagnostics", 100) and station.lead_active(100)
    assert station.lead_active(219)
    assert "lead_lapsed" in audits(station.tick(221))
    assert isinstance(answer(station.lead_action("quit", 221)), Reply)


def test_pin_hash_format_and_bad_hashes():
    assert verify_pin("2468", PIN_HASH)
    assert not verify_pin("2468", "scrypt$1$2$3$x$y")
    assert not verify_pin("2468", "plain")
    assert hash_pin("2468") != hash_pin("2468")  # salted


# --- invariants under any sequence -------------------------------------------------------

SCANS = st.sampled_from(["OP1", "OP2", "LEAD7", "CMD:ACK", "CMD:LOGOUT", "CMD:PROFILE:BC",
                         "CMD:PROFILE:LP", "CMD:PROFILE:XX", "72544", "337178", "PO-1", "junk", ""])


class StationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.station = Station(make_config(operator_idle_logout_s=100))
        self.now = 0.0

    @rule(text=SCANS, manual=st.booleans())
    def scan(self, text: str, manual: bool) -> None:
        scan = Scan(text, source="manual" if manual else "scanner")
        actions = self.station.handle(scan, self.now)
        own = [a for a in actions if isinstance(a, (Reply, Send)) and a.scan is scan]
        assert len(own) == 1, actions
        for a in actions:
            if isinstance(a, Send) and a.scan is scan:
                self.station.confirm_sent(a.identifier, a.station, self.now)

    @rule(seconds=st.floats(min_value=0, max_value=200))
    def wait(self, seconds: float) -> None:
        self.now += seconds
        self.station.tick(self.now)

    @rule(pin=st.sampled_from(["2468", "0000"]))
    def pin(self, pin: str) -> None:
        self.station.lead_pin(pin, self.now, PIN_HASH)

    @precondition(lambda self: True)
    @rule()
    def tick(self) -> None:
        self.station.tick(self.now)

    @invariant()
    def consistent(self) -> None:
        s = self.station
        s.tick(self.now)
        if s.operator:
            assert self.now - s.operator.last_active < s.profile.operator_idle_logout_s
        assert s.lead_active(self.now) == (s.lead_who is not None)
        for held in s._held:
            assert self.now - held.at < s.profile.operator_wait_s
            assert held.profile == s.profile.name
        if not s.profile.requires_operator:
            assert not s._held


TestStationMachine = StationMachine.TestCase
TestStationMachine.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
