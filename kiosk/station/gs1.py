"""GS1 barcodes read properly: element strings, check digits and expiry, checked at the station.

Pure: no I/O. ``parse_gs1(text, symbology, today=...)`` interprets a scan with the ``biip``
library and returns either ``Gs1Data`` (the elements, their labelled display fields and the
values by Application Identifier) or a ``Gs1Refusal`` with a clear message and a reason:
not a GS1 barcode, a date that is no date, a bad GTIN/SSCC/GLN check digit, or an expired
product (``(17)`` before ``today``; a day "00" means the last day of that month, the GS1
rule). It never raises. ``identifier_for(data, identifier_ai)`` picks what a profile sends:
the value of one element (``identifier_ai = "21"``) or, when unset, the whole scanned text.

What it reads:
- ``text`` as the scanner layer hands it over: the AIM symbology identifier already removed
  into ``symbology`` (``"]C1"``, ``"]d2"``, ``"]Q3"`` ...) and GS (0x1D) kept between
  elements; GS before the first or after the last element is ignored. A fixed-length
  element may be followed directly by the next one; a variable-length one needs a GS unless
  it is last (without one it takes the rest, the GS1 rule).
- the human-readable form ``(01)09506000134352(17)270531(10)ABC``, whatever the symbology.
- a GS1 symbology (``]C1`` GS1-128, ``]e0`` DataBar, ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR,
  ``]J1`` DotCode) carries element strings; an EAN/UPC or ITF-14 symbology (``]E0``, ``]E3``,
  ``]E4``, ``]I1``) carries a bare GTIN, returned as element ``01`` in its 14-digit form.
  Any other symbology (``]C0`` plain Code 128, ``]d1`` plain Data Matrix, ``]Q1`` ...) is
  not GS1 data, unless the text is the human-readable form. A symbology that biip cannot
  read counts as none.
- without a symbology, 8, 12, 13 or 14 digits with a valid GTIN check digit are a GTIN (a
  keyboard-wedge scan of an EAN label); anything else is read as element strings. Without a
  symbology nothing tells GS1 data from other text: "72544" reads as (7254) "4". Stations
  that take GS1 scans should have their scanners send AIM identifiers.

Assumptions: GS1 data is ASCII, so text with other characters is refused; at most
``MAX_TEXT`` characters (a GS1 DataMatrix holds at most 3116 digits). When an AI appears
twice the first one counts. biip resolves a two-digit year with the GS1 sliding window
around the current year; ``today`` only decides whether a product has expired. GS1 Digital
Link URIs are not read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from biip import ParseConfig, ParseError
from biip.checksums import gs1_standard_check_digit
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gtin import Gtin
from biip.symbology import GS1Symbology, SymbologyIdentifier

from devices.aim import describe_aim
from kiosk.connectors.base import DisplayField
from kiosk.gs1_ai import is_known_ai as is_known_ai  # re-exported: one look-up for config and station
from kiosk.gs1_ai import known_ai as _known

GS = "\x1d"
MAX_TEXT = 3116
GTIN_LENGTHS = (8, 12, 13, 14)

# The elements a station shows by name, in this order; others follow as scanned.
NAMED_ELEMENTS: dict[str, tuple[str, str]] = {
    "01": ("gtin", "GTIN"),
    "10": ("batch", "Batch"),
    "17": ("expiry", "Expiry"),
    "21": ("serial", "Serial"),
    "00": ("sscc", "SSCC"),
}
_WORDS = {"01": "GTIN", "10": "batch", "17": "expiry date", "21": "serial number", "00": "SSCC"}
_CHECKED = {"00": "SSCC", "01": "GTIN", "02": "GTIN", "03": "GTIN", "41": "GLN"}
"""AIs (or their first two digits) whose value ends in a GS1 check digit."""
_LENIENT = ParseConfig(gs1_element_strings_verify_date=False)


class Refusal(StrEnum):
    NOT_GS1 = "not_gs1"
    BAD_DATE = "bad_date"
    BAD_CHECK_DIGIT = "bad_check_digit"
    EXPIRED = "expired"
    MISSING_ELEMENT = "missing_element"


class Gs1Field(NamedTuple):
    """One labelled value to show: key ``gtin``, label ``GTIN``, value ``09506000134352``."""

    key: str
    label: str
    value: str


@dataclass(frozen=True)
class Gs1Element:
    ai: str
    """The Application Identifier, e.g. ``"17"``."""
    title: str
    """GS1's short title for the AI, e.g. ``"USE BY or EXPIRY"``."""
    value: str
    """The data as scanned, e.g. ``"270500"``."""
    date: dt.date | None = None
    """For date AIs: the date (a day "00" is the last day of the month)."""


@dataclass(frozen=True)
class Gs1Data:
    """A GS1 scan that passed every check."""

    text: str
    """The scanned text as handed over (GS kept, AIM prefix not included)."""
    symbology: str | None
    elements: tuple[Gs1Element, ...]

    def element(self, ai: str) -> Gs1Element | None:
        return next((e for e in self.elements if e.ai == ai), None)

    def value(self, ai: str) -> str | None:
        element = self.element(ai)
        return element.value if element else None

    @property
    def gtin(self) -> str | None:
        return self.value("01")

    @property
    def batch(self) -> str | None:
        return self.value("10")

    @property
    def serial(self) -> str | None:
        return self.value("21")

    @property
    def sscc(self) -> str | None:
        return self.value("00")

    @property
    def expiry(self) -> dt.date | None:
        element = self.element("17")
        return element.date if element else None

    def values(self) -> dict[str, str]:
        """The raw values by AI (first occurrence), for the journal."""
        values: dict[str, str] = {}
        for element in self.elements:
            values.setdefault(element.ai, element.value)
        return values

    def fields(self) -> tuple[Gs1Field, ...]:
        """GTIN, Batch, Expiry, Serial, SSCC when present, then the other elements as scanned."""
        fields = []
        for ai, (key, label) in NAMED_ELEMENTS.items():
            element = self.element(ai)
            if element is not None:
                fields.append(Gs1Field(key, label, element.date.isoformat() if element.date else element.value))
        seen = set(NAMED_ELEMENTS)
        for element in self.elements:
            if element.ai not in seen:
                seen.add(element.ai)
                fields.append(Gs1Field(f"ai{element.ai}", f"({element.ai}) {element.title}", element.value))
        return tuple(fields)


@dataclass(frozen=True)
class Gs1Refusal:
    """A scan the station refuses before sending anything."""

    reason: Refusal
    message: str
    """One sentence for the operator; repeats no scanned text other than digits and AIs."""
    data: Gs1Data | None = None
    """The parsed elements, when the scan was well-formed (check digit, expiry, missing)."""


# --- parsing ------------------------------------------------------------------------------


def parse_gs1(text: str, symbology: str | None = None, *, today: dt.date) -> Gs1Data | Gs1Refusal:
    """Interpret a scan as GS1 data; see the module docstring. Never raises."""
    body = text.strip(GS)
    if not body:
        return _not_gs1("the scan is empty")
    if len(text) > MAX_TEXT:
        return _not_gs1(f"{len(text)} characters, at most {MAX_TEXT} fit in one")
    if not body.isascii():
        return _not_gs1("it holds characters that GS1 barcodes cannot carry")
    gs1_symbology, known = _symbology(symbology)
    if body.startswith("("):
        parsed = _parse_hri(body)
    elif gs1_symbology in GS1Symbology.with_gtin() or (not known and _looks_like_gtin(body)):
        parsed = _parse_gtin(body, symbology)
    elif gs1_symbology in GS1Symbology.with_gs1_messages() or not known:
        parsed = _parse_element_strings(body)
    else:
        return _not_gs1(f"{describe_aim(symbology)} carries no GS1 data")
    if isinstance(parsed, Gs1Refusal):
        return parsed
    return _check(Gs1Data(text=text, symbology=symbology, elements=parsed), today)


def _symbology(symbology: str | None) -> tuple[GS1Symbology | None, bool]:
    """The GS1 meaning of an AIM identifier, and whether biip could read the identifier at all."""
    if not symbology:
        return None, False
    try:
        identifier = SymbologyIdentifier.extract(symbology)
    except (ParseError, ValueError, IndexError):
        return None, False
    if identifier.value != symbology or not identifier.modifiers:
        return None, False
    return identifier.gs1_symbology, True


def _looks_like_gtin(body: str) -> bool:
    if len(body) not in GTIN_LENGTHS or not body.isdigit():
        return False
    return gs1_standard_check_digit(body[:-1]) == int(body[-1])


def _parse_gtin(body: str, symbology: str | None) -> tuple[Gs1Element, ...] | Gs1Refusal:
    if len(body) not in GTIN_LENGTHS or not body.isdigit():
        return _not_gs1(f"{symbology} needs a GTIN of 8, 12, 13 or 14 digits")
    expected = gs1_standard_check_digit(body[:-1])
    if expected != int(body[-1]):
        return Gs1Refusal(Refusal.BAD_CHECK_DIGIT, _check_digit_message("GTIN", body, expected))
    try:
        gtin = Gtin.parse(body)
    except ParseError:
        return _not_gs1(f"{body} is not a GTIN")
    return (_element("01", gtin.as_gtin_14()),)


def _parse_element_strings(body: str) -> tuple[Gs1Element, ...] | Gs1Refusal:
    elements: list[Gs1Element] = []
    rest = body
    while rest:
        position = len(body) - len(rest) + 1
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            return _not_gs1(f"no GS1 application identifier at character {position}")
        try:
            element = GS1ElementString.extract(rest, config=_LENIENT)
        except ParseError:
            return _not_gs1(f"the {_describe(ai.ai)} at character {position} does not fit its format {ai.format}")
        elements.append(_element(ai.ai, element.value, element.date))
        rest = rest[len(element):].lstrip(GS)
    return tuple(elements)


def _parse_hri(body: str) -> tuple[Gs1Element, ...] | Gs1Refusal:
    """``(01)...(17)...``: each ``(AI)value`` pair read as one element string."""
    compact = "".join(body.split())
    elements: list[Gs1Element] = []
    for chunk in compact[1:].split("("):
        ai, closed, value = chunk.partition(")")
        if not closed or not ai.isdigit() or not value:
            return _not_gs1("the text in parentheses is not (AI)value pairs")
        known = _known(ai)
        if known is None:
            return _not_gs1(f"({ai}) is not a GS1 application identifier")
        try:
            element = GS1ElementString.parse(ai + value, config=_LENIENT)
        except ParseError:
            return _not_gs1(f"the {_describe(ai)} does not fit its format {known.format}")
        elements.append(_element(ai, element.value, element.date))
    return tuple(elements)


def _element(ai: str, value: str, date: dt.date | None = None) -> Gs1Element:
    known = _known(ai)
    return Gs1Element(ai=ai, title=known.data_title if known else "", value=value, date=date)


# --- the checks ---------------------------------------------------------------------------


def _check(data: Gs1Data, today: dt.date) -> Gs1Data | Gs1Refusal:
    """Dates that are no dates, then check digits, then expiry: the first that fails refuses."""
    for element in data.elements:
        if element.date is None and _is_bad_date(element):
            return Gs1Refusal(Refusal.BAD_DATE, f"The {_describe(element.ai)} {element.value} is not a date.")
    for element in data.elements:
        kind = _CHECKED.get(element.ai) or _CHECKED.get(element.ai[:2])
        if kind is None:
            continue
        expected = gs1_standard_check_digit(element.value[:-1])
        if expected != int(element.value[-1]):
            return Gs1Refusal(Refusal.BAD_CHECK_DIGIT, _check_digit_message(kind, element.value, expected), data)
    expiry = data.expiry
    if expiry is not None and expiry < today:
        return Gs1Refusal(Refusal.EXPIRED, f"Expired on {expiry.isoformat()}: this product must not be used.", data)
    return data


def _is_bad_date(element: Gs1Element) -> bool:
    """True when biip, checking dates, refuses an element it took without checking them."""
    try:
        GS1ElementString.parse(element.ai + element.value)
    except ParseError:
        return True
    return False


def _check_digit_message(kind: str, value: str, expected: int) -> str:
    return f"{kind} {value} has a bad check digit (it should end in {expected}): a misread or damaged label."


def _describe(ai: str) -> str:
    known = _known(ai)
    word = _WORDS.get(ai) or (known.data_title if known else "element")
    return f"({ai}) {word}"


def _not_gs1(why: str) -> Gs1Refusal:
    return Gs1Refusal(Refusal.NOT_GS1, f"Not a GS1 barcode: {why}.")


# --- what a profile sends -----------------------------------------------------------------


def identifier_for(data: Gs1Data, identifier_ai: str | None) -> str | Gs1Refusal:
    """The identifier a profile sends: the element ``identifier_ai``, or the whole text when unset."""
    if not identifier_ai:
        return data.text
    value = data.value(identifier_ai)
    if value is None:
        return Gs1Refusal(Refusal.MISSING_ELEMENT, f"This barcode has no {_describe(identifier_ai)}, "
                                                   "which this station sends.", data)
    return value


_REFUSAL_TITLES = {
    Refusal.NOT_GS1: "Not a GS1 barcode",
    Refusal.BAD_DATE: "Bad date in barcode",
    Refusal.BAD_CHECK_DIGIT: "Bad check digit",
    Refusal.EXPIRED: "Expired product",
}


def refusal_title(refusal: Gs1Refusal, identifier_ai: str | None) -> str:
    """The operator's headline for a refused GS1 scan."""
    if refusal.reason is Refusal.MISSING_ELEMENT:
        named = NAMED_ELEMENTS.get(identifier_ai or "")
        return f"No {named[1]} in barcode" if named else f"No ({identifier_ai}) in barcode"
    return _REFUSAL_TITLES[refusal.reason]


def display_fields(data: Gs1Data | None) -> tuple[DisplayField, ...]:
    """The parsed elements as the labelled fields a screen shows and the journal keeps."""
    return tuple(DisplayField(f.key, f.label, f.value) for f in data.fields()) if data else ()
