"""Scan classification: operator badge, lead badge, command, job identifier, or unknown.

Rules are tried in that order against the active profile. A profile without
``job_patterns`` treats every other scan as a job identifier. Patterns are compiled by
``kiosk.patterns`` (RE2: linear time in the scan's length, whatever the pattern).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from kiosk.config import LeadConfig, ProfileConfig
from kiosk.patterns import Pattern, compile_pattern


class Kind(StrEnum):
    OPERATOR = "operator"
    LEAD = "lead"
    COMMAND = "command"
    JOB = "job"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Classified:
    kind: Kind
    text: str
    command: str | None = None
    """For commands: ACK, LOGOUT, PROFILE or the unknown word as scanned (upper-cased)."""
    argument: str | None = None
    """For CMD:<WORD>:<argument> (CMD:PROFILE:<name>, CMD:QTY:<n>): the argument, exactly as
    scanned; None without a second colon (CMD:PROFILE always has one, maybe empty)."""


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Pattern:
    return compile_pattern(pattern)


def _matches(pattern: str | None, text: str) -> bool:
    return pattern is not None and _compiled(pattern).search(text)


def matches_any(patterns: list[str] | None, text: str) -> bool:
    """True when one of ``patterns`` (regexes, searched) matches ``text``."""
    return any(_matches(p, text) for p in patterns or ())


def classify(text: str, profile: ProfileConfig, lead: LeadConfig) -> Classified:
    if _matches(profile.operator_pattern, text):
        return Classified(Kind.OPERATOR, text)
    if _matches(lead.badge_pattern, text):
        return Classified(Kind.LEAD, text)
    if profile.ack_barcode is not None and text == profile.ack_barcode:
        return Classified(Kind.COMMAND, text, command="ACK")
    if text.startswith(profile.command_prefix):
        word, colon, argument = text[len(profile.command_prefix):].partition(":")
        word = word.strip().upper()
        if word == "PROFILE":
            return Classified(Kind.COMMAND, text, command="PROFILE", argument=argument)
        return Classified(Kind.COMMAND, text, command=word, argument=argument if colon else None)
    if profile.job_patterns is None or any(_matches(p, text) for p in profile.job_patterns):
        return Classified(Kind.JOB, text)
    return Classified(Kind.UNKNOWN, text)
