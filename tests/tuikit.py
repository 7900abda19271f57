"""Helpers the Textual kiosk tests share (tests/test_tui*.py): a real config file, the app on
a running job-track simulator, typing as a scanner or as a person, and what is on screen.

``screen_text`` renders the screen the way the terminal gets it (every screen of the stack
that shows, composed), so an assertion on it sees what an operator sees: text cut off or
pushed below the last row is not there.
"""

from __future__ import annotations

import io
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual import events
from textual.keys import _character_to_key
from textual.pilot import Pilot

from kiosk.config import Config, load_config
from kiosk.runtime import build_runtime
from kiosk.simulators.jobtrack import JobTrackSim
from kiosk.simulators.server import SimServer
from kiosk.station.pin import hash_pin
from kiosk.tui.app import KioskApp
from kiosk.tui.widgets import ResultPanel

PIN = "4321"
PIN_HASH = hash_pin(PIN, salt=b"0123456789abcdef")
SIZES = [(80, 24), (120, 40), (200, 60)]
PERSON_S = 0.25
"""Seconds between a person's key presses (a scanner's are a few milliseconds)."""


@pytest.fixture(name="sim")
def sim_fixture() -> Iterator[tuple[JobTrackSim, SimServer]]:
    """The job-track simulator with its demo data on a free loopback port."""
    app = JobTrackSim()
    with SimServer(app) as server:
        yield app, server


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class FakeClock:
    """A monotonic clock that moves only when told (``now += seconds``)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def write_config(tmp_path: Path, url: str, *, profile: str = "lp", allow_quit: bool = False,
                 extra_lp: str = "", extra: str = "") -> Config:
    path = tmp_path / "kiosk.toml"
    path.write_text(f'''
[kiosk]
profile = "{profile}"
journal = "journal.sqlite3"
allow_quit = {"true" if allow_quit else "false"}

[backends.jt]
vendor = "jobtrack"
base_url = "{url}"
timeout_s = 2

[[profiles]]
name = "lp"
backend = "jt"
station = "LP"
description = "Lens Processing"
operator_pattern = '^OP\\d+$'
ack_barcode = "ACK-OK"
{extra_lp}

[[profiles]]
name = "ar"
backend = "jt"
station = "AR"
operator_pattern = '^OP\\d+$'

[[profiles]]
name = "insp"
backend = "jt"
station = "INSP"
operator_pattern = '^OP\\d+$'
requires_operator = true

[lead]
pin_hash = "{PIN_HASH}"
badge_pattern = "^LEAD"
{extra}
''', encoding="utf-8")
    return load_config(path)


@asynccontextmanager
async def kiosk(config: Config, *, size: tuple[int, int] = (120, 40), clock: Callable[[], float] | None = None,
                **app_args: Any) -> AsyncIterator[tuple[KioskApp, Pilot[int]]]:
    """The app on ``config``. ``clock`` drives the station and the keys (a FakeClock); without
    one the station runs on real time and the keys on a FakeClock of their own."""
    runtime = build_runtime(config, clock=clock) if clock is not None else build_runtime(config)
    app = KioskApp(runtime, clock=clock or FakeClock(time.monotonic()), **app_args)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        yield app, pilot


async def until(pilot: Pilot[int], condition: Callable[[], Any], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await pilot.pause(0.02)


def key_clock(app: KioskApp) -> FakeClock:
    assert isinstance(app.clock, FakeClock), "typing speed needs the app on a FakeClock"
    return app.clock


async def type_keys(pilot: Pilot[int], text: str, seconds_per_key: float, enter: bool = True) -> None:
    clock = key_clock(pilot.app)  # type: ignore[arg-type]
    for key in [*text, "enter"] if enter else text:
        clock.now += seconds_per_key
        await pilot.press(key)


async def scan(pilot: Pilot[int], text: str) -> None:
    """A keyboard-wedge scanner: the code and Enter as one burst of key events, back to back,
    as a terminal delivers them (``Pilot.press`` would wait for the app to idle after each
    key). The app's FakeClock does not move during the burst: faster than any person."""
    key_clock(pilot.app)  # type: ignore[arg-type]
    driver = pilot.app._driver
    assert driver is not None
    for ch in [*text, "\r"]:
        key = "enter" if ch == "\r" else ch if ch.isalnum() else _character_to_key(ch)
        driver.send_message(events.Key(key, ch))
    await pilot.pause()


async def person(pilot: Pilot[int], text: str, enter: bool = True) -> None:
    """A person at the keyboard: a quarter of a second per key, and time goes on after the last."""
    await type_keys(pilot, text, PERSON_S, enter)
    key_clock(pilot.app).now += PERSON_S  # type: ignore[arg-type]


def panel(app: KioskApp) -> ResultPanel:
    return app.screen_stack[0].query_one(ResultPanel)


def outcomes(app: KioskApp) -> list[tuple[str, str]]:
    return [(r.scan, r.outcome) for r in app.results]


def screen_lines(app: KioskApp) -> list[str]:
    """The terminal's rows as the app draws them now (all screens that show, composed)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True,
                      color_system="truecolor", record=True, legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    lines = console.export_text(styles=False).splitlines()
    assert len(lines) <= height
    return lines


_FRAME = "┃━┏┓┗┛│─┌┐└┘▊▎▔▁"


def screen_text(app: KioskApp, region: tuple[int, int, int, int] | None = None) -> str:
    """What the screen (or a region ``x, y, width, height`` of it) shows, as one line of words."""
    lines = screen_lines(app)
    if region is not None:
        x, y, w, h = region
        lines = [line[x:x + w] for line in lines[y:y + h]]
    return " ".join(" ".join(line.strip(_FRAME + " ").split()) for line in lines).strip()


def _squeezed(text: str) -> str:
    return "".join(text.split()).casefold()


def shows(app: KioskApp, text: str, region: tuple[int, int, int, int] | None = None) -> bool:
    """``text`` is on screen (or in ``region``), wherever its lines were wrapped, even inside a
    long word; letters in any case (a headline may be upper-cased)."""
    return _squeezed(text) in _squeezed(screen_text(app, region))
