"""The loading dock on the Textual screen, through the real path (keys -> KioskApp -> service ->
journal -> Loadings simulator over loopback), at 80x24 and 120x40. Only what is rendered is
read: the screen's text as the compositor draws it."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from loadings_rig import GTIN_CRATE, GTIN_PALLET, GTIN_ROUTER, write_dock_config

from kiosk.config import load_config
from kiosk.runtime import build_runtime
from kiosk.simulators.loadings import LoadingsSim
from kiosk.simulators.server import SimServer
from kiosk.tui.app import KioskApp

SIZES = [(80, 24), (120, 40)]


@pytest.fixture
def dock_url() -> Iterator[str]:
    with SimServer(LoadingsSim()) as server:
        yield server.url


@asynccontextmanager
async def dock_app(folder: Path, url: str, size: tuple[int, int]) -> AsyncIterator[tuple[KioskApp, Any]]:
    app = KioskApp(build_runtime(load_config(write_dock_config(folder, url))))
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        yield app, pilot


async def until(pilot: Any, condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


async def scan(app: KioskApp, pilot: Any, *texts: str) -> None:
    for text in texts:
        count = len(app.results)
        await pilot.press(*text, "enter")
        await until(pilot, lambda count=count: len(app.results) > count)
    await pilot.pause()


def screen_text(app: KioskApp) -> str:
    """What the screen shows, frames removed and whitespace (line wraps too) made single spaces."""
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    return re.sub(r"\s+", " ", re.sub(r"[┃━┏┓┗┛│─]", " ", " ".join(lines)))


@pytest.mark.parametrize("size", SIZES)
async def test_the_draft_is_on_screen_after_each_scan(dock_url: str, tmp_path: Path, size: tuple[int, int]) -> None:
    async with dock_app(tmp_path, dock_url, size) as (app, pilot):
        await scan(app, pilot, "LD-1001", GTIN_CRATE, "CMD:QTY:9", GTIN_CRATE)
        shown = screen_text(app)
        assert "Loading LD-1001" in shown and "Line 1 Crate of 12 bottles × 10" in shown
        assert "Total 10 units in 1 line" in shown
        await scan(app, pilot, GTIN_ROUTER, "SN-750")
        shown = screen_text(app)
        assert "Line 2 Router X200 × 1 serials 750" in shown and "Total 11 units in 2 lines" in shown
        await scan(app, pilot, "CMD:SUBMIT")
        shown = screen_text(app)
        assert app.results[-1].title == "Loading created"
        assert "Warehouse VAN-07" in shown and "Total 11 units in 2 lines" in shown and "Line 1" not in shown


@pytest.mark.parametrize("size", SIZES)
async def test_a_refused_loading_is_full_screen_and_the_draft_stays(dock_url: str, tmp_path: Path,
                                                                    size: tuple[int, int]) -> None:
    async with dock_app(tmp_path, dock_url, size) as (app, pilot):
        await scan(app, pilot, "LD-1002", "CMD:QTY:5", GTIN_PALLET, "CMD:SUBMIT")
        await until(pilot, lambda: app.attention is not None)
        shown = screen_text(app)
        assert "Quantity not available" in shown
        assert "Quantity should be less than or equal to the available quantity" in shown
        await pilot.press("enter")
        await until(pilot, lambda: app.attention is None)
        await scan(app, pilot, "CMD:UNDO")
        assert "Loading LD-1002" in screen_text(app) and "Total no items yet" in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_cancel_asks_first(dock_url: str, tmp_path: Path, size: tuple[int, int]) -> None:
    async with dock_app(tmp_path, dock_url, size) as (app, pilot):
        await scan(app, pilot, "LD-1001", GTIN_CRATE, "CMD:CANCEL")
        assert "Cancel scan CMD:CANCEL again to drop it Loading LD-1001" in screen_text(app)
        await scan(app, pilot, "CMD:CANCEL")
        assert app.results[-1].title == "Loading LD-1001 dropped"
        assert "1 unit not sent." in screen_text(app)


@pytest.mark.parametrize("size", SIZES)
async def test_the_station_bar_keeps_the_draft_after_a_refusal_is_acknowledged(
        dock_url: str, tmp_path: Path, size: tuple[int, int]) -> None:
    async with dock_app(tmp_path, dock_url, size) as (app, pilot):
        await scan(app, pilot, "LD-1002", "CMD:QTY:5", GTIN_PALLET, "CMD:SUBMIT")
        await until(pilot, lambda: app.attention is not None)
        await pilot.press("enter")
        await until(pilot, lambda: app.attention is None)
        await pilot.pause()
        bar = " ".join(strip.text for strip in app.screen_stack[0].query_one("#station").render_lines(
            app.screen_stack[0].query_one("#station").region.reset_offset))
        assert "LD-1002" in bar, bar
