"""Schema v1 -> v2: the committed v1 journal (tests/fixtures/journal-v1.sqlite3, written as the
kiosk of c34a746 wrote it) is migrated in place at open, in one transaction, with every
row, the outbox in order, the parked row, events and the active profile; a real kiosk then
runs on it. A journal of a newer schema is refused."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import BurstSim
from hypothesis import given
from hypothesis import strategies as st

import kiosk.journal.core as journal_core
from kiosk.journal import SCHEMA_VERSION, Journal, JournalError
from kiosk.journal.values import fields_json, legacy_fields, legacy_fields_json

FIXTURES = Path(__file__).resolve().parent / "fixtures"
V1 = FIXTURES / "journal-v1.sqlite3"
REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a day after the fixture's scans


def clock() -> datetime:
    return T0


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    path = tmp_path / "journal.sqlite3"
    shutil.copyfile(V1, path)
    return path


def table(path: Path, sql: str) -> list[tuple]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(sql).fetchall()


def v1_scans(path: Path) -> list[dict]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM scans ORDER BY id")]


def layout(path: Path) -> dict[str, list[tuple]]:
    """Columns of every table and the indexes, as SQLite reports them."""
    tables = [name for (name,) in table(path, "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")]
    info = {name: table(path, f"PRAGMA table_info({name})") for name in tables}
    info["indexes"] = table(path, "SELECT name, tbl_name FROM sqlite_schema WHERE type = 'index' "
                                  "AND name NOT LIKE 'sqlite_autoindex%' ORDER BY name")
    return info


def test_the_fixture_is_a_v1_journal() -> None:
    assert table(V1, "PRAGMA user_version") == [(1,)]
    assert not Path(str(V1) + "-wal").exists()
    columns = [c[1] for c in table(V1, "PRAGMA table_info(scans)")]
    assert {"order_number", "tray_number", "po_number"} <= set(columns) and "fields" not in columns


def test_migration_keeps_every_row_the_outbox_events_and_profile(v1: Path) -> None:
    before = v1_scans(v1)
    events_before = table(v1, "SELECT id, ts, kind, who, profile, detail FROM events ORDER BY id")
    assert table(v1, "SELECT seq FROM sqlite_sequence WHERE name = 'scans'") == [(17,)]

    with Journal.open(v1, clock=clock) as j:
        rows = [j.get(old["id"]) for old in before]
        assert all(rows)
        for old, new in zip(before, rows, strict=True):
            assert new is not None
            for name in ("id", "ts", "scanner", "source", "profile", "station", "backend", "operator", "kind",
                         "text", "raw", "symbology", "status", "outcome", "title", "http_status", "latency_ms",
                         "attempts", "next_attempt_at", "updated_ts"):
                assert getattr(new, name) == old[name], (old["id"], name)
            assert new.details == tuple(json.loads(old["details"]))
            assert new.action == ("checkin" if old["kind"] == "job" else None)
            assert new.request is None
            expected = [{"key": key, "label": label, "value": old[key]}
                        for key, label in (("order_number", "Order"), ("tray_number", "Tray"), ("po_number", "PO"))
                        if old[key]]
            assert list(new.fields) == expected, old["id"]

        by_text = {r.text: r for r in rows if r is not None}
        assert by_text["J00001"].fields == ({"key": "order_number", "label": "Order", "value": "J00001"},)
        assert by_text["J00002"].fields == ({"key": "order_number", "label": "Order", "value": "J00002"},
                                            {"key": "tray_number", "label": "Tray", "value": "T-17"},
                                            {"key": "po_number", "label": "PO", "value": "PO-4711"})
        assert by_text["J00003"].raw == b"J00003\xff"
        assert by_text["OP7"].action is None and by_text["H00001"].fields == ()

        assert [(r.id, r.text, r.status) for r in j.outbox()] == [
            (8, "J00010", "queued"), (9, "J00011", "pending"), (13, "J00012", "queued"),
            (14, "J00013", "sending"), (15, "J00014", "pending")]
        assert [(r.id, r.text) for r in j.parked()] == [(10, "H00002")]
        assert [(r.id, r.text) for r in j.received()] == [(16, "J00015")]
        assert j.count_status("dismissed") == 1
        assert j.get_setting("profile") == "BC"
        assert [(e["id"], e["ts"], e["kind"], e["who"], e["profile"], json.dumps(e["detail"]))
                for e in j.events()] == events_before
        assert j.integrity_check() == "ok"
        new_id = j.add_scan(scanner="s", source="scanner", profile="BC", station="BC", backend="jt", operator=None,
                            kind="job", text="NEW", raw=None, symbology=None, status="pending")
        assert new_id == 18  # the pruned ids 6 and 17 are never reused

    assert table(v1, "PRAGMA user_version") == [(SCHEMA_VERSION,)]


@given(st.none() | st.text(max_size=5), st.none() | st.text(max_size=5), st.none() | st.text(max_size=5))
def test_the_migrations_shortcut_writes_what_the_rule_says(order, tray, po) -> None:
    assert legacy_fields_json(order, tray, po) == fields_json(legacy_fields(order, tray, po))
    assert json.loads(legacy_fields_json(order, tray, po)) == [
        {"key": key, "label": label, "value": value}
        for key, label, value in (("order_number", "Order", order), ("tray_number", "Tray", tray),
                                  ("po_number", "PO", po))
        if value]


def test_a_migrated_journal_has_the_layout_of_a_new_one(v1: Path, tmp_path: Path) -> None:
    Journal.open(v1, clock=clock).close()
    Journal.open(tmp_path / "new.sqlite3", clock=clock).close()
    assert layout(v1) == layout(tmp_path / "new.sqlite3")
    assert "drafts" in layout(v1)
    assert not {"order_number", "tray_number", "po_number"} & {c[1] for c in layout(v1)["scans"]}
    plan = table(v1, "EXPLAIN QUERY PLAN SELECT id FROM scans INDEXED BY scans_ts WHERE ts < '2026'")
    assert "scans_ts" in str(plan)


def test_a_second_open_is_a_no_op(v1: Path) -> None:
    Journal.open(v1, clock=clock).close()

    def snapshot() -> tuple:
        return (table(v1, "SELECT * FROM scans ORDER BY id"), table(v1, "SELECT * FROM events ORDER BY id"),
                table(v1, "SELECT * FROM settings WHERE key != 'journal.opened_ts' ORDER BY key"),
                table(v1, "SELECT * FROM sqlite_sequence ORDER BY name"),
                table(v1, "SELECT type, name, sql FROM sqlite_schema ORDER BY name"), table(v1, "PRAGMA user_version"))

    first = snapshot()
    Journal.open(v1, clock=clock).close()
    assert snapshot() == first


def test_the_migration_is_one_transaction(v1: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure at the very end of the migration leaves the v1 journal exactly as it was."""
    before = (layout(v1), table(v1, "SELECT * FROM scans ORDER BY id"), table(v1, "SELECT * FROM sqlite_sequence"))
    real = journal_core.migrate_v1

    def migrate_then_fail(conn: sqlite3.Connection) -> None:
        real(conn)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        raise sqlite3.OperationalError("disk I/O error (injected)")

    monkeypatch.setattr(journal_core, "migrate_v1", migrate_then_fail)
    with pytest.raises(JournalError, match="injected"):
        Journal.open(v1, clock=clock)
    assert table(v1, "PRAGMA user_version") == [(1,)]
    assert (layout(v1), table(v1, "SELECT * FROM scans ORDER BY id"), table(v1, "SELECT * FROM sqlite_sequence")) \
        == before
    monkeypatch.undo()
    with Journal.open(v1, clock=clock) as j:  # and the next start migrates it
        assert [r.id for r in j.outbox()] == [8, 9, 13, 14, 15]


def test_read_only_opens_read_a_v1_journal_without_changing_it(v1: Path) -> None:
    data = v1.read_bytes()
    with Journal.open_readonly(v1) as j:
        assert [r.id for r in j.outbox()] == [8, 9, 13, 14, 15]
        assert j.get(3).fields[1] == {"key": "tray_number", "label": "Tray", "value": "T-17"}
        assert j.get(3).action == "checkin" and j.get(1).action is None
        assert j.stats()["total"] == 15
    assert table(v1, "PRAGMA user_version") == [(1,)] and v1.read_bytes() == data


def test_a_journal_of_a_newer_schema_is_refused(v1: Path) -> None:
    Journal.open(v1, clock=clock).close()
    with contextlib.closing(sqlite3.connect(v1)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    message = (rf"written by a newer kiosk \(schema {SCHEMA_VERSION + 1}, this kiosk knows {SCHEMA_VERSION}\): "
               "upgrade the kiosk or move the file aside")
    with pytest.raises(JournalError, match=message):
        Journal.open(v1, clock=clock)
    with pytest.raises(JournalError, match=message):
        Journal.open_readonly(v1)
    assert table(v1, "PRAGMA user_version") == [(SCHEMA_VERSION + 1,)]


def test_a_real_kiosk_runs_on_the_migrated_journal(v1: Path, burst_sim: BurstSim, write_config) -> None:
    """``kiosk run --headless`` on the v1 file: it starts in the saved profile BC, handles the
    received scan, and replays the outbox to the vendor in id order, before the new scan.
    (The simulator does not know the fixture's operator OP7, so those replays are refused
    and parked; the two scans without an operator are checked in.)"""
    config = write_config(burst_sim.url)
    proc = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--drain", "15", "--config",
                           str(config)], input=b"J00020\n", capture_output=True, timeout=60, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = [json.loads(line) for line in proc.stdout.decode().splitlines()]
    first = next(line for line in lines if line["scan"] == "J00020")
    assert (first["id"], first["profile"], first["outcome"]) == (18, "BC", "queued")
    sent = [re.findall(r"J\d{5}", body)[0] for _, body in burst_sim.recorder.arrivals]
    assert sent == ["J00010", "J00011", "J00012", "J00013", "J00014", "J00015", "J00020"]
    assert burst_sim.delivered() == ["J00015", "J00020"]
    with Journal.open_readonly(v1) as j:
        assert j.outbox() == []
        assert [r.id for r in j.parked()] == [8, 9, 10, 13, 14, 15]
        assert [(j.get(i).status, j.get(i).outcome) for i in (16, 18)] == [("done", "ok")] * 2
        assert j.get(18).fields[0] == {"key": "order_number", "label": "Order", "value": "J00020"}
