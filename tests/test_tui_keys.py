"""Keyboard-wedge scanners under the lead's screens: a scanner's burst is a scan wherever the
focus is, a person's typing goes to the widget (menu, PIN field, lists).

Keys are pressed through Pilot with the app on a FakeClock: a scanner types a few
milliseconds per key, a person a quarter of a second (``tuikit.scan`` / ``tuikit.person``).
A serial scanner's scan under the same screens does the same as the keyboard's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList
from tuikit import (
    PIN,
    FakeClock,
    kiosk,
    person,
    scan,
    sim_fixture,  # noqa: F401 (the "sim" fixture)
    until,
    write_config,
)

from kiosk.outcomes import Outcome
from kiosk.station.state import Scan
from kiosk.tui.app import KioskApp
from kiosk.tui.keyboard import ScannerBursts
from kiosk.tui.screens import (
    AttentionScreen,
    ConfigScreen,
    ConfirmScreen,
    DiagnosticsScreen,
    LeadMenuScreen,
    MainScreen,
    ParkedScreen,
    PinScreen,
    ProfileScreen,
)


async def lead_menu(app: KioskApp, pilot: Pilot[int]) -> None:
    await scan(pilot, "LEAD1")  # the README's sequence: a lead badge, then a profile command
    await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
    await pilot.pause()


async def menu_item(app: KioskApp, pilot: Pilot[int], key: str, screen: type) -> None:
    await lead_menu(app, pilot)
    menu = app.screen.query_one("#lead-menu", OptionList)
    index = next(i for i in range(menu.option_count) if menu.get_option_at_index(i).id == key)
    await pilot.press(*["down"] * index, "enter")
    await until(pilot, lambda: isinstance(app.screen, screen))
    await pilot.pause()


async def parked_actions(app: KioskApp, pilot: Pilot[int]) -> None:
    if not app.service.parked_count():
        await scan(pilot, "101")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen), timeout=10)
        await pilot.press("enter")
    await menu_item(app, pilot, "parked", ParkedScreen)
    await pilot.press("enter")
    await until(pilot, lambda: app.screen.query_one("#parked-actions").display)


OPENERS: dict[str, Callable[[KioskApp, Pilot[int]], Awaitable[None]]] = {
    "lead menu": lead_menu,
    "profile list": lambda app, pilot: menu_item(app, pilot, "profile", ProfileScreen),
    "parked list": lambda app, pilot: menu_item(app, pilot, "parked", ParkedScreen),
    "parked actions": parked_actions,
    "diagnostics": lambda app, pilot: menu_item(app, pilot, "diagnostics", DiagnosticsScreen),
    "configuration": lambda app, pilot: menu_item(app, pilot, "config", ConfigScreen),
    "quit confirmation": lambda app, pilot: menu_item(app, pilot, "quit", ConfirmScreen),
}


@pytest.mark.parametrize("where", list(OPENERS))
async def test_under_a_lead_screen_a_person_types_into_it_and_a_scanners_burst_is_a_scan(sim, tmp_path, where):
    sim[0].set_faults({"status": 503, "count": 1})  # so that 101 ends up parked (the parked actions)
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await OPENERS[where](app, pilot)
        screen, results = app.screen, len(app.results)
        await person(pilot, "CMD:PROFILE:ar", enter=False)
        await pilot.pause(0.2)  # a person's last key is handed on after a moment, by itself
        assert app.screen is screen and app.service.profile.name == "lp" and len(app.results) == results

        await scan(pilot, "CMD:PROFILE:ar")  # the same keys from a keyboard-wedge scanner
        await until(pilot, lambda: app.service.profile.name == "ar")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))  # the station changed: shown
        assert (app.results[-1].scan, app.results[-1].outcome) == ("CMD:PROFILE:ar", Outcome.PROFILE)

        await OPENERS[where](app, pilot)  # and from a serial scanner: the same
        app.submit_scan(Scan("CMD:PROFILE:lp", scanner="serial1"))
        await until(pilot, lambda: app.service.profile.name == "lp")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert app.return_code is None


async def test_a_person_pressing_enter_in_the_menu_chooses_the_highlighted_item(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await lead_menu(app, pilot)
        await person(pilot, "CMD:PROFILE:ar")  # typed by hand: keys and Enter are the menu's
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen))
        assert app.service.profile.name == "lp" and app.results[-1].scan != "CMD:PROFILE:ar"


async def test_pin_field_takes_a_persons_keys_and_not_a_scanners_burst(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await scan(pilot, "72544")  # a tray scanned while the PIN dialog is open
        await until(pilot, lambda: app.results and app.results[-1].scan == "72544")
        assert app.results[-1].outcome == Outcome.OK and [e["order_number"] for e in sim[0].events()] == ["72544"]
        assert isinstance(app.screen, PinScreen) and app.screen.query_one(Input).value == ""
        await person(pilot, PIN[:3], enter=False)
        await until(pilot, lambda: app.screen.query_one(Input).value == PIN[:3])
        await person(pilot, PIN[3:])
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))


async def test_a_scanned_profile_command_at_the_pin_dialog_is_refused_without_lead(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await scan(pilot, "CMD:PROFILE:ar")
        await until(pilot, lambda: app.results and app.results[-1].scan == "CMD:PROFILE:ar")
        assert app.results[-1].outcome == Outcome.DENIED and app.service.profile.name == "lp"
        assert app.screen.query_one(Input).value == ""


def test_scanner_bursts_hold_keys_until_the_burst_is_told_apart():
    clock = FakeClock()
    bursts = ScannerBursts(clock)

    def typed(text: str, seconds: float) -> list:
        routes = []
        for ch in text:
            clock.now += seconds
            routes.append(bursts.key(ch, ch))
        clock.now += seconds
        routes.append(bursts.key("enter", "\r"))
        return routes

    *keys, end = typed("72544", 0.004)
    assert all(r.taken and not r.release for r in keys) and end.taken and end.scan is not None
    assert (end.scan.text, end.scan.source) == ("72544", "scanner")

    *keys, end = typed("1234", 0.3)  # each key is handed on when the next comes late
    assert [r.release for r in keys] == [[], [("1", "1")], [("2", "2")], [("3", "3")]]
    assert not end.taken and end.scan is None and end.release == [("4", "4")]

    clock.now += 1
    assert bursts.key("a", "a").taken and bursts.quiet() == []  # not quiet yet
    clock.now += 0.2
    assert bursts.quiet() == [("a", "a")] and not bursts.holding
    assert bursts.key("down", None).release == [] and not bursts.key("down", None).taken
