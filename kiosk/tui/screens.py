"""The kiosk's screens: main, attention (vendor refusal / error), journal down, and the lead's.

Screens show what they are given (a result, a read-only ``StationView``, the config) and
never call into the app: a choice goes up as a message (declared in the screen's class) or
as the screen's ``dismiss()`` result, and the app acts on it. Screens with
``ACCEPTS_SCANS = True`` have no widget that takes keys, so the app's keyboard collects scans
while they show; on the others the app tells a scanner's burst from a person's keys.

Every screen fits the terminal: what must be read (the vendor's words, what was scanned,
how to go on) is placed first, and block letters only get the rows that are left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.config import Config, ProfileConfig
from kiosk.journal import ScanRow
from kiosk.lanes import Lane
from kiosk.outcomes import Outcome, headline, style
from kiosk.results import ScanResult
from kiosk.tui.bigtext import BigText
from kiosk.tui.widgets import (
    HealthLine,
    KeyHints,
    ResultPanel,
    ScanHistory,
    SessionCounters,
    StationBar,
    local_time,
    plain,
    safe_count,
    scanner_table,
)


class StationView(Protocol):
    """What screens may read of the station service (they change nothing through it)."""

    @property
    def config(self) -> Config: ...

    @property
    def lanes(self) -> Mapping[str, Lane]: ...

    @property
    def journal_error(self) -> str | None: ...

    def waiting(self, backend: str | None = None) -> int: ...

    def parked(self) -> list[ScanRow]: ...

    def parked_count(self) -> int: ...


class TextScroll(VerticalScroll, can_focus=False):
    """Long text that may need scrolling, on a screen whose keys are scans (never focused)."""


class MainScreen(Screen[None]):
    """Always underneath: station, last result, recent scans, counters, health, keys."""

    ACCEPTS_SCANS: ClassVar[bool] = True

    def compose(self) -> ComposeResult:
        yield StationBar(id="station")
        yield ResultPanel(id="result")
        yield ScanHistory(id="history")
        yield SessionCounters(id="counters")
        yield HealthLine(id="health")
        yield KeyHints(id="hint")


def ack_hint(codes: Sequence[str]) -> str:
    """Every way to acknowledge: the keys, then the barcodes that do it."""
    scan = f", or scan {' / '.join(codes)}" if codes else ""
    return f"Press ENTER or ESC{scan} to continue"


class AttentionScreen(ModalScreen[None]):
    """Full screen until acknowledged: a vendor refusal (red) or a scan not sent (magenta).

    ``ack_codes`` are the barcodes that acknowledge it (the profile's ``ack_barcode`` and
    ``CMD:ACK``); the app closes the screen on Enter, Escape or one of them.
    """

    ACCEPTS_SCANS: ClassVar[bool] = True

    def __init__(self, result: ScanResult, ack_codes: Sequence[str] = ()) -> None:
        self.look = style(result.outcome)
        super().__init__(classes=self.look.css)
        self.result = result
        self.ack_codes = tuple(ack_codes)

    @property
    def refused(self) -> bool:
        """The vendor said no (its words are shown), rather than the scan not getting there."""
        return self.result.outcome in (Outcome.REJECTED, Outcome.PARKED)

    @property
    def message(self) -> str:
        return " / ".join(self.result.details) or self.result.title

    def compose(self) -> ComposeResult:
        r = self.result
        with Vertical(id="attention-box"):
            yield Static(Text(headline(r.outcome, title=r.title, verb=r.verb), style="bold"), id="attention-kind")
            yield BigText(self.message if self.refused else r.title, shorter=r.title, plain_fallback=False,
                          id="attention-message")
            yield Static(plain(r.title, "bold"), id="attention-title")
            said = Text("Vendor says: " if self.refused else "What happened: ", style="bold")
            said.append_text(plain("\n".join(r.details) or r.title))
            with TextScroll(id="attention-vendor"):
                yield Static(said, id="attention-vendor-text")
            if r.outcome == Outcome.PARKED:
                yield Static(Text(f"This scan was saved earlier and sent later; it was not {r.verb}."),
                             id="attention-replay")
            elif not self.refused:
                yield Static(Text(f"It was NOT {r.verb}. Scan it again later, or call a technician "
                                  "if this keeps happening."), id="attention-advice")
            scanned = Text("Scanned: ", style="bold")
            scanned.append_text(plain(r.scan, "bold"))
            if r.order_number:
                scanned.append("   order ")
                scanned.append_text(plain(r.order_number))
            scanned.append(f"   at {local_time(r.ts)}   station ")
            scanned.append_text(plain(r.station))
            yield Static(scanned, id="attention-scan")
            yield Static(id="attention-held")
            yield Static(Text(ack_hint(self.ack_codes), style="bold reverse"), id="attention-hint")

    def on_mount(self) -> None:
        self.set_held(0)

    def set_held(self, count: int) -> None:
        held = self.query_one("#attention-held", Static)
        held.display = bool(count)
        held.update(Text(f"{count} scan{'s' if count != 1 else ''} waiting: sent after you continue",
                         style="bold"))


class JournalDownScreen(Screen[None]):
    """Scans cannot be saved: nothing is taken until a technician fixes the journal."""

    ACCEPTS_SCANS: ClassVar[bool] = True

    def __init__(self, reason: str) -> None:
        super().__init__(classes=style(Outcome.JOURNAL).css)
        self.reason = reason
        self.refused: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-box"):
            yield BigText("SCANS ARE NOT BEING SAVED", plain_fallback=False, id="journal-headline")
            yield Static(Text("Scans are not being saved — call a lead/technician", style="bold"),
                         id="journal-call")
            with TextScroll(id="journal-reason-box"):
                yield Static(plain(self.reason), id="journal-reason")
            yield Static(id="journal-refused")

    def refuse(self, text: str) -> None:
        self.refused.append(text)
        line = Text(f"Scan NOT taken ({len(self.refused)} so far): ", style="bold reverse")
        line.append_text(plain(text, "bold"))
        line.append("  — keep the tray aside")
        self.query_one("#journal-refused", Static).update(line)


PIN_IDLE_S = 30.0
"""The PIN dialog closes after this long without a key: while open it takes the keyboard."""


class PinScreen(ModalScreen[bool]):
    """The lead PIN, the only field in the kiosk. Dismissed with True once the app has
    granted lead authority, with False when closed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", show=False)]

    @dataclass
    class Entered(Message):
        """The lead typed a PIN and Enter: the app checks it and answers with ``dismiss(True)``
        or ``refuse()``."""

        pin: str

    def __init__(self, clock: Callable[[], float]) -> None:
        super().__init__()
        self.clock = clock
        self.last_key_at = clock()

    def idle_for(self, now: float) -> float:
        return now - self.last_key_at

    def compose(self) -> ComposeResult:
        with Vertical(id="pin-box"):
            yield Static(Text("Lead PIN", style="bold"), id="pin-title")
            yield Input(password=True, id="pin-input", placeholder="PIN, then Enter")
            yield Static(id="pin-message")
            yield Static(Text("Enter: unlock   Esc: close   A scanned barcode is still a scan."),
                         classes="lead-hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.last_key_at = self.clock()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        pin = event.value
        event.input.value = ""
        if pin:
            self.query_one("#pin-message", Static).update(Text("Checking …"))
            self.post_message(self.Entered(pin))

    def refuse(self, message: str) -> None:
        self.query_one("#pin-message", Static).update(Text(message, style="bold"))

    def action_close(self) -> None:
        self.dismiss(False)


LEAD_HINT = "↑↓ choose   Enter select   Esc back   Scans are still taken."


class LeadScreen(Screen[Any]):
    """A lead screen: Escape goes back; closed by the app when lead authority lapses."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", show=False)]
    TITLE: ClassVar[str] = ""
    HINT: ClassVar[str] = LEAD_HINT

    def compose_body(self) -> ComposeResult:
        yield from ()

    def __init__(self) -> None:
        super().__init__()
        self.message = Text("")
        """The message line: the answer to the lead's last action, or what the last scan came to."""

    def compose(self) -> ComposeResult:
        yield Static(Text(self.TITLE, style="bold"), classes="lead-title")
        with Vertical(classes="lead-body"):
            yield from self.compose_body()
        yield from self.compose_footer()

    def compose_footer(self) -> ComposeResult:
        yield Static(self.message, id="lead-message")
        yield Static(Text(self.HINT), classes="lead-hint")

    def action_back(self) -> None:
        self.dismiss()

    def say(self, message: str | Text) -> None:
        """Show ``message`` on the message line (kept until the screen is mounted)."""
        self.message = message if isinstance(message, Text) else plain(message, "bold")
        if self.is_mounted:
            self.query_one("#lead-message", Static).update(self.message)


def highlight_first(options: OptionList) -> None:
    """Highlight the first choice, so Enter works at once."""
    first = next((i for i in range(options.option_count) if not options.get_option_at_index(i).disabled), None)
    options.highlighted = first


LEAD_MENU = (
    ("profile", "Switch profile"),
    ("parked", "Parked scans"),
    ("diagnostics", "Diagnostics"),
    ("config", "Configuration (read-only)"),
    ("send_now", "Send queued scans now"),
    ("leave", "Leave lead mode"),
    ("quit", "Quit kiosk"),
)


class LeadMenuScreen(LeadScreen):
    TITLE = "LEAD MENU"

    @dataclass
    class Chosen(Message):
        """The lead chose an item of ``LEAD_MENU`` (its key)."""

        choice: str

    def compose_body(self) -> ComposeResult:
        yield OptionList(*[Option(Text(label), id=key) for key, label in LEAD_MENU], id="lead-menu")

    def on_mount(self) -> None:
        menu = self.query_one(OptionList)
        highlight_first(menu)
        menu.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(event.option.id or ""))


class ConfirmScreen(LeadScreen):
    """A yes/no question; "no" is highlighted, so a stray Enter changes nothing."""

    def __init__(self, question: str, yes: str, no: str) -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        yield Static(Text(self.question, style="bold"), classes="lead-title")
        with Vertical(classes="lead-body"):
            yield OptionList(Option(Text(self.no), id="no"), Option(Text(self.yes), id="yes"), id="confirm")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        highlight_first(options)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id == "yes")

    def action_back(self) -> None:
        self.dismiss(False)


class ProfileScreen(LeadScreen):
    """Pick a profile; dismissed with its name (the app switches)."""

    TITLE = "Switch profile"

    def __init__(self, profiles: Sequence[ProfileConfig], current: str) -> None:
        super().__init__()
        self.profiles = list(profiles)
        self.current = current

    def compose_body(self) -> ComposeResult:
        options = []
        for p in self.profiles:
            label = plain(p.name, "bold")
            label.append("   station ")
            label.append_text(plain(p.station))
            if p.description:
                label.append("  ")
                label.append_text(plain(p.description))
            if p.name == self.current:
                label.append("   (active)", style="italic")
            options.append(Option(label, id=p.name))
        yield OptionList(*options, id="profile-list")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        highlight_first(options)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id or "")


DISMISS_REASONS = ("Checked in by hand in the vendor system", "Scanned again successfully",
                   "Tray no longer on this line", "Other (see lead notes)")


class ParkedScreen(LeadScreen):
    """Parked scans with the vendor's message; choose one, then retry or dismiss with a reason."""

    TITLE = "Parked scans"

    @dataclass
    class RetryScan(Message):
        """Send this parked scan again."""

        scan_id: int

    @dataclass
    class DismissScan(Message):
        """Close this parked scan for good, for this reason."""

        scan_id: int
        why: str

    def __init__(self, view: StationView) -> None:
        super().__init__()
        self.view = view
        self.selected: int | None = None

    def compose_body(self) -> ComposeResult:
        yield OptionList(id="parked-list")
        yield OptionList(id="parked-actions")

    def on_mount(self) -> None:
        self.query_one("#parked-actions", OptionList).display = False
        self.reload()

    def reload(self) -> None:
        rows = self.view.parked()
        listing = self.query_one("#parked-list", OptionList)
        listing.clear_options()
        for row in rows:
            label = plain(row.ts[:19].replace("T", " "))
            label.append("  ")
            label.append_text(plain(row.text, "bold"))
            label.append("  ")
            label.append_text(plain(row.station))
            label.append("  ")
            label.append_text(plain(row.title or ""))
            if row.details:
                label.append(": ")
                label.append_text(plain(" / ".join(row.details)))
            listing.add_option(Option(label, id=str(row.id)))
        if not rows:
            listing.add_option(Option(Text("No parked scans."), id="none", disabled=True))
        listing.display = True
        highlight_first(listing)
        listing.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        actions = self.query_one("#parked-actions", OptionList)
        if event.option_list.id == "parked-list":
            self.selected = int(event.option.id or 0)
            actions.clear_options()
            actions.add_options([Option(Text("Retry: send it again"), id="retry")] +
                                [Option(Text(f"Dismiss: {why}"), id=f"dismiss:{i}")
                                 for i, why in enumerate(DISMISS_REASONS)])
            actions.display = True
            highlight_first(actions)
            actions.focus()
            return
        if self.selected is None:
            return
        choice = event.option.id or ""
        if choice == "retry":
            self.post_message(self.RetryScan(self.selected))
        else:
            self.post_message(self.DismissScan(self.selected, DISMISS_REASONS[int(choice.partition(":")[2])]))

    def done(self, message: str) -> None:
        """The app's answer to RetryScan or DismissScan: say it and show the list as it is now."""
        self.selected = None
        self.query_one("#parked-actions", OptionList).display = False
        self.say(message)
        self.reload()


class DiagnosticsScreen(LeadScreen):
    """Backends (latency, failures, last error), outbox, parked, and every scanner's state."""

    TITLE = "Diagnostics"
    HINT = "↑↓ scroll   Esc back   Scans are still taken."

    def __init__(self, view: StationView, scanner_stats: Mapping[str, object]) -> None:
        super().__init__()
        self.view = view
        self.scanner_stats = scanner_stats

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="diagnostics-scroll"):
            yield Static(id="diagnostics-body")

    def on_mount(self) -> None:
        self.refresh_body()
        self.set_interval(1.0, self.refresh_body)
        self.query_one("#diagnostics-scroll").focus()

    def refresh_body(self) -> None:
        view = self.view
        backends = Table(expand=True, title="Backends", title_justify="left")
        for column in ("Backend", "Vendor", "URL", "Last latency", "Failures", "Last error", "Waiting"):
            backends.add_column(column)
        for name, backend in view.config.backends.items():
            lane = view.lanes[name]
            latency = lane.last_latency_ms
            backends.add_row(plain(name), plain(backend.vendor), plain(backend.display_url),
                             "-" if latency is None else f"{latency:.0f} ms",
                             str(lane.failures), plain(lane.last_error), str(lane.waiting))
        summary = Text(f"Outbox waiting: {safe_count(view.waiting)}    "
                       f"Parked: {safe_count(view.parked_count)}    "
                       f"Journal: ", style="bold")
        summary.append_text(plain(view.journal_error or "ok"))
        scanners = (scanner_table(self.scanner_stats) if self.scanner_stats
                    else Text("No device scanners (keyboard only)."))
        self.query_one("#diagnostics-body", Static).update(Group(backends, summary, Text(""), scanners))


class ConfigScreen(LeadScreen):
    """The configuration, read-only; secrets are named (token_env), never shown."""

    TITLE = "Configuration (read-only)"
    HINT = "↑↓ scroll   Esc back   Scans are still taken."

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = config

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="config-scroll"):
            yield Static(config_summary(self.config), id="config-body")

    def on_mount(self) -> None:
        self.query_one("#config-scroll").focus()


def config_summary(config: Config) -> Text:
    """What a lead may see of the config: no token values, no PIN hash."""
    text = Text()
    text.append("File: ", style="bold")
    text.append_text(plain(config.path))
    text.append("\nKiosk: ", style="bold")
    text.append_text(plain(f"start profile {config.kiosk.profile}, journal {config.journal_path}, "
                           f"allow_quit {config.kiosk.allow_quit}, bell {config.kiosk.bell}"))
    for name, b in config.backends.items():
        text.append("\nBackend ", style="bold")
        text.append_text(plain(f"{name}: {b.vendor} {b.display_url} timeout {b.timeout_s} s"))
        for key, value in b.model_dump(exclude={"vendor", "base_url", "timeout_s"}).items():
            text.append_text(plain(f"; {key} {_config_value(key, value)}"))
    for p in config.profiles:
        text.append("\nProfile ", style="bold")
        text.append_text(plain(
            f"{p.name}: station {p.station} via {p.backend}; operator required {p.requires_operator}; "
            f"operator pattern {p.operator_pattern}; duplicate window {p.duplicate_window_s} s; "
            f"offline {p.offline}; ack barcode {p.ack_barcode}; manual entry {p.allow_manual}"))
    lead = config.lead
    text.append("\nLead: ", style="bold")
    pin_env = f" (hash from environment variable {lead.pin_hash_env})" if lead.pin_hash_env else ""
    text.append_text(plain(f"PIN {'set' if lead.pin_hash or lead.pin_hash_env else 'not set'}{pin_env}"
                           f"; badge pattern {lead.badge_pattern}; idle {lead.idle_s} s"))
    for s in config.scanners:
        text.append("\nScanner ", style="bold")
        text.append_text(plain(f"{s.name}: {s.kind} {s.port or s.device or s.vid_pid or ''}"))
    return text


_SECRET_WORDS = ("token", "secret", "password", "passwd", "api_key", "apikey")


def _config_value(key: str, value: object) -> str:
    """A backend key as a lead may see it: where a secret comes from, never a secret itself."""
    if value is None:
        return "none"
    if key.endswith("_env"):
        return f"from environment variable {value}"
    if key.endswith("_file"):
        return f"from file {value}"
    if any(word in key.lower() for word in _SECRET_WORDS):
        return "(hidden)"
    return str(value)
