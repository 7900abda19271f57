"""The Textual kiosk through the real path: keys -> KioskApp -> StationService -> journal -> simulator.

Each test runs the job-track simulator on a free loopback port, writes a real config file in
tmp_path (journal there too) and drives the app with Pilot. Nothing is mocked.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from rich.console import Console
from textual.command import CommandPalette
from tuikit import (
    PIN,
    FakeClock,
    closed_port_url,
    kiosk,
    outcomes,
    panel,
    person,
    scan,
    sim_fixture,  # noqa: F401 (the "sim" fixture)
    until,
    write_config,
)

from kiosk.runtime import build_runtime
from kiosk.station.state import Scan
from kiosk.tui.app import KioskApp
from kiosk.tui.screens import AttentionScreen, LeadMenuScreen, PinScreen, ProfileScreen
from kiosk.tui.widgets import ScanHistory

# --- results --------------------------------------------------------------------------


async def test_success_shows_green_result_with_order_and_tray(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: app.results)
        await pilot.pause()
        assert app.results[-1].outcome == "ok"
        assert panel(app).style_name == "-ok"
        assert "72544" in panel(app).headline
        facts = panel(app).facts
        assert "337178" in facts and "Example" in facts and "LP" in facts
        assert not isinstance(app.screen, AttentionScreen)
        table = app.screen_stack[0].query_one(ScanHistory)
        assert table.row_count == 1


async def test_hold_order_shows_red_modal_until_enter(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "101")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        screen = app.screen
        assert screen.has_class("-rejected")
        assert screen.message == "Order on hold"
        texts = " ".join(str(w.content) for w in screen.query("Static"))
        assert "Checkin not performed" in texts and "Order on hold" in texts and "101" in texts
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, AttentionScreen)


async def test_after_ack_the_panel_shows_the_refusal_not_the_earlier_success(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: panel(app).style_name == "-ok")
        await scan(pilot, "101")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await pilot.press("enter")
        await pilot.pause()
        assert panel(app).style_name == "-rejected"
        assert "101" in panel(app).headline and "OK" not in panel(app).headline
        assert "Order on hold" in panel(app).facts


async def test_job_flow_error_shows_vendor_text(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url, profile="ar")) as (app, pilot):
        await scan(pilot, "109")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        assert app.screen.message == "Needs Backside Coat!"
        assert "Could not complete order" in " ".join(str(w.content) for w in app.screen.query("Static"))


async def test_scan_during_modal_is_held_and_processed_after_ack(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "101")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await scan(pilot, "72544")
        await pilot.pause(0.2)
        assert outcomes(app) == [("101", "rejected")]
        assert isinstance(app.screen, AttentionScreen)
        assert "1 scan waiting" in str(app.screen.query_one("#attention-held").content)
        await pilot.press("enter")
        await until(pilot, lambda: len(app.results) == 2)
        assert outcomes(app) == [("101", "rejected"), ("72544", "ok")]
        assert [e["order_number"] for e in sim[0].events()] == ["72544"]


@pytest.mark.parametrize("ack", ["ACK-OK", "CMD:ACK"])
async def test_ack_by_barcode(sim, tmp_path, ack):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "103")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await scan(pilot, ack)
        await pilot.pause()
        assert not isinstance(app.screen, AttentionScreen)
        await scan(pilot, "72544")
        await until(pilot, lambda: len(app.results) == 2)
        assert outcomes(app) == [("103", "rejected"), ("72544", "ok")]


async def test_device_scan_with_ack_barcode_releases_held_scans_in_order(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        app.submit_scan(Scan("101", scanner="serial1"))
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        app.submit_scan(Scan("72544", scanner="serial1"))
        app.submit_scan(Scan("7001", scanner="serial1"))
        app.submit_scan(Scan("CMD:ACK", scanner="serial1"))
        await until(pilot, lambda: len(app.results) == 3)
        assert outcomes(app) == [("101", "rejected"), ("72544", "ok"), ("7001", "ok")]


async def test_unreachable_backend_is_queued_not_red(tmp_path):
    async with kiosk(write_config(tmp_path, closed_port_url())) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: app.results)
        await pilot.pause()
        assert app.results[-1].outcome == "queued"
        assert not isinstance(app.screen, AttentionScreen)
        assert panel(app).style_name == "-queued"
        assert "Will be sent when the connection is back" in panel(app).facts
        assert "1 waiting to send" in str(app.screen_stack[0].query_one("#counters").content)


async def test_unreachable_backend_with_offline_reject_shows_error_state(tmp_path):
    config = write_config(tmp_path, closed_port_url(), extra_lp='offline = "reject"')
    async with kiosk(config) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        assert app.screen.has_class("-error") and not app.screen.has_class("-rejected")
        assert "Server not reachable" in app.screen.query_one("#attention-message").text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, AttentionScreen)


async def test_duplicate_is_calm(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: len(app.results) == 1)
        await scan(pilot, "72544")
        await until(pilot, lambda: len(app.results) == 2)
        await pilot.pause()
        assert app.results[-1].outcome == "duplicate"
        assert panel(app).style_name == "-duplicate"
        assert "Already checked in" in panel(app).headline


async def test_operator_badge_is_shown_and_sent_with_next_check_in(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await scan(pilot, "OP1001")
        await until(pilot, lambda: app.results)
        await pilot.pause()
        assert "OP1001" in str(app.screen_stack[0].query_one("#station").content)
        await scan(pilot, "72544")
        await until(pilot, lambda: len(app.results) == 2)
        assert sim[0].events()[-1]["operator"] == "OP1001"


async def test_operator_required_asks_for_badge_and_badge_releases_job(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url, profile="insp")) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: app.results)
        await pilot.pause()
        assert not isinstance(app.screen, AttentionScreen)
        assert panel(app).style_name == "-prompt"
        assert "OPERATOR BADGE" in panel(app).headline
        await scan(pilot, "OP1001")
        await until(pilot, lambda: any(r.outcome == "ok" for r in app.results))
        await pilot.pause()
        assert sim[0].events() == [dict(sim[0].events()[0], station="INSP", operator="OP1001")]
        assert panel(app).style_name == "-ok"


# --- data is data -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["[bold]x[/]", "[link=http://x]y[/link]", "\x1b[31mRED", "a\x1db"])
async def test_markup_and_control_characters_render_literally(sim, tmp_path, text):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        if "\x1b" in text or "\x1d" in text:
            app.submit_scan(Scan(text, scanner="serial1"))
        else:
            await scan(pilot, text)
        await until(pilot, lambda: app.results)
        if isinstance(app.screen, AttentionScreen):
            shown = str(app.screen.query_one("#attention-scan").content)
            await pilot.press("enter")
        else:
            shown = panel(app).facts
        await pilot.pause()
        expected = text.replace("\x1b", "<ESC>").replace("\x1d", "<GS>")
        assert expected in shown
        assert "\x1b" not in shown
        assert app.is_running


# --- lockdown ---------------------------------------------------------------------------


async def test_ctrl_keys_do_not_quit_or_open_palette(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        for key in ("ctrl+q", "ctrl+c", "ctrl+p"):
            await pilot.press(key)
            await pilot.pause()
            assert app.is_running and app.return_code is None
            assert not isinstance(app.screen, CommandPalette)
        assert len(app.screen_stack) == 1


async def test_ctrl_q_quits_when_allowed(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url, allow_quit=True)) as (app, pilot):
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.return_code == 0


# --- lead -------------------------------------------------------------------------------


async def test_lead_pin_switches_profile_via_menu(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, PIN)
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await pilot.press("enter")  # first item: switch profile
        await until(pilot, lambda: isinstance(app.screen, ProfileScreen))
        await pilot.press("down", "enter")  # second profile: ar
        await until(pilot, lambda: app.service.profile.name == "ar")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        assert "AR" in str(app.screen_stack[0].query_one("#station").content)


async def test_wrong_pin_is_refused_and_profile_unchanged(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, "0000")
        await until(pilot, lambda: "Wrong PIN" in str(app.screen.query_one("#pin-message").content))
        assert isinstance(app.screen, PinScreen)
        await pilot.press("escape")
        await pilot.pause()
        await scan(pilot, "CMD:PROFILE:ar")
        await until(pilot, lambda: any(r.scan == "CMD:PROFILE:ar" for r in app.results))
        await pilot.pause()
        assert app.service.profile.name == "lp"
        assert panel(app).style_name == "-notice"
        assert "Lead authority needed" in panel(app).headline


# --- timers and the journal -------------------------------------------------------------


async def test_idle_logout_updates_the_screen(sim, tmp_path):
    clock = FakeClock()
    async with kiosk(write_config(tmp_path, sim[1].url), clock=clock) as (app, pilot):
        await scan(pilot, "OP1001")
        await until(pilot, lambda: app.results)
        clock.now += 901
        app.tick()
        await until(pilot, lambda: app.results[-1].outcome == "logout")
        await pilot.pause()
        assert "no operator" in str(app.screen_stack[0].query_one("#station").content)
        assert panel(app).style_name == "-info" and "Logged out" in panel(app).headline


async def test_lead_screens_close_when_lead_authority_lapses(sim, tmp_path):
    clock = FakeClock()
    async with kiosk(write_config(tmp_path, sim[1].url), clock=clock) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, PIN)
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        clock.now += 121
        app.tick()
        await pilot.pause()
        assert len(app.screen_stack) == 1
        assert not app.service.station.lead_active(clock())


async def test_pin_dialog_waits_for_a_slow_lead_then_closes_when_left_alone(sim, tmp_path):
    clock = FakeClock()
    async with kiosk(write_config(tmp_path, sim[1].url), clock=clock) as (app, pilot):
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        clock.now += 5  # gloves off, PIN remembered: ticks pass while nobody is lead yet
        app.tick()
        await pilot.pause()
        assert isinstance(app.screen, PinScreen)
        await person(pilot, PIN[:2], enter=False)
        clock.now += 25
        app.tick()  # 30 s since F2, but a key came 25 s ago
        await pilot.pause()
        assert isinstance(app.screen, PinScreen)
        await person(pilot, PIN[2:])
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        app.service.end_lead()
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        clock.now += 31  # walked away: the dialog must not keep the keyboard from scans
        app.tick()
        await pilot.pause()
        assert len(app.screen_stack) == 1
        await scan(pilot, "72544")
        await until(pilot, lambda: app.results and app.results[-1].scan == "72544")


async def test_journal_down_refuses_scans_with_a_full_screen_message(sim, tmp_path):
    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        # Fault injection: the journal's database turns read-only, the way a full disk looks.
        app.runtime.journal._conn.execute("PRAGMA query_only = ON")
        await scan(pilot, "72544")
        await until(pilot, lambda: len(app.refused) == 1)
        await scan(pilot, "7001")
        await until(pilot, lambda: len(app.refused) == 2)
        await pilot.pause()
        texts = " ".join(str(w.content) for w in app.screen.query("Static"))
        assert "Scans are not being saved" in texts and "call a lead/technician" in texts
        assert "NOT taken (2 so far)" in texts and "7001" in texts
        assert sim[0].events() == []


# --- feedback ---------------------------------------------------------------------------


def test_feedback_runs_the_sound_command_or_rings_the_bell(sim, tmp_path, caplog):
    marker = tmp_path / "played ok"
    config = write_config(tmp_path, sim[1].url, extra_lp=f'''
[profiles.sounds]
ok = "touch '{marker}'"
rejected = "/nonexistent/player --loud"
''')
    from kiosk.feedback import Feedback

    bells: list[int] = []
    feedback = Feedback(config, bell=lambda: bells.append(1))
    lp, ar = config.profile("lp"), config.profile("ar")
    assert feedback.play("ok", lp) == "command"
    deadline = time.monotonic() + 5
    while not marker.exists():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert feedback.play("rejected", lp) is None
    assert feedback.play("rejected", lp) is None
    assert sum("cannot run" in r.message for r in caplog.records) == 1
    assert feedback.play("rejected", ar) == "bell" and bells == [1]
    assert feedback.play("queued", ar) is None and bells == [1]
    assert feedback.play("profile", ar) is None


async def test_diagnostics_and_config_views_show_state_without_secrets(sim, tmp_path):
    from devices.events import ScannerStats
    from kiosk.tui.screens import ConfigScreen, DiagnosticsScreen

    stats = {"serial1": ScannerStats(state="connected", reconnects=2, frames=5, errors=1,
                                     last_raw=b"]C1\x1b[31m72544", last_text="72544", last_error="too long")}
    async with kiosk(write_config(tmp_path, sim[1].url), size=(160, 50), scanner_stats=stats) as (app, pilot):
        await scan(pilot, "72544")
        await until(pilot, lambda: app.results)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, PIN)
        await until(pilot, lambda: isinstance(app.screen, DiagnosticsScreen))  # F3 + PIN: diagnostics
        await pilot.pause()
        console = Console(width=240, file=io.StringIO(), record=True)
        console.print(app.screen.query_one("#diagnostics-body").content)
        shown = console.export_text()
        assert "serial1" in shown and "connected" in shown and "too long" in shown
        assert "1b 5b 33 31" in shown and "<ESC>[31m72544" in shown and "\x1b" not in shown
        assert "jt" in shown and " ms" in shown
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await pilot.press("f2")  # still lead: the menu, no PIN
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await pilot.press("down", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, DiagnosticsScreen))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await pilot.press("down", "enter")  # the menu keeps its place: diagnostics -> configuration
        await until(pilot, lambda: isinstance(app.screen, ConfigScreen))
        body = str(app.screen.query_one("#config-body").content)
        assert "PIN set" in body and "scrypt" not in body


async def test_run_tui_reports_a_startup_error_without_traceback(sim, tmp_path, capsys):
    from kiosk.tui.app import run_tui

    (tmp_path / "not-a-folder").write_text("x")
    config = write_config(tmp_path, sim[1].url)
    config = config.model_copy(update={"kiosk": config.kiosk.model_copy(
        update={"journal": Path("not-a-folder/journal.sqlite3")})})
    assert await run_tui(config) == 2
    err = capsys.readouterr().err
    assert "cannot start" in err and "Traceback" not in err


async def test_device_events_from_a_reader_thread_are_taken_in_order(sim, tmp_path):
    import threading

    from devices.events import ScanEvent, StateEvent

    async with kiosk(write_config(tmp_path, sim[1].url)) as (app, pilot):
        def reader() -> None:
            app.submit_event(StateEvent("serial1", "connected"))
            for code in ("72544", "7001"):
                app.submit_event(ScanEvent(code, code.encode(), "serial1"))

        thread = threading.Thread(target=reader)
        thread.start()
        thread.join()
        await until(pilot, lambda: len(app.results) == 2)
        assert [(r.scan, r.scanner, r.outcome) for r in app.results] == [
            ("72544", "serial1", "ok"), ("7001", "serial1", "ok")]


# --- device scanners ------------------------------------------------------------------


async def test_serial_scanner_feeds_the_screen_and_diagnostics(sim, tmp_path):
    import os

    from kiosk.config import ScannerConfig
    from kiosk.scanners import build_scanner

    master, slave = os.openpty()
    link = tmp_path / "usb-Scanner-if00"
    link.symlink_to(os.ttyname(slave))
    config = write_config(tmp_path, sim[1].url)
    scanner = build_scanner(ScannerConfig(name="bench", kind="serial", port=str(link), terminator="\r"))
    app = KioskApp(build_runtime(config), scanners=[scanner])
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: scanner.stats.state == "connected")
            os.write(master, b"]E072544\r")
            await until(pilot, lambda: app.results)
            result = app.results[-1]
            assert (result.scan, result.scanner, result.outcome) == ("72544", "bench", "ok")
            assert panel(app).style_name == "-ok"
            assert app.scanner_stats["bench"].frames == 1
        assert scanner._thread is not None and not scanner._thread.is_alive()  # stopped on unmount
    finally:
        os.close(master)
        os.close(slave)


async def test_scan_held_behind_an_error_screen_survives_a_restart(sim, tmp_path):
    config = write_config(tmp_path, sim[1].url)
    async with kiosk(config) as (app, pilot):
        await scan(pilot, "101")
        await until(pilot, lambda: isinstance(app.screen, AttentionScreen))
        await scan(pilot, "72544")  # held: the red screen is not acknowledged
        await pilot.pause()
        held = app.service.journal.received()
        assert [(r.text, r.status) for r in held] == [("72544", "received")]
        # the station PC goes down here: the red screen was never acknowledged
    assert sim[0].events() == []
    async with kiosk(config) as (app, pilot):
        await until(pilot, lambda: app.results)
        result = app.results[-1]
        assert (result.id, result.scan, result.outcome) == (held[0].id, "72544", "ok")
        assert app.service.journal.received() == []
    assert [e["order_number"] for e in sim[0].events()] == ["72544"]
