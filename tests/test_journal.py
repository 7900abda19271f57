"""The SQLite scan journal: round trips, durability settings, outbox, pruning, export,
stats, the ways opening can fail, and surviving a SIGKILL mid-write. Real files only."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsutil import unwritable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.text import visible
from kiosk.journal import (
    SCAN_FIELDS,
    SCHEMA_VERSION,
    Journal,
    JournalError,
    ScanRow,
    format_stats,
)

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "kiosk-journal.sqlite3"


@pytest.fixture
def journal(path: Path, clock: Clock):
    with Journal.open(path, clock=clock) as j:
        yield j


def scan(j: Journal, text: str = "JOB1", status: str = "pending", **overrides) -> int:
    values = {"scanner": "hid0", "source": "scanner", "profile": "checkin", "station": "st-1",
              "backend": "jobtrack", "operator": "op7", "kind": "job", "text": text, "raw": None,
              "symbology": "code128", "status": status}
    values.update(overrides)
    return j.add_scan(**values)


def raw_db(path: Path) -> sqlite3.Connection:
    """A second, independent connection: sees only what was committed."""
    return sqlite3.connect(path)


# -- round trips ----------------------------------------------------------------------------

def test_every_field_round_trips(journal: Journal) -> None:
    text = "Tray ü/€ 𝄞\x00\x01\x1b[31m\r\n\t end"
    raw = b"\x02Tray \xfc\x1b\x03"
    scan_id = journal.add_scan(
        scanner="serial:/dev/ttyACM0", source="manual", profile="checkin", station="st-1", backend="jobtrack",
        operator="Zoë", kind="job", text=text, raw=raw, symbology="qr", status="done", outcome="ok",
        title="Checked in ✓", details=["line | one", "two\nlines", ""], ts="2026-11-21T13:40:00.5+01:00",
        http_status=201, latency_ms=12.5, attempts=2, action="checkin",
        request={"station": "st-1", "identifier": text, "count": 2, "nested": {"a": [1, None]}},
        fields=[{"key": "order_number", "label": "Order", "value": "O-1"},
                {"key": "tray_number", "label": "Tray", "value": "T-9"},
                {"key": "po_number", "label": "PO", "value": "PO\x7f"}],
        next_attempt_at=1795000000.25)
    assert journal.get(scan_id) == ScanRow(
        id=scan_id, ts="2026-11-21T12:40:00.500Z", scanner="serial:/dev/ttyACM0", source="manual",
        profile="checkin", station="st-1", backend="jobtrack", operator="Zoë", kind="job", action="checkin",
        text=text, raw=raw, symbology="qr", status="done", outcome="ok", title="Checked in ✓",
        details=("line | one", "two\nlines", ""),
        fields=({"key": "order_number", "label": "Order", "value": "O-1"},
                {"key": "tray_number", "label": "Tray", "value": "T-9"},
                {"key": "po_number", "label": "PO", "value": "PO\x7f"}),
        request={"station": "st-1", "identifier": text, "count": 2, "nested": {"a": [1, None]}},
        http_status=201, latency_ms=12.5, attempts=2, next_attempt_at=1795000000.25,
        updated_ts="2026-11-21T12:00:00.123Z")
    assert journal.get(scan_id + 1) is None


def test_defaults_and_timestamp_format(journal: Journal) -> None:
    row = journal.get(scan(journal, operator=None, symbology=None))
    assert row.ts == row.updated_ts == "2026-11-21T12:00:00.123Z"
    assert (row.operator, row.symbology, row.outcome, row.title, row.details, row.attempts) == \
        (None, None, None, None, (), 0)


def test_raw_is_stored_only_where_it_differs_from_text(journal: Journal, path: Path) -> None:
    same = scan(journal, text="JOB€", raw="JOB€".encode())
    differs = scan(journal, text="JOB?", raw=b"JOB\xff")
    empty = scan(journal, text="x", raw=b"")
    assert journal.get(same).raw is None
    assert journal.get(differs).raw == b"JOB\xff"
    assert journal.get(empty).raw == b""
    with contextlib.closing(raw_db(path)) as db:
        stored = dict(db.execute("SELECT id, raw FROM scans"))
    assert stored == {same: None, differs: b"JOB\xff", empty: b""}


def test_text_with_lone_surrogates_is_kept_not_refused(journal: Journal) -> None:
    text = b"JOB\xff1".decode("utf-8", "surrogateescape")
    row = journal.get(scan(journal, text=text))
    assert row.raw == b"JOB\xff1"
    assert row.text.startswith("JOB") and row.text.endswith("1")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(), raw=st.none() | st.binary(max_size=40), details=st.lists(st.text(), max_size=4))
def test_any_text_round_trips_through_get_and_exports(journal: Journal, text, raw, details) -> None:
    scan_id = scan(journal, text=text, raw=raw, details=details, title=text)
    row = journal.get(scan_id)
    assert (row.text, row.title, row.details) == (text, text, tuple(details))
    assert row.raw == (None if raw is None or raw == text.encode() else raw)

    out = io.StringIO()
    journal.export(out, fmt="jsonl")
    lines = out.getvalue().split("\n")  # ASCII-only JSON: no character of the data can split a line
    assert lines[-1] == "" and all(line.isascii() for line in lines)
    last = json.loads(lines[-2])
    assert (last["id"], last["text"], last["details"]) == (scan_id, text, details)
    assert last["raw"] == (row.raw.hex() if row.raw is not None else None)

    out = io.StringIO(newline="")
    journal.export(out, fmt="csv")
    records = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert records[0] == list(SCAN_FIELDS)
    last = dict(zip(SCAN_FIELDS, records[-1], strict=True))
    # CSV is for spreadsheets (issue 10): control characters visible, formula-like cells quoted.
    assert (last["id"], last["text"], last["details"]) == (str(scan_id), csv_text(text), csv_text(" | ".join(details)))
    assert last["raw"] == (row.raw.hex() if row.raw is not None else "")


def csv_text(value: str) -> str:
    """The CSV rule of issue 10, from its statement: control characters as visible tokens,
    a leading single quote on a cell that starts like a formula (= + - @, TAB, CR)."""
    value = visible(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


# -- durability -----------------------------------------------------------------------------

def test_durability_settings_are_in_force(journal: Journal, path: Path) -> None:
    db = journal._db()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert journal.integrity_check() == "ok"


def test_every_write_is_committed_before_returning(journal: Journal, path: Path) -> None:
    scan_id = scan(journal)
    journal.update_scan(scan_id, status="done", outcome="ok")
    journal.add_event("login", "op7", "checkin")
    journal.set_setting("profile", "checkin")
    assert not journal._db().in_transaction
    with contextlib.closing(raw_db(path)) as db:
        assert db.execute("SELECT status, outcome FROM scans").fetchall() == [("done", "ok")]
        assert db.execute("SELECT kind FROM events").fetchall() == [("login",)]
        assert db.execute("SELECT value FROM settings WHERE key = 'profile'").fetchall() == [("checkin",)]


def test_schema_creation_is_idempotent(path: Path, clock: Clock) -> None:
    with Journal.open(path, clock=clock) as j:
        first = scan(j)
    with Journal.open(path, clock=clock) as j:
        assert j.get(first).text == "JOB1"
        assert scan(j) == first + 1
    path.with_name("empty.sqlite3").write_bytes(b"")  # an empty file is an empty database
    with Journal.open(path.with_name("empty.sqlite3"), clock=clock) as j:
        assert j.count_status("pending") == 0


def test_ids_increase_and_are_never_reused(path: Path, clock: Clock) -> None:
    with Journal.open(path, clock=clock) as j:
        ids = [scan(j, text=f"J{n}") for n in range(3)]
        assert ids == sorted(ids) and len(set(ids)) == 3
    with contextlib.closing(raw_db(path)) as db, db:
        db.execute("DELETE FROM scans")
    with Journal.open(path, clock=clock) as j:
        assert scan(j) == ids[-1] + 1


def test_a_background_thread_may_write_too(journal: Journal) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            for n in range(50):
                scan(journal, text=f"T{n}")
        except BaseException as exc:  # noqa: BLE001  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    main_ids = [scan(journal, text=f"M{n}") for n in range(50)]
    thread.join()
    assert not errors
    assert journal.count_status("pending") == 100
    assert main_ids == sorted(main_ids)


# -- updates, outbox, parked ----------------------------------------------------------------

def test_update_scan_sets_fields_and_bumps_updated_ts(journal: Journal, clock: Clock) -> None:
    scan_id = scan(journal)
    clock.advance(seconds=2.5)
    journal.update_scan(scan_id, status="queued", attempts=1, http_status=503, latency_ms=40.0,
                        next_attempt_at=1795000010.0, details=("unreachable", "retry in 10 s"))
    row = journal.get(scan_id)
    assert (row.status, row.attempts, row.http_status, row.details) == \
        ("queued", 1, 503, ("unreachable", "retry in 10 s"))
    assert row.ts == "2026-11-21T12:00:00.123Z"
    assert row.updated_ts == "2026-11-21T12:00:02.623Z"


def test_update_scan_keeps_raw_meaning_when_text_or_raw_change(journal: Journal) -> None:
    scan_id = scan(journal, text="JOB1")
    journal.update_scan(scan_id, raw=b"JOB1")
    assert journal.get(scan_id).raw is None
    journal.update_scan(scan_id, text="JOB-1")  # the original bytes stay recorded
    assert (journal.get(scan_id).text, journal.get(scan_id).raw) == ("JOB-1", b"JOB1")


@pytest.mark.parametrize("fields, error", [
    ({"colour": "red"}, ValueError),
    ({"id": 5}, ValueError),
    ({"ts": "2026-01-01"}, ValueError),
    ({"updated_ts": "2026-01-01"}, ValueError),
    ({"status": "lost"}, ValueError),
    ({"details": "a single string"}, ValueError),
])
def test_update_scan_rejects_bad_fields(journal: Journal, fields, error) -> None:
    scan_id = scan(journal)
    before = journal.get(scan_id)
    with pytest.raises(error):
        journal.update_scan(scan_id, **fields)
    assert journal.get(scan_id) == before


def test_update_of_unknown_scan_raises_key_error(journal: Journal) -> None:
    with pytest.raises(KeyError):
        journal.update_scan(42, status="done")


def test_add_scan_rejects_unknown_status(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unknown scan status"):
        scan(journal, status="sent")


def test_outbox_parked_and_counts(journal: Journal) -> None:
    ids = {}
    for n, (status, backend) in enumerate([("queued", "a"), ("done", "a"), ("sending", "b"), ("parked", "a"),
                                           ("pending", "a"), ("dismissed", "b"), ("queued", "b")]):
        ids[n] = scan(journal, text=f"J{n}", status=status, backend=backend)
    journal.update_scan(ids[0], status="queued", attempts=3)  # an update does not reorder
    assert [r.id for r in journal.outbox()] == [ids[0], ids[2], ids[4], ids[6]]
    assert [r.id for r in journal.outbox("a")] == [ids[0], ids[4]]
    assert [r.id for r in journal.outbox("b")] == [ids[2], ids[6]]
    assert [r.id for r in journal.outbox("b", limit=1)] == [ids[2]]
    assert [r.id for r in journal.outbox(limit=2)] == [ids[0], ids[2]]
    assert [r.id for r in journal.parked()] == [ids[3]]
    assert [journal.count_status(s) for s in ("queued", "done", "parked", "dismissed", "nope")] == [2, 1, 1, 1, 0]


# -- pruning --------------------------------------------------------------------------------

def test_pruning_removes_only_old_final_scans_and_old_events(path: Path, clock: Clock) -> None:
    old, recent = "2026-08-01T00:00:00Z", "2026-11-01T00:00:00Z"
    with Journal.open(path, clock=clock) as j:
        kept = {status: scan(j, status=status, ts=old) for status in ("sending", "pending", "queued", "parked")}
        pruned = [scan(j, status=status, ts=old) for status in ("done", "dismissed")]
        kept["recent"] = scan(j, status="done", ts=recent)
        clock.now = datetime(2026, 8, 1, tzinfo=UTC)
        j.add_event("login", "op7", "checkin")
        clock.now = T0
        j.add_event("logout", "op7", "checkin", {"why": "shift end"})
        j.set_setting("profile", "returns")
        last_id = kept["recent"]
    with Journal.open(path, retention_days=90, clock=clock) as j:
        assert all(j.get(i) is None for i in pruned)
        assert all(j.get(i) is not None for i in kept.values())
        assert [e["kind"] for e in j.events()] == ["logout"]
        assert j.get_setting("profile") == "returns"
        assert scan(j) == last_id + 1


def test_retention_is_measured_from_the_injected_clock(path: Path, clock: Clock) -> None:
    with Journal.open(path, clock=clock) as j:
        done = scan(j, status="done")
    clock.advance(days=89.9)
    with Journal.open(path, retention_days=90, clock=clock) as j:
        assert j.get(done) is not None
    clock.advance(days=0.2)
    with Journal.open(path, retention_days=90, clock=clock) as j:
        assert j.get(done) is None


# -- export and stats -----------------------------------------------------------------------

@pytest.fixture
def day(journal: Journal) -> Journal:
    for n, ts in enumerate(["2026-11-20T23:59:59.999Z", "2026-11-21T09:15:00Z", "2026-11-21T10:00:00Z",
                            "2026-11-21T10:30:00Z", "2026-11-21T23:40:00Z"]):
        scan(journal, text=f"J{n}", ts=ts, status="done" if n != 3 else "queued",
             outcome=("ok", "ok", "rejected", None, "ok")[n], details=["a", "b"] if n == 2 else [])
    return journal


@pytest.mark.parametrize("since, expected", [
    (None, 5),
    ("2026-11-21", 4),
    ("2026-11-21T10:00", 3),
    ("2026-11-21T10:00Z", 3),
    ("2026-11-21T11:00:00+01:00", 3),
    ("2026-11-21T10:00:00.001", 2),
    ("2026-11-22", 0),
])
def test_export_jsonl_since(day: Journal, since, expected) -> None:
    out = io.StringIO()
    assert day.export(out, since=since, fmt="jsonl") == expected
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == expected
    assert [r["id"] for r in rows] == sorted(r["id"] for r in rows)
    assert all(isinstance(r["details"], list) for r in rows)


def test_export_csv(day: Journal) -> None:
    out = io.StringIO(newline="")
    assert day.export(out, since="2026-11-21T10:00Z", fmt="csv") == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue(), newline="")))
    assert [r["text"] for r in rows] == ["J2", "J3", "J4"]
    assert rows[0]["details"] == "a | b" and rows[0]["outcome"] == "rejected"
    assert rows[1]["outcome"] == "" and rows[1]["status"] == "queued"


def test_export_csv_header_only_when_empty(journal: Journal) -> None:
    out = io.StringIO(newline="")
    assert journal.export(out, fmt="csv") == 0
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [list(SCAN_FIELDS)]


@pytest.mark.parametrize("bad", ["yesterday", "2026-13-01", "21/11/2026", ""])
def test_unparsable_since_is_a_clear_value_error(day: Journal, bad: str) -> None:
    with pytest.raises(ValueError, match="not an ISO date or time.*2026-11-21"):
        day.export(io.StringIO(), since=bad)
    with pytest.raises(ValueError, match="not an ISO date or time"):
        day.stats(since=bad)


def test_unknown_export_format(day: Journal) -> None:
    with pytest.raises(ValueError, match="csv"):
        day.export(io.StringIO(), fmt="xml")


def test_stats(day: Journal) -> None:
    assert day.stats() == {
        "total": 5,
        "by_outcome": {"ok": 3, "(queued)": 1, "rejected": 1},
        "by_hour": {"2026-11-20T23": 1, "2026-11-21T09": 1, "2026-11-21T10": 2, "2026-11-21T23": 1},
    }
    assert day.stats(since="2026-11-21T10:00") == {
        "total": 3, "by_outcome": {"(queued)": 1, "ok": 1, "rejected": 1},
        "by_hour": {"2026-11-21T10": 2, "2026-11-21T23": 1}}
    text = format_stats(day.stats())
    assert text.startswith("Scans: 5")
    assert "Hour (UTC)" in text and "2026-11-21T10      2" in text
    assert format_stats(day.stats(since="2027-01-01")) == "Scans: 0"


# -- events and settings --------------------------------------------------------------------

def test_events_round_trip_in_order_with_since(journal: Journal, clock: Clock) -> None:
    first = journal.add_event("login", "op7", "checkin")
    clock.advance(hours=1)
    second = journal.add_event("dismiss", "lead1", None, {"scan": 12, "why": "duplicate\nline"})
    assert second > first
    assert journal.events() == [
        {"id": first, "ts": "2026-11-21T12:00:00.123Z", "kind": "login", "who": "op7", "profile": "checkin",
         "detail": {}},
        {"id": second, "ts": "2026-11-21T13:00:00.123Z", "kind": "dismiss", "who": "lead1", "profile": None,
         "detail": {"scan": 12, "why": "duplicate\nline"}},
    ]
    assert [e["id"] for e in journal.events(since="2026-11-21T12:30Z")] == [second]


def test_settings_survive_restarts(path: Path, clock: Clock) -> None:
    with Journal.open(path, clock=clock) as j:
        assert j.get_setting("profile") is None
        j.set_setting("profile", "checkin")
        j.set_setting("profile", "returns")
    with Journal.open(path, clock=clock) as j:
        assert j.get_setting("profile") == "returns"


def test_a_closed_journal_says_so(path: Path) -> None:
    j = Journal.open(path)
    j.close()
    j.close()
    with pytest.raises(JournalError, match="closed"):
        scan(j)


# -- what cannot be opened ------------------------------------------------------------------

def filled_journal(path: Path, rows: int = 3000) -> Path:
    with Journal.open(path) as j, j._write() as db:
        db.executemany(
            "INSERT INTO scans (ts, scanner, source, profile, station, backend, kind, text, status, updated_ts)"
            " VALUES ('2026-11-21T00:00:00.000Z', 's', 'scanner', 'p', 'st', 'b', 'job', ?, 'done', 'x')",
            [(f"JOB-{n:06d}-" + "x" * 40,) for n in range(rows)])
    assert not path.with_name(path.name + "-wal").exists()  # checkpointed into the main file at close
    return path


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match=r"folder .*nope does not exist: create it"):
        Journal.open(tmp_path / "nope" / "kiosk-journal.sqlite3")
    assert not (tmp_path / "nope").exists()


def test_parent_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(JournalError, match="is not a folder"):
        Journal.open(tmp_path / "afile" / "kiosk-journal.sqlite3")


def test_path_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "kiosk-journal.sqlite3").mkdir()
    with pytest.raises(JournalError, match="is a folder, not a journal file"):
        Journal.open(tmp_path / "kiosk-journal.sqlite3")


def test_garbage_file(path: Path) -> None:
    path.write_bytes(random.Random(1).randbytes(8192))
    with pytest.raises(JournalError, match=r"kiosk-journal.sqlite3 is not a kiosk journal "
                                           r"\(file is not a database\): move it aside and restart"):
        Journal.open(path)
    assert path.read_bytes() == random.Random(1).randbytes(8192)  # left alone for the user


def test_random_bytes_over_the_middle_is_reported_corrupt(path: Path) -> None:
    """Pages in the middle are not read at open (issue 12: no full check on the way to
    ready); the integrity check the kiosk runs once it is ready reports them."""
    data = filled_journal(path).read_bytes()
    middle = len(data) // 2 // 4096 * 4096
    path.write_bytes(data[:middle] + random.Random(2).randbytes(3 * 4096) + data[middle + 3 * 4096:])
    with pytest.raises(JournalError, match="journal is corrupt.*move kiosk-journal.sqlite3.*aside"), \
            Journal.open(path) as j:
        j.check_integrity()


def test_truncated_db_is_reported_corrupt(path: Path) -> None:
    data = filled_journal(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(JournalError, match="journal is corrupt"):
        Journal.open(path)


def test_another_sqlite_database_is_not_a_journal(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(JournalError, match="SQLite database but not a kiosk journal.*invoices"):
        Journal.open(path)


def test_journal_from_a_newer_kiosk(path: Path) -> None:
    Journal.open(path).close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(JournalError, match="newer kiosk"):
        Journal.open(path)


def test_read_only_file_fails_at_open(path: Path) -> None:
    Journal.open(path).close()
    with unwritable(path), pytest.raises(JournalError, match="read-only.*make it readable and writable"):
        Journal.open(path)


def test_unwritable_folder_fails_at_open(tmp_path: Path) -> None:
    folder = tmp_path / "journal"
    folder.mkdir()
    with unwritable(folder), pytest.raises(JournalError, match="folder .* is not writable"):
        Journal.open(folder / "kiosk-journal.sqlite3")


def test_write_probe_catches_what_permission_checks_miss(path: Path, monkeypatch) -> None:
    """Even if the up-front permission check is fooled (ACLs, read-only mounts), open writes."""
    Journal.open(path).close()
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: True)
    with unwritable(path), pytest.raises(JournalError, match="cannot write the journal.*writable"):
        Journal.open(path)


# -- a crash mid-write ----------------------------------------------------------------------

CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from kiosk.journal import Journal
journal = Journal.open(Path(sys.argv[1]))
print("ready", flush=True)
for n in range(1_000_000):
    scan_id = journal.add_scan(scanner="hid0", source="scanner", profile="p", station="st", backend="b",
                               operator=None, kind="job", text=f"JOB{n:07d}", raw=None, symbology=None,
                               status="pending", details=[f"n={n}"])
    print(scan_id, flush=True)
"""


@pytest.mark.parametrize("kill_after", [1, 37, 400])
def test_sigkill_mid_write_loses_nothing_reported(path: Path, kill_after: int) -> None:
    if path.exists():  # pragma: no cover - tmp_path is fresh per case
        path.unlink()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(REPO)],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline() == "ready\n"
        reported = [int(child.stdout.readline()) for _ in range(kill_after)]
        child.send_signal(signal.SIGKILL)
        tail = child.stdout.read()
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    # Ids printed after the ones read, up to the kill; a final partial line is not a report.
    reported += [int(line) for line in tail.split("\n")[:-1]]

    with Journal.open(path) as j:
        assert j.integrity_check() == "ok"
        rows = j.outbox()
        assert {r.id for r in rows} >= set(reported)
        assert [r.id for r in rows] == list(range(1, len(rows) + 1))
        assert all(r.text == f"JOB{r.id - 1:07d}" and r.details == (f"n={r.id - 1}",) for r in rows)
        assert scan(j) == len(rows) + 1
