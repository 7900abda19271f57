"""Linux key events to text, without the evdev package.

``InputEventReader`` parses the kernel's binary ``struct input_event`` records (native
layout: ``struct timeval`` as two longs, then u16 type, u16 code, s32 value) from any
binary stream or chunk of bytes. ``KeyDecoder`` turns EV_KEY events into characters with
its own shift / AltGr / Ctrl / Caps-Lock state (one decoder per device), for the US, German
(QWERTZ) and French (AZERTY) layouts. Enter gives ``"\\r"``, Tab ``"\\t"``; Ctrl with
``@ A-Z [ \\ ] ^ _`` gives the control character, so Ctrl+] yields GS (0x1D). Keypad keys
decode as if Num Lock were on (scanners send them that way). Dead keys are not composed:
a scanner that sends them is set to a layout that does not need them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
RELEASE, PRESS, REPEAT = 0, 1, 2
INPUT_EVENT = struct.Struct("@llHHi")

KEY_ENTER, KEY_TAB, KEY_KPENTER = 28, 15, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_CAPSLOCK = 42, 54, 58
KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_RIGHTALT = 29, 97, 100


@dataclass(frozen=True)
class InputEvent:
    sec: int
    usec: int
    type: int
    code: int
    value: int

    @property
    def time(self) -> float:
        return self.sec + self.usec / 1_000_000

    def pack(self) -> bytes:
        return INPUT_EVENT.pack(self.sec, self.usec, self.type, self.code, self.value)


class InputEventReader:
    """Reassembles whole records from chunks of any size (a pipe may split them)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> list[InputEvent]:
        data = self._rest + data
        whole = len(data) - len(data) % INPUT_EVENT.size
        self._rest = data[whole:]
        return [InputEvent(*fields) for fields in INPUT_EVENT.iter_unpack(data[:whole])]


def iter_input_events(stream: BinaryIO, chunk: int = INPUT_EVENT.size * 64) -> Iterator[InputEvent]:
    """All records from a binary file object until EOF."""
    reader = InputEventReader()
    while data := stream.read(chunk):
        yield from reader.feed(data)


def key_event(code: int, value: int, t: float = 0.0) -> bytes:
    """One EV_KEY record followed by EV_SYN, as the kernel writes it (used by tests and fakes)."""
    sec, usec = int(t), round((t - int(t)) * 1_000_000)
    return InputEvent(sec, usec, EV_KEY, code, value).pack() + InputEvent(sec, usec, EV_SYN, 0, 0).pack()


# -- layouts: key code → (plain, shifted[, AltGr]) ------------------------------------

_LETTER_ROWS = {16: "qwertyuiop", 30: "asdfghjkl", 44: "zxcvbnm"}
_KEYPAD = {71: "7", 72: "8", 73: "9", 74: "-", 75: "4", 76: "5", 77: "6", 78: "+",
           79: "1", 80: "2", 81: "3", 82: "0", 83: ".", 55: "*", 98: "/"}


def _letters(rows: dict[int, str]) -> dict[int, tuple[str, ...]]:
    return {start + i: (ch, ch.upper()) for start, row in rows.items() for i, ch in enumerate(row)}


def _keys(first_code: int, plain: str, shifted: str) -> dict[int, tuple[str, ...]]:
    return {first_code + i: (p, s) for i, (p, s) in enumerate(zip(plain, shifted, strict=True))}


US = {
    **_letters(_LETTER_ROWS),
    **_keys(2, "1234567890-=", "!@#$%^&*()_+"),
    26: ("[", "{"), 27: ("]", "}"), 39: (";", ":"), 40: ("'", '"'), 41: ("`", "~"), 43: ("\\", "|"),
    51: (",", "<"), 52: (".", ">"), 53: ("/", "?"), 57: (" ", " "), 86: ("\\", "|"),
}

DE = {
    **_letters({16: "qwertzuiop", 30: "asdfghjkl", 44: "yxcvbnm"}),
    **_keys(2, "1234567890ß´", '!"§$%&/()=?`'),
    26: ("ü", "Ü"), 27: ("+", "*", "~"), 39: ("ö", "Ö"), 40: ("ä", "Ä"), 41: ("^", "°"), 43: ("#", "'"),
    51: (",", ";"), 52: (".", ":"), 53: ("-", "_"), 57: (" ", " "), 86: ("<", ">", "|"),
    16: ("q", "Q", "@"), 18: ("e", "E", "€"), 50: ("m", "M", "µ"),
    3: ("2", '"', "²"), 4: ("3", "§", "³"), 8: ("7", "/", "{"), 9: ("8", "(", "["), 10: ("9", ")", "]"),
    11: ("0", "=", "}"), 12: ("ß", "?", "\\"),
}

FR = {
    **_letters({16: "azertyuiop", 30: "qsdfghjklm", 44: "wxcvbn"}),
    **_keys(2, "&é\"'(-è_çà)=", "1234567890°+"),
    26: ("^", "¨"), 27: ("$", "£", "¤"), 40: ("ù", "%"), 41: ("²", "²"), 43: ("*", "µ"),
    50: (",", "?"), 51: (";", "."), 52: (":", "/"), 53: ("!", "§"), 57: (" ", " "), 86: ("<", ">"),
    3: ("é", "2", "~"), 4: ('"', "3", "#"), 5: ("'", "4", "{"), 6: ("(", "5", "["), 7: ("-", "6", "|"),
    8: ("è", "7", "`"), 9: ("_", "8", "\\"), 10: ("ç", "9", "^"), 11: ("à", "0", "@"), 12: (")", "°", "]"),
    13: ("=", "+", "}"), 18: ("e", "E", "€"),
}

LAYOUTS = {"us": US, "de": DE, "fr": FR}


class KeyDecoder:
    """Per-device keyboard state turning EV_KEY events into characters."""

    def __init__(self, layout: str = "us") -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown keyboard layout {layout!r}; use one of {', '.join(LAYOUTS)}")
        self.layout = layout
        self._map = LAYOUTS[layout]
        self._shift: set[int] = set()
        self._ctrl: set[int] = set()
        self._altgr = False
        self.caps_lock = False

    def event(self, event: InputEvent) -> str:
        return self.key(event.code, event.value) if event.type == EV_KEY else ""

    def key(self, code: int, value: int) -> str:
        """Characters produced by one key event ('' for releases and modifiers)."""
        if self._track_modifier(code, value):
            return ""
        if value == RELEASE:
            return ""
        if code in (KEY_ENTER, KEY_KPENTER):
            return "\r"
        if code == KEY_TAB:
            return "\t"
        if code in _KEYPAD:
            return _KEYPAD[code]
        levels = self._map.get(code)
        if levels is None:
            return ""
        return self._pick(levels)

    def _track_modifier(self, code: int, value: int) -> bool:
        held = value != RELEASE
        if code in (KEY_LEFTSHIFT, KEY_RIGHTSHIFT):
            (self._shift.add if held else self._shift.discard)(code)
        elif code in (KEY_LEFTCTRL, KEY_RIGHTCTRL):
            (self._ctrl.add if held else self._ctrl.discard)(code)
        elif code == KEY_RIGHTALT:
            self._altgr = held
        elif code == KEY_CAPSLOCK:
            if value == PRESS:
                self.caps_lock = not self.caps_lock
        else:
            return False
        return True

    def _pick(self, levels: tuple[str, ...]) -> str:
        plain, shifted = levels[0], levels[1]
        if self._altgr:
            return levels[2] if len(levels) > 2 else ""
        if self._ctrl:
            return _control(plain)
        use_shift = bool(self._shift)
        if self.caps_lock and plain.isalpha() and shifted == plain.upper():
            use_shift = not use_shift
        return shifted if use_shift else plain


def _control(ch: str) -> str:
    upper = ch.upper()
    if len(upper) == 1 and "@" <= upper <= "_":
        return chr(ord(upper) - 0x40)
    return ""


def decode_events(events: list[InputEvent], layout: str = "us") -> str:
    """Text typed by a sequence of events (one fresh decoder)."""
    decoder = KeyDecoder(layout)
    return "".join(decoder.event(e) for e in events)
