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
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
        url = urlsplit(value)
        host, port = url.hostname, url.port
    except ValueError as exc:
        authority = value.split("/")[2]
        if "[" in authority and "]" not in authority:
            raise ValueError("is not a valid URL ('[' of an IPv6 address without its ']')") from None
        if "port" in str(exc).lower():
            raise ValueError(f"has port {authority.rpartition(':')[2]!r}, which is not a number "
                             "from 1 to 65535") from None
        raise ValueError(f"is not a valid URL ({exc})") from None
    if not host:
        raise ValueError("must start with http:// or https:// followed by a host")
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"has port {port}, which is not a number from 1 to 65535")
    return value.rstrip("/")


_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#]*)@")


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` shown as ``***@``; works on URLs that do not parse."""
    return _USERINFO.sub(r"\1***@", url, count=1)


State = Mapping[str, Any]
"""An action's state at one station (JSON-serialisable), kept in the journal across restarts:
a machine's cumulative counter, the production order in hand, a loading's draft lines."""


@dataclass(frozen=True)
class LocalReply:
    """An answer an action gives without asking the vendor (a draft line added, a refusal)."""

    outcome: Literal["ok", "ignored", "denied"]
    title: str
    details: tuple[str, ...] = ()
    fields: tuple["DisplayField", ...] = ()


@dataclass(frozen=True)
class Step:
    """What an action makes of one scan, given its state: the new state (journaled before
    anything is sent), and either a request to send or a local reply."""

    state: State
    request: "Request | None" = None
    reply: LocalReply | None = None


StepFn = Callable[[State, "Request", float], Step]
"""``step(state, request, now)``: pure; ``now`` is wall-clock epoch seconds."""
SettleFn = Callable[[State, "Request", "Answer", float], State]
"""``settle(state, request, answer, now)``: the state after the vendor's answer (pure)."""
ShowFn = Callable[[State], tuple["DisplayField", ...]]
"""``show(state)``: what the station's screen shows of the state (machine stopped since ...)."""


@dataclass(frozen=True)
class ActionSpec:
    """One thing a connector does at a station, and how the outbox may treat it.

    An action with ``step`` keeps a state per station in the journal: each scan goes through
    ``step`` first (which may answer locally, e.g. a loading's draft line), the state is
    journaled before the request leaves, and ``settle`` updates it from the vendor's answer.
    The station uses the connector instance's ``actions``, so a connector may bind its own
    config into these hooks (``functools.partial``); its plug-in's ``actions`` name the same
    actions (config checks and ``kiosk doctor`` read those).
    """

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
    step: StepFn | None = None
    settle: SettleFn | None = None
    show: ShowFn | None = None


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
    gs1: Mapping[str, str] = field(default_factory=dict)
    """The scan's GS1 element values by Application Identifier (``{"01": gtin, "21": serial}``)
    when the profile reads GS1 (``gs1 = true``); empty otherwise."""

    def as_json(self) -> dict[str, Any]:
        """What the journal keeps of the request, enough to send it again (``from_json``)."""
        data: dict[str, Any] = {"identifier": self.identifier}
        if self.command:
            data["command"] = self.command
        if self.argument is not None:
            data["argument"] = self.argument
        if self.params:
            data["params"] = dict(self.params)
        if self.gs1:
            data["gs1"] = dict(self.gs1)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, action: str, station: str, operator: str | None,
                  profile: str) -> "Request":
        params = data.get("params")
        gs1 = data.get("gs1")
        return cls(action=action, station=station, identifier=str(data.get("identifier", "")), operator=operator,
                   profile=profile, command=data.get("command"), argument=data.get("argument"),
                   params=dict(params) if isinstance(params, Mapping) else {},
                   gs1={str(k): str(v) for k, v in gs1.items()} if isinstance(gs1, Mapping) else {})


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


ProbeProblem = Literal["", "unreachable", "token", "base_url", "station", "server", "answer"]


@dataclass(frozen=True)
class Probe:
    """Result of a connector's health probe for `kiosk doctor` and the diagnostics screen."""

    ok: bool
    message: str
    http_status: int | None = None
    latency_ms: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    problem: ProbeProblem = ""
    """What failed, so the caller can say what to do: ``unreachable`` (no connection),
    ``token`` (refused, 401/403), ``base_url`` (no such API path, 404), ``station`` (the
    vendor does not know the station code), ``server`` (5xx, 429), ``answer`` (anything else
    unexpected); "" when ``ok``."""


class Connector(Protocol):
    name: str
    vendor: str
    actions: Mapping[str, ActionSpec]

    async def perform(self, request: Request) -> Answer: ...

    async def probe(self, station: str | None = None) -> Probe:
        """Prove the base URL and token (and ``station``, when given) without changing anything."""
        ...

    async def aclose(self) -> None: ...


class ConnectorError(ValueError):
    """A connector cannot be built (token missing, unusable setting); ``str()`` is for the user.

    ``key`` is the backend's config key at fault when one is (e.g. ``token_env``), ``advice``
    what to do about it (may be empty). Neither ever holds a secret."""

    def __init__(self, message: str, *, key: str = "", advice: str = "") -> None:
        super().__init__(message)
        self.key = key
        self.advice = advice


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
