"""What every connector takes and gives: ``CheckIn`` in, one of the ``Outcome`` types out.

Outcome types:
- ``Accepted``: the vendor recorded the check-in.
- ``Rejected``: the vendor refused it with a reason (title and detail lines) to show.
- ``Unreachable``: no answer. ``sent`` is False when the request never left (connect error,
  connect timeout: safe to send again) and True when it may have arrived (read timeout:
  unknown whether the vendor recorded it).
- ``BadAnswer``: an answer the kiosk cannot use (unexpected status, not JSON, wrong shape).
  ``transient`` is True for 5xx and 429, which are worth sending again later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, Union


@dataclass(frozen=True)
class CheckIn:
    station: str
    identifier: str
    operator: str | None = None


@dataclass(frozen=True)
class Accepted:
    order_number: str = ""
    tray_number: str = ""
    po_number: str = ""
    station: str = ""
    station_desc: str = ""
    customer_desc: str = ""
    status_time: datetime | None = None
    http_status: int = 200


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

    @property
    def transient(self) -> bool:
        return self.http_status is not None and (self.http_status >= 500 or self.http_status == 429)


Outcome = Union[Accepted, Rejected, Unreachable, BadAnswer]


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


class TokenUnavailable(ValueError):
    """A backend's token source is missing or unusable; never holds the token itself.

    ``key`` is the config key at fault (``token_env`` or ``token_file``); ``str()`` says what
    is wrong, ``advice`` what to do about it."""

    def __init__(self, key: str, message: str, advice: str) -> None:
        super().__init__(message)
        self.key = key
        self.advice = advice


class Connector(Protocol):
    name: str
    vendor: str

    async def check_in(self, request: CheckIn) -> Outcome: ...

    async def probe(self, station: str | None = None) -> Probe:
        """Prove the base URL and token (and ``station``, when given) without changing anything."""
        ...

    async def aclose(self) -> None: ...
