"""The kiosk's screens: main, attention (vendor refusal / error), journal down, and the lead's.

Screens with ``ACCEPTS_SCANS = True`` let the app's keyboard collect scans while they show
(no widget there takes focus). Lead screens use the keyboard for navigation instead; scans
from device scanners keep flowing underneath them. Screens ask the app (``KioskApp``) to act;
they hold no station rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from kiosk.results import ScanResult
from kiosk.tui.bigtext import BigText
from kiosk.tui.widgets import (
    HealthLine,
    ResultPanel,
    ScanHistory,
    SessionCounters,
    StationBar,
    local_time,
    plain,
    scanner_table,
)

if TYPE_CHECKING:
    from kiosk.tui.app import KioskApp


class MainScreen(Screen[None]):
    """Always underneath: station, last result, recent scans, counters, health."""

    ACCEPTS_SCANS: ClassVar[bool] = True

    def compose(self) -> ComposeResult:
        yield StationBar(id="station")
        yield ResultPanel(id="result")
        yield ScanHistory(id="history")
        yield SessionCounters(id="counters")
        yield HealthLine(id="health")
        yield Static(id="hint")


class AttentionScreen(ModalScreen[None]):
    """Full screen until acknowledged: a vendor refusal (red) or a failed check-in (magenta)."""

    ACCEPTS_SCANS: ClassVar[bool] = True

    def __init__(self, result: ScanResult, style: str) -> None:
        super().__init__(classes=style)
        self.result = result
        self.style_name = style

    @property
    def message(self) -> str:
        return " / ".join(self.result.details) or self.result.title

    def compose(self) -> ComposeResult:
        r = self.result
        with Vertical(id="attention-box"):
            if self.style_name == "-rejected":
                yield Static(Text("NOT CHECKED IN", style="bold"), id="attention-kind")
                yield BigText(self.message, id="attention-message")
                yield Static(plain(r.title, "bold"), id="attention-title")
                said = Text("Vendor says: ", style="bold")
                said.append_text(plain("\n".join(r.details) or r.title))
                yield Static(said, id="attention-vendor-text")
                if r.outcome == "parked":
                    yield Static(Text("This scan was saved earlier and sent later; it was not checked in."),
                                 id="attention-replay")
            else:
                yield Static(Text("CHECK-IN DID NOT GO THROUGH", style="bold"), id="attention-kind")
                yield BigText(r.title, id="attention-message")
                words = Text("What happened: ", style="bold")
                words.append_text(plain("\n".join(r.details) or r.title))
                yield Static(words, id="attention-vendor-text")
                yield Static(Text("The job was NOT checked in. Scan it again later, or call a technician "
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
            yield Static(Text("Press ENTER or scan ACK to continue", style="bold reverse"), id="attention-hint")

    def set_held(self, count: int) -> None:
        text = Text(f"{count} scan{'s' if count != 1 else ''} waiting: sent after you continue",
                    style="bold") if count else Text("")
        self.query_one("#attention-held", Static).update(text)


class JournalDownScreen(Screen[None]):
    """Scans cannot be saved: nothing is taken until a technician fixes the journal."""

    ACCEPTS_SCANS: ClassVar[bool] = True

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason
        self.refused: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-box"):
            yield BigText("SCANS ARE NOT BEING SAVED", id="journal-headline")
            yield Static(Text("Scans are not being saved — call a lead/technician", style="bold"),
                         id="journal-call")
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


class PinScreen(ModalScreen[None]):
    """The lead PIN: the only field in the kiosk that takes focus."""

    BINDINGS = [Binding("escape", "close", show=False)]

    def __init__(self, now: float) -> None:
        super().__init__()
        self.last_key_at = now

    def idle_for(self, now: float) -> float:
        return now - self.last_key_at

    def on_input_changed(self, event: Input.Changed) -> None:
        app: KioskApp = self.app  # type: ignore[assignment]
        self.last_key_at = app.clock()

    def compose(self) -> ComposeResult:
        with Vertical(id="pin-box"):
            yield Static(Text("Lead PIN", style="bold"), id="pin-title")
            yield Input(password=True, id="pin-input", placeholder="PIN, then Enter (Escape closes)")
            yield Static(id="pin-message")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        pin = event.value
        event.input.value = ""
        if not pin:
            return
        app: KioskApp = self.app  # type: ignore[assignment]
        ok = await app.try_lead_pin(pin)
        if not ok:
            self.query_one("#pin-message", Static).update(
                Text("Wrong PIN — lead functions stay locked.", style="bold"))

    def action_close(self) -> None:
        self.dismiss()


class LeadScreen(Screen[None]):
    """A lead screen: Escape goes back; closed by the app when lead authority lapses."""

    BINDINGS = [Binding("escape", "back", show=False)]

    def action_back(self) -> None:
        self.dismiss()

    def say(self, message: str) -> None:
        """Show the answer to the lead's last action on this screen's message line."""
        self.query_one("#lead-message", Static).update(plain(message, "bold"))


LEAD_MENU = (
    ("profile", "Switch profile"),
    ("parked", "Parked scans"),
    ("diagnostics", "Diagnostics"),
    ("config", "Configuration (read-only)"),
    ("quit", "Quit kiosk"),
    ("leave", "Leave lead mode"),
)


class LeadMenuScreen(LeadScreen):
    def compose(self) -> ComposeResult:
        yield Static(Text("LEAD MENU", style="bold"), classes="lead-title")
        yield OptionList(*[Option(Text(label), id=key) for key, label in LEAD_MENU], id="lead-menu")
        yield Static(id="lead-message")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        app: KioskApp = self.app  # type: ignore[assignment]
        await app.lead_menu_choice(event.option.id or "")


class ProfileScreen(LeadScreen):
    def compose(self) -> ComposeResult:
        app: KioskApp = self.app  # type: ignore[assignment]
        current = app.service.profile.name
        yield Static(Text("Switch profile", style="bold"), classes="lead-title")
        options = []
        for p in app.service.config.profiles:
            label = plain(p.name, "bold")
            label.append("   station ")
            label.append_text(plain(p.station))
            if p.description:
                label.append("  ")
                label.append_text(plain(p.description))
            if p.name == current:
                label.append("   (active)", style="italic")
            options.append(Option(label, id=p.name))
        yield OptionList(*options, id="profile-list")
        yield Static(id="lead-message")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        app: KioskApp = self.app  # type: ignore[assignment]
        message = await app.switch_profile(event.option.id or "")
        if self.is_attached:
            self.say(message)


DISMISS_REASONS = ("Checked in by hand in the vendor system", "Scanned again successfully",
                   "Tray no longer on this line", "Other (see lead notes)")


class ParkedScreen(LeadScreen):
    """Parked scans with the vendor's message; choose one, then retry or dismiss with a reason."""

    def __init__(self) -> None:
        super().__init__()
        self.selected: int | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("Parked scans", style="bold"), classes="lead-title")
        yield OptionList(id="parked-list")
        yield OptionList(id="parked-actions")
        yield Static(id="lead-message")

    def on_mount(self) -> None:
        self.query_one("#parked-actions", OptionList).display = False
        self.reload()

    def reload(self) -> None:
        app: KioskApp = self.app  # type: ignore[assignment]
        rows = app.service.parked()
        listing = self.query_one("#parked-list", OptionList)
        listing.clear_options()
        for row in rows:
            label = plain(row.ts[:19].replace("T", " "))
            label.append("  ")
            label.append_text(plain(row.text, "bold"))
            label.append(f"  {row.station}  ")
            label.append_text(plain(row.title or ""))
            if row.details:
                label.append(": ")
                label.append_text(plain(" / ".join(row.details)))
            listing.add_option(Option(label, id=str(row.id)))
        if not rows:
            listing.add_option(Option(Text("No parked scans."), id="none", disabled=True))
        listing.display = True
        listing.focus()

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        app: KioskApp = self.app  # type: ignore[assignment]
        actions = self.query_one("#parked-actions", OptionList)
        if event.option_list.id == "parked-list":
            self.selected = int(event.option.id or 0)
            actions.clear_options()
            actions.add_options([Option(Text("Retry: send it again"), id="retry")] +
                                [Option(Text(f"Dismiss: {why}"), id=f"dismiss:{i}")
                                 for i, why in enumerate(DISMISS_REASONS)])
            actions.display = True
            actions.focus()
            return
        if self.selected is None:
            return
        choice = event.option.id or ""
        if choice == "retry":
            done = app.service.retry_parked(self.selected)
            message = "Sent again." if done else "Could not retry (lead authority or already handled)."
        else:
            why = DISMISS_REASONS[int(choice.partition(":")[2])]
            done = app.service.dismiss_parked(self.selected, why)
            message = "Dismissed." if done else "Could not dismiss (lead authority needed)."
        self.selected = None
        actions.display = False
        self.say(message)
        app.refresh_status()
        self.reload()


class DiagnosticsScreen(LeadScreen):
    """Backends (latency, failures, last error), outbox, parked, and every scanner's state."""

    def compose(self) -> ComposeResult:
        yield Static(Text("Diagnostics", style="bold"), classes="lead-title")
        with VerticalScroll():
            yield Static(id="diagnostics-body")

    def on_mount(self) -> None:
        self.refresh_body()
        self.set_interval(1.0, self.refresh_body)

    def refresh_body(self) -> None:
        app: KioskApp = self.app  # type: ignore[assignment]
        service = app.service
        backends = Table(expand=True, title="Backends", title_justify="left")
        for column in ("Backend", "Vendor", "URL", "Last latency", "Failures", "Last error", "Waiting"):
            backends.add_column(column)
        for name, backend in service.config.backends.items():
            lane = service.lanes[name]
            latency = lane.last_latency_ms
            backends.add_row(plain(name), plain(backend.vendor), plain(backend.display_url),
                             "-" if latency is None else f"{latency:.0f} ms",
                             str(lane.failures), plain(lane.last_error), str(lane.waiting))
        summary = Text(f"Outbox waiting: {app.safe_count(service.waiting)}    "
                       f"Parked: {app.safe_count(service.parked_count)}    "
                       f"Journal: ", style="bold")
        summary.append_text(plain(service.journal_error or "ok"))
        scanners = scanner_table(app.scanner_stats) if app.scanner_stats else Text("No device scanners "
                                                                                    "(keyboard only).")
        self.query_one("#diagnostics-body", Static).update(Group(backends, summary, Text(""), scanners))


class ConfigScreen(LeadScreen):
    """The configuration, read-only; secrets are named (token_env), never shown."""

    def compose(self) -> ComposeResult:
        app: KioskApp = self.app  # type: ignore[assignment]
        yield Static(Text("Configuration (read-only)", style="bold"), classes="lead-title")
        with VerticalScroll():
            yield Static(config_summary(app.service.config), id="config-body")


def config_summary(config) -> Text:  # type: ignore[no-untyped-def]
    """What a lead may see of the config: no token values, no PIN hash."""
    text = Text()
    text.append("File: ", style="bold")
    text.append_text(plain(config.path))
    text.append("\nKiosk: ", style="bold")
    text.append_text(plain(f"start profile {config.kiosk.profile}, journal {config.journal_path}, "
                           f"allow_quit {config.kiosk.allow_quit}, bell {config.kiosk.bell}"))
    for name, b in config.backends.items():
        text.append("\nBackend ", style="bold")
        text.append_text(plain(f"{name}: {b.vendor} {b.display_url} timeout {b.timeout_s} s; token "))
        token_env, token_file = getattr(b, "token_env", None), getattr(b, "token_file", None)
        if token_env:
            text.append_text(plain(f"from environment variable {token_env}"))
        elif token_file:
            text.append_text(plain(f"from file {token_file}"))
        else:
            text.append("none")
    for p in config.profiles:
        text.append("\nProfile ", style="bold")
        text.append_text(plain(
            f"{p.name}: station {p.station} via {p.backend}; operator required {p.requires_operator}; "
            f"operator pattern {p.operator_pattern}; duplicate window {p.duplicate_window_s} s; "
            f"offline {p.offline}; ack barcode {p.ack_barcode}; manual entry {p.allow_manual}"))
    lead = config.lead
    text.append("\nLead: ", style="bold")
    text.append_text(plain(f"PIN {'set' if lead.pin_hash or lead.pin_hash_env else 'not set'}"
                           f"{' (hash from environment variable ' + lead.pin_hash_env + ')' if lead.pin_hash_env else ''}"
                           f"; badge pattern {lead.badge_pattern}; idle {lead.idle_s} s"))
    for s in config.scanners:
        text.append("\nScanner ", style="bold")
        text.append_text(plain(f"{s.name}: {s.kind} {s.port or s.device or s.vid_pid or ''}"))
    return text
