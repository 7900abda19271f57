"""The Textual kiosk at Prodsmart stations: what a production order and a machine look like on
screen. Real path: scans as a keyboard wedge -> KioskApp -> StationService -> journal ->
connector -> Prodsmart simulator over loopback; the tests read the result panel and the station
bar (where the action's state shows, across a restart).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tuikit import kiosk, panel, scan, until

from kiosk.config import load_config
from kiosk.simulators.prodsmart import DEMO_KEY, DEMO_SECRET, ProdsmartSim
from kiosk.simulators.server import SimServer
from kiosk.tui.app import KioskApp
from kiosk.tui.screens import AttentionScreen
from kiosk.tui.widgets import StationBar

KEY_ENV, SECRET_ENV = "KIOSK_TEST_PRODSMART_KEY", "KIOSK_TEST_PRODSMART_SECRET"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    monkeypatch.setenv(SECRET_ENV, DEMO_SECRET)


def config_for(tmp_path: Path, url: str, profile: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "kiosk.toml"
    path.write_text(f'''
[kiosk]
profile = "{profile}"
journal = "journal.sqlite3"

[backends.ps]
vendor = "prodsmart"
base_url = "{url}"
key_env = "{KEY_ENV}"
secret_env = "{SECRET_ENV}"
timeout_s = 2

[[profiles]]
name = "PO"
backend = "ps"
station = "PO"
action = "production-order"

[[profiles]]
name = "DT"
backend = "ps"
station = "A32"
action = "downtime"
duplicate_window_s = 0
''', encoding="utf-8")
    return load_config(path)


async def scanned(app: KioskApp, pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    count = len(app.results)
    await scan(pilot, text)
    await until(pilot, lambda: len(app.results) > count)
    await pilot.pause()


def bar(app: KioskApp) -> str:
    return str(app.screen_stack[0].query_one(StationBar).content)


async def test_a_production_order_shows_its_progress_and_status(tmp_path: Path) -> None:
    with SimServer(ProdsmartSim()) as server:
        async with kiosk(config_for(tmp_path, server.url, "PO")) as (app, pilot):
            await scanned(app, pilot, "4002")
            assert panel(app).style_name == "-ok" and "4002" in panel(app).headline
            facts = panel(app).facts
            for shown in ("K100 - Rush", "K100 320 / 500", "K101 200 / 200", "Status delayed", "Running started"):
                assert shown in facts, (shown, facts)
            await until(pilot, lambda: "Order 4002 K100 - Rush" in bar(app))
            assert "Produced K100 320 / 500, K101 200 / 200" in bar(app) and "Status delayed, started" in bar(app)

            await scanned(app, pilot, "CMD:ACTIVATE")
            assert panel(app).style_name == "-ok" and "Order 4002" in panel(app).facts
            assert app.results[-1].title == "Activated"  # the panel shows no title for OK (told the lead)
            await scanned(app, pilot, "4003")
            assert "3500 / 3500" in panel(app).facts and "Status completed" in panel(app).facts
            await scanned(app, pilot, "CMD:ACTIVATE")
            await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
            assert panel(app).style_name == "-rejected"
            assert "Cannot be activated" in panel(app).facts
            assert "closed or archived and cannot be activated" in panel(app).facts


async def test_the_machine_state_shows_and_survives_a_restart(tmp_path: Path) -> None:
    sim = ProdsmartSim()
    with SimServer(sim) as server:
        config = config_for(tmp_path, server.url, "DT")
        async with kiosk(config) as (app, pilot):
            assert "Machine" not in bar(app)
            await scanned(app, pilot, "DT:Maintenance")
            assert panel(app).style_name == "-ok"
            assert "Machine A32" in panel(app).facts and "State stopped — Maintenance" in panel(app).facts
            await until(pilot, lambda: "Machine stopped — Maintenance since " in bar(app))
        async with kiosk(config) as (app, pilot):  # the kiosk restarted: the machine is still down
            await until(pilot, lambda: "Machine stopped — Maintenance since " in bar(app))
            await scanned(app, pilot, "DT:Coffee")
            await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
            assert "'Coffee' is not a downtime type of machine 'A32'" in panel(app).facts
            assert "Machine stopped — Maintenance since " in bar(app)
            await pilot.press("enter")
            await scanned(app, pilot, "DT:RUN")
            assert "State running" in panel(app).facts
            await until(pilot, lambda: "Machine running since " in bar(app))
    assert next(m for m in sim.state()["machines"] if m["code"] == "A32")["running"] is True
