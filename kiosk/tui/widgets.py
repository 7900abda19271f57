"""The main screen's parts: station bar, result panel, scan history, counters, health line.

Every scanned or vendor value goes through ``plain()``: a rich ``Text`` of the visible
form of the value, so markup-like or control characters show literally and never act.
Widgets only show what the service reports; the app decides when to update them.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from devices.text import visible, visible_bytes
from kiosk.connectors.base import DisplayField
from kiosk.journal import JournalError
from kiosk.outcomes import STYLES, counter_totals, style
from kiosk.results import ScanResult
from kiosk.tui.bigtext import BigText

HISTORY_ROWS = 50


def plain(value: object, style: str = "") -> Text:
    """Data as a Text that shows exactly what it holds (controls as tokens, no markup)."""
    return Text("" if value is None else visible(str(value), keep_newlines=True), style=style)


def local_time(ts: str) -> str:
    """``HH:MM:SS`` local time of an ISO UTC stamp; the stamp itself when it does not parse."""
    try:
        return datetime.fromisoformat(ts).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return ts


def safe_count(count: Callable[[], int]) -> int:
    """A count read from the journal for a status line; 0 when the read fails (the journal's
    own error screen says why), so a failing read never takes the screen down."""
    try:
        return count()
    except (sqlite3.Error, JournalError, OSError):
        return 0


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class StationBar(Static):
    """Station code and description, active profile, operator and how long they are logged in."""

    def show(self, *, station: str, description: str, profile: str, operator: str | None,
             logged_in_s: float | None, lead: bool, state: Iterable[DisplayField] = ()) -> None:
        """``state``: what the station's action keeps (machine stopped since ..., a loading's
        draft), one line under the station."""
        text = Text()
        text.append_text(plain(station, "bold reverse"))
        text.append("  ")
        text.append_text(plain(description, "bold"))
        text.append("   profile ")
        text.append_text(plain(profile, "bold"))
        text.append("   ")
        if operator is None:
            text.append("no operator", style="italic")
        else:
            text.append("operator ")
            text.append_text(plain(operator, "bold"))
            text.append(f" ({duration(logged_in_s or 0)})")
        if lead:
            text.append("   LEAD MODE", style="bold reverse")
        shown = [f for f in state if f.value]
        if shown:
            text.append("\n")
            for f in shown:
                if f.label:
                    text.append(f"{f.label} ", style="dim")
                text.append_text(plain(f.value, "bold"))
                text.append("   ")
        self.update(text)


class ResultPanel(Vertical):
    """The last result: the facts in full and, in what room is left, a headline in block letters."""

    OUTCOME_CLASSES = ("-idle", *dict.fromkeys(look.css for look in STYLES.values()))

    def compose(self) -> ComposeResult:
        yield BigText("READY", id="result-headline")
        yield Static(id="result-facts")

    def on_mount(self) -> None:
        self.add_class("-idle")
        self.query_one("#result-facts", Static).update(Text("Scan a tray or order barcode."))

    @property
    def style_name(self) -> str:
        return next((c for c in self.OUTCOME_CLASSES if self.has_class(c)), "-idle")

    @property
    def headline(self) -> str:
        return self.query_one("#result-headline", BigText).text

    @property
    def facts(self) -> str:
        return str(self.query_one("#result-facts", Static).content)

    def show(self, style: str, headline: str, facts: Text) -> None:
        self.remove_class(*self.OUTCOME_CLASSES)
        self.add_class(style)
        self.query_one("#result-headline", BigText).update(headline)
        self.query_one("#result-facts", Static).update(facts)


def result_facts(result: ScanResult, station_desc: str = "", *, skip_details: int = 0) -> Text:
    """The lines under a headline: the vendor's labelled fields, station, time, what was
    scanned, then the details (without the first ``skip_details`` lines)."""
    text = Text()
    shown = [f for f in result.fields if f.key not in ("station", "station_desc", "status_time")]
    for f in shown:
        text.append(f"{f.label} ", style="dim")
        text.append_text(plain(f.value, "bold"))
        text.append("    ")
    if result.outcome == "ok":
        text.append("Station ", style="dim")
        text.append_text(plain(result.station, "bold"))
        desc = result.station_desc or station_desc
        if desc:
            text.append(" ")
            text.append_text(plain(desc))
        text.append("    ")
    text.append(local_time(result.ts), style="bold")
    if result.scan:
        text.append("\nScanned ", style="dim")
        text.append_text(plain(result.scan, "bold"))
    for line in result.details[skip_details:]:
        text.append("\n")
        text.append_text(plain(line))
    return text


def history_message(result: ScanResult) -> Text:
    text = plain(result.title, "bold")
    if result.details:
        text.append("  ")
        text.append_text(plain(" / ".join(result.details)))
    return text


class ScanHistory(Static):
    """Recent results, newest first: time, scan, order/tray, message, status mark.

    Display only, rendered as padded lines with fixed column widths and only as many rows
    as fit: a DataTable, or a rich Table measuring its columns, cost the screen tens of
    milliseconds on every scan.
    """

    HEADER = ("Time", "Scan", "Order / tray", "Message")
    WIDTHS = (10, 22, 22)
    """Time, scan and order/tray columns; the message takes the rest, the mark 2."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.results: deque[ScanResult] = deque(maxlen=HISTORY_ROWS)

    @property
    def row_count(self) -> int:
        return len(self.results)

    def on_mount(self) -> None:
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def add_result(self, result: ScanResult) -> None:
        self.results.appendleft(result)
        self._draw()

    def _draw(self) -> None:
        width = max(self.size.width, 60)
        rows = max(self.size.height - 1, 1) if self.size.height else HISTORY_ROWS
        message_width = max(width - sum(self.WIDTHS) - 3, 10)
        lines = [self._line([Text(h, style="bold") for h in self.HEADER], Text(""), message_width)]
        for r in list(self.results)[:rows]:
            order = " / ".join(v for v in (r.order_number, r.tray_number) if v)
            look = style(r.outcome)
            mark = Text(look.mark, style=f"bold {look.rich}")
            lines.append(self._line([plain(local_time(r.ts)), plain(r.scan, "bold"), plain(order),
                                     history_message(r)], mark, message_width))
        self.update(Text("\n").join(lines))

    def _line(self, cells: list[Text], mark: Text, message_width: int) -> Text:
        line = Text()
        for cell, cell_width in zip(cells, (*self.WIDTHS, message_width), strict=True):
            cell = cell.copy()
            cell.truncate(cell_width - 1, overflow="ellipsis", pad=True)
            line.append_text(cell)
            line.append(" ")
        line.append_text(mark)
        return line


class SessionCounters(Static):
    """Session counts and the outbox: ok, rejected, queued, errors, duplicates, waiting, parked.
    When one line is too narrow, the outbox goes on a second line of its own."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._shown: tuple[Mapping[str, int], int, int] = ({}, 0, 0)

    def on_resize(self) -> None:
        self.show(*self._shown)

    def show(self, counts: Mapping[str, int], waiting: int, parked: int) -> None:
        self._shown = (counts, waiting, parked)
        text = Text()
        colours = {look.counter: look.rich for look in STYLES.values() if look.counter}
        for label, n in counter_totals(dict(counts)).items():
            if label == "unreadable" and not n:
                continue
            if text:
                text.append("  ")
            text.append(f"{label} ")
            text.append(str(n), style=f"bold {colours[label]}")
        outbox = Text(f"{waiting} waiting to send", style="bold yellow" if waiting else "")
        outbox.append("  ")
        outbox.append(f"{parked} parked", style="bold red" if parked else "")
        fits = not self.size.width or text.cell_len + 2 + outbox.cell_len <= self.size.width
        self.update(text + Text("  " if fits else "\n") + outbox)


class KeyHints(Static):
    """The keys a station has (F2, F3) and, while someone types, what they typed so far."""

    KEYS = "F2 lead   F3 diagnostics"

    def on_mount(self) -> None:
        self.show("")

    def show(self, typing: str) -> None:
        text = Text(self.KEYS)
        if typing:
            text.append("   typing: ", style="dim")
            text.append_text(plain(typing, "bold"))
        self.update(text)


class HealthLine(Static):
    """Scanners and backends at a glance: ready / offline with the last error."""

    def show(self, scanners: Iterable[tuple[str, str]], backends: Iterable[tuple[str, int, str]]) -> None:
        text = Text()
        text.append("Scanners: ", style="bold")
        for name, state in scanners:
            good = state in ("ready", "connected")
            text.append_text(plain(name))
            text.append(f" {state}  ", style="green" if good else "bold red")
        text.append("  Backend: ", style="bold")
        for name, failures, last_error in backends:
            text.append_text(plain(name))
            if failures:
                text.append(f" OFFLINE ({failures} failed", style="bold red")
                if last_error:
                    text.append(": ", style="bold red")
                    text.append_text(plain(last_error, "bold red"))
                text.append(")  ", style="bold red")
            else:
                text.append(" online  ", style="green")
        self.update(text)


def scanner_table(stats: Mapping[str, object]) -> Table:
    """Each scanner's ``ScannerStats``: state, reconnects, frames, errors, last frame raw and escaped."""
    table = Table(expand=True, title="Scanners", title_justify="left")
    for column in ("Scanner", "State", "Reconnects", "Frames", "Errors", "Last frame (hex)", "Last frame",
                   "Last error"):
        table.add_column(column)
    for name, s in stats.items():
        raw: bytes = getattr(s, "last_raw", b"") or b""
        table.add_row(plain(name), plain(getattr(s, "state", "?")), str(getattr(s, "reconnects", 0)),
                      str(getattr(s, "frames", 0)), str(getattr(s, "errors", 0)), Text(raw.hex(" ")),
                      Text(visible_bytes(raw)), plain(getattr(s, "last_error", "")))
    return table
