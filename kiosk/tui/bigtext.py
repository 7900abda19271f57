"""Letters several rows tall, readable from across the shop floor (``BigText``).

A 3x5 pixel block font for A-Z, 0-9 and common punctuation. Each pixel is drawn four cells
wide and two rows tall when the text fits the region, else with full blocks (two cells, one
row), else with half blocks (one cell, half a row). Text the font cannot draw (e.g. letters outside A-Z after
removing accents), or that is too long for the region, falls back to bold plain text.
Input is data: it is turned visible first and never parsed as markup.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from devices.text import visible

_FONT_ROWS = """
A .#. #.# ### #.# #.#
B ##. #.# ##. #.# ##.
C .## #.. #.. #.. .##
D ##. #.# #.# #.# ##.
E ### #.. ##. #.. ###
F ### #.. ##. #.. #..
G .## #.. #.# #.# .##
H #.# #.# ### #.# #.#
I ### .#. .#. .#. ###
J ..# ..# ..# #.# .#.
K #.# #.# ##. #.# #.#
L #.. #.. #.. #.. ###
M #.# ### ### #.# #.#
N ##. #.# #.# #.# #.#
O .#. #.# #.# #.# .#.
P ##. #.# ##. #.. #..
Q .#. #.# #.# ##. .##
R ##. #.# ##. #.# #.#
S .## #.. .#. ..# ##.
T ### .#. .#. .#. .#.
U #.# #.# #.# #.# ###
V #.# #.# #.# #.# .#.
W #.# #.# ### ### #.#
X #.# #.# .#. #.# #.#
Y #.# #.# .#. .#. .#.
Z ### ..# .#. #.. ###
0 ### #.# #.# #.# ###
1 .#. ##. .#. .#. ###
2 ##. ..# .#. #.. ###
3 ##. ..# .#. ..# ##.
4 #.# #.# ### ..# ..#
5 ### #.. ##. ..# ##.
6 .## #.. ### #.# ###
7 ### ..# .#. .#. .#.
8 ### #.# ### #.# ###
9 ### #.# ### ..# ##.
! .#. .#. .#. ... .#.
? ##. ..# .#. ... .#.
. ... ... ... ... .#.
, ... ... ... .#. #..
: ... .#. ... .#. ...
; ... .#. ... .#. #..
- ... ... ### ... ...
+ ... .#. ### .#. ...
= ... ### ... ### ...
_ ... ... ... ... ###
/ ..# ..# .#. #.. #..
' .#. .#. ... ... ...
" #.# #.# ... ... ...
( ..# .#. .#. .#. ..#
) #.. .#. .#. .#. #..
< ..# .#. #.. .#. ..#
> #.. .#. ..# .#. #..
# #.# ### #.# ### #.#
% #.# ..# .#. #.. #.#
* #.# .#. #.# ... ...
& .#. #.# .#. #.# .##
"""

FONT: dict[str, tuple[str, ...]] = {" ": ("...",) * 5}
for _line in _FONT_ROWS.strip().splitlines():
    _char, *_rows = _line.split(" ")
    FONT[_char] = tuple(_rows)

_HALF = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def _drawable(text: str) -> str | None:
    """Upper-cased text without accents, or None when the font cannot draw it."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).upper()
    return plain if all(ch in FONT for ch in plain) else None


def _wrap(words: list[str], per_line: int) -> list[str] | None:
    lines: list[str] = []
    current = ""
    for word in words:
        if len(word) > per_line:
            return None
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= per_line:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


@dataclass(frozen=True)
class Scale:
    """One size of block letters: cells per pixel across, rows per pixel (0: half a row)."""

    across: int
    down: int

    @property
    def cell(self) -> int:
        """Cells per character, with the one-cell gap."""
        return 3 * self.across + 1

    @property
    def rows(self) -> int:
        return 5 * self.down if self.down else 3


SIZES = (Scale(4, 2), Scale(2, 1), Scale(1, 0))
"""Biggest first: 4x2 cells per pixel, full blocks 2x1, half blocks (one cell, half a row)."""


def _draw_line(line: str, size: Scale) -> list[str]:
    glyphs = [FONT[ch] for ch in line]
    if size.down:
        rows = [" ".join("".join(("█" if px == "#" else " ") * size.across for px in g[row]) for g in glyphs)
                for row in range(5)]
        return [row for row in rows for _ in range(size.down)]
    out = []
    for top in (0, 2, 4):
        cells = []
        for g in glyphs:
            upper, lower = g[top], g[top + 1] if top + 1 < 5 else "..."
            cells.append("".join(_HALF[(a == "#", b == "#")] for a, b in zip(upper, lower, strict=True)))
        out.append(" ".join(cells))
    return out


def big_lines(text: str, width: int, max_lines: int = 3, height: int | None = None) -> list[str] | None:
    """The rows drawing ``text`` in block letters within ``width`` cells and ``height`` rows
    (None: any height, but never the largest size), in the biggest size that fits; None when
    none does."""
    plain = _drawable(visible(text).replace("\n", " "))
    if plain is None or not plain.strip():
        return None
    words = plain.split()
    for size in SIZES if height is not None else SIZES[1:]:
        lines = _wrap(words, max(1, (width + 1) // size.cell))
        if lines is None or len(lines) > max_lines:
            continue
        if height is not None and len(lines) * (size.rows + 1) - 1 > height:
            continue
        rows: list[str] = []
        for i, line in enumerate(lines):
            if i:
                rows.append("")
            rows.extend(_draw_line(line, size))
        return rows
    return None


class BigText(Widget):
    """One message in block letters, as big as its region allows.

    With ``height: auto`` it takes the rows its biggest drawing needs; given a height (e.g.
    ``1fr``, what is left of a screen once everything that must be read is placed) it draws
    what fits: full blocks, half blocks, the ``shorter`` text in block letters, then plain
    bold text cut to the rows there are (``plain_fallback=False``: nothing, for screens that
    show the same words in full below).
    """

    DEFAULT_CSS = """
    BigText { height: auto; width: 1fr; }
    """

    def __init__(self, text: str = "", *, shorter: str = "", max_lines: int = 3, plain_fallback: bool = True,
                 id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._text = text
        self.shorter = shorter
        """Fewer words to draw big when ``text`` does not fit (e.g. the title of a long message)."""
        self.max_lines = max_lines
        self.plain_fallback = plain_fallback

    @property
    def text(self) -> str:
        return self._text

    def update(self, text: str) -> None:
        self._text = text
        self.refresh(layout=True)

    def _big(self, width: int, height: int | None) -> list[str] | None:
        for text in (self._text, self.shorter):
            lines = big_lines(text, width, self.max_lines, height) if text else None
            if lines is not None:
                return lines
        return None

    def render(self) -> Text:
        width, height = self.size
        lines = self._big(width, height)
        if lines is not None:
            return Text("\n".join(lines), no_wrap=True, overflow="crop")
        if not self.plain_fallback or height < 1:
            return Text("")
        text = Text(visible(self._text, keep_newlines=True), style="bold")
        wrapped = list(text.wrap(self.app.console, max(1, width)))
        if len(wrapped) > height:
            wrapped = wrapped[:height]
            wrapped[-1].truncate(max(0, width - 1))
            wrapped[-1].append("…")
        return Text("\n", style="bold").join(wrapped)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        lines = self._big(width, None)
        if lines is not None:
            return len(lines)
        if not self.plain_fallback:
            return 0
        return max(1, len(Text(visible(self._text, keep_newlines=True)).wrap(self.app.console, max(1, width))))
