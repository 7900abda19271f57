"""GS1 barcodes at a station: a ``gs1`` profile reads each job scan, refuses bad ones locally
with a clear title and the elements it read, sends the chosen element (``identifier_ai``) or
the whole text, and shows and journals the parsed fields beside the raw text.

Three levels: the pure station, the service over loopback to the job-track simulator (scans
built as the scanner layer hands them over, AIM id in ``symbology``), and ``kiosk run
--headless`` reading stdin, where the stdin scanner splits the AIM prefix off the line.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import RunningSim

import kiosk.sender
from kiosk.config import Config, load_config
from kiosk.connectors.base import DisplayField
from kiosk.journal import Journal
from kiosk.outcomes import Outcome
from kiosk.runtime import build_runtime
from kiosk.station import Reply, Scan, Send, Station

REPO = Path(__file__).resolve().parent.parent
GS = "\x1d"
GTIN = "09506000134352"  # GS1's example GTIN
BAD_GTIN = "09506000134353"  # the same with a wrong check digit
TODAY = dt.date(2025, 6, 1)
ORDER = "72544"  # an active order of the job-track simulator's demo data

# A medicine pack's GS1 DataMatrix (EU FMD): GTIN, expiry, batch <GS> serial (last, no GS after).
PACK = f"01{GTIN}17270531" f"10A1B2C3{GS}" f"21{ORDER}"
PACK_FIELDS = (DisplayField("gtin", "GTIN", GTIN), DisplayField("batch", "Batch", "A1B2C3"),
               DisplayField("expiry", "Expiry", "2027-05-31"), DisplayField("serial", "Serial", ORDER))


def make_config(**profile: Any) -> Config:
    keys = {"name": "PACK", "backend": "lab", "station": "LP", "gs1": True, "duplicate_window_s": 3, **profile}
    return Config.model_validate({
        "kiosk": {"profile": "PACK"},
        "backends": {"lab": {"vendor": "jobtrack", "base_url": "http://127.0.0.1:9"}},
        "profiles": [keys, {"name": "PLAIN", "backend": "lab", "station": "LP"}],
        "lead": {"badge_pattern": "^LEAD"},
    })


def answer(actions: list[Any]) -> Any:
    return next(a for a in actions if isinstance(a, (Reply, Send)))


# --- the pure station ---------------------------------------------------------------------------


def test_an_accepted_barcode_sends_the_chosen_element_with_its_fields() -> None:
    send = answer(Station(make_config(identifier_ai="21")).handle(Scan(PACK, symbology="]d2"), 0, TODAY))
    assert isinstance(send, Send)
    assert send.identifier == ORDER and send.scan.text == PACK
    assert send.fields == PACK_FIELDS
    assert send.gs1 == {"01": GTIN, "17": "270531", "10": "A1B2C3", "21": ORDER}
    assert send.request().gs1 == send.gs1 and send.request().as_json()["gs1"]["21"] == ORDER


def test_without_identifier_ai_the_whole_text_is_sent() -> None:
    send = answer(Station(make_config()).handle(Scan(PACK, symbology="]d2"), 0, TODAY))
    assert isinstance(send, Send) and send.identifier == PACK and send.fields == PACK_FIELDS


@pytest.mark.parametrize("text,symbology,title,message,shown", [
    (f"01{BAD_GTIN}21{ORDER}", "]d2", "Bad check digit",
     f"GTIN {BAD_GTIN} has a bad check digit (it should end in 2): a misread or damaged label.",
     (DisplayField("gtin", "GTIN", BAD_GTIN), DisplayField("serial", "Serial", ORDER))),
    (f"01{GTIN}17250531{GS}21{ORDER}", "]C1", "Expired product",
     "Expired on 2025-05-31: this product must not be used.",
     (DisplayField("gtin", "GTIN", GTIN), DisplayField("expiry", "Expiry", "2025-05-31"),
      DisplayField("serial", "Serial", ORDER))),
    (f"01{GTIN}10LOT7", "]Q3", "No Serial in barcode",
     "This barcode has no (21) serial number, which this station sends.",
     (DisplayField("gtin", "GTIN", GTIN), DisplayField("batch", "Batch", "LOT7"))),
    ("HELLO-1", "]C0", "Not a GS1 barcode", "Not a GS1 barcode: ]C0 Code 128 carries no GS1 data.", ()),
    (f"01{GTIN}17270230", "]d2", "Bad date in barcode", "The (17) expiry date 270230 is not a date.", ()),
])
def test_a_bad_barcode_is_refused_locally_with_its_reason_and_fields(text: str, symbology: str, title: str,
                                                                      message: str, shown: tuple) -> None:
    reply = answer(Station(make_config(identifier_ai="21")).handle(Scan(text, symbology=symbology), 0, TODAY))
    assert isinstance(reply, Reply)
    assert (reply.outcome, reply.title, reply.details, reply.fields) == (Outcome.DENIED, title, (message,), shown)


def test_the_expiry_day_itself_is_still_good() -> None:
    send = answer(Station(make_config()).handle(Scan(f"01{GTIN}17250601", symbology="]C1"), 0, TODAY))
    assert isinstance(send, Send)
    reply = answer(Station(make_config()).handle(Scan(f"01{GTIN}17250601", symbology="]C1"), 0,
                                                 TODAY + dt.timedelta(days=1)))
    assert isinstance(reply, Reply) and reply.title == "Expired product"


def test_plain_patterns_are_sent_as_scanned() -> None:
    station = Station(make_config(plain_patterns=["^LD-"]))
    send = answer(station.handle(Scan("LD-1001", symbology="]C0"), 0, TODAY))
    assert isinstance(send, Send) and (send.identifier, send.fields, send.gs1) == ("LD-1001", (), {})
    assert isinstance(answer(station.handle(Scan("XX-1001", symbology="]C0"), 0, TODAY)), Reply)


def test_a_profile_without_gs1_sends_the_text_as_before() -> None:
    station = Station(make_config(), "PLAIN")
    send = answer(station.handle(Scan(f"01{BAD_GTIN}", symbology="]C1"), 0, TODAY))
    assert isinstance(send, Send) and (send.identifier, send.fields, send.gs1) == (f"01{BAD_GTIN}", (), {})
    assert isinstance(answer(station.handle(Scan("anything"), 1)), Send)  # no date needed


def test_a_gs1_profile_needs_today() -> None:
    with pytest.raises(ValueError, match="today"):
        Station(make_config()).handle(Scan(PACK, symbology="]d2"), 0)


def test_duplicates_are_told_by_the_identifier_sent() -> None:
    station = Station(make_config(identifier_ai="21"))
    send = answer(station.handle(Scan(PACK, symbology="]d2"), 0, TODAY))
    station.confirm_sent(send.identifier, send.station, 0)
    other_batch = f"01{GTIN}17270531" f"10OTHER{GS}" f"21{ORDER}"  # same serial, other text
    reply = answer(station.handle(Scan(other_batch, symbology="]d2"), 1, TODAY))
    assert isinstance(reply, Reply) and reply.outcome == Outcome.DUPLICATE
    assert reply.details == (f"{ORDER} at LP: not sent again.",)


def test_a_held_scan_keeps_what_was_read() -> None:
    station = Station(make_config(identifier_ai="21", requires_operator=True, operator_pattern="^OP"))
    hold = answer(station.handle(Scan(PACK, symbology="]d2"), 0, TODAY))
    assert isinstance(hold, Reply) and hold.outcome == Outcome.HOLD and hold.fields == PACK_FIELDS
    released = [a for a in station.handle(Scan("OP1"), 1, TODAY) if isinstance(a, Send)]
    assert [(s.identifier, s.fields, s.held) for s in released] == [(ORDER, PACK_FIELDS, True)]


# --- the service, over loopback --------------------------------------------------------------


def wall_on(day: dt.date) -> Callable[[], float]:
    """A wall clock that runs from noon on ``day``."""
    offset = dt.datetime.combine(day, dt.time(12, 0)).timestamp() - time.time()
    return lambda: time.time() + offset


async def test_the_service_shows_and_journals_the_fields_and_keeps_the_raw_text(
        jobtrack_sim: RunningSim, write_config: Callable[..., Path]) -> None:
    config = load_config(write_config(jobtrack_sim.url, profile={"gs1": True, "identifier_ai": "21"}))
    runtime = build_runtime(config, wall=wall_on(TODAY))
    await runtime.start()
    try:
        service = runtime.service
        ok = await service.process(Scan(PACK, "test", symbology="]d2"))
        expired = await service.process(Scan(f"01{GTIN}17250531{GS}21{ORDER}", "test", symbology="]C1"))
        bad = await service.process(Scan(f"01{BAD_GTIN}21{ORDER}", "test", symbology="]d2"))
    finally:
        await runtime.close()
    assert (ok.outcome, ok.title) == ("ok", "Checked in")
    assert ok.fields[:4] == PACK_FIELDS and ok.value("order_number") == ORDER
    assert [(r.outcome, r.title) for r in (expired, bad)] == [("denied", "Expired product"),
                                                              ("denied", "Bad check digit")]
    assert expired.value("expiry") == "2025-05-31"
    assert [e["order_number"] for e in jobtrack_sim.sim.events()] == [ORDER]  # refusals never left
    with Journal.open(config.journal_path) as journal:
        rows = [row for r in (ok, expired, bad) if r.id is not None and (row := journal.get(r.id)) is not None]
    assert len(rows) == 3
    assert [(r.text, r.symbology) for r in rows] == [
        (PACK, "]d2"), (f"01{GTIN}17250531{GS}21{ORDER}", "]C1"), (f"01{BAD_GTIN}21{ORDER}", "]d2")]
    assert rows[0].request is not None
    assert rows[0].request["identifier"] == ORDER and rows[0].request["gs1"]["10"] == "A1B2C3"
    assert rows[0].fields[:4] == tuple({"key": f.key, "label": f.label, "value": f.value} for f in PACK_FIELDS)
    assert {"key": "order_number", "label": "Order", "value": ORDER} in rows[0].fields
    assert (rows[1].outcome, rows[1].title, rows[1].request) == ("denied", "Expired product", None)
    assert rows[1].fields[1] == {"key": "expiry", "label": "Expiry", "value": "2025-05-31"}


async def test_a_queued_gs1_scan_keeps_its_fields_when_it_is_sent_later(
        jobtrack_sim: RunningSim, write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kiosk.sender, "BACKOFF_FIRST_S", 0.01)
    config = load_config(write_config(jobtrack_sim.url, profile={"gs1": True, "identifier_ai": "21"}))
    runtime = build_runtime(config, wall=wall_on(TODAY))
    results: list[Any] = []
    runtime.service.subscribe(results.append)
    await runtime.start()
    try:
        jobtrack_sim.sim.set_faults({"down": True})
        queued = await runtime.service.process(Scan(PACK, "test", symbology="]d2"))
        assert queued.outcome == "queued" and queued.fields == PACK_FIELDS
        jobtrack_sim.sim.set_faults({"down": False})
        deadline = time.monotonic() + 10
        while not any(r.replay and r.outcome == "ok" for r in results):
            assert time.monotonic() < deadline, "the queued scan was never sent"
            runtime.service.lanes["jt"].wake()
            await asyncio.sleep(0.05)
    finally:
        await runtime.close()
    sent = next(r for r in results if r.replay)
    assert sent.fields[:4] == PACK_FIELDS and sent.value("order_number") == ORDER


# --- kiosk run --headless, scans on stdin -------------------------------------------------------


def kiosk_run(config: Path, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                          input=stdin, check=False, capture_output=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)


def run_headless(config: Path, stdin: bytes) -> list[dict[str, Any]]:
    done = kiosk_run(config, stdin)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_real_world_element_strings_through_headless_stdin(jobtrack_sim: RunningSim,
                                                           write_config: Callable[..., Path]) -> None:
    far = "17491231"  # 2049-12-31: good whatever today is
    lines = [
        f"]d201{GTIN}{far}10A1B2C3{GS}21{ORDER}",  # DataMatrix, GS after the variable batch
        f"]C101{GTIN}{far}21{ORDER}",  # GS1-128 without any GS: the serial is last
        f"]Q3{GS}01{GTIN}21{ORDER}{GS}",  # GS1 QR, GS before and after
        f"(01){GTIN}({far[:2]}){far[2:]}(21){ORDER}",  # the human-readable form, typed, no AIM id
        f"]d201{BAD_GTIN}21{ORDER}",
        f"]C101{GTIN}17200101{GS}21{ORDER}",  # expired in 2020
        f"]C0{ORDER}",  # plain Code 128
        f"]d201{GTIN}{far}",  # no serial
    ]
    config = write_config(jobtrack_sim.url, profile={"gs1": True, "identifier_ai": "21"})
    out = run_headless(config, "".join(f"{line}\n" for line in lines).encode())
    assert [(o["outcome"], o["title"]) for o in out] == [
        ("ok", "Checked in"), ("ok", "Checked in"), ("ok", "Checked in"), ("ok", "Checked in"),
        ("denied", "Bad check digit"), ("denied", "Expired product"), ("denied", "Not a GS1 barcode"),
        ("denied", "No Serial in barcode")]
    for line in out[:4]:
        assert line["fields"]["gtin"] == GTIN and line["fields"]["serial"] == ORDER
        assert line["order_number"] == ORDER
    assert out[0]["fields"]["batch"] == "A1B2C3" and out[0]["fields"]["expiry"] == "2049-12-31"
    assert out[0]["scan"] == f"01{GTIN}{far}10A1B2C3{GS}21{ORDER}"  # the raw text, AIM id split off
    assert out[4]["fields"] == {"gtin": BAD_GTIN, "serial": ORDER} and "should end in 2" in out[4]["details"][0]
    assert out[5]["fields"]["expiry"] == "2020-01-01"
    assert len(jobtrack_sim.sim.events()) == 4
    with Journal.open(config.parent / "journal.sqlite3") as journal:
        first = journal.get(out[0]["id"])
    assert first is not None and (first.text, first.symbology) == (out[0]["scan"], "]d2")


def test_without_identifier_ai_headless_sends_the_whole_text(jobtrack_sim: RunningSim,
                                                             write_config: Callable[..., Path]) -> None:
    config = write_config(jobtrack_sim.url, profile={"gs1": True})
    out = run_headless(config, f"]C101{GTIN}21{ORDER}\n".encode())
    assert [(o["outcome"], o["details"]) for o in out] == [("rejected", ["Order not found"])]
    assert out[0]["fields"] == {"gtin": GTIN, "serial": ORDER}
    with Journal.open(config.parent / "journal.sqlite3") as journal:
        row = journal.get(out[0]["id"])
    assert row is not None and row.request is not None and row.request["identifier"] == f"01{GTIN}21{ORDER}"


@pytest.mark.parametrize("keys,message", [
    ({"gs1": True, "identifier_ai": "999"}, "profiles[0].identifier_ai: '999' is not a GS1 Application Identifier"),
    ({"identifier_ai": "21"}, "profiles[0].identifier_ai: only means something with gs1 = true"),
    ({"gs1": True, "plain_patterns": "LD-"}, "profiles[0].plain_patterns: Input should be a valid list"),
])
def test_bad_gs1_keys_stop_the_kiosk_naming_the_key(jobtrack_sim: RunningSim, write_config: Callable[..., Path],
                                                    keys: dict[str, Any], message: str) -> None:
    config = write_config(jobtrack_sim.url, profile=keys)
    done = kiosk_run(config, b"")
    assert done.returncode == 2
    assert f"{config}: {message}" in done.stderr.decode()
    assert b"Traceback" not in done.stderr
