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

from devices.events import DeviceEvent, Scanner, ScanEvent
from kiosk.config import Config
from kiosk.feedback import Feedback
from kiosk.journal import JournalError
from kiosk.results import ScanResult
from kiosk.runtime import Runtime, StartupError, build_runtime
from kiosk.scanners import build_scanners
from kiosk.service import JournalDown, iso_now
from kiosk.station.state import Scan
from kiosk.tui.keyboard import KeyboardScans
from kiosk.tui.screens import (AttentionScreen, ConfigScreen, DiagnosticsScreen, JournalDownScreen, LeadMenuScreen,
                               PIN_IDLE_S, LeadScreen, MainScreen, ParkedScreen, PinScreen, ProfileScreen)
from kiosk.tui.widgets import HealthLine, ResultPanel, ScanHistory, SessionCounters, StationBar, plain, result_facts

log = logging.getLogger(__name__)

INFO_OUTCOMES = frozenset({"operator", "logout", "lead", "profile", "ack", "ignored"})
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
        self._pending: deque[Scan] = deque()
        self._wake = asyncio.Event()
        self._clear = asyncio.Event()
        self._clear.set()
        self._attention: deque[tuple[ScanResult, str]] = deque()
        self._processing: Scan | None = None
        self._job_shown = False
        self._latency: dict[str, float] = {}
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
        self.service.subscribe(self._on_result)
        try:
            await self.runtime.start()
            self._pending.extend(self.service.recover_received())
            self._wake.set()
        except JournalDown as exc:
            self._journal_down(str(exc))
        self.run_worker(self._process_scans(), name="scans", group="scans")
        for scanner in self.scanners:
            scanner.start(self.submit_event)
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
        """Take a scan (call on the app's thread; device threads use ``submit_scan_threadsafe``)."""
        if self.service.journal_error or self._journal_screen is not None:
            self._refuse(scan)
            return
        if self._attention and self._is_ack(scan.text):
            self.acknowledge()
            return
        try:
            self.service.receive(scan)  # on disk before it is shown as held or waits its turn
        except (JournalDown, JournalError) as exc:
            self._journal_down(str(exc))
            self._refuse(scan)
            return
        self._pending.append(scan)
        self._wake.set()
        self._show_held()

    def submit_event(self, event: DeviceEvent) -> None:
        """A scanner's ``Emit`` callback (any thread): scans are taken, other events refresh the status."""
        if isinstance(event, ScanEvent):
            self.submit_scan_threadsafe(Scan.from_event(event))
        elif self._loop is not None and threading.get_ident() != self._thread_id:
            self._loop.call_soon_threadsafe(self.refresh_status)
        else:
            self.refresh_status()

    def submit_scan_threadsafe(self, scan: Scan) -> None:
        """Hand a scan over from another thread (a scanner's reader thread); never blocks."""
        if self._loop is None or threading.get_ident() == self._thread_id:
            self.submit_scan(scan)
        else:
            self._loop.call_soon_threadsafe(self.submit_scan, scan)

    def _is_ack(self, text: str) -> bool:
        c = self.service.station.classify(text)
        return c.kind == "command" and c.command == "ACK"

    async def _process_scans(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._clear.wait()
                scan = self._pending.popleft()
                self._show_held()
                if self.service.journal_error:
                    self._journal_down(self.service.journal_error)
                    self._refuse(scan)
                    continue
                self._processing, self._job_shown = scan, False
                try:
                    await self.service.process(scan)
                except (JournalDown, JournalError) as exc:
                    self._journal_down(str(exc))
                    self._refuse(scan)
                except Exception as exc:  # a bug below must not take the kiosk down: show it, go on
                    log.exception("processing scan %r failed", scan.text)
                    self._on_result(self._internal_error(scan, exc))
                finally:
                    self._processing = None
                self.refresh_status()

    def _internal_error(self, scan: Scan, exc: Exception) -> ScanResult:
        profile = self.service.profile
        return ScanResult(id=None, ts=iso_now(), scan=scan.text, scanner=scan.scanner, profile=profile.name,
                          station=profile.station, operator=self.service.station.operator_code, outcome="error",
                          title="Kiosk internal error",
                          details=(f"{type(exc).__name__}: {exc}",
                                   "This scan may not have been saved or sent. Call a technician."),
                          source=scan.source)

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
        self._note_latency(result)
        try:
            self.query_one(ScanHistory).add_result(result)
        except Exception:  # the main screen is not mounted yet (results at start-up)
            pass
        self._present(result)
        self.refresh_status()

    def _present(self, result: ScanResult) -> None:
        outcome = result.outcome
        background = result.replay and self._processing is None
        if outcome == "parked" or (outcome == "rejected" and result.http_status is not None):
            self._show_under_attention(result, "-rejected", "NOT CHECKED IN", background)
        elif outcome == "error":
            self._show_under_attention(result, "-error", "NOT SENT", background)
        elif background:
            if outcome == "ok":
                note = Text("Sent later and checked in: ")
                note.append_text(plain(result.scan, "bold"))
                self.notify(str(note), title="Saved scan sent", markup=False)
        elif outcome == "ok":
            self._job_shown = True
            self._panel("-ok", f"OK {result.order_number or result.scan}", result_facts(result))
        elif outcome == "queued":
            self._job_shown = True
            facts = Text(f"Saved. Will be sent when the connection is back. {result.waiting} waiting\n",
                         style="bold")
            facts.append_text(result_facts(result))
            self._panel("-queued", "SAVED - WILL BE SENT", facts)
        elif outcome == "duplicate":
            self._job_shown = True
            self._panel("-duplicate", result.title, result_facts(result))
        elif outcome == "rejected" and result.title == "Operator required":
            self._job_shown = True
            self._panel("-prompt", "SCAN YOUR OPERATOR BADGE FIRST", result_facts(result))
        elif outcome == "rejected":
            self._panel("-notice", result.title, result_facts(result))
        elif outcome in INFO_OUTCOMES:
            if not self._job_shown:
                self._panel("-info", result.title, result_facts(result))
            if outcome == "lead" and result.scan:
                self._open_lead_menu()
        else:
            self._panel("-info", result.title, result_facts(result))
        self._play(result)

    def _show_under_attention(self, result: ScanResult, style: str, headline: str, background: bool) -> None:
        """Raise the full-screen error; a live scan's panel shows it too, so after the
        acknowledgement the panel never still shows an earlier, greener result."""
        if not background:
            self._job_shown = True
            facts = plain(result.title, "bold")
            facts.append("\n")
            facts.append_text(result_facts(result))
            self._panel(style, f"{headline} {result.scan}", facts)
        self._raise_attention(result, style)

    def _panel(self, style: str, headline: str, facts: Text) -> None:
        try:
            self.query_one(ResultPanel).show(style, headline, facts)
        except Exception:
            pass

    def _play(self, result: ScanResult) -> None:
        profile = self.service.profile
        done = self.feedback.play(result.outcome, profile)
        attention = result.outcome in ("parked", "error") or (
            result.outcome == "rejected" and result.http_status is not None)
        if attention and done == "command" and self.config.kiosk.bell:
            self.bell()

    def _note_latency(self, result: ScanResult) -> None:
        if result.latency_ms is None or result.kind != "job":
            return
        try:
            backend = self.config.profile(result.profile).backend
        except KeyError:
            return
        self._latency[backend] = result.latency_ms

    def last_latency(self, backend: str) -> float | None:
        return self._latency.get(backend)

    # --- attention screens ----------------------------------------------------------

    def _raise_attention(self, result: ScanResult, style: str) -> None:
        self._attention.append((result, style))
        self._clear.clear()
        if len(self._attention) == 1:
            self.push_screen(AttentionScreen(result, style))
            self._show_held()

    def acknowledge(self) -> None:
        """Close the attention screen on top; the next one shows, or held scans go on."""
        if not self._attention:
            return
        self._attention.popleft()
        if isinstance(self.screen, AttentionScreen):
            self.pop_screen()
        if self._attention:
            result, style = self._attention[0]
            self.push_screen(AttentionScreen(result, style))
            self._show_held()
        else:
            self._clear.set()

    @property
    def attention(self) -> AttentionScreen | None:
        return self.screen if isinstance(self.screen, AttentionScreen) else None

    def _show_held(self) -> None:
        screen = self.attention
        if screen is not None and screen.is_mounted:
            screen.set_held(len(self._pending))
        elif screen is not None:
            self.call_after_refresh(self._show_held)

    # --- journal down ---------------------------------------------------------------

    def _journal_down(self, reason: str) -> None:
        if self._journal_screen is None:
            self._journal_screen = JournalDownScreen(reason)
            self.push_screen(self._journal_screen)
            if self.config.kiosk.bell:
                self.bell()
        while self._pending:
            self._refuse(self._pending.popleft())

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
        backends = [(name, getattr(sender, "failures", 0), getattr(sender, "last_error", ""))
                    for name, sender in service.senders.items()]
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
