"""What every connector is and gives: its config model, its actions, requests in, answers out.

A connector is one vendor system. It registers a ``ConnectorPlugin`` under the entry-point
group ``kiosk.connectors`` (see ``kiosk.connectors.registry``); the plugin names the vendor,
the pydantic config model of its backends (a subclass of ``BackendConfig`` whose ``vendor``
is a ``Literal``), the actions it performs and a factory. The station core, journal, outbox,
screens and headless output work for any connector unchanged.

Answers (what ``Connector.perform`` returns):
- ``Accepted``: the vendor did it; ``title`` and labelled ``fields`` are what a screen shows.
- ``Rejected``: the vendor refused with a reason (title and detail lines) to show.
- ``Unreachable``: no answer. ``sent`` is False when the request never left (connect error,
  connect timeout: safe to send again) and True when it may have arrived (read timeout:
  unknown whether the vendor recorded it).
- ``BadAnswer``: an answer the kiosk cannot use. ``transient`` (5xx, 429) is worth sending
  again later; ``unknown`` means the vendor may well have done it (an unreadable 2xx).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from kiosk.connectors.http import redact_url

Combine = Literal["none", "latest"]


class BackendConfig(BaseModel):
    """The keys every backend has; each vendor's model subclasses it with its own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    vendor: str
    """Which connector serves this backend (``kiosk doctor`` lists the installed ones)."""
    base_url: str
    """http:// or https:// address of the vendor's API. A ``user:password@`` in it is sent as a
    Basic ``Authorization`` header and never shown or logged (see ``display_url``)."""
    timeout_s: float = Field(default=5.0, gt=0, le=300)
    """Bounds each whole request, from connect to the last byte of the answer."""
    max_requests_per_minute: float | None = Field(default=None, gt=0)
    """Request budget shared by live scans and the replay sender; none means unlimited."""
    retry_after_max_s: float = Field(default=900.0, ge=0, le=86400)
    """A server's ``Retry-After`` (or back-off) holds this backend's outbox at most this long."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_base_url(value)

    @property
    def display_url(self) -> str:
        """``base_url`` without any user:password part: the only form that is shown or logged."""
        return redact_url(self.base_url)


def check_base_url(value: str) -> str:
    """``value`` without a trailing slash, or ``ValueError`` saying what makes it unusable."""
    if any(ord(ch) <= 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in value):
        raise ValueError("must not contain spaces or control characters")
    if not re.match(r"^https?://", value, re.IGNORECASE):
        raise ValueError("must start with http:// or https:// followed by a host")
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        unclosed = "[" in value.split("/")[2] and "]" not in value.split("/")[2]
        why = "'[' of an IPv6 address without its ']'" if unclosed else str(exc)
        raise ValueError(f"is not a valid URL ({why})") from None
    if not url.host:
        raise ValueError("must start with http:// or https:// followed by a host")
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ValueError(f"port {url.port} is out of range (1 to 65535)")
    return value.rstrip("/")


@dataclass(frozen=True)
class ActionSpec:
    """One thing a connector does at a station, and how the outbox may treat it."""

    name: str
    verb: str = "sent"
    """Past tense for the operator: "checked in", "released", "confirmed"."""
    queueable: bool = True
    """May wait in the outbox while the vendor is unreachable (else refused offline)."""
    idempotent: bool = True
    """Safe to send again after an unknown result (else parked for a lead)."""
    combine: Combine = "none"
    """How queued requests of one station combine: "latest" sends only the newest."""
    commands: frozenset[str] = frozenset()
    """Command words (``CMD:<WORD>[:arg]``) that this action turns into requests."""


@dataclass(frozen=True)
class Request:
    """One request to a vendor: the action, the station context and the scanned identifier."""

    action: str
    station: str
    identifier: str
    operator: str | None = None
    profile: str = ""
    command: str | None = None
    """The command word when a ``CMD:<WORD>`` scan made this request, else None."""
    argument: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    """Action parameters from the profile (JSON-serialisable); journaled with the request."""

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"identifier": self.identifier}
        if self.command:
            data["command"] = self.command
        if self.argument is not None:
            data["argument"] = self.argument
        if self.params:
            data["params"] = dict(self.params)
        return data


@dataclass(frozen=True)
class DisplayField:
    """One labelled value of a vendor's answer: ``key`` for JSON and the journal, ``label`` to show."""

    key: str
    label: str
    value: str


class Accepted(abc.ABC):
    """The vendor did it. Subclasses are frozen dataclasses; they give ``title`` and ``fields``."""

    title: str
    http_status: int

    @property
    @abc.abstractmethod
    def fields(self) -> tuple[DisplayField, ...]: ...

    def values(self) -> dict[str, str]:
        return {f.key: f.value for f in self.fields}


@dataclass(frozen=True)
class Done(Accepted):
    """A generic success: a title and the labelled fields to show."""

    title: str = "Done"
    shown: tuple[DisplayField, ...] = ()
    http_status: int = 200

    @property
    def fields(self) -> tuple[DisplayField, ...]:
        return self.shown


@dataclass(frozen=True)
class Rejected:
    title: str
    details: tuple[str, ...] = ()
    http_status: int = 400


@dataclass(frozen=True)
class Unreachable:
    message: str
    sent: bool = False


@dataclass(frozen=True)
class BadAnswer:
    message: str
    http_status: int | None = None
    excerpt: str = ""
    retry_after_s: float | None = None
    unknown: bool = False
    """The vendor may have done it (an unreadable 2xx): resend or park, never a final refusal."""

    @property
    def transient(self) -> bool:
        return self.http_status is not None and (self.http_status >= 500 or self.http_status == 429)


Answer = Accepted | Rejected | Unreachable | BadAnswer


@dataclass(frozen=True)
class Probe:
    """Result of a connector's health probe for `kiosk doctor` and the diagnostics screen."""

    ok: bool
    message: str
    http_status: int | None = None
    latency_ms: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


class Connector(Protocol):
    name: str
    vendor: str
    actions: Mapping[str, ActionSpec]

    async def perform(self, request: Request) -> Answer: ...

    async def probe(self) -> Probe: ...

    async def aclose(self) -> None: ...


class ConnectorError(ValueError):
    """A connector cannot be built (token missing, unusable setting); ``str()`` is for the user."""


Factory = Callable[..., Connector]
"""``factory(name, config, *, base_dir=Path, transport=None) -> Connector``."""


@dataclass(frozen=True)
class ConnectorPlugin:
    """What a connector package registers under the entry-point group ``kiosk.connectors``."""

    vendor: str
    config_model: type[BackendConfig]
    factory: Factory
    actions: Mapping[str, ActionSpec]
    description: str = ""

    def action(self, name: str) -> ActionSpec:
        return self.actions[name]
