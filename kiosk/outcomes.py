"""Every outcome a scan can come to, and the one table that says how each is announced.

The JSON ``outcome`` word, the colour and CSS class on screen, the sound, whether it takes
the whole screen and must be acknowledged, and which session counter it counts under: all
from ``STYLES``. The screens, the headless JSON lines, the sounds and the counters read this
table and keep no lists of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Sound = Literal["ok", "rejected", "duplicate", "operator", "error"]


class Outcome(StrEnum):
    OK = "ok"
    """The vendor did it."""
    REJECTED = "rejected"
    """The vendor refused, with its reason."""
    ERROR = "error"
    """Not sent, or the server's answer is final but unusable; the scan is not queued."""
    QUEUED = "queued"
    """Saved; will be sent when the server is back."""
    PARKED = "parked"
    """A queued scan the vendor later refused, or an unknown result: a lead reviews it."""
    UNREADABLE = "unreadable"
    """A trigger pull whose bytes could not be read (too long, not text, cut off)."""
    HOLD = "hold"
    """A job waits for an operator badge."""
    DENIED = "denied"
    """A local refusal: lead authority missing, wrong PIN, manual entry not allowed."""
    OPERATOR = "operator"
    LOGOUT = "logout"
    LEAD = "lead"
    PROFILE = "profile"
    IGNORED = "ignored"
    """Not a barcode this station takes, or an unknown command: never sent."""
    DUPLICATE = "duplicate"
    ACK = "ack"
    JOURNAL = "journal"
    """The journal cannot be written: the kiosk takes no more scans."""


@dataclass(frozen=True)
class OutcomeStyle:
    css: str
    """The result panel's and attention screen's CSS class."""
    colour: str
    """The colour's name, as the README and the operators call it."""
    sound: Sound | None
    """Which ``sounds.<event>`` announces it (None: silent)."""
    bell: bool
    """Ring the terminal bell when no sound command is configured."""
    full_screen: bool
    """Shown full-screen until acknowledged (Enter, Escape or the ack barcode)."""
    headline: str
    """Big letters on the panel; ``{verb}`` is the action's verb, ``{title}`` the result's title."""
    mark: str = "?"
    """The one-character mark in the scan history."""
    rich: str = ""
    """The terminal colour of its mark and counter."""
    counter: str | None = None
    """The session counter it counts under (None: not counted on the status line)."""
    info: bool = False
    """Session information (login, profile ...): does not replace a job's result on the panel."""

    @property
    def must_ack(self) -> bool:
        return self.full_screen


_S = OutcomeStyle
STYLES: dict[Outcome, OutcomeStyle] = {
    Outcome.OK: _S("-ok", "green", "ok", False, False, "OK", "✓", "green", "ok"),
    Outcome.REJECTED: _S("-rejected", "red", "rejected", True, True, "NOT {verb}", "✗", "red", "rejected"),
    Outcome.ERROR: _S("-error", "magenta", "error", True, True, "NOT SENT", "⚠", "magenta", "errors"),
    Outcome.QUEUED: _S("-queued", "amber", "error", False, False, "SAVED - WILL BE SENT", "⟳", "yellow", "queued"),
    Outcome.PARKED: _S("-rejected", "red", "error", True, True, "NOT {verb}", "✗", "red"),
    Outcome.UNREADABLE: _S("-prompt", "amber", "error", True, False, "SCAN AGAIN", "?", "yellow", "unreadable"),
    Outcome.HOLD: _S("-prompt", "amber", "rejected", True, False, "SCAN YOUR OPERATOR BADGE FIRST", "…", "yellow"),
    Outcome.DENIED: _S("-notice", "orange", "rejected", True, False, "{title}", "⊘", "dark_orange"),
    Outcome.OPERATOR: _S("-info", "blue", "operator", False, False, "{title}", "●", "", info=True),
    Outcome.LOGOUT: _S("-info", "blue", None, False, False, "{title}", "○", "", info=True),
    Outcome.LEAD: _S("-info", "blue", None, False, False, "{title}", "★", "", info=True),
    Outcome.PROFILE: _S("-info", "blue", None, False, False, "{title}", "⇄", "", info=True),
    Outcome.IGNORED: _S("-info", "blue", None, False, False, "{title}", "–", "", info=True),
    Outcome.ACK: _S("-info", "blue", None, False, False, "{title}", "✓", "", info=True),
    Outcome.DUPLICATE: _S("-duplicate", "grey-blue", "duplicate", False, False, "{title}", "=", "cyan",
                          "duplicates"),
    Outcome.JOURNAL: _S("-error", "magenta", "error", True, True, "NOT TAKEN", "⚠", "magenta", "errors"),
}
COUNTERS: tuple[str, ...] = tuple(dict.fromkeys(s.counter for s in STYLES.values() if s.counter))
"""The status line's counters, in table order."""


def counter_totals(counts: dict[str, int]) -> dict[str, int]:
    """Session counts by outcome word, summed into the status line's counters."""
    totals = dict.fromkeys(COUNTERS, 0)
    for word, n in counts.items():
        label = style(word).counter
        if label:
            totals[label] += n
    return totals


def style(outcome: str) -> OutcomeStyle:
    """The style of an outcome word; an unknown word is shown like an error, never hidden."""
    try:
        return STYLES[Outcome(outcome)]
    except ValueError:
        return STYLES[Outcome.ERROR]


def headline(outcome: str, *, title: str = "", verb: str = "sent") -> str:
    return style(outcome).headline.format(verb=verb.upper(), title=title)
