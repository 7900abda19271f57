"""Journal schema v2 and the per-scan / as-it-grows costs (issues 9 and 12), on real files:
action, request and display fields; drafts; writing a scan as "sending" at once; several
arrivals in one commit; outbox counts per backend; the prune on the ts index; no integrity
check on the way to ready; read-only opens; streaming export; spreadsheet-safe CSV."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sqlite3
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import kiosk.journal.core as journal_core
from devices.text import visible
from kiosk.journal import SCAN_FIELDS, Journal, JournalError

T0 = datetime(2026, 11, 21, 12, 0, 0, 123456, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal.sqlite3"


@pytest.fixture
def journal(path: Path) -> Iterator[Journal]:
    with Journal.open(path, clock=Clock()) as j:
        yield j


def scan_values(text: str = "JOB1", status: str = "pending", **overrides) -> dict:
    values = {"scanner": "hid0", "source": "scanner", "profile": "LP", "station": "LP", "backend": "jt",
              "operator": "op7", "kind": "job", "text": text, "raw": None, "symbology": None, "status": status}
    values.update(overrides)
    return values


def scan(j: Journal, text: str = "JOB1", status: str = "pending", **overrides) -> int:
    return j.add_scan(**scan_values(text, status, **overrides))


@contextlib.contextmanager
def statements(j: Journal) -> Iterator[list[str]]:
    """The SQL the journal's connection runs meanwhile."""
    seen: list[str] = []
    j._db().set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        j._db().set_trace_callback(None)


def plan(path: Path, sql: str) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return " / ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql))


ORDER = {"key": "order_number", "label": "Order", "value": "O-1"}
TRAY = {"key": "tray_number", "label": "Tray", "value": "T-9"}


@dataclass(frozen=True)
class DisplayField:  # the shape of a connector's display field
    key: str
    label: str
    value: str


# -- action, request, fields -----------------------------------------------------------------

def test_action_request_and_fields_round_trip(journal: Journal) -> None:
    scan_id = scan(journal, action="checkin", request={"station": "LP", "qty": 3, "tags": ["a"]},
                   fields=[DisplayField("order_number", "Order", "O-1"), TRAY])
    row = journal.get(scan_id)
    assert (row.action, row.request, row.fields) == (
        "checkin", {"station": "LP", "qty": 3, "tags": ["a"]}, (ORDER, TRAY))
    journal.update_scan(scan_id, fields=[ORDER], request=None, action="count")
    row = journal.get(scan_id)
    assert (row.action, row.request, row.fields) == ("count", None, (ORDER,))
    assert (journal.get(scan(journal)).fields, journal.get(scan(journal)).request) == ((), None)


def test_the_v1_keywords_still_work_and_become_fields(journal: Journal) -> None:
    """Until the service passes ``fields``, ``order_number``/``tray_number``/``po_number``
    land where a v1 journal's migration puts them."""
    scan_id = scan(journal, status="sending", order_number="O-1", tray_number="", po_number=None)
    assert journal.get(scan_id).fields == (ORDER,)
    journal.update_scan(scan_id, status="done", order_number="O-1", tray_number="T-9", po_number="")
    assert journal.get(scan_id).fields == (ORDER, TRAY)
    with pytest.raises(ValueError, match="either fields or order_number"):
        journal.update_scan(scan_id, fields=[ORDER], order_number="O-2")
    with pytest.raises(ValueError, match="either fields or order_number"):
        scan(journal, fields=[ORDER], order_number="O-2")
    assert journal.get(scan_id).fields == (ORDER, TRAY)


@pytest.mark.parametrize("changes, error, message", [
    ({"fields": {"key": "a", "label": "A", "value": "1"}}, TypeError, "not a single dict"),
    ({"fields": "Order: 1"}, TypeError, "not a single str"),
    ({"fields": [{"key": "a", "value": "1"}]}, ValueError, r"fields\[0\] has no 'label'"),
    ({"request": ["a"]}, TypeError, "request must be a mapping"),
])
def test_bad_fields_or_request_are_refused_and_nothing_changes(journal: Journal, changes, error, message) -> None:
    scan_id = scan(journal)
    before = journal.get(scan_id)
    with pytest.raises(error, match=message):
        journal.update_scan(scan_id, **changes)
    assert journal.get(scan_id) == before


def test_exports_carry_action_request_and_fields(journal: Journal) -> None:
    scan(journal, status="done", outcome="ok", action="checkin", request={"identifier": "JOB1"},
         fields=[ORDER, TRAY])
    out = io.StringIO()
    journal.export(out, fmt="jsonl")
    row = json.loads(out.getvalue())
    assert (row["action"], row["request"], row["fields"]) == ("checkin", {"identifier": "JOB1"}, [ORDER, TRAY])
    out = io.StringIO(newline="")
    journal.export(out, fmt="csv")
    header, record = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    assert header == list(SCAN_FIELDS) and {"action", "request", "fields"} <= set(header)
    row = dict(zip(header, record, strict=True))
    assert (row["action"], row["request"], row["fields"]) == ("checkin", '{"identifier": "JOB1"}',
                                                              "Order: O-1 | Tray: T-9")


# -- drafts ------------------------------------------------------------------------------------

def test_drafts_survive_a_restart_and_are_never_pruned(path: Path) -> None:
    clock = Clock()
    with Journal.open(path, clock=clock) as j:
        assert j.get_draft("loading:LP") is None
        j.put_draft("loading:LP", "loading", "LP", {"scans": ["A1", "A2"], "truck": "Ü-7"})
        j.put_draft("loading:LP", "loading", "LP", {"scans": ["A1", "A2", "A3"], "truck": "Ü-7"})
        j.put_draft("other", "count", "BC", {})
        assert j.delete_draft("other") and not j.delete_draft("other")
    clock.now += timedelta(days=400)
    with Journal.open(path, retention_days=90, clock=clock) as j:
        assert j.get_draft("loading:LP") == {"key": "loading:LP", "action": "loading", "profile": "LP",
                                             "data": {"scans": ["A1", "A2", "A3"], "truck": "Ü-7"},
                                             "updated_ts": "2026-11-21T12:00:00.123Z"}
        assert j.get_draft("other") is None


def test_draft_data_must_be_a_json_object(journal: Journal) -> None:
    with pytest.raises(TypeError, match="mapping"):
        journal.put_draft("k", "loading", "LP", ["a"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not JSON"):
        journal.put_draft("k", "loading", "LP", {"when": datetime.now()})
    assert journal.get_draft("k") is None


# -- fewer commits per scan --------------------------------------------------------------------

def test_a_scan_sent_at_once_costs_two_commits(journal: Journal, path: Path) -> None:
    """Arrival written directly as "sending" (on disk before the request leaves), then its
    outcome: two commits, where arrival / "sending" / outcome took three."""
    with statements(journal) as sql:
        scan_id = scan(journal, status="sending", action="checkin", request={"identifier": "JOB1"})
        with contextlib.closing(sqlite3.connect(path)) as other:  # durable before the send
            assert other.execute("SELECT status FROM scans WHERE id = ?", (scan_id,)).fetchall() == [("sending",)]
        journal.update_scan(scan_id, status="done", outcome="ok", attempts=1, fields=[ORDER])
    assert sum(s == "COMMIT" for s in sql) == 2
    assert journal.get(scan_id).status == "done"


def test_add_scans_writes_a_burst_in_one_commit_in_arrival_order(journal: Journal) -> None:
    first = scan(journal, text="BEFORE")
    with statements(journal) as sql:
        ids = journal.add_scans([scan_values(f"B{n}", "received", raw=b"B\xff" if n == 1 else None)
                                 for n in range(5)])
    assert sum(s == "COMMIT" for s in sql) == 1
    assert ids == list(range(first + 1, first + 6))
    assert [journal.get(i).text for i in ids] == [f"B{n}" for n in range(5)]
    assert journal.get(ids[1]).raw == b"B\xff"
    assert journal.add_scans([]) == []


def test_add_scans_writes_all_or_nothing(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unknown scan status"):
        journal.add_scans([scan_values("OK1"), scan_values("BAD", "sent")])
    with pytest.raises(ValueError, match="missing symbology"):
        journal.add_scans([{k: v for k, v in scan_values().items() if k != "symbology"}])
    assert journal.count_scans() == 0


def test_outbox_counts_per_backend_in_one_query(journal: Journal) -> None:
    for status, backend in [("queued", "a"), ("done", "a"), ("sending", "b"), ("parked", "a"),
                            ("pending", "a"), ("dismissed", "b"), ("queued", "b"), ("received", "c")]:
        scan(journal, status=status, backend=backend)
    with statements(journal) as sql:
        counts = journal.outbox_counts()
    assert counts == {"a": 2, "b": 2} and len(sql) == 1
    assert counts == {b: journal.outbox_count(b) for b in ("a", "b")}


# -- as the journal grows ----------------------------------------------------------------------

def fill(j: Journal, rows: int, ts: str, status: str = "done") -> None:
    with j._write() as db:
        db.executemany(
            "INSERT INTO scans (ts, scanner, source, profile, station, backend, kind, text, status, updated_ts)"
            " VALUES (?, 's', 'scanner', 'LP', 'LP', 'jt', 'job', ?, ?, ?)",
            [(ts, f"JOB-{n:07d}", status, ts) for n in range(rows)])


def traced_open(monkeypatch: pytest.MonkeyPatch, path: Path, **kwargs) -> tuple[Journal, list[str]]:
    """Journal.open with every statement its connection runs recorded (expanded)."""
    seen: list[str] = []
    real = journal_core._connect

    def connect(*args, **kw) -> sqlite3.Connection:
        conn = real(*args, **kw)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(journal_core, "_connect", connect)
    journal = Journal.open(path, **kwargs)
    monkeypatch.setattr(journal_core, "_connect", real)
    journal._db().set_trace_callback(None)
    return journal, seen


def test_open_prunes_through_the_ts_index_and_runs_no_integrity_check(path: Path, monkeypatch) -> None:
    clock = Clock()
    with Journal.open(path, clock=clock) as j:
        fill(j, 300, "2026-01-01T00:00:00.000Z")  # old: pruned
        fill(j, 200, "2026-11-20T00:00:00.000Z")  # recent: kept
        fill(j, 50, "2026-01-01T00:00:00.000Z", status="queued")  # old but waiting: kept
    journal, seen = traced_open(monkeypatch, path, retention_days=90, clock=clock)
    with journal:
        assert journal.count_scans() == 250
    assert not [s for s in seen if "check" in s.lower()]  # quick_check / integrity_check
    [prune] = [s for s in seen if s.startswith("DELETE FROM scans")]
    [prune_events] = [s for s in seen if s.startswith("DELETE FROM events")]
    assert "SEARCH scans USING INDEX scans_ts (ts<?)" in plan(path, prune)
    assert "scans_outbox" not in plan(path, prune)
    assert "INDEX events_ts (ts<?)" in plan(path, prune_events)


def test_prune_in_batches_and_open_prunes_at_most_a_batch(path: Path, monkeypatch) -> None:
    monkeypatch.setattr(journal_core, "PRUNE_AT_OPEN", 100)
    clock = Clock()
    with Journal.open(path, clock=clock) as j:
        fill(j, 250, "2026-01-01T00:00:00.000Z")
        j.add_event("login", "op7", "LP")
    clock.now += timedelta(days=400)
    with Journal.open(path, retention_days=90, clock=clock) as j:
        assert j.count_scans() == 150 and j.events() == []
        assert [j.prune(90, limit=100), j.prune(90, limit=100), j.prune(90, limit=100)] == [100, 50, 0]
        assert j.count_scans() == 0


def test_check_integrity_runs_beside_writes_and_reports_corruption(path: Path) -> None:
    with Journal.open(path, clock=Clock()) as j:
        fill(j, 3000, "2026-11-20T00:00:00.000Z")
        with j._write():  # the kiosk is in the middle of a write: the check does not wait for it
            j.check_integrity()
    data = path.read_bytes()
    middle = len(data) // 2 // 4096 * 4096
    path.write_bytes(data[:middle] + b"\x55" * 4096 + data[middle + 4096:])
    # A damaged page in the middle: open does not read it, the check does.
    with Journal.open(path, clock=Clock()) as j, \
            pytest.raises(JournalError, match=r"journal is corrupt \(.*\): move journal.sqlite3 .*aside"):
        j.check_integrity()


def test_read_only_opens_never_prune_nor_write(path: Path) -> None:
    with Journal.open(path, clock=Clock()) as j:
        fill(j, 10, "2026-01-01T00:00:00.000Z")
        opened = j.get_setting("journal.opened_ts")
    data = path.read_bytes()
    with Journal.open_readonly(path, clock=Clock(T0 + timedelta(days=400))) as j:
        assert j.count_scans() == 10 and j.get_setting("journal.opened_ts") == opened
        for write in (lambda: scan(j), lambda: j.prune(1), lambda: j.put_draft("k", "a", "p", {})):
            with pytest.raises(JournalError, match="opened read-only"):
                write()
    assert path.read_bytes() == data


def test_read_only_open_errors(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="no journal there"):
        Journal.open_readonly(tmp_path / "missing.sqlite3")
    (tmp_path / "garbage").write_bytes(b"x" * 5000)
    with pytest.raises(JournalError, match="not a kiosk journal"):
        Journal.open_readonly(tmp_path / "garbage")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(JournalError, match="not a kiosk journal"):
        Journal.open_readonly(tmp_path / "empty")


def test_stats_since_reads_through_the_ts_index(path: Path) -> None:
    with Journal.open(path, clock=Clock()) as j:
        fill(j, 100, "2026-11-01T00:00:00.000Z")
        fill(j, 7, "2026-11-21T08:00:00.000Z")
    with Journal.open_readonly(path) as j:
        with statements(j) as sql:
            stats = j.stats(since="2026-11-21")
        assert stats == {"total": 7, "by_outcome": {"(done)": 7}, "by_hour": {"2026-11-21T08": 7}}
    assert len(sql) == 2 and all("INDEX scans_ts (ts>?)" in plan(path, s) for s in sql)


class Sink(io.StringIO):
    """Counts what is written and keeps none of it."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)


def export_peak(path: Path, fmt: str) -> tuple[int, int]:
    with Journal.open_readonly(path) as j:
        sink = Sink()
        progress: list[int] = []
        tracemalloc.start()
        try:
            count = j.export(sink, fmt=fmt, progress=progress.append)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert progress == list(range(journal_core.PROGRESS_EVERY, count + 1, journal_core.PROGRESS_EVERY))
    return count, peak


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_streams_in_flat_memory(tmp_path: Path, fmt: str) -> None:
    small, large = tmp_path / "small.sqlite3", tmp_path / "large.sqlite3"
    for file, rows in ((small, 2_000), (large, 40_000)):
        with Journal.open(file, clock=Clock()) as j:
            fill(j, rows, "2026-11-20T00:00:00.000Z")
    small_count, small_peak = export_peak(small, fmt)
    large_count, large_peak = export_peak(large, fmt)
    assert (small_count, large_count) == (2_000, 40_000)
    # 20 times the rows, about the same memory (holding the rows would take megabytes)
    assert large_peak < small_peak * 1.5 + 256 * 1024, (small_peak, large_peak)


# -- CSV for spreadsheets ----------------------------------------------------------------------

@pytest.mark.parametrize("text, cell", [
    ("=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"),
    ("+1+2", "'+1+2"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tTAB", "<TAB>TAB"), ("\r=1", "<CR>=1"),
    ("\x1b[31mred", "<ESC>[31mred"), ("two\nlines\r\n", "two<LF>lines<CR><LF>"),
    ("a=b", "a=b"), ("plain €", "plain €"), ("", ""),
])
def test_csv_cells_are_safe_in_a_spreadsheet(journal: Journal, text: str, cell: str) -> None:
    scan(journal, text=text, title=text, details=[text], fields=[{"key": "k", "label": "L", "value": text}])
    out = io.StringIO(newline="")
    journal.export(out, fmt="csv")
    row = dict(zip(SCAN_FIELDS, list(csv.reader(io.StringIO(out.getvalue(), newline="")))[1], strict=True))
    assert (row["text"], row["title"], row["details"]) == (cell, cell, cell)
    assert row["fields"] == f"L: {visible(text)}"  # starts with the label: no formula
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for value in row.values() for c in value)
