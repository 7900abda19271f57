"""The journal's row type and how values go in and out of SQLite: times, text, JSON columns.

Everything here is pure (no database): ``ScanRow``, ``SCAN_FIELDS``, canonical times, and
the conversions each column needs on the way in (``*_json``, ``safe_text``) and out
(``row_values``, ``row_to_scan``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATUSES = ("received", "sending", "pending", "queued", "done", "parked", "dismissed")
OUTBOX_STATUSES = ("sending", "pending", "queued")
PRUNABLE_STATUSES = ("done", "dismissed")

# Schema v1 had one column per job-track number; v2 keeps them as display fields.
LEGACY_FIELDS = (("order_number", "Order"), ("tray_number", "Tray"), ("po_number", "PO"))
LEGACY_NAMES = frozenset(name for name, _ in LEGACY_FIELDS)


@dataclass(frozen=True)
class ScanRow:
    id: int
    ts: str  # ISO 8601 UTC with milliseconds, e.g. 2026-11-21T23:40:00.123Z
    scanner: str
    source: str  # scanner | manual
    profile: str
    station: str
    backend: str
    operator: str | None
    kind: str  # job | operator | lead | command | unknown
    action: str | None  # what the profile's station does with a job, e.g. "checkin"; None for badges
    text: str
    raw: bytes | None  # only where it differs from text.encode()
    symbology: str | None
    status: str
    outcome: str | None
    title: str | None
    details: tuple[str, ...]
    fields: tuple[dict[str, str], ...]  # the vendor's display fields: {"key", "label", "value"}
    request: dict[str, Any] | None  # the request's params as sent; None when none
    http_status: int | None
    latency_ms: float | None
    attempts: int
    next_attempt_at: float | None  # wall-clock epoch seconds
    updated_ts: str


SCAN_FIELDS = tuple(f.name for f in dataclasses.fields(ScanRow))


# -- times --------------------------------------------------------------------------------

def utc_now() -> datetime:
    return datetime.now(UTC)


def format_ts(moment: datetime) -> str:
    """``2026-11-21T23:40:00.123Z``; a naive datetime counts as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: str, what: str = "time") -> str:
    """Any ISO date/time (``2026-11-21``, ``2026-11-21T10:00``, Z or offset, naive = UTC)
    as the journal's canonical UTC text, so it compares correctly with stored ``ts``."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except (ValueError, AttributeError, TypeError):
        raise ValueError(
            f"{what} {value!r} is not an ISO date or time; "
            "use e.g. 2026-11-21, 2026-11-21T10:00 or 2026-11-21T10:00:00Z (no zone = UTC)"
        ) from None
    return format_ts(moment)


# -- values going in ----------------------------------------------------------------------

def safe_text(text: str, raw: bytes | None) -> tuple[str, bytes | None]:
    """Text SQLite can store (valid UTF-8) and the raw bytes to keep beside it.

    A scan is never refused for its text: lone surrogates (e.g. from ``surrogateescape``
    decoding) are replaced in ``text`` and the original bytes kept in ``raw``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if raw is None:
            raw = text.encode("utf-8", "surrogateescape" if _only_escapes(text) else "surrogatepass")
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text, raw


def _only_escapes(text: str) -> bool:
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def stored_raw(text: str, raw: bytes | None) -> bytes | None:
    if raw is None or bytes(raw) == text.encode("utf-8"):
        return None
    return bytes(raw)


def details_json(details: Iterable[str]) -> str:
    if isinstance(details, (str, bytes)):
        # ValueError, not TypeError: the contract callers (and tests) have relied on since v1.
        raise ValueError("details must be a sequence of strings, not a single string")  # noqa: TRY004
    return json.dumps([str(d) for d in details], ensure_ascii=False)


def fields_json(fields: Iterable[Any]) -> str:
    """Display fields as a JSON list of {"key", "label", "value"} (all text).

    Each field is a mapping with those keys or an object with those attributes (such as a
    connector's ``DisplayField``); a value of None is stored as ""."""
    if isinstance(fields, (str, bytes, Mapping)):
        raise TypeError("fields must be a sequence of display fields ({'key', 'label', 'value'}), "
                         f"not a single {type(fields).__name__}")
    out = []
    for n, field in enumerate(fields):
        item = {}
        for name in ("key", "label", "value"):
            try:
                value = field[name] if isinstance(field, Mapping) else getattr(field, name)
            except (KeyError, AttributeError):
                raise ValueError(f"fields[{n}] has no {name!r}: a display field needs key, label and value") from None
            item[name] = "" if value is None else str(value)
        out.append(item)
    return json.dumps(out, ensure_ascii=False)


def legacy_fields(order_number: str | None, tray_number: str | None, po_number: str | None) -> list[dict[str, str]]:
    """The v1 job-track numbers as display fields, only those that are not empty."""
    values = (order_number, tray_number, po_number)
    return [{"key": key, "label": label, "value": str(value)}
            for (key, label), value in zip(LEGACY_FIELDS, values, strict=True)
            if value is not None and str(value) != ""]


_ORDER_ONLY = '[{"key": "order_number", "label": "Order", "value": '


def legacy_fields_json(order_number: str | None, tray_number: str | None, po_number: str | None) -> str:
    """``fields_json(legacy_fields(...))``. It runs for every row of a v1 journal being
    migrated: the usual row (an order number only) takes a shortcut to the same text."""
    if not tray_number and not po_number:
        if order_number is None or str(order_number) == "":
            return "[]"
        return _ORDER_ONLY + json.dumps(str(order_number), ensure_ascii=False) + "}]"
    return fields_json(legacy_fields(order_number, tray_number, po_number))


def request_json(request: Mapping[str, Any] | None) -> str | None:
    """The request's params as a JSON object (None stays NULL). The params were sent as JSON,
    so they are JSON already; anything else is stored as its text rather than lose the scan."""
    if request is None:
        return None
    if not isinstance(request, Mapping):
        raise TypeError(f"request must be a mapping of the request's params or None, not {type(request).__name__}")
    return json.dumps(dict(request), ensure_ascii=False, default=str)


def check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown scan status {status!r}; expected one of {', '.join(STATUSES)}")


def column_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    """ScanRow values as stored: statuses checked, JSON columns encoded, and the v1 keywords
    ``order_number`` / ``tray_number`` / ``po_number`` turned into ``fields``."""
    values = dict(changes)
    legacy = {name: values.pop(name) for name in LEGACY_NAMES & set(values)}
    if legacy:
        if "fields" in values:
            raise ValueError("give either fields or order_number/tray_number/po_number, not both")
        values["fields"] = legacy_fields(legacy.get("order_number"), legacy.get("tray_number"),
                                         legacy.get("po_number"))
    if "status" in values:
        check_status(values["status"])
    if "details" in values:
        values["details"] = details_json(values["details"])
    if "fields" in values:
        values["fields"] = fields_json(values["fields"])
    if "request" in values:
        values["request"] = request_json(values["request"])
    return values


# -- values coming out --------------------------------------------------------------------

def row_values(row: tuple) -> dict[str, Any]:
    """A stored row as ScanRow's fields by name, JSON columns decoded."""
    values = dict(zip(SCAN_FIELDS, row, strict=True))
    values["details"] = _json_tuple(values["details"])
    values["fields"] = _json_tuple(values["fields"])
    values["request"] = json.loads(values["request"]) if values["request"] is not None else None
    return values


def row_to_scan(row: tuple) -> ScanRow:
    return ScanRow(**row_values(row))


def _json_tuple(text: str) -> tuple:
    return () if text == "[]" else tuple(json.loads(text))  # most rows: no details, no fields
