"""The Textual kiosk: ``KioskApp(runtime)`` and ``run_tui(config)``, the full-screen front end.

The app is thin. Scans (keyboard bursts, device scanners) go into the shared scan inbox
(``kiosk.inbox``), which hands them to ``StationService`` one at a time. Every result the
service reports (live, replayed, timers) arrives through ``_on_result`` and is shown as the
outcome table (``kiosk.outcomes.STYLES``) says: the result panel, or a full-screen state
that must be acknowledged. While such a state is up, new scans are held in the inbox, in
order, and processed after the acknowledgement. The result panel always tells the current
truth: a queued scan sent later, lead mode ended.

Screens never call the app: they post messages (``PinScreen.Entered``,
``LeadMenuScreen.Chosen``, ``ParkedScreen.Retry`` ...) or return a ``dismiss()`` result,
and the handlers here act on them. On screens whose widget takes keys (lead menu, PIN,
lists) a keyboard-wedge scanner's burst is still a scan (``ScannerBursts``); a person's keys
go to the widget. The app owns the runtime's lifecycle: it starts it on mount and closes it
on unmount.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget

from devices.events import DeviceEvent, Scanner
from kiosk.config import Config
from kiosk.connectors.base import DisplayField
from kiosk.feedback import Feedback
from kiosk.inbox import ScanInbox
from kiosk.outcomes import Outcome, headline, style
from kiosk.results import ScanResult
from kiosk.runtime import Runtime, StartupError, build_runtime
from kiosk.scanners import build_scanners
from kiosk.service import JournalDown
from kiosk.station.state import Scan
from kiosk.tui.keyboard import Key, KeyboardScans, ScannerBursts
from kiosk.tui.screens import (
    PIN_IDLE_S,
    AttentionScreen,
    ConfigScreen,
    ConfirmScreen,
    DiagnosticsScreen,
    JournalDownScreen,
    LeadMenuScreen,
    LeadScreen,
    MainScreen,
    ParkedScreen,
    PinScreen,
    ProfileScreen,
)
from kiosk.tui.widgets import (
    HealthLine,
    KeyHints,
    ResultPanel,
    ScanHistory,
    SessionCounters,
    StationBar,
    plain,
    result_facts,
    safe_count,
)

log = logging.getLogger(__name__)

TICK_S = 1.0
RESULTS_KEPT = 1000
LEAD_ACTIONS = {"diagnostics": "diagnostics", "config": "view_config"}
"""Lead menu items journaled as lead actions when chosen (quit and send-now are journaled
when they happen, by the confirmation and by the service)."""

S = TypeVar("S", bound="Screen[Any]")
W = TypeVar("W", bound=Widget)


class KioskApp(App[int], inherit_bindings=False):
    CSS_PATH = "kiosk.tcss"
    TITLE = "kiosk"
    ENABLE_COMMAND_PALETTE = False
    # Replaces App's bindings (inherit_bindings=False): ctrl+q / ctrl+c / ctrl+p do nothing
    # unless the config allows quitting; a lead quits from the lead menu.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit_kiosk", show=False, priority=True),
        Binding("ctrl+c", "locked", show=False, priority=True),
        Binding("ctrl+p", "locked", show=False, priority=True),
        Binding("f2", "lead", show=False),
        Binding("f3", "diagnostics", show=False),
    ]

    def __init__(self, runtime: Runtime, *, clock: Callable[[], float] = time.monotonic,
                 scanners: Sequence[Scanner] = (), scanner_stats: Mapping[str, object] | None = None,
                 feedback: Feedback | None = None) -> None:
        super().__init__()
        self.runtime = runtime
        self.service = runtime.service
        self.config: Config = runtime.config
        self.clock = clock
        """Times key presses (scanner or person?) and the PIN dialog's idle time."""
        self.scanners = list(scanners)
        """Device scanners the app starts on mount and stops on unmount (the keyboard is built in)."""
        self.scanner_stats: Mapping[str, object] = scanner_stats or {s.name: s.stats for s in self.scanners}
        self.keyboard = KeyboardScans(clock)
        self.bursts = ScannerBursts(clock)
        self.feedback = feedback or Feedback(self.config, bell=self.bell)
        self.results: deque[ScanResult] = deque(maxlen=RESULTS_KEPT)
        """The latest results shown this session, oldest first."""
        self.refused: list[Scan] = []
        """Scans not taken because the journal was down."""
        self.inbox = ScanInbox(self.service, on_event=self._device_event, on_refused=self._refused,
                               intercept=self._intercept_ack)
        self._attention: deque[ScanResult] = deque()
        self._job_shown = False
        self._panel_result: ScanResult | None = None
        """The result the panel shows (None: a note such as READY or "Lead mode ended")."""
        self._panel_waiting: int | None = None
        self._lead_was_active = False
        self._after_pin = "menu"
        """Where lead authority leads once the PIN is right: the menu (F2) or diagnostics (F3)."""
        self._release_timer: Timer | None = None
        self._journal_screen: JournalDownScreen | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread_id = threading.get_ident()
        self._runtime_closed = False
        self.title = self.config.kiosk.title

    # --- lifecycle ------------------------------------------------------------------

    def get_default_screen(self) -> MainScreen:
        return MainScreen()

    async def on_mount(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread_id = threading.get_ident()
        self.inbox.attach()
        self.service.subscribe(self._on_result)
        try:
            await self.runtime.start()
            self.inbox.recover()
        except JournalDown as exc:
            self._journal_down(str(exc))
        self.run_worker(self.inbox.run(), name="scans", group="scans")
        for scanner in self.scanners:
            scanner.start(self.inbox.emit)
        self.set_interval(TICK_S, self.tick)
        self.call_after_refresh(self.refresh_status)

    async def on_unmount(self) -> None:
        for scanner in self.scanners:
            scanner.stop()
        await self.close_runtime()

    async def close_runtime(self) -> None:
        """Stop the senders and close the journal (once; safe to call again)."""
        if not self._runtime_closed:
            self._runtime_closed = True
            await self.runtime.close()

    # --- scans in -------------------------------------------------------------------

    def submit_scan(self, scan: Scan) -> None:
        """Take a scan (call on the app's thread; device threads use ``submit_event``)."""
        if not self.inbox.processing and not self.inbox.pending:
            self._job_shown = False
        self.inbox.arrive(scan)
        self._show_held()

    def submit_event(self, event: DeviceEvent) -> None:
        """A scanner's ``Emit`` callback (any thread)."""
        self.inbox.emit(event)

    def _intercept_ack(self, scan: Scan) -> bool:
        """Under an error screen the acknowledge barcode closes it and is not a scan."""
        if self._attention and self._is_ack(scan.text):
            self.acknowledge()
            return True
        return False

    def _device_event(self, event: DeviceEvent) -> None:
        self.refresh_status()

    def _is_ack(self, text: str) -> bool:
        c = self.service.station.classify(text)
        return c.kind == "command" and c.command == "ACK"

    def ack_codes(self) -> list[str]:
        """The barcodes that acknowledge an error screen at the active profile."""
        profile = self.service.profile
        return [code for code in (profile.ack_barcode, f"{profile.command_prefix}ACK") if code]

    # --- keys -----------------------------------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if (isinstance(event, events.Key) and not event.is_forwarded and self.screen_stack
                and not self._screen_takes_scans()):
            route = self.bursts.key(event.key, event.character)
            self._hand_on(route.release)
            if route.scan is not None:
                self.submit_scan(route.scan)
            if self.bursts.holding:
                self._release_later()
            if route.taken:
                return
        await super().on_event(event)

    def _screen_takes_scans(self) -> bool:
        return bool(getattr(self.screen, "ACCEPTS_SCANS", False))

    def _hand_on(self, keys: list[Key]) -> None:
        """Keys a person typed on a screen with a widget that takes keys: to that widget."""
        target = self.focused or self.screen
        for key, character in keys:
            # Forwarded, as App.on_event forwards input: so it is not routed here a second time.
            target._forward_event(events.Key(key, character))

    def _release_later(self) -> None:
        if self._release_timer is None:
            self._release_timer = self.set_timer(self.bursts.hold_s, self._release_quiet_keys)

    def _release_quiet_keys(self) -> None:
        self._release_timer = None
        if not self.screen_stack:  # shutting down
            return
        self._hand_on(self.bursts.quiet())
        if self.bursts.holding:
            self._release_later()

    def on_key(self, event: events.Key) -> None:
        """Keys on screens without a field (main, error screens): they are scans."""
        if self.focused is not None or not self._screen_takes_scans():
            return
        if event.key == "enter":
            event.stop()
            scan = self.keyboard.end()
            if scan is not None:
                self.submit_scan(scan)
            elif self._attention:
                self.acknowledge()
        elif event.key == "escape":
            event.stop()
            self.keyboard.clear()
            if self._attention:
                self.acknowledge()
        elif event.key == "backspace" or (event.is_printable and event.character):
            event.stop()
            self.keyboard.key(event.key, event.character)
        else:
            return
        self._show_typing()

    # --- results out ----------------------------------------------------------------

    def _on_result(self, result: ScanResult) -> None:
        if threading.get_ident() != self._thread_id and self._loop is not None:
            self._loop.call_soon_threadsafe(self._on_result, result)
            return
        self.results.append(result)
        history = self._main_part(ScanHistory)
        if history is not None:
            history.add_result(result)
        self._present(result)
        self._watch_lead("Lead authority lapsed after being idle.")
        self.refresh_status()

    def _present(self, result: ScanResult) -> None:
        """Show a result as the outcome table says: panel, full-screen error, or a note."""
        look = style(result.outcome)
        background = result.replay and self.inbox.processing is None
        about_panel = self._panel_result is not None and result.id is not None and self._panel_result.id == result.id
        if look.full_screen and look.must_ack:
            if not background or about_panel:
                self._job_shown = self._job_shown or not background
                self._show_result(result)
            self._raise_attention(result)
        elif background:
            if about_panel:  # the scan the panel shows as saved: now sent
                self._show_result(result)
            elif result.outcome == Outcome.OK:
                note = Text("Sent later and done: ")
                note.append_text(plain(result.scan, "bold"))
                self.notify(str(note), title="Saved scan sent", markup=False)
        elif look.info:
            if not self._job_shown:
                self._show_result(result)
            if result.outcome == Outcome.LEAD and result.scan:
                self._open_lead_menu()
            elif result.outcome == Outcome.PROFILE:
                self._close_lead_screens()  # the station changed: show it
        else:
            self._job_shown = True
            self._show_result(result)
        if not background and isinstance(self.screen, LeadScreen):
            self.screen.say(_summary(result))
        self._play(result)

    def _show_result(self, result: ScanResult) -> None:
        """The panel shows ``result``: headline from the table, then the facts (with the
        result's title whenever the headline does not already say it)."""
        look = style(result.outcome)
        big = headline(result.outcome, title=result.title, verb=result.verb)
        if result.outcome == Outcome.OK:
            big = f"OK {result.order_number or result.scan}"
            facts = plain(result.title, "bold") + Text("\n") + result_facts(result)
        elif result.outcome == Outcome.QUEUED:
            self._panel_waiting = self._waiting_for(result)
            facts = Text(f"{result.title} {self._panel_waiting} waiting\n",
                         style="bold") + result_facts(result, skip_details=1)
        else:
            facts = result_facts(result)
            if look.must_ack:
                big = f"{big} {result.scan}"
            if result.title.casefold() not in big.casefold():
                facts = plain(result.title + "\n", "bold") + facts
        if result.replay:
            facts = Text("Saved earlier and sent later.\n", style="bold") + facts
        self._panel(look.css, big, facts)
        self._panel_result = result

    def _waiting_for(self, result: ScanResult) -> int:
        try:
            backend = self.config.profile(result.profile).backend
        except KeyError:
            return safe_count(self.service.waiting)
        return safe_count(lambda: self.service.waiting(backend))

    def _panel(self, css: str, big: str, facts: Text) -> None:
        self._panel_result = None
        result_panel = self._main_part(ResultPanel)
        if result_panel is not None:
            result_panel.show(css, big, facts)

    def _main_part(self, kind: type[W]) -> W | None:
        """A part of the main screen (always at the bottom of the stack); None until mounted."""
        try:
            return self.screen_stack[0].query_one(kind)
        except (IndexError, NoMatches):
            return None

    def _play(self, result: ScanResult) -> None:
        done = self.feedback.play(result.outcome, self.service.profile)
        if style(result.outcome).must_ack and done == "command" and self.config.kiosk.bell:
            self.bell()

    def last_latency(self, backend: str) -> float | None:
        lane = self.service.lanes.get(backend)
        return lane.last_latency_ms if lane else None

    # --- attention screens ----------------------------------------------------------

    def _raise_attention(self, result: ScanResult) -> None:
        self._attention.append(result)
        self.inbox.pause()
        if len(self._attention) == 1:
            self.push_screen(AttentionScreen(result, self.ack_codes()))
            self._show_held()

    def acknowledge(self) -> None:
        """Close the attention screen on top; the next one shows, or held scans go on."""
        if not self._attention:
            return
        self._attention.popleft()
        if isinstance(self.screen, AttentionScreen):
            self.pop_screen()
        if self._attention:
            self.push_screen(AttentionScreen(self._attention[0], self.ack_codes()))
            self._show_held()
        else:
            self.inbox.resume()

    @property
    def attention(self) -> AttentionScreen | None:
        return self.screen if isinstance(self.screen, AttentionScreen) else None

    def _show_held(self) -> None:
        screen = self.attention
        if screen is not None and screen.is_mounted:
            screen.set_held(self.inbox.pending)
        elif screen is not None:
            self.call_after_refresh(self._show_held)

    # --- journal down ---------------------------------------------------------------

    def _refused(self, scan: Scan | None, reason: str) -> None:
        if scan is None:
            self._journal_down(reason)
        else:
            self._refuse(scan)

    def _journal_down(self, reason: str) -> None:
        if self._journal_screen is None:
            self._journal_screen = JournalDownScreen(reason)
            self.push_screen(self._journal_screen)
            if self.config.kiosk.bell:
                self.bell()

    def _refuse(self, scan: Scan) -> None:
        self.refused.append(scan)
        if self._journal_screen is None:
            self._journal_down(self.service.journal_error or "The scan journal cannot be written.")
        screen = self._journal_screen
        if screen is not None and screen.is_mounted:
            screen.refuse(scan.text)
        elif screen is not None:
            self.call_after_refresh(screen.refuse, scan.text)
        if self.config.kiosk.bell:
            self.bell()

    # --- status ---------------------------------------------------------------------

    def tick(self) -> None:
        """Every second: the station's timers, journal health, lead lapse, status lines."""
        try:
            self.service.tick()
        except JournalDown as exc:
            self._journal_down(str(exc))
        if self.service.journal_error:
            self._journal_down(self.service.journal_error)
        self._watch_lead("Lead authority lapsed after being idle.")
        if isinstance(self.screen, PinScreen) and self.screen.idle_for(self.clock()) >= PIN_IDLE_S:
            self.screen.dismiss(False)
        self.refresh_status()

    def _action_state(self) -> tuple[DisplayField, ...]:
        try:
            return self.service.action_state()
        except Exception:  # a failing journal read must not take the status line down
            return ()

    def refresh_status(self) -> None:
        bar = self._main_part(StationBar)
        if bar is None:
            return
        main = self.screen_stack[0]
        service, station = self.service, self.service.station
        now = service.clock()
        profile = service.profile
        operator = station.operator
        bar.show(station=profile.station, description=self._station_desc(), profile=profile.name,
                 operator=operator.code if operator else None,
                 logged_in_s=(now - operator.since) if operator else None, lead=station.lead_active(now),
                 state=self._action_state())
        main.query_one(SessionCounters).show(service.counts, safe_count(service.waiting),
                                             safe_count(service.parked_count))
        scanners = [("keyboard", "ready")] + [(name, str(getattr(s, "state", "?")))
                                             for name, s in self.scanner_stats.items()]
        backends = [(name, lane.failures, lane.last_error) for name, lane in service.lanes.items()]
        main.query_one(HealthLine).show(scanners, backends)
        shown = self._panel_result
        if shown is not None and shown.outcome == Outcome.QUEUED and self._waiting_for(shown) != self._panel_waiting:
            self._show_result(shown)  # the count of scans still waiting, as it is now

    def _station_desc(self) -> str:
        last = self.service.last_result
        if last is not None and last.station == self.service.profile.station and last.station_desc:
            return last.station_desc
        return self.service.profile.description or ""

    def _show_typing(self) -> None:
        hints = self._main_part(KeyHints)
        if hints is not None:
            hints.show(self.keyboard.text)

    # --- lead -----------------------------------------------------------------------

    def _lead_active(self) -> bool:
        return self.service.station.lead_active(self.service.clock())

    def _watch_lead(self, reason: str) -> None:
        """Lead authority ended (lapsed, or left): close the lead's screens, and the panel no
        longer says "Lead mode" unless a job's result is on it."""
        active = self._lead_active()
        if self._lead_was_active and not active:
            self._close_lead_screens(pin=False)  # a PIN dialog open now is asking for lead again
            shown = self._panel_result
            if shown is None or style(shown.outcome).info:
                self._panel("-info", "Lead mode ended", Text(reason))
        self._lead_was_active = active

    def _lead_screens_open(self) -> bool:
        return any(isinstance(s, (LeadScreen, PinScreen)) for s in self.screen_stack)

    def _close_lead_screens(self, *, pin: bool = True) -> None:
        """Back to the station: close the lead's screens (and the PIN dialog unless ``pin`` is False)."""
        self.bursts.clear()
        while isinstance(self.screen, (LeadScreen, PinScreen) if pin else LeadScreen):
            self.pop_screen()

    def _top(self, kind: type[S]) -> S | None:
        return next((s for s in reversed(self.screen_stack) if isinstance(s, kind)), None)

    def _say(self, message: str) -> None:
        """The answer to a lead's action: on the lead screen on top, else on the panel."""
        if isinstance(self.screen, LeadScreen):
            self.screen.say(message)
        else:
            self._panel("-notice", message, Text(""))

    def _blocked(self) -> bool:
        return bool(self._attention) or self._journal_screen is not None

    def _open_lead_menu(self) -> None:
        """Lead authority was granted by a badge: finish what the PIN dialog was for, or the menu."""
        if self._blocked():
            return
        if isinstance(self.screen, PinScreen):
            self.screen.dismiss(True)
        elif not self._lead_screens_open():
            self.push_screen(LeadMenuScreen())

    def _lead_denied(self) -> None:
        self._lead_was_active = self._lead_active()  # this says it: not "Lead mode ended" on top
        self._close_lead_screens()
        self._panel("-notice", "Lead authority needed", Text("Scan a lead badge or enter the lead PIN."))

    def action_lead(self) -> None:
        if self._blocked() or self._lead_screens_open():
            return
        if self._lead_active():
            self.push_screen(LeadMenuScreen())
        else:
            self._ask_pin("menu")

    def action_diagnostics(self) -> None:
        if self._blocked():
            return
        if self._lead_active():
            self._close_lead_screens()
            self._open_after_pin("diagnostics")
        elif not self._lead_screens_open():
            self._ask_pin("diagnostics")

    def _ask_pin(self, then: str) -> None:
        if not self.service.station.lead_configured:
            self._panel("-notice", "No lead access configured", Text("Set a lead PIN or badge pattern."))
            return
        self._after_pin = then
        self.push_screen(PinScreen(self.clock), callback=self._pin_closed)

    def _pin_closed(self, granted: bool | None) -> None:
        if granted:
            self._open_after_pin(self._after_pin)

    def _open_after_pin(self, then: str) -> None:
        if self._blocked():
            return
        if then == "diagnostics":
            if self.service.lead_action("diagnostics"):
                self.push_screen(DiagnosticsScreen(self.service, self.scanner_stats))
            else:
                self._lead_denied()
        else:
            self.push_screen(LeadMenuScreen())

    def on_pin_screen_entered(self, message: PinScreen.Entered) -> None:
        screen = self._top(PinScreen)
        if screen is not None:
            self.run_worker(self._check_pin(screen, message.pin), group="pin")

    async def _check_pin(self, screen: PinScreen, pin: str) -> None:
        reply = await self.service.lead_pin(pin)
        if self.screen is not screen:
            return  # closed meanwhile (or an error screen is on top of it)
        if reply.outcome == Outcome.LEAD:
            screen.dismiss(True)
        else:
            screen.refuse("Wrong PIN — lead functions stay locked.")

    def on_lead_menu_screen_chosen(self, message: LeadMenuScreen.Chosen) -> None:
        choice = message.choice
        if choice == "leave":
            self.service.end_lead()
            self._watch_lead("Lead mode left.")
            self.refresh_status()
            return
        needs = LEAD_ACTIONS.get(choice)
        if not (self.service.lead_action(needs) if needs else self._lead_active()):
            self._lead_denied()
            return
        if choice == "profile":
            self.push_screen(ProfileScreen(self.config.profiles, self.service.profile.name),
                             callback=self._profile_chosen)
        elif choice == "parked":
            self.push_screen(ParkedScreen(self.service))
        elif choice == "diagnostics":
            self.push_screen(DiagnosticsScreen(self.service, self.scanner_stats))
        elif choice == "config":
            self.push_screen(ConfigScreen(self.config))
        elif choice == "send_now":
            self._send_now()
        elif choice == "quit":
            self.push_screen(ConfirmScreen("Quit the kiosk? Scans are not taken until it is started again.",
                                           yes="Yes, quit the kiosk", no="No, keep the kiosk running"),
                             callback=self._quit_confirmed)

    def _send_now(self) -> None:
        waiting = safe_count(self.service.waiting)
        if not self.service.send_now():
            self._lead_denied()
            return
        self._say(f"Sending {waiting} waiting scan{'s' if waiting != 1 else ''} now." if waiting
                  else "Nothing is waiting to be sent.")
        self.refresh_status()

    def _quit_confirmed(self, yes: bool | None) -> None:
        if not yes:
            return
        if self.service.lead_action("quit"):
            self.exit(0)
        else:
            self._lead_denied()

    def _profile_chosen(self, name: str | None) -> None:
        if name:
            self.run_worker(self._switch_profile(name), group="lead")

    async def _switch_profile(self, name: str) -> None:
        """Ask the service to switch; the PROFILE result brings the main screen back."""
        reply = await self.service.switch_profile(name)
        self.refresh_status()
        if reply.outcome != Outcome.PROFILE:
            self._say(" ".join((reply.title,) + reply.details))

    def on_parked_screen_retry_scan(self, message: ParkedScreen.RetryScan) -> None:
        done = self.service.retry_parked(message.scan_id)
        self._parked_done("Sent again." if done else "Could not retry (lead authority or already handled).")

    def on_parked_screen_dismiss_scan(self, message: ParkedScreen.DismissScan) -> None:
        done = self.service.dismiss_parked(message.scan_id, message.why)
        self._parked_done("Dismissed." if done else "Could not dismiss (lead authority needed).")

    def _parked_done(self, answer: str) -> None:
        screen = self._top(ParkedScreen)
        if screen is not None:
            screen.done(answer)
        self.refresh_status()

    # --- key lockdown ---------------------------------------------------------------

    def action_quit_kiosk(self) -> None:
        if self.config.kiosk.allow_quit:
            self.exit(0)

    def action_locked(self) -> None:
        """ctrl+c / ctrl+p: deliberately nothing on a locked-down kiosk."""


def _summary(result: ScanResult) -> Text:
    """One line for a lead screen's message line: what a scan made under it came to."""
    look = style(result.outcome)
    text = Text(f"{look.mark} ", style=f"bold {look.rich}")
    if result.scan:
        text.append_text(plain(result.scan, "bold"))
        text.append(": ")
    text.append_text(plain(result.title))
    if result.details:
        text.append(" — ")
        text.append_text(plain(" / ".join(result.details)))
    return text


async def run_tui(config: Config, *, scanner_stats: Mapping[str, object] | None = None) -> int:
    """Run the full-screen kiosk until a lead quits; 2 when the kiosk cannot start."""
    try:
        scanners = build_scanners(config, screen=True)
        runtime = build_runtime(config)
    except (StartupError, ValueError) as exc:
        print(f"kiosk: cannot start: {exc}", file=sys.stderr)
        return 2
    app = KioskApp(runtime, scanners=scanners, scanner_stats=scanner_stats)
    try:
        await app.run_async()
    finally:
        await app.close_runtime()
    return app.return_code or 0
