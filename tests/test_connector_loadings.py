"""The Loadings dock through the real path: scans -> station -> service (draft journaled) ->
connector -> the Loadings simulator over loopback; restarts, a SIGKILL, offline, bad answers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from loadings_rig import (
    BARCODE,
    GHOST,
    GTIN_CRATE,
    GTIN_PALLET,
    GTIN_ROUTER,
    dock_profile,
    write_dock_config,
)

from kiosk.config import Config, load_config
from kiosk.connectors.base import BadAnswer, Probe, Rejected, Request, Unreachable
from kiosk.connectors.loadings import (
    MAX_ANSWER_BYTES,
    STORED_BEFORE,
    TITLES,
    LoadingsConfig,
    LoadingsConnector,
)
from kiosk.journal import Journal
from kiosk.results import ScanResult
from kiosk.runtime import Runtime, build_runtime
from kiosk.simulators.loadings import DEMO_LOADINGS, DemoLoading, LoadingsSim
from kiosk.simulators.server import SimServer
from kiosk.station import Scan

REPO = Path(__file__).resolve().parent.parent
GS = "\x1d"


@pytest.fixture
def dock_sim() -> Iterator[tuple[LoadingsSim, str]]:
    sim = LoadingsSim()
    with SimServer(sim) as server:
        yield sim, server.url


@asynccontextmanager
async def running(config: Config) -> AsyncIterator[Runtime]:
    runtime = build_runtime(config)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close()


async def scan_all(runtime: Runtime, *texts: str) -> list[ScanResult]:
    return [await runtime.service.process(Scan(text, "test")) for text in texts]


def fields(result: ScanResult) -> dict[str, str]:
    return {f.key: f.value for f in result.fields}


def state_fields(runtime: Runtime) -> dict[str, str]:
    return {f.key: f.value for f in runtime.service.action_state()}


# --- every demo loading: each success and each documented error ---------------------------------


def profile_for(demo: DemoLoading) -> dict[str, Any]:
    params: dict[str, Any] = {"warehouse": demo.warehouse, "type": demo.type, "serial_prefix": "SN-",
                              "upsert": demo.upsert}
    if demo.reason is not None:
        params["reason"] = demo.reason
    prefix = "LD-" if demo.reference.startswith("LD-") else demo.reference[:3]
    params["reference_prefix"] = prefix
    name = "P-" + "-".join(str(v) for v in params.values())
    return dock_profile(name, params=params, plain_patterns=[f"^{prefix}", "^SN-", "^IU-"])


def scans_for(demo: DemoLoading) -> list[str]:
    scans = [demo.reference]
    for unit, quantity, serials in demo.lines:
        if quantity != 1:
            scans.append(f"CMD:QTY:{quantity}")
        scans.append(BARCODE[unit])
        scans += [f"SN-{serial}" for serial in serials]
    return scans


async def test_every_demo_loading_is_built_from_scans_and_answered_as_documented(
        dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    sim, url = dock_sim
    profiles = {p["name"]: p for p in map(profile_for, DEMO_LOADINGS)}
    config = load_config(write_dock_config(tmp_path, url, list(profiles.values())))
    seen_errors = set()
    async with running(config) as runtime:
        service = runtime.service
        for demo in DEMO_LOADINGS:
            await scan_all(runtime, "LEAD1")
            switched = await service.switch_profile(profile_for(demo)["name"])
            assert switched.outcome == "profile"
            steps = await scan_all(runtime, *scans_for(demo))
            assert all(r.outcome == "ok" for r in steps), [(r.scan, r.title, r.details) for r in steps]
            [result] = await scan_all(runtime, "CMD:SUBMIT")
            assert result.http_status == demo.status, (demo, result)
            if demo.error:
                seen_errors.add(demo.error)
                assert (result.outcome, result.title) == ("rejected", TITLES[demo.error])
                assert result.details[:2] == (demo.description, f"{demo.error} (HTTP {demo.status})")
                assert state_fields(runtime)["loading"] == demo.reference, "a refusal keeps the draft open"
                dropped = await scan_all(runtime, "CMD:CANCEL", "CMD:CANCEL")
                assert [r.outcome for r in dropped] == ["denied", "ok"]
            else:
                assert (result.outcome, result.title) == ("ok", "Loading updated" if demo.status == 200
                                                          else "Loading created")
                assert fields(result)["loading"] == demo.reference
                units = sum(quantity for _, quantity, _ in demo.lines)
                assert fields(result)["total"].startswith(f"{units} unit")
            assert "line1" not in state_fields(runtime), "no draft is left after a submit or a cancel"
    assert seen_errors == set(TITLES) - {"invalid_param"}
    assert sim.serial_status(750) == "reserved" and sim.serial_status(711) == "reserved"
    bodies = [e["loading"] for e in sim.events()]
    assert [b["reference"] for b in bodies] == [d.reference for d in DEMO_LOADINGS if not d.error]


async def test_the_request_follows_the_document(dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    sim, url = dock_sim
    config = load_config(write_dock_config(tmp_path, url))
    async with running(config) as runtime:
        await scan_all(runtime, "LD-77", "CMD:QTY:4", GTIN_CRATE, "CMD:QTY:2", GTIN_ROUTER, "SN-750", "SN-711",
                       GTIN_CRATE, "CMD:SUBMIT")
    [request] = [r for r in sim.requests()]
    assert (request["method"], request["raw_path"]) == ("POST", "/api/v2.1/loadings")
    assert json.loads(request["body"]) == {
        "reference": "LD-77", "warehouseId": 7, "type": 1, "reasonId": 2,
        "loadingDetails": [{"itemUnitId": 1, "quantity": 5},
                           {"itemUnitId": 2, "quantity": 2, "serialNumbers": [750, 711]}]}


async def test_upsert_goes_to_the_reference_url(dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    sim, url = dock_sim
    params = {"warehouse": "VAN-07", "type": 1, "upsert": True}
    config = load_config(write_dock_config(tmp_path, url, [dock_profile("DOCK", params=params)]))
    async with running(config) as runtime:
        first = await scan_all(runtime, "LD-a b/c", GTIN_CRATE, "CMD:SUBMIT")
        again = await scan_all(runtime, "LD-a b/c", "CMD:QTY:3", GTIN_CRATE, "CMD:SUBMIT")
    assert [(first[-1].title, first[-1].http_status), (again[-1].title, again[-1].http_status)] == [
        ("Loading created", 201), ("Loading updated", 200)]
    assert [r["raw_path"] for r in sim.requests()] == ["/api/v2.1/loadings/reference/LD-a%20b%2Fc"] * 2
    assert [e["action"] for e in sim.events()] == ["insert", "update"]
    assert sim.available(1) == 40 - 3


async def test_a_refused_loading_is_corrected_and_sent_again(dock_sim: tuple[LoadingsSim, str],
                                                             tmp_path: Path) -> None:
    sim, url = dock_sim
    config = load_config(write_dock_config(tmp_path, url))
    async with running(config) as runtime:
        refused = await scan_all(runtime, "LD-1002", "CMD:QTY:5", GTIN_PALLET, "CMD:SUBMIT")
        assert (refused[-1].outcome, refused[-1].title) == ("rejected", "Quantity not available")
        assert state_fields(runtime)["line1"] == "Pallet of water × 5"
        fixed = await scan_all(runtime, "CMD:UNDO", "CMD:QTY:3", GTIN_PALLET, "CMD:SUBMIT")
        assert [r.outcome for r in fixed] == ["ok"] * 4
        assert fields(fixed[-1])["total"] == "3 units in 1 line"
        used = await scan_all(runtime, "LD-1001", GTIN_CRATE, "CMD:SUBMIT", "LD-1001", GTIN_CRATE, "CMD:SUBMIT")
        assert (used[-1].outcome, used[-1].title) == ("rejected", "Reference already used")
        renamed = await scan_all(runtime, "LD-1001b", "LD-1001b", "CMD:SUBMIT")
        assert [r.outcome for r in renamed] == ["denied", "ok", "ok"]
    assert [e["loading"]["reference"] for e in sim.events()] == ["LD-1002", "LD-1001", "LD-1001b"]
    assert sim.available(3) == 0


async def test_gs1_datamatrix_scans_carry_item_and_serial(dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    sim, url = dock_sim
    config = load_config(write_dock_config(tmp_path, url, [dock_profile("DOCK", identifier_ai="01")]))
    async with running(config) as runtime:
        service = runtime.service
        results = [await service.process(Scan("LD-1003", "test", symbology="]C0"))]
        for serial in ("750", "711"):
            text = f"01{GTIN_ROUTER[:-1]}9{GS}21{serial}"  # (01) GTIN, (21) serial id, GS kept
            results.append(await service.process(Scan(text, "test", symbology="]d2")))
        results.append(await service.process(Scan(f"01{GTIN_ROUTER[:-1]}8", "test", symbology="]d2")))
        results.append(await service.process(Scan(f"(01){GTIN_CRATE}(17)200101", "test")))
        results += await scan_all(runtime, "CMD:SUBMIT")
    assert [(r.outcome, r.title) for r in results] == [
        ("ok", "Loading LD-1003 opened"), ("ok", "Router X200 +1 (serial 750)"), ("ok", "Router X200 +1 (serial 711)"),
        ("denied", "Bad check digit"), ("denied", "Expired product"), ("ok", "Loading created")]
    assert fields(results[2])["serial"] == "711" and fields(results[2])["line1"] == "Router X200 × 2  serials 750, 711"
    assert sim.serial_status(750) == sim.serial_status(711) == "reserved"


# --- restart, SIGKILL, offline ------------------------------------------------------------------


async def test_the_draft_survives_a_restart(dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    sim, url = dock_sim
    config = load_config(write_dock_config(tmp_path, url))
    async with running(config) as runtime:
        await scan_all(runtime, "LD-1001", GTIN_CRATE, "CMD:QTY:9", GTIN_CRATE, GTIN_PALLET, "CMD:QTY:2")
    async with running(load_config(config.path)) as runtime:
        assert state_fields(runtime) == {"loading": "LD-1001", "line1": "Crate of 12 bottles × 10",
                                         "line2": "Pallet of water × 1", "total": "11 units in 2 lines",
                                         "next_qty": "quantity 2"}
        done = await scan_all(runtime, "CMD:UNDO", "CMD:UNDO", "CMD:SUBMIT")
        assert [r.title for r in done] == ["Undone: quantity 2", "Undone: Pallet of water +1", "Loading created"]
        assert state_fields(runtime)["loading"].startswith("none open")
    [event] = sim.events()
    assert event["loading"]["loadingDetails"][0]["quantity"] == 10


def start_headless(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)


def test_the_draft_survives_a_sigkill(dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    sim, url = dock_sim
    config = write_dock_config(tmp_path, url)
    proc = start_headless(config)
    assert proc.stdin is not None and proc.stdout is not None
    lines: list[dict[str, Any]] = []
    four = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(json.loads(raw))
            if len(lines) == 4:
                four.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    proc.stdin.write(f"LD-1001\n{GTIN_CRATE}\nCMD:QTY:9\n{GTIN_CRATE}\n".encode())
    proc.stdin.flush()  # stdin stays open: the kiosk is killed mid-draft, not at end of input
    assert four.wait(30), f"the kiosk answered {len(lines)} scans"
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    reader.join(5)
    assert proc.returncode == -signal.SIGKILL
    assert fields_of(lines[-1])["line1"] == "Crate of 12 bottles × 10"
    assert sim.events() == []

    again = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                           input=b"CMD:SUBMIT\n", capture_output=True, timeout=60, check=False,
                           env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert again.returncode == 0, again.stderr
    [submitted] = [json.loads(line) for line in again.stdout.splitlines()]
    assert (submitted["outcome"], submitted["title"]) == ("ok", "Loading created")
    assert submitted["fields"]["total"] == "10 units in 1 line"
    [event] = sim.events()
    assert event["loading"]["loadingDetails"][0]["quantity"] == 10
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        assert journal.integrity_check() == "ok"
        rows = [journal.get(line["id"]) for line in lines]
        assert [row.text if row else None for row in rows] == ["LD-1001", GTIN_CRATE, "CMD:QTY:9", GTIN_CRATE]


def test_a_sigkill_during_the_submit(dock_sim: tuple[LoadingsSim, str], tmp_path: Path) -> None:
    """The loading was stored but the kiosk died before the answer: at the next start the
    submit is parked for a lead, the draft is still open and says a submit got no answer; the
    operator's next submit is refused as not unique with advice saying why."""
    sim, url = dock_sim
    config = write_dock_config(tmp_path, url)
    sim.set_faults({"delay_s": 30})  # the simulator stores the loading, then holds its answer
    proc = start_headless(config)
    assert proc.stdin is not None
    proc.stdin.write(f"LD-1001\n{GTIN_CRATE}\nCMD:SUBMIT\n".encode())
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    while not sim.events():
        assert time.monotonic() < deadline and proc.poll() is None, "the submit never arrived"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    sim.clear_faults()

    again = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                           input=b"CMD:SUBMIT\nCMD:CANCEL\nCMD:CANCEL\n", capture_output=True, timeout=60,
                           check=False, env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert again.returncode == 0, again.stderr
    out = [json.loads(line) for line in again.stdout.splitlines()]
    assert [(o["outcome"], o["title"]) for o in out] == [
        ("rejected", "Reference already used"), ("denied", "Drop loading LD-1001?"), ("ok", "Loading LD-1001 dropped")]
    assert out[0]["details"][-1] == STORED_BEFORE
    assert len(sim.events()) == 1
    with Journal.open(tmp_path / "journal.sqlite3") as journal:
        [parked] = journal.parked()
    assert (parked.text, parked.title) == ("CMD:SUBMIT", "Unknown whether submitted")


def fields_of(line: dict[str, Any]) -> dict[str, str]:
    return line.get("fields") or {}


@pytest.mark.parametrize("fault,title", [({"down": True}, "No answer from the server"),
                                         ({"status": 503}, "Server error")])
async def test_submit_is_not_queued_offline_and_the_draft_stays(dock_sim: tuple[LoadingsSim, str], tmp_path: Path,
                                                                fault: dict[str, Any], title: str) -> None:
    sim, url = dock_sim
    config = load_config(write_dock_config(tmp_path, url))
    async with running(config) as runtime:
        await scan_all(runtime, "LD-1001", GTIN_CRATE)
        sim.set_faults(fault)
        [failed] = await scan_all(runtime, "CMD:SUBMIT")
        assert (failed.outcome, failed.title) == ("error", title)
        assert runtime.service.waiting() == 0
        assert state_fields(runtime)["line1"] == "Crate of 12 bottles × 1"
        sim.clear_faults()
        [sent] = await scan_all(runtime, "CMD:SUBMIT")
        assert (sent.outcome, sent.title) == ("ok", "Loading created")
    assert len(sim.events()) == 1


async def test_submit_with_the_server_stopped(tmp_path: Path, closed_port: int) -> None:
    config = load_config(write_dock_config(tmp_path, f"http://127.0.0.1:{closed_port}"))
    async with running(config) as runtime:
        results = await scan_all(runtime, "LD-1001", GTIN_CRATE, "CMD:SUBMIT")
        assert (results[-1].outcome, results[-1].title) == ("error", "Server not reachable")
        assert "connection refused" in results[-1].details[0]
        assert state_fields(runtime)["total"] == "1 unit in 1 line"


# --- the connector on its own -------------------------------------------------------------------


def submit(reference: str = "LD-9", **params: Any) -> Request:
    loading = {"rev": 1, "loadingDetails": [{"itemUnitId": 1, "quantity": 2}]}
    return Request("loading", "DOCK-1", reference, command="SUBMIT",
                   params={"warehouse": 7, "type": 1, **params, "loading": loading})


def connector(url: str, **keys: Any) -> LoadingsConnector:
    return LoadingsConnector("dock", backend(url, timeout_s=2, **keys))


def backend(url: str, **keys: Any) -> LoadingsConfig:
    return LoadingsConfig.model_validate({"vendor": "loadings", "base_url": url, **keys})


async def test_an_unreadable_2xx_may_have_stored_the_loading(canned_server: Callable[..., SimServer]) -> None:
    dock = connector(canned_server(201, "<html>created</html>").url)
    try:
        answer = await dock.perform(submit())
    finally:
        await dock.aclose()
    assert isinstance(answer, BadAnswer) and answer.unknown and answer.http_status == 201
    assert "<html>created</html>" in answer.message


async def test_an_endless_answer_is_cut_off(canned_server: Callable[..., SimServer]) -> None:
    dock = connector(canned_server(200, b"[" + b" " * (MAX_ANSWER_BYTES + 10) + b"]").url)
    try:
        answer = await dock.perform(submit())
    finally:
        await dock.aclose()
    assert isinstance(answer, BadAnswer) and answer.unknown
    assert f"(the limit is {MAX_ANSWER_BYTES})" in answer.message


async def test_other_refusals_and_server_errors(canned_server: Callable[..., SimServer]) -> None:
    odd = connector(canned_server(409, json.dumps({"error": "locked", "error_description": "x" * 1000})).url)
    busy = connector(canned_server(429, "slow down", {"Retry-After": "7"}).url)
    try:
        refused = await odd.perform(submit())
        waiting = await busy.perform(submit())
    finally:
        await odd.aclose()
        await busy.aclose()
    assert isinstance(refused, Rejected) and refused.title == "locked" and len(refused.details[0]) == 301
    assert isinstance(waiting, BadAnswer) and waiting.transient and waiting.retry_after_s == 7


async def test_a_late_answer_is_unknown(dock_sim: tuple[LoadingsSim, str]) -> None:
    sim, url = dock_sim
    sim.set_faults({"delay_s": 1.0})
    dock = LoadingsConnector("dock", backend(url, timeout_s=0.2))
    try:
        answer = await dock.perform(submit())
    finally:
        await dock.aclose()
    assert isinstance(answer, Unreachable) and answer.sent and "may or may not" in answer.message


async def test_probe(dock_sim: tuple[LoadingsSim, str], canned_server: Callable[..., SimServer],
                     closed_port: int) -> None:
    probes: list[Probe] = []
    for url in (dock_sim[1], canned_server(404, "<h1>nginx</h1>").url, f"http://127.0.0.1:{closed_port}"):
        dock = connector(url)
        try:
            probes.append(await dock.probe("DOCK-1"))
        finally:
            await dock.aclose()
    assert [(p.ok, p.problem) for p in probes] == [(True, ""), (False, "base_url"), (False, "unreachable")]
    assert dock_sim[0].events() == []


def test_bad_backend_keys_stop_the_kiosk_naming_the_key(tmp_path: Path) -> None:
    config = write_dock_config(tmp_path, "http://127.0.0.1:9", backend={"api_version": "v2/1"})
    done = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                          input=b"", capture_output=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert f"{config}: backends.dock.api_version: must be one URL path segment" in done.stderr.decode()
    with pytest.raises(ValueError, match="listed twice"):
        backend("http://x", item_units={GTIN_CRATE: 1, GTIN_CRATE[1:]: 2})
    assert backend("http://x", item_units={GHOST: 9}).item_units[GHOST].id == 9


def test_the_readme_demo_rows_for_the_dock() -> None:
    scans = ["LEAD1", "CMD:PROFILE:DOCK",
             "LD-1001", GTIN_CRATE, "CMD:QTY:9", GTIN_CRATE, "CMD:SUBMIT",
             "LD-1003", f"01{GTIN_ROUTER}21750", f"01{GTIN_ROUTER}21711", "CMD:SUBMIT",
             "LD-1002", "CMD:QTY:5", GTIN_PALLET, "CMD:SUBMIT", "CMD:UNDO", "CMD:QTY:3", GTIN_PALLET, "CMD:SUBMIT",
             "LD-1001", GTIN_CRATE, "CMD:SUBMIT", "LD-1001b", "LD-1001b", "CMD:SUBMIT",
             "LD-1004", "0109506000134350", "010950600013435217200101", "CMD:CANCEL", "CMD:CANCEL"]
    done = subprocess.run([sys.executable, "-m", "kiosk", "demo", "--headless"], input="".join(
        f"{s}\n" for s in scans).encode(), capture_output=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    seen = [(o["scan"], o["outcome"], o["title"]) for o in out]
    assert seen[6] == ("CMD:SUBMIT", "ok", "Loading created")
    assert out[5]["fields"]["line1"] == "Crate of 12 bottles × 10"
    assert out[9]["fields"]["line1"] == "Router X200 × 2  serials 750, 711" and seen[10][1] == "ok"
    assert seen[14] == ("CMD:SUBMIT", "rejected", "Quantity not available") and seen[18][1] == "ok"
    assert seen[21] == ("CMD:SUBMIT", "rejected", "Reference already used")
    assert [s[1] for s in seen[22:25]] == ["denied", "ok", "ok"]
    assert [s[2] for s in seen[26:]] == ["Bad check digit", "Expired product", "Drop loading LD-1004?",
                                         "Loading LD-1004 dropped"]
