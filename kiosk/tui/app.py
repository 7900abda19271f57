"""The Textual kiosk: ``KioskApp(runtime)`` and ``run_tui(config)``, the full-screen front end.

The app is thin. Scans (keyboard or ``submit_scan`` from device scanners) go into one
ordered inbox; one worker hands them to ``StationService.process`` one at a time. Every
result the service reports (live, replayed, timers) arrives through ``_on_result`` and is
shown: green result panel, amber prompts, or a full-screen state that must be acknowledged
(vendor refusal, failed check-in). While such a state is up, new scans are held in the
inbox, in order, and processed after the acknowledgement. The app owns the runtime's
lifecycle: it starts it on mount and closes it on unmount.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections import deque
from typing import Callable, Mapping, Sequence

from rich.text import Text
from textual import events
from textual.app import App
from textual.binding import Binding
from textual.widgets import Static

from devices.events import DeviceEvent, Scanner
from kiosk.config import Config
from kiosk.feedback import Feedback
from kiosk.inbox import ScanInbox
from kiosk.outcomes import Outcome, headline, style
from kiosk.results import ScanResult
from kiosk.runtime import Runtime, StartupError, build_runtime
from kiosk.scanners import build_scanners
from kiosk.service import JournalDown
from kiosk.station.state import Scan
from kiosk.tui.keyboard import KeyboardScans
from kiosk.tui.screens import (AttentionScreen, ConfigScreen, DiagnosticsScreen, JournalDownScreen, LeadMenuScreen,
                               PIN_IDLE_S, LeadScreen, MainScreen, ParkedScreen, PinScreen, ProfileScreen)
from kiosk.tui.widgets import HealthLine, ResultPanel, ScanHistory, SessionCounters, StationBar, plain, result_facts

log = logging.getLogger(__name__)

TICK_S = 1.0
RESULTS_KEPT = 1000


class KioskApp(App[int], inherit_bindings=False):
    CSS_PATH = "kiosk.tcss"
    TITLE = "kiosk"
    ENABLE_COMMAND_PALETTE = False
    # Replaces App's bindings (inherit_bindings=False): ctrl+q / ctrl+c / ctrl+p do nothing
    # unless the config allows quitting; a lead quits from the lead menu.
    BINDINGS = [
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
        self.scanners = list(scanners)
        """Device scanners the app starts on mount and stops on unmount (the keyboard is built in)."""
        self.scanner_stats: Mapping[str, object] = scanner_stats or {s.name: s.stats for s in self.scanners}
        self.keyboard = KeyboardScans(clock)
        self.feedback = feedback or Feedback(self.config, bell=self.bell)
        self.results: deque[ScanResult] = deque(maxlen=RESULTS_KEPT)
        """The latest results shown this session, oldest first."""
        self.refused: list[Scan] = []
        """Scans not taken because the journal was down."""
        self.inbox = ScanInbox(self.service, on_event=self._device_event, on_refused=self._refused,
                               intercept=self._intercept_ack)
        self._attention: deque[tuple[ScanResult, str]] = deque()
        self._job_shown = False
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

    def on_key(self, event: events.Key) -> None:
        if self.focused is not None or not getattr(self.screen, "ACCEPTS_SCANS", False):
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
        try:
            self.query_one(ScanHistory).add_result(result)
        except Exception:  # the main screen is not mounted yet (results at start-up)
            pass
        self._present(result)
        self.refresh_status()

    def _present(self, result: ScanResult) -> None:
        """Show a result as the outcome table says: panel, full-screen error, or a note."""
        look = style(result.outcome)
        background = result.replay and self.inbox.processing is None
        big = headline(result.outcome, title=result.title, verb=result.verb)
        if look.full_screen and look.must_ack:
            self._show_under_attention(result, look.css, big, background)
        elif background:
            if result.outcome == Outcome.OK:
                note = Text("Sent later and done: ")
                note.append_text(plain(result.scan, "bold"))
                self.notify(str(note), title="Saved scan sent", markup=False)
        elif look.info:
            if not self._job_shown:
                self._panel(look.css, big, result_facts(result))
            if result.outcome == Outcome.LEAD and result.scan:
                self._open_lead_menu()
        else:
            self._job_shown = True
            facts = result_facts(result)
            if result.outcome == Outcome.QUEUED:
                facts = Text(f"Saved. Will be sent when the connection is back. {result.waiting} waiting\n",
                             style="bold") + result_facts(result, skip_details=1)
            if result.outcome == Outcome.OK:
                big = f"OK {result.order_number or result.scan}"
            self._panel(look.css, big, facts)
        self._play(result)

    def _show_under_attention(self, result: ScanResult, css: str, big: str, background: bool) -> None:
        """Raise the full-screen error; a live scan's panel shows it too, so after the
        acknowledgement the panel never still shows an earlier, greener result."""
        if not background:
            self._job_shown = True
            facts = plain(result.title, "bold")
            facts.append("\n")
            facts.append_text(result_facts(result))
            self._panel(css, f"{big} {result.scan}", facts)
        self._raise_attention(result, css)

    def _panel(self, css: str, big: str, facts: Text) -> None:
        try:
            self.query_one(ResultPanel).show(css, big, facts)
        except Exception:
            pass

    def _play(self, result: ScanResult) -> None:
        done = self.feedback.play(result.outcome, self.service.profile)
        if style(result.outcome).must_ack and done == "command" and self.config.kiosk.bell:
            self.bell()

    def last_latency(self, backend: str) -> float | None:
        lane = self.service.lanes.get(backend)
        return lane.last_latency_ms if lane else None

    # --- attention screens ----------------------------------------------------------

    def _raise_attention(self, result: ScanResult, css: str) -> None:
        self._attention.append((result, css))
        self.inbox.pause()
        if len(self._attention) == 1:
            self.push_screen(AttentionScreen(result, css))
            self._show_held()

    def acknowledge(self) -> None:
        """Close the attention screen on top; the next one shows, or held scans go on."""
        if not self._attention:
            return
        self._attention.popleft()
        if isinstance(self.screen, AttentionScreen):
            self.pop_screen()
        if self._attention:
            result, css = self._attention[0]
            self.push_screen(AttentionScreen(result, css))
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
        now = self.service.clock()
        if any(isinstance(s, LeadScreen) for s in self.screen_stack) and not self.service.station.lead_active(now):
            self._close_lead_screens()
            self._panel("-info", "Lead mode ended", Text("Lead authority lapsed after being idle."))
        elif isinstance(self.screen, PinScreen) and self.screen.idle_for(self.clock()) >= PIN_IDLE_S:
            self.pop_screen()
        self.refresh_status()

    def safe_count(self, count: Callable[[], int]) -> int:
        try:
            return count()
        except Exception:  # a failing journal read must not take the status line down
            return 0

    def refresh_status(self) -> None:
        try:
            main = self.screen_stack[0]
            bar = main.query_one(StationBar)
        except Exception:
            return
        service, station = self.service, self.service.station
        now = service.clock()
        profile = service.profile
        operator = station.operator
        bar.show(station=profile.station, description=self._station_desc(), profile=profile.name,
                 operator=operator.code if operator else None,
                 logged_in_s=(now - operator.since) if operator else None, lead=station.lead_active(now))
        main.query_one(SessionCounters).show(service.counts, self.safe_count(service.waiting),
                                             self.safe_count(service.parked_count))
        scanners = [("keyboard", "ready")] + [(name, str(getattr(s, "state", "?")))
                                             for name, s in self.scanner_stats.items()]
        backends = [(name, lane.failures, lane.last_error) for name, lane in service.lanes.items()]
        main.query_one(HealthLine).show(scanners, backends)

    def _station_desc(self) -> str:
        last = self.service.last_result
        if last is not None and last.station == self.service.profile.station and last.station_desc:
            return last.station_desc
        return self.service.profile.description or ""

    def _show_typing(self) -> None:
        try:
            hint = self.screen_stack[0].query_one("#hint", Static)
        except Exception:
            return
        text = Text("F2 lead   F3 diagnostics   ")
        if self.keyboard.text:
            text.append("typing: ", style="dim")
            text.append_text(plain(self.keyboard.text, "bold"))
        hint.update(text)

    # --- lead -----------------------------------------------------------------------

    def _lead_active(self) -> bool:
        return self.service.station.lead_active(self.service.clock())

    def _lead_screens_open(self) -> bool:
        return any(isinstance(s, (LeadScreen, PinScreen)) for s in self.screen_stack)

    def _close_lead_screens(self) -> None:
        while isinstance(self.screen, (LeadScreen, PinScreen)):
            self.pop_screen()

    def _open_lead_menu(self) -> None:
        if self._attention or self._journal_screen is not None:
            return
        if not isinstance(self.screen, LeadMenuScreen):
            self._close_lead_screens()
            self.push_screen(LeadMenuScreen())

    def action_lead(self) -> None:
        if self._attention or self._journal_screen is not None or self._lead_screens_open():
            return
        if self._lead_active():
            self._open_lead_menu()
        elif not self.service.station.lead_configured:
            self._panel("-notice", "No lead access configured", Text("Set a lead PIN or badge pattern."))
        else:
            self.push_screen(PinScreen(self.clock()))

    def action_diagnostics(self) -> None:
        if self._attention or self._journal_screen is not None:
            return
        if self._lead_active() and self.service.lead_action("diagnostics"):
            self._close_lead_screens()
            self.push_screen(DiagnosticsScreen())
        else:
            self.action_lead()

    async def try_lead_pin(self, pin: str) -> bool:
        reply = await self.service.lead_pin(pin)
        if reply.outcome != "lead":
            return False
        self._close_lead_screens()
        self._open_lead_menu()
        return True

    async def lead_menu_choice(self, choice: str) -> None:
        if choice == "leave":
            self.service.end_lead()
            self._close_lead_screens()
            self.refresh_status()
            return
        if choice == "profile":
            self.push_screen(ProfileScreen())
            return
        if choice == "parked":
            self.push_screen(ParkedScreen())
            return
        if not self.service.lead_action({"diagnostics": "diagnostics", "config": "view_config",
                                         "quit": "quit"}.get(choice, choice)):
            self._close_lead_screens()
            self._panel("-notice", "Lead authority needed", Text("Scan a lead badge or enter the lead PIN."))
            return
        if choice == "diagnostics":
            self.push_screen(DiagnosticsScreen())
        elif choice == "config":
            self.push_screen(ConfigScreen())
        elif choice == "quit":
            self.exit(0)

    async def switch_profile(self, name: str) -> str:
        """Ask the service to switch; on success go back to the main screen."""
        reply = await self.service.switch_profile(name)
        self.refresh_status()
        if reply.outcome == "profile":
            self._close_lead_screens()
            return reply.title
        return " ".join((reply.title,) + reply.details)

    # --- key lockdown ---------------------------------------------------------------

    def action_quit_kiosk(self) -> None:
        if self.config.kiosk.allow_quit:
            self.exit(0)

    def action_locked(self) -> None:
        """ctrl+c / ctrl+p: deliberately nothing on a locked-down kiosk."""


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
