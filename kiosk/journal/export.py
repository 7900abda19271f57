"""Scans written out: JSON lines (exact), CSV (for people and spreadsheets), and the stats table.

JSON lines carry every value exactly (ASCII-only JSON, so no character of the data can split
a line). CSV is made safe to open in a spreadsheet: control characters become visible tokens
(``devices.text.visible``: ``<ESC>``, ``<LF>``, ``<CR>``, ``<TAB>``, ...) and a cell that a
spreadsheet could take for a formula (first character ``= + - @``, TAB or CR: the OWASP
CSV-injection rule) gets a leading single quote.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import IO, Any

from devices.text import visible
from kiosk.journal.values import SCAN_FIELDS

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Writer = Callable[[dict[str, Any]], None]
"""Writes one scan, given as ``values.row_values`` gives it (a dict by field name)."""


def writer_for(out: IO[str], fmt: str) -> Writer:
    """A function that writes one scan to ``out``; the CSV header is written at once."""
    if fmt == "jsonl":
        def write_json(scan: dict[str, Any]) -> None:
            out.write(json.dumps(json_values(scan)) + "\n")

        return write_json
    if fmt == "csv":
        rows = csv.writer(out)
        rows.writerow(SCAN_FIELDS)

        def write_csv(scan: dict[str, Any]) -> None:
            rows.writerow(csv_values(scan))

        return write_csv
    raise ValueError(f"unknown export format {fmt!r}; use 'csv' or 'jsonl'")


def json_values(scan: dict[str, Any]) -> dict[str, Any]:
    """Every value as stored (details and fields become JSON lists), ``raw`` as hex or null."""
    raw = scan["raw"]
    return {**scan, "raw": raw.hex() if raw is not None else None}


def csv_values(scan: dict[str, Any]) -> list[Any]:
    """One CSV record: details joined with " | ", fields as "Label: value | ...", request as
    JSON, raw as hex (empty where the bytes are the text); every text cell made safe."""
    values: list[Any] = []
    for name in SCAN_FIELDS:
        value = scan[name]
        if name == "details":
            value = " | ".join(value)
        elif name == "fields":
            value = " | ".join(f"{f['label']}: {f['value']}" for f in value)
        elif name == "request":
            value = json.dumps(value, ensure_ascii=False) if value is not None else None
        elif name == "raw":
            value = value.hex() if value is not None else None
        values.append(csv_cell(value))
    return values


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell a spreadsheet shows as text and never runs."""
    if value is None:
        return ""
    if not isinstance(value, str):
        return value
    if not value.isprintable():  # every character visible() replaces is unprintable: skip the slow scan
        value = visible(value)
    if value.startswith(FORMULA_STARTS):
        value = "'" + value
    return value


def format_stats(stats: dict[str, Any], period: str | None = None) -> str:
    """A readable table of ``Journal.stats()`` for the terminal; ``period`` says which scans."""
    lines = [f"Scans: {stats['total']}"]
    if period:
        lines.append(period)
    for title, table in (("Outcome", stats["by_outcome"]), ("Hour (UTC)", stats["by_hour"])):
        if not table:
            continue
        width = max(len(title), *(len(visible(str(k))) for k in table))
        count_width = max(5, *(len(str(n)) for n in table.values()))
        lines += ["", f"{title:<{width}}  {'Count':>{count_width}}", f"{'-' * width}  {'-' * count_width}"]
        lines += [f"{visible(str(key)):<{width}}  {n:>{count_width}}" for key, n in table.items()]
    return "\n".join(lines)
