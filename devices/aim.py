"""AIM symbology identifiers (ISO/IEC 15424): the ``]C1``-style tag a scanner may put first.

``split_aim`` takes the tag off the front of a frame; ``describe_aim`` names it for a
technician. Only a ``]`` followed by a known code letter and an alphanumeric modifier is
taken as a tag, so data that merely starts with ``]`` stays data.
"""

from __future__ import annotations

CODE_NAMES = {
    "A": "Code 39",
    "B": "Telepen",
    "C": "Code 128",
    "D": "Code One",
    "E": "EAN/UPC",
    "F": "Codabar",
    "G": "Code 93",
    "H": "Code 11",
    "I": "Interleaved 2 of 5",
    "K": "Code 16K",
    "L": "PDF417",
    "M": "MSI",
    "N": "Anker",
    "O": "Codablock",
    "P": "Plessey",
    "Q": "QR Code",
    "R": "Straight 2 of 5 (2-bar)",
    "S": "Straight 2 of 5 (3-bar)",
    "T": "Code 49",
    "U": "MaxiCode",
    "X": "other symbology",
    "Y": "system expansion",
    "Z": "non-barcode",
    "c": "Channel Code",
    "d": "Data Matrix",
    "e": "GS1 DataBar",
    "g": "Grid Matrix",
    "h": "Han Xin",
    "o": "OCR",
    "p": "Posicode",
    "s": "SuperCode",
    "z": "Aztec",
}

_VARIANTS = {
    "]C0": "Code 128",
    "]C1": "GS1-128",
    "]E0": "EAN-13 / UPC-A",
    "]E4": "EAN-8",
    "]e0": "GS1 DataBar",
    "]d1": "Data Matrix",
    "]d2": "GS1 DataMatrix",
    "]Q1": "QR Code",
    "]Q3": "GS1 QR Code",
    "]z0": "Aztec",
}

GS1_IDENTIFIERS = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
"""Identifiers that announce GS1 element strings (AIs with GS separators)."""

_MODIFIERS = frozenset(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_CODES = frozenset(ord(c) for c in CODE_NAMES)


def split_aim(body: bytes) -> tuple[str | None, bytes]:
    """Return ``(identifier, rest)`` when ``body`` starts with an AIM identifier, else ``(None, body)``."""
    if len(body) >= 3 and body[0] == 0x5D and body[1] in _CODES and body[2] in _MODIFIERS:
        return body[:3].decode("ascii"), body[3:]
    return None, body


def describe_aim(identifier: str | None) -> str:
    """A readable name such as ``]C1 GS1-128``; ``-`` when there was none."""
    if not identifier:
        return "-"
    name = _VARIANTS.get(identifier) or CODE_NAMES.get(identifier[1:2], "unknown symbology")
    return f"{identifier} {name}"


def is_gs1(identifier: str | None) -> bool:
    return identifier in GS1_IDENTIFIERS
