"""The Textual kiosk at Prodsmart stations: what a production order and a machine look like on
screen. Real path: KioskApp -> StationService -> journal -> connector -> Prodsmart simulator
over loopback; the test reads the result panel only.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.runtime import build_runtime
from kiosk.simulators.prodsmart import DEMO_KEY, DEMO_SECRET, ProdsmartSim
from kiosk.simulators.server import SimServer
from kiosk.station import Scan
from kiosk.tui.app import KioskApp
from kiosk.tui.screens import AttentionScreen
from kiosk.tui.widgets import ResultPanel

KEY_ENV, SECRET_ENV = "KIOSK_TEST_PRODSMART_KEY", "KIOSK_TEST_PRODSMART_SECRET"


@pytest.fixture(autouse=True)
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, DEMO_KEY)
    monkeypatch.setenv(SECRET_ENV, DEMO_SECRET)


def config_for(tmp_path: Path, url: str, profile: str) -> Path:
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
''', encoding="utf-8")
    return path


@asynccontextmanager
async def kiosk(config: Path) -> AsyncIterator[tuple[KioskApp, object]]:
    app = KioskApp(build_runtime(load_config(config)))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        yield app, pilot


async def until(pilot, condition: Callable[[], bool], timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


async def scan(app: KioskApp, pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    count = len(app.results)
    app.submit_scan(Scan(text, "test", t_last=time.monotonic()))
    await until(pilot, lambda: len(app.results) > count)
    await pilot.pause()


def panel(app: KioskApp) -> ResultPanel:
    return app.screen_stack[0].query_one(ResultPanel)


async def test_a_production_order_shows_its_progress_and_status(tmp_path: Path) -> None:
    with SimServer(ProdsmartSim()) as server:
        async with kiosk(config_for(tmp_path, server.url, "PO")) as (app, pilot):
            await scan(app, pilot, "4002")
            assert panel(app).style_name == "-ok" and "4002" in panel(app).headline
            facts = panel(app).facts
            for shown in ("K100 - Rush", "K100 320 / 500", "K101 200 / 200", "Status delayed", "Running started"):
                assert shown in facts, (shown, facts)

            await scan(app, pilot, "CMD:ACTIVATE")
            assert panel(app).style_name == "-ok" and "Order 4002" in panel(app).facts
            assert app.results[-1].title == "Activated"  # the panel shows no title for OK (told the lead)
            await scan(app, pilot, "4003")
            assert "3500 / 3500" in panel(app).facts and "Status completed" in panel(app).facts
            await scan(app, pilot, "CMD:ACTIVATE")
            await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
            assert panel(app).style_name == "-rejected"
            assert "Cannot be activated" in panel(app).facts
            assert "closed or archived and cannot be activated" in panel(app).facts


async def test_the_machine_state_shows_after_a_downtime_card(tmp_path: Path) -> None:
    sim = ProdsmartSim()
    with SimServer(sim) as server:
        async with kiosk(config_for(tmp_path, server.url, "DT")) as (app, pilot):
            await scan(app, pilot, "DT:Maintenance")
            assert panel(app).style_name == "-ok"
            assert "Machine A32" in panel(app).facts and "State stopped — Maintenance" in panel(app).facts
            assert [f.value.split(" since ")[0] for f in app.service.action_state()] == ["stopped — Maintenance"]
            await scan(app, pilot, "DT:RUN")
            assert "State running" in panel(app).facts
            await scan(app, pilot, "DT:Coffee")
            await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
            assert "'Coffee' is not a downtime type of machine 'A32'" in panel(app).facts
    assert next(m for m in sim.state()["machines"] if m["code"] == "A32")["running"] is True
