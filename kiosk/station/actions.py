"""What the station logic asks the service to do: reply, send a check-in, or audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from kiosk.station.classify import Kind


@dataclass(frozen=True)
class Reply:
    """Answer a scan now, without the vendor.

    ``outcome`` is the headless outcome word: operator, logout, lead, profile, ignored,
    duplicate, rejected, ack.
    """

    scan: "Any"  # kiosk.station.state.Scan (the scan answered), or None for timer events
    kind: Kind | None
    outcome: str
    title: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Send:
    """Check ``identifier`` in at ``station`` through ``backend``; ``held`` when a badge released it."""

    scan: "Any"
    station: str
    backend: str
    identifier: str
    operator: str | None
    profile: str
    held: bool = False


@dataclass(frozen=True)
class Expire:
    """A job scan that waited for an operator badge and none came in time."""

    scan: "Any"
    title: str
    details: tuple[str, ...]


@dataclass(frozen=True)
class Audit:
    """A login, logout, profile switch or lead action to record with time and who."""

    kind: str
    who: str | None
    profile: str
    detail: dict[str, Any] = field(default_factory=dict)


Action = Union[Reply, Send, Expire, Audit]
