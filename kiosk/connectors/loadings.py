"""Connector for the warehouse / van-sales "Loadings" API v2.1 (vendor "loadings"): a loading dock.

One action, ``loading``: a multi-scan transaction kept as the station's action state (the
draft, journaled before each reply, so it survives a restart and a crash):

- a scan starting with ``params.reference_prefix`` (default ``"LD-"``) is a loading reference:
  it opens a draft. While a draft with items is open, another reference is refused; scanned
  twice within ``params.confirm_s`` seconds it renames the open draft (to resubmit after
  ``not_unique``).
- an item-unit barcode adds quantity 1 (or the quantity of a preceding ``CMD:QTY:<n>``) of
  its item unit. The barcode is looked up in the backend's ``item_units`` table (barcode ->
  item unit id and name; GTINs of 8, 12, 13 or 14 digits are compared as 14 digits). On a
  ``gs1`` profile the GTIN is element (01) of the scan, and a (21) serial in the same barcode
  (a serialized item's DataMatrix) attaches that serial to the item's line, one unit per scan.
- a scan starting with ``params.serial_prefix`` (if set) is a serial number id: it attaches to
  the line of the last item scanned, up to the line's quantity.
- ``CMD:UNDO`` takes back the last scan (the pending quantity first): the line it added, or
  the quantity or serial it added to a line. ``CMD:QTY:<n>`` sets the next item's quantity.
- ``CMD:SUBMIT`` sends the draft: ``POST {base_url}/api/{api_version}/loadings``, or the upsert
  ``POST .../loadings/reference/{ref}`` when ``params.upsert`` is true, with ``warehouseId``
  (``params.warehouse``), ``type`` (``params.type``: 1 loading, 2 unloading), ``reasonId``
  (``params.reason``), ``useExternalId`` (``params.use_external_id``) and one
  ``loadingDetails`` line per item unit. Success clears the draft; a refusal leaves it open.
- ``CMD:CANCEL`` asks for confirmation; a second ``CMD:CANCEL`` within ``params.confirm_s``
  (default 10 s) drops the draft. Any other scan in between keeps it.

Every step answers locally (``LocalReply``) with the draft as fields: the loading, its last
lines (``Line n``: item unit and quantity, serials), the total. ``show`` gives the same for
the station's screen.

The document's errors (``not_unique``, ``invalid_param_type``, ``quantity_not_available``,
``invalid_serial_number``, ``invalid_serial_status``, ``not_found``, ``invalid_param``) and any
other 4xx with an ``{"error", "error_description"}`` body are ``Rejected``: a title for the
code, the vendor's ``error_description``, the code and HTTP status.

Assumptions where ../shared/vendor-docs/loadings-api.txt is silent:
- No authentication: the document describes none, so the connector sends no credentials.
- The API version is one path segment (``api_version``, default ``v2.1``).
- The document has no look-up from a barcode to an item unit: the backend's ``item_units``
  table gives it (the simulator's demo item units carry their GTIN as ``barcode``). Serial
  numbers are the API's serial number ids, so a serial scan (plain or GS1 (21)) is digits.
- The API sums quantities per item unit and takes serial numbers "with only one item unit",
  so a loading sends one line per item unit, in the order first scanned.
- Submitting is not queueable offline: a dock operator must know the loading went through
  before the truck leaves, so with the API unreachable the submit is refused ("not sent") and
  the draft stays open to submit again. It is not idempotent either: a create whose answer was
  lost is parked for a lead if the kiosk died while sending it; submitting it again is safe
  (``not_unique`` tells it was created; an upsert just saves it again).
- ``probe`` GETs a loading by a reference no dock uses: the API's ``not_found`` answer proves
  the base URL and version without changing anything. The API has no station codes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from devices.text import visible
from kiosk.connectors.base import (
    Accepted,
    ActionSpec,
    Answer,
    BackendConfig,
    BadAnswer,
    ConnectorPlugin,
    DisplayField,
    LocalReply,
    Probe,
    Rejected,
    Request,
    State,
    Step,
    Unreachable,
)
from kiosk.connectors.common import exchange_failure
from kiosk.connectors.http import BoundedResponse, ExchangeError, excerpt, exchange, parse_retry_after

ACTION = "loading"
COMMANDS = frozenset({"SUBMIT", "CANCEL", "UNDO", "QTY"})
MAX_ANSWER_BYTES = 1_000_000
MAX_SCANS = 2000
MAX_QUANTITY = 99_999
"""The most one ``CMD:QTY`` sets; a line holds at most ``MAX_LINE_QUANTITY``."""
MAX_LINE_QUANTITY = 1_000_000
MAX_REFERENCE = 255
SHOWN_LINES = 6
"""The draft's most recent lines shown with each reply; the total counts them all."""
DESCRIPTION_CHARS = 300
PROBE_REFERENCE = "kiosk-probe-no-such-loading"
SERVER = "the Loadings server"

TITLES = {
    "not_unique": "Reference already used",
    "invalid_param_type": "Invalid value sent",
    "invalid_param": "Invalid request",
    "quantity_not_available": "Quantity not available",
    "invalid_serial_number": "Serial numbers do not match",
    "invalid_serial_status": "Serial number not available",
    "not_found": "Not found",
}
ADVICE = {
    "not_unique": "Scan a new loading reference twice to rename the draft, then CMD:SUBMIT again.",
}
KEEP_OPEN = "The loading is still open: correct it and scan CMD:SUBMIT again."
STORED_BEFORE = ("An earlier submit of this loading got no answer, so it was probably stored then: check it in "
                 "the Loadings system, and if it is there scan CMD:CANCEL twice to close this draft.")


# --- config ---------------------------------------------------------------------------------


class ItemUnit(BaseModel):
    """One item unit a dock can scan: the API's item unit id, and a name for the screen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int = Field(ge=1)
    name: str = ""


def barcode_key(code: str) -> str:
    """How a barcode is looked up: a GTIN (8, 12, 13 or 14 digits) as its 14-digit form."""
    code = code.strip()
    if code.isascii() and code.isdigit() and len(code) in (8, 12, 13, 14):
        return code.zfill(14)
    return code


class LoadingsConfig(BackendConfig):
    """A Loadings API backend: its address, API version and the dock's item units by barcode."""

    vendor: Literal["loadings"]
    api_version: str = "v2.1"
    """The ``VERSION`` path segment of the API's URLs."""
    item_units: dict[str, ItemUnit] = {}
    """Barcode (GTIN or the dock's own code) -> item unit, e.g.
    ``"09506000134352" = { id = 1, name = "Crate of 12 bottles" }`` or just ``= 1``."""

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", value) or value in (".", ".."):
            raise ValueError("must be one URL path segment such as v2.1")
        return value

    @field_validator("item_units", mode="before")
    @classmethod
    def _item_units(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return value
        units: dict[str, Any] = {}
        for code, unit in value.items():
            key = barcode_key(str(code))
            if not key:
                raise ValueError("a barcode cannot be empty")
            if key in units:
                raise ValueError(f"barcode {code!r} is listed twice (GTINs are compared as 14 digits)")
            units[key] = {"id": unit} if isinstance(unit, int) and not isinstance(unit, bool) else unit
        return units


@dataclass(frozen=True)
class DockSettings:
    """A dock profile's ``params``."""

    warehouse: int | str
    type: int = 1
    reason: int | None = None
    reference_prefix: str = "LD-"
    serial_prefix: str | None = None
    upsert: bool = False
    use_external_id: bool = False
    confirm_s: float = 10.0


PARAMS = ("warehouse", "type", "reason", "reference_prefix", "serial_prefix", "upsert", "use_external_id",
          "confirm_s")
DRAFT_PARAM = "loading"
"""The key under which a submit request carries the draft (reserved in a profile's params)."""


def settings(params: Mapping[str, Any]) -> DockSettings | str:
    """A profile's params as ``DockSettings``, or a message naming the key that is wrong."""
    unknown = sorted(set(params) - set(PARAMS) - {DRAFT_PARAM})
    if unknown:
        return f"params.{unknown[0]} is not a Loadings dock setting (they are: {', '.join(PARAMS)})"
    warehouse = params.get("warehouse")
    if isinstance(warehouse, bool) or not isinstance(warehouse, (int, str)) or warehouse == "":
        return "params.warehouse must be the warehouse id (or its reference with use_external_id = true)"
    found: dict[str, Any] = {"warehouse": warehouse}
    kind = params.get("type", 1)
    if kind not in (1, 2) or isinstance(kind, bool):
        return "params.type must be 1 (loading) or 2 (unloading)"
    found["type"] = kind
    reason = params.get("reason")
    if reason is not None and (isinstance(reason, bool) or not isinstance(reason, int)):
        return "params.reason must be a reason id (a whole number)"
    found["reason"] = reason
    for key in ("reference_prefix", "serial_prefix"):
        value = params.get(key)
        if value is not None:
            if not isinstance(value, str) or not value:
                return f"params.{key} must be a non-empty text"
            found[key] = value
    for key in ("upsert", "use_external_id"):
        value = params.get(key, False)
        if not isinstance(value, bool):
            return f"params.{key} must be true or false"
        found[key] = value
    confirm = params.get("confirm_s", 10.0)
    if isinstance(confirm, bool) or not isinstance(confirm, (int, float)) or not 0 < confirm <= 300:
        return "params.confirm_s must be a number of seconds from 1 to 300"
    found["confirm_s"] = float(confirm)
    result = DockSettings(**found)
    if result.serial_prefix is not None and (result.serial_prefix.startswith(result.reference_prefix)
                                             or result.reference_prefix.startswith(result.serial_prefix)):
        return "params.serial_prefix and params.reference_prefix must not start alike"
    return result


# --- the draft ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    """One scan's addition to the draft: ``qty`` units of an item unit and/or one serial."""

    unit: int
    name: str
    qty: int
    serial: int | None = None


@dataclass(frozen=True)
class Line:
    unit: int
    name: str
    qty: int
    serials: tuple[int, ...]

    def label(self) -> str:
        return self.name or f"item unit {self.unit}"

    def shown(self) -> str:
        text = f"{self.label()} × {self.qty}"
        return text + (f"  serials {', '.join(map(str, self.serials))}" if self.serials else "")


@dataclass(frozen=True)
class Confirm:
    """A step that waits for its confirmation: drop the draft, or give it another reference."""

    what: Literal["cancel", "rename"]
    at: float
    reference: str = ""


@dataclass(frozen=True)
class Draft:
    reference: str
    scans: tuple[Added, ...] = ()
    next_qty: int | None = None
    confirm: Confirm | None = None
    rev: int = 0
    """Counts changes: a submit's answer only settles the draft it was made from."""
    sent_at: float | None = None
    """When a submit of this draft left whose answer is not known (in flight, lost, or the
    kiosk stopped); kept through later changes, cleared by a known answer or a rename."""

    def lines(self) -> list[Line]:
        order: list[int] = []
        qty: dict[int, int] = {}
        names: dict[int, str] = {}
        serials: dict[int, list[int]] = {}
        for added in self.scans:
            if added.unit not in qty:
                order.append(added.unit)
                qty[added.unit], names[added.unit], serials[added.unit] = 0, added.name, []
            qty[added.unit] += added.qty
            if added.serial is not None:
                serials[added.unit].append(added.serial)
        return [Line(u, names[u], qty[u], tuple(serials[u])) for u in order]

    def serials(self) -> set[int]:
        return {a.serial for a in self.scans if a.serial is not None}

    def changed(self, **changes: Any) -> Draft:
        return replace(self, rev=self.rev + 1, confirm=None, **changes)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"reference": self.reference, "rev": self.rev,
                                "scans": [{"unit": a.unit, "name": a.name, "qty": a.qty, "serial": a.serial}
                                          for a in self.scans]}
        if self.next_qty is not None:
            data["next_qty"] = self.next_qty
        if self.confirm is not None:
            data["confirm"] = {"what": self.confirm.what, "at": self.confirm.at, "reference": self.confirm.reference}
        if self.sent_at is not None:
            data["sent_at"] = self.sent_at
        return data

    @classmethod
    def from_json(cls, data: Any) -> Draft:
        """The draft as journaled; ``ValueError`` when it is not one."""
        try:
            scans = tuple(Added(int(s["unit"]), str(s["name"]), int(s["qty"]),
                                None if s.get("serial") is None else int(s["serial"])) for s in data["scans"])
            confirm = data.get("confirm")
            return cls(reference=str(data["reference"]), scans=scans,
                       next_qty=None if data.get("next_qty") is None else int(data["next_qty"]),
                       confirm=Confirm(confirm["what"], float(confirm["at"]), str(confirm.get("reference", "")))
                       if confirm else None,
                       rev=int(data.get("rev", 0)),
                       sent_at=None if data.get("sent_at") is None else float(data["sent_at"]))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"the saved loading draft cannot be read ({type(exc).__name__}: {exc})") from None


def draft_of(state: State) -> Draft | None:
    data = state.get("draft")
    return None if data is None else Draft.from_json(data)


def _with(state: State, draft: Draft | None) -> dict[str, Any]:
    new = {key: value for key, value in state.items() if key != "draft"}
    if draft is not None:
        new["draft"] = draft.as_json()
    return new


def draft_fields(draft: Draft) -> tuple[DisplayField, ...]:
    """The draft for the screen: a question waiting for its answer first, then the loading, its
    most recent lines and the total."""
    lines = draft.lines()
    fields = []
    if draft.confirm is not None and draft.confirm.what == "cancel":
        fields.append(DisplayField("confirm", "Cancel", "scan CMD:CANCEL again to drop it"))
    elif draft.confirm is not None:
        fields.append(DisplayField("confirm", "Rename", f"scan {draft.confirm.reference} again to rename it"))
    fields.append(DisplayField("loading", "Loading", draft.reference))
    if len(lines) > SHOWN_LINES:
        fields.append(DisplayField("earlier", "", f"{len(lines) - SHOWN_LINES} earlier lines"))
    start = max(0, len(lines) - SHOWN_LINES)
    for number, line in enumerate(lines[start:], start + 1):
        fields.append(DisplayField(f"line{number}", f"Line {number}", line.shown()))
    fields.append(DisplayField("total", "Total", _total(sum(line.qty for line in lines), len(lines))))
    if draft.next_qty is not None:
        fields.append(DisplayField("next_qty", "Next item", f"quantity {draft.next_qty}"))
    if draft.sent_at is not None:
        fields.append(DisplayField("sent", "Submitted", "no answer known yet"))
    return tuple(fields)


def show(state: State) -> tuple[DisplayField, ...]:
    """What the station's screen shows: the open draft, or the last loading sent."""
    try:
        draft = draft_of(state)
    except ValueError as exc:
        return (DisplayField("loading", "Loading", str(exc)),)
    if draft is not None:
        return draft_fields(draft)
    fields = [DisplayField("loading", "Loading", "none open: scan a loading reference")]
    last = state.get("last")
    if isinstance(last, Mapping):
        fields.append(DisplayField("last", "Last sent", f"{last.get('reference')}: {last.get('title')}"))
    return tuple(fields)


# --- a scan, step by step -------------------------------------------------------------------


def _count(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _total(units: int, lines: int) -> str:
    return f"{_count(units, 'unit')} in {_count(lines, 'line')}" if lines else "no items yet"


def _reply(outcome: Literal["ok", "ignored", "denied"], title: str, *details: str,
           draft: Draft | None = None) -> LocalReply:
    return LocalReply(outcome, title, tuple(details), draft_fields(draft) if draft else ())


def _digits(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def step(units: Mapping[str, ItemUnit], state: State, request: Request, now: float) -> Step:
    """One scan at the dock (pure): the new state, and a local reply or the submit request."""
    found = settings(request.params)
    if isinstance(found, str):
        return Step(state, reply=_reply("denied", "Dock set up wrong", found, "Ask a lead to correct the profile."))
    if DRAFT_PARAM in request.params:
        return Step(state, reply=_reply("denied", "Dock set up wrong", f"params.{DRAFT_PARAM} is reserved."))
    try:
        draft = draft_of(state)
    except ValueError as exc:
        if request.command == "CANCEL":
            return Step(_with(state, None), reply=_reply("ok", "Loading dropped", str(exc)))
        return Step(state, reply=_reply("denied", "Loading cannot be read", str(exc),
                                        "Scan CMD:CANCEL to drop it."))
    dock = _Dock(found, units, now)
    draft_after, result = dock.step(draft, request)
    if isinstance(result, Request):
        return Step(_with(state, draft_after), request=result)
    return Step(_with(state, draft_after), reply=result)


@dataclass
class _Dock:
    settings: DockSettings
    units: Mapping[str, ItemUnit]
    now: float

    def step(self, draft: Draft | None, request: Request) -> tuple[Draft | None, LocalReply | Request]:
        command = request.command
        if command == "CANCEL":
            return self.cancel(draft)
        pending = draft.confirm if draft is not None else None
        if draft is not None and pending is not None:
            draft = replace(draft, confirm=None)  # any other scan keeps the draft as it is
        text = request.identifier
        if command is None and text.startswith(self.settings.reference_prefix) and "01" not in request.gs1:
            return self.open(draft, text, pending)
        if draft is None:
            what = "CMD:" + command if command else "an item"
            start = self.settings.reference_prefix
            return None, _reply("denied", "No loading open", f"Scan a loading reference ({start}…) before {what}.")
        if command == "SUBMIT":
            return self.submit(draft, request)
        if command == "UNDO":
            return self.undo(draft)
        if command == "QTY":
            return self.quantity(draft, request.argument or "")
        if command is not None:
            return draft, _reply("ignored", "Unknown command", f"CMD:{command} does nothing at a dock.", draft=draft)
        prefix = self.settings.serial_prefix
        if prefix is not None and text.startswith(prefix) and "01" not in request.gs1:
            return self.serial(draft, text[len(prefix):])
        return self.item(draft, request)

    # -- references ----------------------------------------------------------------------

    def open(self, draft: Draft | None, reference: str, pending: Confirm | None) -> tuple[Draft | None, LocalReply]:
        problem = _bad_reference(reference)
        if problem:
            return draft, _reply("denied", "Not a loading reference", problem, draft=draft)
        if draft is not None and reference == draft.reference:
            return draft, _reply("ok", f"Loading {reference} is open", draft=draft)
        if draft is None or not draft.scans:
            opened = Draft(reference)
            notes = [f"{draft.reference} had no items and was dropped."] if draft is not None else []
            return opened, _reply("ok", f"Loading {reference} opened", *notes, "Scan the items, then CMD:SUBMIT.",
                                  draft=opened)
        confirmed = pending is not None and pending.what == "rename" and pending.reference == reference
        if confirmed and pending is not None and self._in_time(pending):
            renamed = draft.changed(reference=reference, sent_at=None)
            return renamed, _reply("ok", f"Loading {draft.reference} is now {reference}",
                                   "Scan CMD:SUBMIT to send it under the new reference.", draft=renamed)
        waiting = replace(draft, confirm=Confirm("rename", self.now, reference))
        lines = len(draft.lines())
        return waiting, _reply("denied", f"Loading {draft.reference} is still open",
                               f"It has {_count(lines, 'line')}: CMD:SUBMIT sends it, CMD:CANCEL twice drops it.",
                               f"Scan {reference} again within {self.settings.confirm_s:g} s to give the open loading "
                               "this reference instead.", draft=waiting)

    def _in_time(self, confirm: Confirm) -> bool:
        return 0 <= self.now - confirm.at <= self.settings.confirm_s

    # -- items and serials ---------------------------------------------------------------

    def item(self, draft: Draft, request: Request) -> tuple[Draft, LocalReply]:
        code = request.gs1.get("01") or request.identifier
        unit = self.units.get(barcode_key(code))
        if unit is None:
            return draft, _reply("denied", "Unknown item barcode", f"{code} is not one of this dock's item units.",
                                 "Ask a lead to add it to the backend's item_units.", draft=draft)
        serial: int | None = None
        if "21" in request.gs1:
            serial = _digits(request.gs1["21"])
            if serial is None:
                return draft, _reply("denied", "Not a serial number id",
                                     f"Serial {request.gs1['21']} is not a serial number id (digits).", draft=draft)
            if serial in draft.serials():
                return draft, _reply("denied", "Serial number already scanned",
                                     f"Serial number {serial} is already in loading {draft.reference}.", draft=draft)
        qty = draft.next_qty or 1
        notes = []
        if serial is not None and qty != 1:
            notes.append(f"Quantity {qty} not used: an item with a serial number counts 1 per scan.")
            qty = 1
        if len(draft.scans) >= MAX_SCANS:
            return draft, _reply("denied", "Loading is full", f"A loading takes at most {MAX_SCANS} scans: "
                                 "submit this one and open another.", draft=draft)
        line = next((line for line in draft.lines() if line.unit == unit.id), None)
        if line is not None and line.qty + qty > MAX_LINE_QUANTITY:
            return draft, _reply("denied", "Quantity too large", f"A line holds at most {MAX_LINE_QUANTITY} units.",
                                 draft=draft)
        added = Added(unit.id, unit.name, qty, serial)
        after = draft.changed(scans=draft.scans + (added,), next_qty=None)
        name = unit.name or f"item unit {unit.id}"
        title = f"{name} +{qty}" + (f" (serial {serial})" if serial is not None else "")
        return after, _reply("ok", title, *notes, draft=after)

    def serial(self, draft: Draft, text: str) -> tuple[Draft, LocalReply]:
        serial = _digits(text)
        if serial is None:
            return draft, _reply("denied", "Not a serial number id",
                                 f"{text} is not a serial number id (digits after {self.settings.serial_prefix}).",
                                 draft=draft)
        last = next((a for a in reversed(draft.scans) if a.qty > 0), None)
        if last is None:
            return draft, _reply("denied", "Scan the item first", "A serial number attaches to the item scanned "
                                 "before it.", draft=draft)
        if serial in draft.serials():
            return draft, _reply("denied", "Serial number already scanned",
                                 f"Serial number {serial} is already in loading {draft.reference}.", draft=draft)
        line = next(line for line in draft.lines() if line.unit == last.unit)
        if len(line.serials) >= line.qty:
            return draft, _reply("denied", "Too many serial numbers",
                                 f"{line.label()} has {_count(line.qty, 'unit')} and already "
                                 f"{_count(len(line.serials), 'serial number')}.",
                                 "Scan CMD:QTY:<n> and the item to add units first.", draft=draft)
        after = draft.changed(scans=draft.scans + (Added(last.unit, last.name, 0, serial),))
        return after, _reply("ok", f"Serial {serial} added", f"To {line.label()}.", draft=after)

    def quantity(self, draft: Draft, argument: str) -> tuple[Draft, LocalReply]:
        qty = _digits(argument.strip())
        if qty is None or not 1 <= qty <= MAX_QUANTITY:
            return draft, _reply("denied", "Not a quantity",
                                 f"CMD:QTY:<n> takes a whole number from 1 to {MAX_QUANTITY}.", draft=draft)
        after = draft.changed(next_qty=qty)
        return after, _reply("ok", f"Quantity {qty} for the next item", "Scan the item now.", draft=after)

    def undo(self, draft: Draft) -> tuple[Draft, LocalReply]:
        if draft.next_qty is not None:
            after = draft.changed(next_qty=None)
            return after, _reply("ok", f"Undone: quantity {draft.next_qty}", draft=after)
        if not draft.scans:
            return draft, _reply("ignored", "Nothing to undo", f"Loading {draft.reference} has no items yet.",
                                 draft=draft)
        last = draft.scans[-1]
        after = draft.changed(scans=draft.scans[:-1])
        name = last.name or f"item unit {last.unit}"
        if last.qty == 0:
            title = f"Undone: serial {last.serial}"
        else:
            title = f"Undone: {name} +{last.qty}" + (f" (serial {last.serial})" if last.serial is not None else "")
        return after, _reply("ok", title, draft=after)

    # -- submit and cancel ---------------------------------------------------------------

    def submit(self, draft: Draft, request: Request) -> tuple[Draft, LocalReply | Request]:
        if draft.next_qty is not None:
            return draft, _reply("denied", f"Quantity {draft.next_qty} waits for an item",
                                 "Scan the item, or CMD:UNDO to drop the quantity, then CMD:SUBMIT.", draft=draft)
        lines = draft.lines()
        if not lines:
            return draft, _reply("denied", f"Loading {draft.reference} has no items", "Scan the items first.",
                                 draft=draft)
        details = []
        for line in lines:
            detail: dict[str, Any] = {"itemUnitId": line.unit, "quantity": line.qty}
            if line.serials:
                detail["serialNumbers"] = list(line.serials)
            details.append(detail)
        sent = {"rev": draft.rev, "again": draft.sent_at is not None, "loadingDetails": details}
        submit = Request(action=request.action, station=request.station, identifier=draft.reference,
                         operator=request.operator, profile=request.profile, command="SUBMIT",
                         params={**request.params, DRAFT_PARAM: sent})
        return replace(draft, sent_at=draft.sent_at or self.now), submit

    def cancel(self, draft: Draft | None) -> tuple[Draft | None, LocalReply]:
        if draft is None:
            return None, _reply("ignored", "No loading open", "There is nothing to cancel.")
        confirm = draft.confirm
        if confirm is not None and confirm.what == "cancel" and self._in_time(confirm):
            units = sum(line.qty for line in draft.lines())
            return None, _reply("ok", f"Loading {draft.reference} dropped", f"{_count(units, 'unit')} not sent.")
        waiting = replace(draft, confirm=Confirm("cancel", self.now))
        return waiting, _reply("denied", f"Drop loading {draft.reference}?",
                               f"Scan CMD:CANCEL again within {self.settings.confirm_s:g} s to drop the draft.",
                               "Any other scan keeps it.", draft=waiting)


def _bad_reference(reference: str) -> str:
    if len(reference) > MAX_REFERENCE:
        return f"A loading reference has at most {MAX_REFERENCE} characters."
    if reference != visible(reference) or reference.strip() != reference or reference in (".", ".."):
        return "A loading reference is printable text without control characters or surrounding spaces."
    return ""


def settle(state: State, request: Request, answer: Answer, now: float) -> State:
    """After a submit's answer: success clears the draft it was made from; anything else
    leaves the draft open to correct and submit again."""
    if request.command != "SUBMIT":
        return state
    try:
        draft = draft_of(state)
    except ValueError:
        draft = None
    sent = request.params.get(DRAFT_PARAM)
    same = (draft is not None and draft.reference == request.identifier and isinstance(sent, Mapping)
            and sent.get("rev") == draft.rev)
    if isinstance(answer, Accepted):
        new = _with(state, None if same else draft)
        new["last"] = {"reference": request.identifier, "title": answer.title, "at": now}
        return new
    unknown = (isinstance(answer, Unreachable) and answer.sent) or (isinstance(answer, BadAnswer) and answer.unknown)
    stored_before = (isinstance(answer, Rejected) and answer.details[-1:] == (STORED_BEFORE,))
    if same and draft is not None and not unknown and not stored_before:
        return _with(state, replace(draft, sent_at=None))
    return state


# --- answers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded(Accepted):
    """The API stored the loading: what it answered."""

    title: str = "Loading created"
    reference: str = ""
    loading_id: str = ""
    warehouse: str = ""
    kind: str = ""
    lines: int = 0
    units: int = 0
    http_status: int = 201

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        shown = (("loading", "Loading", self.reference), ("loading_id", "Id", self.loading_id),
                 ("warehouse", "Warehouse", self.warehouse), ("type", "Type", self.kind),
                 ("total", "Total", _total(self.units, self.lines)))
        return tuple(DisplayField(key, label, value) for key, label, value in shown if value)


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else str(value)


def _json(body: bytes) -> tuple[bool, Any]:
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False, None


def _loaded(data: Mapping[str, Any], status: int, upsert: bool) -> Loaded:
    details = data.get("loadingDetails")
    details = [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []
    units = sum(d["quantity"] for d in details if isinstance(d.get("quantity"), int))
    kind = {"1": "loading", "2": "unloading"}.get(_text(data.get("type")), _text(data.get("type")))
    title = "Loading updated" if status == 200 and upsert else "Loading created"
    return Loaded(title=title, reference=_text(data.get("reference")), loading_id=_text(data.get("id")),
                  warehouse=_text(data.get("warehouseReference")), kind=kind, lines=len(details), units=units,
                  http_status=status)


def _refusal(data: Any, status: int, again: bool = False) -> Rejected | None:
    """The API's ``{"error", "error_description"}`` as ``Rejected``; None for another shape.
    ``again``: an earlier submit of the same draft got no answer."""
    if not isinstance(data, Mapping) or not isinstance(data.get("error"), str):
        return None
    code = data["error"]
    description = _text(data.get("error_description"))
    if len(description) > DESCRIPTION_CHARS:
        description = description[:DESCRIPTION_CHARS] + "…"
    advice = STORED_BEFORE if again and code == "not_unique" else ADVICE.get(code, KEEP_OPEN)
    details = tuple(d for d in (description, f"{code} (HTTP {status})", advice) if d)
    return Rejected(title=TITLES.get(code, code[:60] or "Refused"), details=details, http_status=status)


def interpret(answer: BoundedResponse, upsert: bool, again: bool = False) -> Answer:
    """A create or upsert answer as an ``Answer`` (``again``: see ``_refusal``)."""
    status = answer.status
    is_json, data = _json(answer.content)
    if 200 <= status < 300:
        if isinstance(data, Mapping):
            return _loaded(data, status, upsert)
        what = "JSON that is not a loading" if is_json else "no JSON"
        return _bad(answer, f"{SERVER} answered HTTP {status} with {what}; the loading may have been stored",
                    unknown=True)
    if 400 <= status < 500 and status != 429:
        refusal = _refusal(data, status, again)
        if refusal is not None:
            return refusal
    return _bad(answer, f"{SERVER} answered HTTP {status} {answer.reason}".rstrip())


def _bad(answer: BoundedResponse, message: str, *, unknown: bool = False) -> BadAnswer:
    shown = excerpt(answer.content)
    return BadAnswer(message=f"{message}: {shown}" if shown else f"{message} (empty body)",
                     http_status=answer.status, excerpt=shown, unknown=unknown,
                     retry_after_s=parse_retry_after(answer.headers.get("Retry-After")))


# --- the connector --------------------------------------------------------------------------


def _actions(units: Mapping[str, ItemUnit]) -> dict[str, ActionSpec]:
    spec = ActionSpec(ACTION, verb="submitted", queueable=False, idempotent=False, commands=COMMANDS,
                      step=partial(step, units), settle=settle, show=show)
    return {ACTION: spec}


ACTIONS = _actions({})
"""The plug-in's actions (names and flags); a connector's own bind its backend's item units."""


class LoadingsConnector:
    """Submit dock loadings to the Loadings API; see the module docstring for the assumptions."""

    vendor = "loadings"

    def __init__(self, name: str, backend: LoadingsConfig, *,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.name = name
        self.backend = backend
        self.actions: Mapping[str, ActionSpec] = _actions(backend.item_units)
        self._where = backend.display_url
        self._api = f"{backend.base_url}/api/{backend.api_version}/loadings"
        self._client = httpx.AsyncClient(headers={"Accept": "application/json", "User-Agent": "kiosk-loadings"},
                                         timeout=httpx.Timeout(backend.timeout_s), transport=transport)

    def __repr__(self) -> str:
        return f"LoadingsConnector(name={self.name!r}, base_url={self._where!r})"

    def url(self, reference: str | None = None) -> str:
        """The loadings URL; with a reference, that loading's (one percent-encoded segment)."""
        return self._api if reference is None else f"{self._api}/reference/{quote(reference, safe='')}"

    async def perform(self, request: Request) -> Answer:
        if request.action != ACTION or request.command != "SUBMIT":
            return BadAnswer(f"the Loadings connector sends only CMD:SUBMIT of a loading, not {request.command!r}")
        dock = settings(request.params)
        draft = request.params.get(DRAFT_PARAM)
        if isinstance(dock, str) or not isinstance(draft, Mapping) or not draft.get("loadingDetails"):
            why = dock if isinstance(dock, str) else "the request carries no loading lines"
            return BadAnswer(f"This loading cannot be sent: {why}")
        body: dict[str, Any] = {"reference": request.identifier, "warehouseId": dock.warehouse, "type": dock.type}
        if dock.reason is not None:
            body["reasonId"] = dock.reason
        if dock.use_external_id:
            body["useExternalId"] = True
        body["loadingDetails"] = list(draft["loadingDetails"])
        url = self.url(request.identifier if dock.upsert else None)
        answer = await self._exchange(self._client.build_request("POST", url, json=body))
        if isinstance(answer, (Unreachable, BadAnswer)):
            return answer
        return interpret(answer, dock.upsert, draft.get("again") is True)

    async def probe(self, station: str | None = None) -> Probe:
        """GET a loading by a reference no dock uses: ``not_found`` from the API proves the base
        URL and API version; nothing changes. The API has no station codes to check."""
        started = time.perf_counter()
        extra = {"base_url": self._where, "api_version": self.backend.api_version}
        answer = await self._exchange(self._client.build_request("GET", self.url(PROBE_REFERENCE)))
        latency_ms = (time.perf_counter() - started) * 1000
        if isinstance(answer, Unreachable):
            return Probe(ok=False, message=answer.message, extra=extra, problem="unreachable")
        if isinstance(answer, BadAnswer):
            return Probe(ok=False, message=answer.message, extra=extra, problem="answer")
        said = f"{self._where} answered HTTP {answer.status} {answer.reason}".rstrip()
        body = excerpt(answer.content) or "(empty body)"
        is_json, data = _json(answer.content)
        refusal = _refusal(data, answer.status) if is_json else None
        if (answer.status == 404 and refusal is not None) or answer.status == 200:
            return Probe(ok=True, message=f"the Loadings API {self.backend.api_version} answers at {self._where} "
                         f"({latency_ms:.0f} ms); it has no station codes to check", http_status=answer.status,
                         latency_ms=latency_ms, extra=extra)
        if answer.status in (401, 403):
            problem: Literal["token", "base_url", "server", "answer"] = "token"
            message = f"access refused: {said} (the document describes no authentication)"
        elif answer.status == 404:
            problem, message = "base_url", f"wrong base_url or api_version: {said} for {self.url(PROBE_REFERENCE)}"
        elif answer.status >= 500 or answer.status == 429:
            problem, message = "server", f"server problem: {said}: {body}"
        else:
            problem, message = "answer", f"{said}, not like the Loadings API: {body}"
        return Probe(ok=False, message=message, http_status=answer.status, latency_ms=latency_ms, extra=extra,
                     problem=problem)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _exchange(self, request: httpx.Request) -> BoundedResponse | Unreachable | BadAnswer:
        """Every HTTP call of this connector: ``kiosk.connectors.http.exchange`` with ``timeout_s``
        as the whole-exchange deadline and at most ``MAX_ANSWER_BYTES`` of (decompressed) answer."""
        try:
            return await exchange(self._client, request, deadline_s=self.backend.timeout_s,
                                  max_bytes=MAX_ANSWER_BYTES)
        except ExchangeError as exc:
            return exchange_failure(exc, server=SERVER, where=self._where, timeout_s=self.backend.timeout_s,
                                    may="the loading may or may not have been stored")


def _build(name: str, config: LoadingsConfig, *, base_dir: Path | None = None,
           transport: httpx.AsyncBaseTransport | None = None) -> LoadingsConnector:
    return LoadingsConnector(name, config, transport=transport)


PLUGIN = ConnectorPlugin(vendor="loadings", config_model=LoadingsConfig, factory=_build, actions=ACTIONS,
                         description="Loadings API v2.1: a dock builds a loading from scans "
                                     "(POST /api/{VERSION}/loadings)")
