"""Every outcome and every screen fits the terminal: 80x24, 120x40 and 200x60.

Each outcome of ``kiosk.outcomes.STYLES`` is produced through the real path (keys or a
device event -> inbox -> service -> journal -> simulator) and the test reads the rendered
screen (``tuikit.screen_text``): the vendor's words, what was scanned and, for outcomes
that must be acknowledged, every way to acknowledge must be there; afterwards the result
panel still leaves the history, the counters, the scanner/backend line and the keys on
screen. A new outcome in the table fails here until it gets a driver below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList
from tuikit import (
    SIZES,
    kiosk,
    panel,
    person,
    scan,
    screen_lines,
    shows,
    until,
    write_config,
)

from devices.events import UnreadableEvent
from kiosk.config import Config
from kiosk.outcomes import STYLES, Outcome
from kiosk.simulators.jobtrack import JobTrackSim, Requirement, Station, demo_data
from kiosk.simulators.server import SimServer
from kiosk.tui.app import KioskApp
from kiosk.tui.screens import (
    AttentionScreen,
    ConfigScreen,
    ConfirmScreen,
    DiagnosticsScreen,
    JournalDownScreen,
    LeadMenuScreen,
    MainScreen,
    ParkedScreen,
    PinScreen,
    ProfileScreen,
    ack_hint,
)

LONG_FLOW = (
    ("2002: Job flow verification failed: this order has not been through Backside Coat (BC) yet; "
     "send the tray back to BC and scan it here again once the coat has cured"),
    ("2003: Needs AR Coating! The anti-reflective coat must be applied and inspected before this "
     "station may accept the job; ask the coating lead if the tray was already coated today"),
)
"""A job-track flow error with long, numbered vendor messages (the field trial's 2002-style)."""


@pytest.fixture
def sim():
    data = demo_data()
    data.stations.append(Station(code="FLOW", desc="Final flow check", requires=[
        Requirement(station="BC", message=LONG_FLOW[0]), Requirement(station="AR", message=LONG_FLOW[1])]))
    app = JobTrackSim(data)
    with SimServer(app) as server:
        yield app, server


FLOW_PROFILE = '''
[[profiles]]
name = "flow"
backend = "jt"
station = "FLOW"
operator_pattern = '^OP\\d+$'
ack_barcode = "ACK-OK"
'''


@dataclass
class Shown:
    """What the screen must show for an outcome."""

    says: tuple[str, ...]
    """The vendor's (or the station's) words."""
    scanned: str | None
    screen: type = MainScreen


@dataclass
class Driver:
    drive: Callable[[KioskApp, Pilot[int], JobTrackSim], Awaitable[Shown]]
    profile: str = "lp"
    config: dict[str, Any] = field(default_factory=dict)


async def last_is(app: KioskApp, pilot: Pilot[int], outcome: Outcome) -> None:
    await until(pilot, lambda: any(r.outcome == outcome for r in app.results))
    await pilot.pause()


async def ok(app, pilot, sim):
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.OK)
    return Shown(("Order 72544", "Tray 337178", "PO Example"), "72544")


async def rejected(app, pilot, sim):
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.REJECTED)
    return Shown(("Could not complete order", *LONG_FLOW), "72544", AttentionScreen)


async def error(app, pilot, sim):
    sim.set_faults({"down": True})
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.ERROR)
    return Shown(("NOT SENT", app.results[-1].title, *app.results[-1].details), "72544", AttentionScreen)


async def queued(app, pilot, sim):
    sim.set_faults({"down": True})
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.QUEUED)
    return Shown(("Saved. Will be sent when the connection is back. 1 waiting", app.results[-1].details[1]), "72544")


async def parked(app, pilot, sim):
    sim.set_faults({"status": 503, "count": 1})
    await scan(pilot, "101")
    await last_is(app, pilot, Outcome.QUEUED)
    await until(pilot, lambda: isinstance(app.screen, AttentionScreen), timeout=10)
    await pilot.pause()
    return Shown(("Order on hold", "saved earlier and sent later"), "101", AttentionScreen)


async def unreadable(app, pilot, sim):
    app.submit_event(UnreadableEvent("serial1", b"7254\xff\xfe", "decode_error",
                                     "The scanner sent bytes that are not text"))
    await last_is(app, pilot, Outcome.UNREADABLE)
    return Shown(("Scan not readable", "The scanner sent bytes that are not text"),
                 app.results[-1].scan)


async def hold(app, pilot, sim):
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.HOLD)
    return Shown(("Operator required", "Scan your operator badge first"), "72544")


async def denied(app, pilot, sim):
    await scan(pilot, "CMD:PROFILE:ar")
    await last_is(app, pilot, Outcome.DENIED)
    return Shown(("Lead authority needed", "Only a lead can switch the station profile."), "CMD:PROFILE:ar")


async def operator(app, pilot, sim):
    await scan(pilot, "OP1001")
    await last_is(app, pilot, Outcome.OPERATOR)
    return Shown(("Operator logged in", "Operator OP1001"), "OP1001")


async def logout(app, pilot, sim):
    await scan(pilot, "OP1001")
    await scan(pilot, "CMD:LOGOUT")
    await last_is(app, pilot, Outcome.LOGOUT)
    return Shown(("Logged out", "Operator OP1001 logged out."), "CMD:LOGOUT")


async def lead(app, pilot, sim):
    await scan(pilot, "LEAD-7")
    await last_is(app, pilot, Outcome.LEAD)
    await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
    await pilot.pause()
    return Shown(("LEAD MENU", "Lead mode", "Lead functions unlocked."), app.results[-1].scan, LeadMenuScreen)


async def profile(app, pilot, sim):
    await scan(pilot, "LEAD-7")
    await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
    await scan(pilot, "CMD:PROFILE:ar")
    await last_is(app, pilot, Outcome.PROFILE)
    return Shown(("Profile ar", "Station AR via jt"), "CMD:PROFILE:ar")


async def ignored(app, pilot, sim):
    await scan(pilot, "CMD:FROBNICATE")
    await last_is(app, pilot, Outcome.IGNORED)
    return Shown(("Unknown command", "CMD:FROBNICATE is not a command this station knows."), "CMD:FROBNICATE")


async def duplicate(app, pilot, sim):
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.OK)
    await scan(pilot, "72544")
    await last_is(app, pilot, Outcome.DUPLICATE)
    return Shown(("Already checked in", "72544 at LP: not sent again."), "72544")


async def ack(app, pilot, sim):
    await scan(pilot, "CMD:ACK")
    await last_is(app, pilot, Outcome.ACK)
    return Shown(("Acknowledged",), "CMD:ACK")


async def journal(app, pilot, sim):
    app.runtime.journal._conn.execute("PRAGMA query_only = ON")  # fault injection: a full disk looks like this
    await scan(pilot, "72544")
    await until(pilot, lambda: app.refused and isinstance(app.screen, JournalDownScreen))
    await pilot.pause()
    return Shown(("Scans are not being saved — call a lead/technician", app.service.journal_error or "",
                  "Scan NOT taken (1 so far)"), "72544", JournalDownScreen)


DRIVERS: dict[Outcome, Driver] = {
    Outcome.OK: Driver(ok),
    Outcome.REJECTED: Driver(rejected, profile="flow"),
    Outcome.ERROR: Driver(error, config={"extra_lp": 'offline = "reject"'}),
    Outcome.QUEUED: Driver(queued),
    Outcome.PARKED: Driver(parked),
    Outcome.UNREADABLE: Driver(unreadable),
    Outcome.HOLD: Driver(hold, profile="insp"),
    Outcome.DENIED: Driver(denied),
    Outcome.OPERATOR: Driver(operator),
    Outcome.LOGOUT: Driver(logout),
    Outcome.LEAD: Driver(lead),
    Outcome.PROFILE: Driver(profile),
    Outcome.IGNORED: Driver(ignored),
    Outcome.DUPLICATE: Driver(duplicate),
    Outcome.ACK: Driver(ack),
    Outcome.JOURNAL: Driver(journal),
}


def config_for(tmp_path: Path, url: str, driver: Driver) -> Config:
    return write_config(tmp_path, url, profile=driver.profile, extra=FLOW_PROFILE, **driver.config)


def status_lines_show(app: KioskApp) -> None:
    """The main screen's history, counters, scanner/backend line and keys are on screen."""
    for text in ("Time Scan Order / tray Message", "waiting to send", "parked", "Scanners: keyboard ready",
                 "Backend: jt", "F2 lead F3 diagnostics"):
        assert shows(app, text), f"{text!r} is not on screen:\n" + "\n".join(screen_lines(app))


def on_screen(app: KioskApp, text: str, region: tuple[int, int, int, int] | None = None) -> None:
    assert shows(app, text, region), f"{text!r} is not on screen:\n" + "\n".join(screen_lines(app))


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize("outcome", list(Outcome))
async def test_every_outcome_fits_the_screen(sim, tmp_path, outcome, size):
    assert outcome in DRIVERS, f"outcome {outcome!r} is in the table but no test produces it: add a driver"
    driver = DRIVERS[outcome]
    async with kiosk(config_for(tmp_path, sim[1].url, driver), size=size) as (app, pilot):
        shown = await driver.drive(app, pilot, sim[0])
        assert isinstance(app.screen, shown.screen)
        for text in shown.says:
            on_screen(app, text)
        if shown.scanned:
            on_screen(app, shown.scanned)
        look = STYLES[outcome]
        if isinstance(app.screen, AttentionScreen):
            on_screen(app, ack_hint(app.ack_codes()))
            on_screen(app, "Press ENTER or ESC, or scan ACK-OK / CMD:ACK to continue")
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, MainScreen))
            await pilot.pause()
            region = panel(app).region
            on_screen(app, f"Scanned {shown.scanned}", region)
        if isinstance(app.screen, MainScreen):
            assert panel(app).style_name == look.css
            region = panel(app).region
            for text in shown.says:  # on the panel itself, in its facts or as its headline
                assert text.casefold() in panel(app).headline.casefold() or shows(app, text, region), text
            status_lines_show(app)


# --- every screen fits -----------------------------------------------------------------


async def open_lead_menu(app: KioskApp, pilot: Pilot[int]) -> None:
    await scan(pilot, "LEAD-7")
    await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))


async def choose(app: KioskApp, pilot: Pilot[int], label: str, screen: type) -> None:
    await open_lead_menu(app, pilot)
    menu = app.screen.query_one("#lead-menu", OptionList)
    index = next(i for i in range(menu.option_count) if str(menu.get_option_at_index(i).prompt) == label)
    await pilot.press(*["down"] * index, "enter")
    await until(pilot, lambda: isinstance(app.screen, screen))
    await pilot.pause()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_lead_menu_pin_and_confirmation_fit(sim, tmp_path, size):
    async with kiosk(write_config(tmp_path, sim[1].url), size=size) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, "0000")
        await until(pilot, lambda: shows(app, "Wrong PIN — lead functions stay locked."))
        for text in ("Lead PIN", "Enter: unlock Esc: close"):
            on_screen(app, text)
        await pilot.press("escape")
        await choose(app, pilot, "Quit kiosk", ConfirmScreen)
        for text in ("Quit the kiosk?", "No, keep the kiosk running", "Yes, quit the kiosk", "Esc back"):
            on_screen(app, text)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await pilot.pause()
        for text in ("LEAD MENU", "Switch profile", "Parked scans", "Diagnostics", "Configuration (read-only)",
                     "Send queued scans now", "Leave lead mode", "Quit kiosk", "Enter select Esc back"):
            on_screen(app, text)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_lists_diagnostics_and_config_fit(sim, tmp_path, size):
    async with kiosk(write_config(tmp_path, sim[1].url, extra=FLOW_PROFILE), size=size) as (app, pilot):
        await choose(app, pilot, "Switch profile", ProfileScreen)
        for text in ("Switch profile", "lp station LP Lens Processing (active)", "ar station AR",
                     "insp station INSP", "flow station FLOW", "Esc back"):
            on_screen(app, text)
        await pilot.press("escape")
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await parked(app, pilot, sim[0])
        await pilot.press("enter")
        await choose(app, pilot, "Parked scans", ParkedScreen)
        await pilot.press("enter")  # the first parked scan is highlighted: its actions
        await pilot.pause()
        for text in ("Parked scans", "101", "Order on hold", "Retry: send it again",
                     "Dismiss: Checked in by hand in the vendor system", "Dismiss: Other (see lead notes)",
                     "Esc back"):
            on_screen(app, text)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        for label, screen, texts in (("Diagnostics", DiagnosticsScreen, ("Diagnostics", "Backends", "Esc back")),
                                     ("Configuration (read-only)", ConfigScreen,
                                      ("Configuration (read-only)", "File:", "Esc back"))):
            await pilot.press("escape")
            await choose(app, pilot, label, screen)
            for text in texts:
                on_screen(app, text)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
