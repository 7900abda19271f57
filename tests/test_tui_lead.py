"""The screen tells the current truth, and the lead's screens are safe and quick to use.

- the panel no longer says "Lead mode" once lead authority lapsed or was left;
- a queued scan sent later turns its amber panel into what it came to;
- the F2/F3 keys show from the first frame; F3 then the PIN opens diagnostics;
- the amber panel says how many scans wait once; one look per colour name;
- "Quit kiosk" asks first; lists open with the first row highlighted; "Send queued scans now";
- unreadable, hold and denied render from the outcome table.
"""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import OptionList
from tuikit import (
    PIN,
    FakeClock,
    kiosk,
    panel,
    person,
    scan,
    screen_text,
    shows,
    sim_fixture,  # noqa: F401 (the "sim" fixture)
    until,
    write_config,
)

from devices.events import UnreadableEvent
from kiosk.outcomes import STYLES, Outcome
from kiosk.tui.app import KioskApp
from kiosk.tui.screens import (
    AttentionScreen,
    ConfirmScreen,
    DiagnosticsScreen,
    LeadMenuScreen,
    MainScreen,
    ParkedScreen,
    PinScreen,
    ProfileScreen,
)
from kiosk.tui.widgets import ResultPanel


def panel_text(app: KioskApp) -> str:
    return screen_text(app, panel(app).region)


async def open_menu(app: KioskApp, pilot: Pilot[int]) -> None:
    await scan(pilot, "LEAD-7")
    await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
    await pilot.pause()


async def choose(app: KioskApp, pilot: Pilot[int], key: str) -> None:
    """Pick the lead menu item ``key`` with the arrow keys and Enter."""
    menu = app.screen.query_one("#lead-menu", OptionList)
    target = next(i for i in range(menu.option_count) if menu.get_option_at_index(i).id == key)
    steps = target - (menu.highlighted or 0)
    await pilot.press(*["down" if steps > 0 else "up"] * abs(steps), "enter")
    await pilot.pause()


# --- the panel tells the current truth -------------------------------------------------


async def test_panel_leaves_lead_mode_when_authority_lapses(sim, tmp_path):
    clock = FakeClock()
    async with kiosk(write_config(tmp_path, sim[1].url), clock=clock) as (app, pilot):
        await open_menu(app, pilot)
        await pilot.press("escape")  # back to the station, still lead
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        assert panel(app).headline == "Lead mode" and "Lead functions unlocked" in panel_text(app)
        clock.now += 121
        app.tick()
        await pilot.pause()
        assert panel(app).headline == "Lead mode ended"
        assert "Lead functions unlocked" not in panel_text(app)
        assert "Lead authority lapsed after being idle." in panel_text(app)
        assert "LEAD MODE" not in screen_text(app)


async def test_leaving_lead_mode_from_the_menu_says_so(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await open_menu(app, pilot)
        await choose(app, pilot, "leave")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))
        await pilot.pause()
        assert panel(app).headline == "Lead mode ended" and "Lead mode left." in panel_text(app)
        assert not app.service.station.lead_active(app.service.clock())


async def test_a_job_result_stays_on_the_panel_when_lead_lapses(sim, tmp_path):
    clock = FakeClock()
    async with kiosk(write_config(tmp_path, sim[1].url), clock=clock) as (app, pilot):
        await open_menu(app, pilot)
        await pilot.press("escape")
        await scan(pilot, "72544")
        await until(pilot, lambda: panel(app).style_name == "-ok")
        clock.now += 121
        app.tick()
        await pilot.pause()
        assert panel(app).style_name == "-ok" and "72544" in panel(app).headline


async def test_queued_scan_sent_later_replaces_the_amber_panel(sim, tmp_path):
    sim[0].set_faults({"down": True})
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: panel(app).style_name == "-queued")
        await pilot.pause()
        assert "Will be sent when the connection is back" in panel_text(app)
        sim[0].set_faults({"down": False})  # the sender retries after its back-off (about 1 s)
        await until(pilot, lambda: panel(app).style_name == "-ok", timeout=10)
        await pilot.pause()
        assert panel(app).headline == "OK 72544"
        text = panel_text(app)
        assert "Saved earlier and sent later." in text and "Order 72544" in text
        assert "Will be sent" not in text and "waiting" not in text
        assert [e["order_number"] for e in sim[0].events()] == ["72544"]


async def test_amber_panel_counts_the_waiting_scans_once(sim, tmp_path):
    sim[0].set_faults({"down": True})
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: app.results)
        await scan(pilot, "7001")
        await until(pilot, lambda: len(app.results) == 2)
        await pilot.pause()
        text = panel_text(app)
        assert text.count("waiting") == 1 and "2 waiting" in text


async def test_first_screen_shows_the_keys(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url), size=(80, 24)) as (app, _):
        assert shows(app, "F2 lead   F3 diagnostics")


async def test_f3_then_the_pin_opens_diagnostics(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, PIN)
        await until(pilot, lambda: isinstance(app.screen, DiagnosticsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_f3_with_a_lead_badge_scanned_at_the_pin_dialog_opens_diagnostics(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await scan(pilot, "LEAD-7")
        await until(pilot, lambda: isinstance(app.screen, DiagnosticsScreen))


async def test_one_look_per_colour_name(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        result_panel = app.screen.query_one(ResultPanel)
        looks: dict[str, set[str]] = {}
        for look in STYLES.values():
            result_panel.show(look.css, "x", Text(""))
            await pilot.pause()
            looks.setdefault(look.colour, set()).add(result_panel.styles.background.hex)
        assert all(len(backgrounds) == 1 for backgrounds in looks.values()), looks
        assert len({next(iter(b)) for b in looks.values()}) == len(looks), looks


# --- the lead menu ---------------------------------------------------------------------


async def test_quit_asks_first_and_no_is_the_default(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await open_menu(app, pilot)
        await choose(app, pilot, "quit")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert shows(app, "Quit the kiosk?")
        await pilot.press("enter")  # a stray Enter: "No, keep the kiosk running"
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        assert app.is_running and app.return_code is None
        await choose(app, pilot, "quit")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("down", "enter")
        await until(pilot, lambda: app.return_code == 0)


async def test_lists_open_with_the_first_row_highlighted(sim, tmp_path):
    sim[0].set_faults({"status": 503, "count": 1})
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "101")  # queued, then the vendor refuses it: parked
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen), timeout=10)
        await pilot.press("enter")
        await open_menu(app, pilot)
        assert app.screen.query_one(OptionList).highlighted == 0
        await choose(app, pilot, "parked")
        await until(pilot, lambda: isinstance(app.screen, ParkedScreen))
        await pilot.pause()
        await pilot.press("enter")  # the first parked scan, at once
        await until(pilot, lambda: app.screen.query_one("#parked-actions").display)
        await pilot.press("enter")  # its first action, at once: retry
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))  # 101 is on hold: parked again
        assert app.service.parked_count() == 1 and sim[0].events() == []
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, ParkedScreen))
        assert "Sent again." in str(app.screen.query_one("#lead-message").content)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await choose(app, pilot, "profile")
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen))
        await pilot.pause()
        await pilot.press("enter")  # the first profile, at once
        await until(pilot, lambda: app.results[-1].outcome == Outcome.PROFILE)
        assert app.results[-1].title == "Profile lp"


async def test_send_queued_scans_now_ends_the_servers_retry_after(sim, tmp_path):
    sim[0].set_faults({"status": 503, "count": 1, "retry_after": 600})
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: panel(app).style_name == "-queued")
        await pilot.pause(0.3)
        assert sim[0].events() == []  # the server asked for 10 minutes
        await open_menu(app, pilot)
        await choose(app, pilot, "send_now")
        assert "Sending 1 waiting scan now." in str(app.screen.query_one("#lead-message").content)
        await until(pilot, lambda: [e["order_number"] for e in sim[0].events()] == ["72544"])
        await pilot.press("escape")
        await until(pilot, lambda: shows(app, "ok 1") and shows(app, "0 waiting to send"))


# --- outcomes from the table -----------------------------------------------------------


@pytest.mark.parametrize("outcome, drive", [
    (Outcome.UNREADABLE, "event"),
    (Outcome.HOLD, "72544"),
    (Outcome.DENIED, "CMD:PROFILE:ar"),
])
async def test_unreadable_hold_and_denied_render_from_the_table(sim, tmp_path, outcome, drive):
    profile = "insp" if outcome == Outcome.HOLD else "lp"
    async with kiosk(write_config(tmp_path, sim[1].url, profile=profile), size=(80, 24)) as (app, pilot):
        if drive == "event":
            app.submit_event(UnreadableEvent("serial1", b"\x1b[2J" + b"7" * 300, "too_long", "Frame too long"))
        else:
            await scan(pilot, drive)
        await until(pilot, lambda: app.results)
        await pilot.pause()
        result, look = app.results[-1], STYLES[outcome]
        assert result.outcome == outcome
        assert isinstance(app.screen, MainScreen)  # not full screen: the next scan goes on
        assert panel(app).style_name == look.css
        assert panel(app).headline == look.headline.format(title=result.title, verb=result.verb.upper())
        text = panel_text(app)
        assert result.title in text or result.title.upper() == panel(app).headline.upper()
        assert all(line in text for line in result.details)
        if outcome == Outcome.UNREADABLE:
            assert "<ESC>[2J777" in text and "\x1b" not in text
            assert shows(app, "unreadable 1")  # counted
