"""A packaging line (Movilitas) and a print station (Scantrust) through the whole kiosk.

The station service is built the way every front end builds it (config file, journal on
disk, connectors from the installed plug-ins) and talks to the simulators over loopback;
the demo's config is loaded and run headless as a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import kiosk.sender
from kiosk.config import load_config
from kiosk.connectors.movilitas import MovilitasConfig
from kiosk.connectors.scantrust import ScantrustConfig
from kiosk.demo import DEMO_VENDORS, demo_config_text
from kiosk.results import ScanResult
from kiosk.runtime import build_runtime
from kiosk.simulators import movilitas, scantrust
from kiosk.simulators.server import SimServer
from kiosk.station import Scan
from kiosk.station.pin import hash_pin
from kiosk.station.state import lead_label

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sims() -> Iterator[tuple[movilitas.MovilitasSim, SimServer, scantrust.ScantrustSim, SimServer]]:
    pack, printer = movilitas.MovilitasSim(), scantrust.ScantrustSim()
    with SimServer(pack) as pack_server, SimServer(printer) as print_server:
        yield pack, pack_server, printer, print_server


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kiosk.sender, "BACKOFF_FIRST_S", 0.02)
    monkeypatch.setattr(kiosk.sender, "BACKOFF_MAX_S", 0.1)


def write_config(folder: Path, pack_url: str, print_url: str, *, profile: str = "PACK", timeout_s: float = 2.0,
                 print_params: str = "") -> Path:
    (folder / "movilitas-token").write_text(movilitas.DEMO_TOKEN + "\n", encoding="utf-8")
    (folder / "movilitas-key").write_text(movilitas.DEMO_CHANNEL_KEY + "\n", encoding="utf-8")
    (folder / "scantrust-token").write_text(scantrust.DEMO_TOKEN + "\n", encoding="utf-8")
    path = folder / "kiosk.toml"
    path.write_text(f"""\
[kiosk]
profile = "{profile}"
journal = "journal.sqlite3"

[backends.pack]
vendor = "movilitas"
base_url = "{pack_url}"
timeout_s = {timeout_s}
token_file = "movilitas-token"
channel_key_file = "movilitas-key"

[backends.print]
vendor = "scantrust"
base_url = "{print_url}"
timeout_s = {timeout_s}
token_file = "scantrust-token"
substrate = {scantrust.DEMO_SUBSTRATE}
equipment = {scantrust.DEMO_EQUIPMENT}

[lead]
badge_pattern = "^LEAD"

[[profiles]]
name = "PACK"
backend = "pack"
station = "LINE1"
action = "release-to-line"
duplicate_window_s = 0

[[profiles]]
name = "PRINT"
backend = "print"
station = "PRESS1"
action = "printer-confirm"
duplicate_window_s = 0
{print_params}
""", encoding="utf-8")
    return path


class Kiosk:
    def __init__(self, config_path: Path) -> None:
        self.runtime = build_runtime(load_config(config_path))
        self.service = self.runtime.service
        self.journal = self.runtime.journal
        self.results: list[ScanResult] = []
        self.service.subscribe(self.results.append)

    async def __aenter__(self) -> Kiosk:
        await self.runtime.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runtime.close()

    async def scan(self, text: str) -> ScanResult:
        return await self.service.process(Scan(text, "test", t_last=time.monotonic()))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def fields(result: ScanResult) -> dict[str, str]:
    return {f.key: f.value for f in result.fields}


# --- the packaging line --------------------------------------------------------------------


async def test_release_then_serials(sims, tmp_path: Path) -> None:
    pack, pack_server, _, print_server = sims
    async with Kiosk(write_config(tmp_path, pack_server.url, print_server.url)) as k:
        nothing = await k.scan("CMD:SERIALS")
        assert (nothing.outcome, nothing.title) == ("ignored", "No serial numbers to show")
        released = await k.scan("Order143")
        assert (released.outcome, released.title, released.verb) == ("ok", "Packaging order released", "released")
        assert fields(released) == {"order_number": "Order143", "status": "In progress", "serial_count": "11"}
        assert k.service.action_state()[0].value == "Order143 (11 serial numbers)"
        refused = await k.scan("Order150")
        assert (refused.outcome, refused.title) == ("rejected", "Packaging order Order150 is in status: Open")
        assert "must be in Pending release status" in refused.details[0]
        requests = len(pack.requests())
        shown = await k.scan("CMD:SERIALS")
        assert (shown.outcome, shown.title) == ("ok", "Serial numbers of the last release")
        assert fields(shown)["serial_list"].split(" ") == pack.events()[0]["serials"]
        assert fields(shown)["order_number"] == "Order143"
        assert len(pack.requests()) == requests
        assert k.journal.get(shown.id).status == "done"


async def test_serials_after_a_restart(sims, tmp_path: Path) -> None:
    pack, pack_server, _, print_server = sims
    config = write_config(tmp_path, pack_server.url, print_server.url)
    async with Kiosk(config) as k:
        assert (await k.scan("Order143")).outcome == "ok"
    async with Kiosk(config) as k:
        shown = await k.scan("CMD:SERIALS")
        assert (shown.outcome, shown.title) == ("ok", "Serial numbers of the last release")
        assert fields(shown)["serial_list"].split(" ") == pack.events()[0]["serials"]


async def test_release_is_refused_offline_not_queued(sims, tmp_path: Path) -> None:
    pack, pack_server, _, print_server = sims
    async with Kiosk(write_config(tmp_path, pack_server.url, print_server.url)) as k:
        pack.set_faults({"down": True})
        lost = await k.scan("Order144")
        assert (lost.outcome, lost.title) == ("error", "No answer from the server")
        assert "the order may or may not have been released: scan it again to see its status" in lost.details[0]
        assert k.service.waiting() == 0 and k.journal.get(lost.id).status == "done"
        pack.set_faults({"down": False})
        assert (await k.scan("Order144")).outcome == "ok"
        assert (await k.scan("Order144")).title == "Packaging order Order144 is in status: In progress"


# --- the print station ---------------------------------------------------------------------


async def test_confirm_queues_offline_and_is_delivered(sims, tmp_path: Path) -> None:
    _, pack_server, printer, print_server = sims
    async with Kiosk(write_config(tmp_path, pack_server.url, print_server.url, profile="PRINT")) as k:
        ok = await k.scan("4977")
        assert (ok.outcome, ok.title, ok.verb) == ("ok", "Work order confirmed: codes ready", "confirmed")
        assert fields(ok)["codes_file"] == "ready"
        printer.set_faults({"status": 503, "retry_after": 0, "count": 2})
        queued = await k.scan("5094")
        assert queued.outcome == "queued"
        await until(lambda: k.service.waiting() == 0)
        replay = [r for r in k.results if r.replay]
        assert [(r.id, r.outcome, r.title) for r in replay] == [(queued.id, "ok",
                                                                 "Work order confirmed: codes generating")]
        missing = await k.scan("9999")
        assert (missing.outcome, missing.title) == ("rejected", "Work order not found")
        odd = await k.scan("..")
        assert (odd.outcome, odd.title) == ("denied", "Not a work order id")
        assert k.journal.get(odd.id).status == "done"
    assert [e["workorder"] for e in printer.events()] == [4977, 5094]


async def test_a_station_not_set_up_refuses_at_once_and_queues_nothing(sims, tmp_path: Path) -> None:
    _, pack_server, printer, print_server = sims
    config = write_config(tmp_path, pack_server.url, print_server.url, profile="PRINT",
                          print_params='params = { equipment = "press 2" }')
    async with Kiosk(config) as k:
        printer.set_faults({"down": True})
        refused = await k.scan("4977")
        assert (refused.outcome, refused.title) == ("denied", "Station not set up for printing")
        assert "The profile's equipment 'press 2' is not a Scantrust id" in refused.details[0]
        assert k.service.waiting() == 0 and k.journal.outbox() == []
    assert printer.requests() == []


async def test_an_unknown_confirmation_is_parked_not_resent(sims, tmp_path: Path) -> None:
    _, pack_server, printer, print_server = sims
    config = write_config(tmp_path, pack_server.url, print_server.url, profile="PRINT", timeout_s=0.3)
    async with Kiosk(config) as k:
        printer.set_faults({"delay_s": 1.0})
        parked = await k.scan("4978")
        assert (parked.outcome, parked.title) == ("parked", "Unknown whether confirmed")
        assert k.journal.get(parked.id).status == "parked" and k.service.waiting() == 0
    assert [e["workorder"] for e in printer.events()] == [4978]


async def test_external_id_from_a_second_scan(sims, tmp_path: Path) -> None:
    _, pack_server, printer, print_server = sims
    config = write_config(tmp_path, pack_server.url, print_server.url, profile="PRINT",
                          print_params="params = { external_id_from_scan = true }")
    async with Kiosk(config) as k:
        first = await k.scan("4979")
        assert (first.outcome, first.title) == ("ok", "Now scan the external id")
        assert k.service.action_state()[0].value == "4979"
        assert printer.requests() == []
        done = await k.scan("LOT-2024-17")
        assert (done.outcome, done.title) == ("ok", "Work order confirmed: codes ready")
        assert fields(done)["order_number"] == "4979"
        assert k.journal.get(done.id).request["identifier"] == "4979"
        assert k.service.action_state() == ()
        again = await k.scan("4977")
        cancelled = await k.scan("CMD:CANCEL")
        assert (again.title, cancelled.title) == ("Now scan the external id", "Work order dropped")
    assert [(e["workorder"], e["external_id"]) for e in printer.events()] == [(4979, "LOT-2024-17")]


async def test_a_waiting_work_order_survives_a_restart(sims, tmp_path: Path) -> None:
    _, pack_server, printer, print_server = sims
    config = write_config(tmp_path, pack_server.url, print_server.url, profile="PRINT",
                          print_params="params = { external_id_from_scan = true }")
    async with Kiosk(config) as k:
        assert (await k.scan("4979")).title == "Now scan the external id"
    async with Kiosk(config) as k:
        done = await k.scan("LOT-2024-17")
        assert (done.outcome, done.title) == ("ok", "Work order confirmed: codes ready")
    assert [(e["workorder"], e["external_id"]) for e in printer.events()] == [(4979, "LOT-2024-17")]


# --- the demo ------------------------------------------------------------------------------


def test_demo_config_has_a_profile_per_new_vendor(tmp_path: Path) -> None:
    urls = {vendor.backend: "http://127.0.0.1:9" for vendor in DEMO_VENDORS}
    path = tmp_path / "demo.toml"
    path.write_text(demo_config_text(urls, hash_pin("1234")), encoding="utf-8")
    config = load_config(path)
    assert (config.profile("PACK").action, config.profile("PACK").backend) == ("release-to-line", "pack")
    assert (config.profile("PRINT").action, config.profile("PRINT").backend) == ("printer-confirm", "print")
    assert isinstance(config.backends["pack"], MovilitasConfig)
    assert isinstance(config.backends["print"], ScantrustConfig)
    files = {name for vendor in DEMO_VENDORS for name in vendor.files}
    assert {"movilitas-token", "movilitas-channel-key", "scantrust-token"} <= files


def test_demo_stations_headless(tmp_path: Path) -> None:
    """The demo's own config (simulators, token files) run as ``kiosk run --headless``."""
    with_servers = [SimServer(vendor.simulator()).start() for vendor in DEMO_VENDORS]
    try:
        urls = {vendor.backend: server.url for vendor, server in zip(DEMO_VENDORS, with_servers, strict=True)}
        for vendor in DEMO_VENDORS:
            for name, content in vendor.files.items():
                (tmp_path / name).write_text(content, encoding="utf-8")
        config = tmp_path / "demo.toml"
        config.write_text(demo_config_text(urls, hash_pin("1234")), encoding="utf-8")
        scans = ["LEAD1", "CMD:PROFILE:PACK", "Order143", "CMD:SERIALS", "Order151", "Order999",
                 "CMD:PROFILE:PRINT", "4977", "5094", "4990", "9999"]
        done = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                              input="".join(s + "\n" for s in scans), capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    finally:
        for server in with_servers:
            server.stop()
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    lines: list[dict[str, Any]] = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(line["scan"], line["outcome"], line["title"]) for line in lines] == [
        (lead_label("LEAD1"), "lead", "Lead mode"),
        ("CMD:PROFILE:PACK", "profile", "Profile PACK"),
        ("Order143", "ok", "Packaging order released"),
        ("CMD:SERIALS", "ok", "Serial numbers of the last release"),
        ("Order151", "rejected", "Packaging order Order151 is in status: In progress"),
        ("Order999", "rejected", "Packaging order not found"),
        ("CMD:PROFILE:PRINT", "profile", "Profile PRINT"),
        ("4977", "ok", "Work order confirmed: codes ready"),
        ("5094", "ok", "Work order confirmed: codes generating"),
        ("4990", "rejected", "Workorder 4990 is completed and cannot be confirmed."),
        ("9999", "rejected", "Work order not found"),
    ]
    by_scan = {line["scan"]: line for line in lines}
    assert by_scan["Order143"]["fields"] == {"order_number": "Order143", "status": "In progress",
                                             "serial_count": "11"}
    assert by_scan["Order143"]["action"] == "release-to-line" and by_scan["4977"]["action"] == "printer-confirm"
    assert len(by_scan["CMD:SERIALS"]["fields"]["serial_list"].split(" ")) == 11
    assert by_scan["5094"]["fields"]["codes_file"] == "not yet"
    assert by_scan["Order151"]["details"][0].startswith("The packaging order is in the status returned")


def test_the_example_configs_commented_stations_load(tmp_path: Path) -> None:
    """config.example.toml shows the two stations commented out; uncommented they are a valid config."""
    text = (REPO / "config.example.toml").read_text(encoding="utf-8")
    for start in ("# [backends.packaging]", "# [backends.press]", '# name = "PACK"', '# name = "PRINT"'):
        begin = text.index(start)
        if start.startswith("# name"):
            begin = text.rindex("# [[profiles]]", 0, begin)
        end = text.index("\n\n", begin)
        block = "\n".join(line[2:] for line in text[begin:end].splitlines())
        text = text[:begin] + block + text[end:]
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    assert isinstance(config.backends["packaging"], MovilitasConfig)
    assert isinstance(config.backends["press"], ScantrustConfig)
    assert config.profile("PRINT").params == {"equipment": 2, "external_id_from_scan": True}
    assert config.profile("PACK").action == "release-to-line"
