"""Making scanned text safe and visible: control characters become tokens like ``<GS>``.

Scanned and vendor text is data. Anything that reaches a screen or a log goes through
``visible()`` so that ESC sequences, C0/C1 controls and DEL can never act on a terminal,
and GS (the GS1 separator) stays visible as ``<GS>``.
"""

from __future__ import annotations

_C0_NAMES = [
    "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS", "TAB", "LF", "VT", "FF",
    "CR", "SO", "SI", "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB", "CAN", "EM",
    "SUB", "ESC", "FS", "GS", "RS", "US",
]


def _token(ch: str) -> str:
    code = ord(ch)
    if code < 0x20:
        return f"<{_C0_NAMES[code]}>"
    if code == 0x7F:
        return "<DEL>"
    return f"<U+{code:04X}>"


def _needs_token(ch: str) -> bool:
    code = ord(ch)
    # C0, DEL, C1, and the Unicode line/paragraph separators and bidi overrides that can
    # reorder or break a line on a terminal.
    return (
        code < 0x20
        or 0x7F <= code <= 0x9F
        or code in (0x2028, 0x2029)
        or 0x202A <= code <= 0x202E
        or 0x2066 <= code <= 0x2069
    )


def visible(text: str, keep_newlines: bool = False) -> str:
    """Return ``text`` with every control character replaced by a visible token.

    With ``keep_newlines`` LF stays a line break (for multi-line vendor details).
    """
    if not any(_needs_token(ch) for ch in text):
        return text
    out = []
    for ch in text:
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif _needs_token(ch):
            out.append(_token(ch))
        else:
            out.append(ch)
    return "".join(out)


def visible_bytes(raw: bytes, limit: int | None = None) -> str:
    """Bytes as text a technician can read: printable ASCII as is, the rest as tokens or hex.

    With ``limit`` the result has at most that many characters: when bytes had to be left
    out it ends with ``…`` (a token is never cut in half).
    """
    tokens = [_byte_token(b) for b in raw]
    if limit is None or sum(map(len, tokens)) <= limit:
        return "".join(tokens)
    out, size = [], 0
    for token in tokens:
        if size + len(token) > limit - 1:
            break
        out.append(token)
        size += len(token)
    return "".join(out) + "…"


def _byte_token(b: int) -> str:
    if b < 0x20:
        return f"<{_C0_NAMES[b]}>"
    if b == 0x7F:
        return "<DEL>"
    if b > 0x7F:
        return f"<x{b:02X}>"
    return chr(b)
