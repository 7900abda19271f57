"""What the station logic asks the service to do: reply, send a check-in, or audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Union

from kiosk.connectors.base import DisplayField, Request
from kiosk.station.classify import Kind


@dataclass(frozen=True)
class Reply:
    """Answer a scan now, without the vendor.

    ``outcome`` is a ``kiosk.outcomes.Outcome`` word: operator, logout, lead, profile,
    ignored, duplicate, hold, denied, ack.
    """

    scan: "Any"  # kiosk.station.state.Scan (the scan answered), or None for timer events
    kind: Kind | None
    outcome: str
    title: str
    details: tuple[str, ...] = ()
    fields: tuple[DisplayField, ...] = ()
    """What the station read from the scan (a refused GS1 barcode's elements)."""


@dataclass(frozen=True)
class Send:
    """Do the profile's ``action`` for ``identifier`` at ``station`` through ``backend``;
    ``held`` when an operator badge released it. ``fields`` are what the station read from
    the scan (GS1: GTIN, batch, expiry ...), shown before the vendor's answer; ``gs1`` the
    GS1 element values by Application Identifier, passed on to the action."""

    scan: "Any"
    station: str
    backend: str
    identifier: str
    operator: str | None
    profile: str
    held: bool = False
    action: str = "checkin"
    command: str | None = None
    argument: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    fields: tuple[DisplayField, ...] = ()
    gs1: Mapping[str, str] = field(default_factory=dict)

    def request(self) -> Request:
        return Request(action=self.action, station=self.station, identifier=self.identifier,
                       operator=self.operator, profile=self.profile, command=self.command,
                       argument=self.argument, params=self.params, gs1=self.gs1)


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
