"""What every vendor simulator shares: data files, fault injection and the ``/__sim__/`` endpoints.

Job-track, Prodsmart, Movilitas, Scantrust and Loadings all build on this one ``SimBase``.

``SimBase`` is an app for ``SimServer`` that owns the simulator contract, so each vendor module
only writes how its data is reset (``_reset_data``) and its API (``_api``). It records every
API request, applies injected faults and runs ``_api`` under ``self._lock`` (re-entrant), so a
vendor's rules read and change their data without further locking.

Test and demo endpoints under ``/__sim__/`` (never subject to faults, never recorded):

- ``GET /__sim__/events``: the accepted actions, oldest first; ``DELETE`` clears them.
- ``GET /__sim__/requests``: every API request received (method, raw path, headers, body);
  ``DELETE`` clears them.
- ``GET|POST|DELETE /__sim__/faults``: fault injection, see ``SimBase.set_faults``.
- ``POST /__sim__/reset``: data, events, requests and faults back to the start.

A vendor may add control endpoints (``_control_routes``), hide secrets in the recorded
requests (``_request_record``) and give injected faults its own error body (``_fault_body``).

``load_model(path, Model)`` reads a simulator data file (TOML) into a pydantic model and turns
every problem into one ``SimDataError`` naming the file and the key.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kiosk.simulators.server import (
    CLOSE_CONNECTION,
    Answer,
    CloseConnection,
    json_answer,
)
from kiosk.tomlfile import read_toml

CONTROL_PREFIX = "/__sim__/"
MAX_ID_TEXT = 200
"""The longest identifier an answer repeats back (order id, reference, path segment)."""

Route = Callable[[], Answer]


# --- data files ---------------------------------------------------------------------------


class SimDataError(ValueError):
    """Simulator data that cannot be used; ``str()`` names the file and the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


M = TypeVar("M", bound=BaseModel)


def format_errors(exc: ValidationError) -> str:
    """Pydantic errors as ``key.path[0].name: problem`` parts joined with ``; ``."""
    lines = []
    for err in exc.errors(include_url=False):
        key = ""
        for part in err["loc"]:
            key += f"[{part}]" if isinstance(part, int) else ("." if key else "") + str(part)
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        else:
            msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"{key}: {msg}" if key else msg)
    return "; ".join(lines)


def load_model(path: str | Path, model: type[M]) -> M:
    """Read a TOML data file into ``model``; raise ``SimDataError`` naming the file and key."""
    path = Path(path)
    raw = read_toml(path, "simulator data file", SimDataError)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise SimDataError(f"{path}: {format_errors(exc)}") from None


def now_stamp(*, ms: bool = True) -> str:
    """The wall-clock time in UTC as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (``...SSZ`` with ``ms=False``)."""
    now = datetime.now(UTC)
    if not ms:
        return now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def clip(text: str) -> str:
    """Scanned text repeated in an answer, bounded."""
    return text if len(text) <= MAX_ID_TEXT else text[:MAX_ID_TEXT] + "..."


def parse_json(body: bytes) -> tuple[bool, Any]:
    """``(True, value)`` for a UTF-8 JSON body, ``(False, None)`` otherwise."""
    try:
        return True, json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return False, None


# --- faults -------------------------------------------------------------------------------


class FaultError(ValueError):
    """A fault request that cannot be used; ``str()`` says why."""


class _FaultRequest(Strict):
    status: int | None = Field(None, ge=100, le=599)
    count: int = Field(1, ge=1)
    retry_after: int | float | str | None = None
    delay_s: float | None = Field(None, ge=0, le=600)
    down: bool | None = None
    reset: bool = False


class _Faults:
    def __init__(self) -> None:
        self.status: int | None = None
        self.status_count = 0
        self.retry_after: str | None = None
        self.delay_s = 0.0
        self.delay_count = 0
        self.down = False

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status if self.status_count else None,
            "status_count": self.status_count,
            "retry_after": self.retry_after if self.status_count else None,
            "delay_s": self.delay_s if self.delay_count else 0.0,
            "delay_count": self.delay_count,
            "down": self.down,
        }


def _parse_fault_request(request: Any) -> _FaultRequest:
    if not isinstance(request, dict):
        raise FaultError("fault request must be a JSON object")
    try:
        parsed = _FaultRequest.model_validate(request)
    except ValidationError as exc:
        raise FaultError(f"bad fault request: {format_errors(exc)}") from None
    given = parsed.model_fields_set
    if "count" in given and not given & {"status", "delay_s"}:
        raise FaultError("bad fault request: count needs status or delay_s")
    if not given & {"status", "delay_s", "down", "reset"}:
        raise FaultError("bad fault request: give status, delay_s, down or reset")
    if "retry_after" in given and parsed.status is None:
        raise FaultError("bad fault request: retry_after needs status")
    return parsed


# --- the shared app -----------------------------------------------------------------------


class SimBase:
    """A simulator app for ``SimServer``: ``/__sim__/`` endpoints, faults, events; thread-safe.

    Subclasses set what ``_reset_data`` needs before calling ``super().__init__()`` and
    implement ``_reset_data`` and ``_api``; both run with ``self._lock`` held, and ``_api``
    records accepted actions with ``self._record``.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.reset()

    # to implement

    def _reset_data(self) -> None:
        raise NotImplementedError

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one API request: ``path`` is still percent-encoded, ``query`` is what follows ``?``."""
        raise NotImplementedError

    # may override

    def _fault_body(self, status: int) -> Any:
        """The JSON body of an injected ``status`` fault."""
        return {"error": "Simulated fault", "details": [f"HTTP {status} injected by the simulator"]}

    def _request_record(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        """How one API request is kept for ``GET /__sim__/requests`` (override to hide secrets)."""
        text = body.decode("utf-8", "replace")
        return {"method": method, "raw_path": raw_path, "headers": dict(headers), "body": text}

    def _control_routes(self, body: bytes) -> dict[tuple[str, str], Route]:
        """The vendor's extra ``/__sim__/NAME`` endpoints as ``{(METHOD, NAME): route}``."""
        return {}

    def _record(self, event: dict[str, Any]) -> None:
        self._events.append(event)

    # public state, also served under /__sim__/

    def reset(self) -> None:
        with self._lock:
            self._reset_data()
            self._events: list[dict[str, Any]] = []
            self._requests: list[dict[str, Any]] = []
            self._faults = _Faults()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._events)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._requests)

    def faults(self) -> dict[str, Any]:
        with self._lock:
            return self._faults.as_json()

    def set_faults(self, request: Any) -> dict[str, Any]:
        """Arm faults from a JSON-like dict; return the new fault state.

        - ``{"status": 503, "count": 5, "retry_after": 2}``: the next ``count`` (default 1)
          API requests answer that status with a JSON error body and change nothing.
        - ``{"delay_s": 3, "count": 1}``: the next ``count`` answers come late, after the
          request was carried out.
        - ``{"down": true}`` / ``{"down": false}``: API connections are closed without an
          answer until switched back.
        - ``{"reset": true}``: clear every fault first (may be combined with the others).
        Status and delay combine (a late error answer); ``down`` wins over both.
        """
        parsed = _parse_fault_request(request)
        with self._lock:
            if parsed.reset:
                self._faults = _Faults()
            faults = self._faults
            if parsed.status is not None:
                faults.status, faults.status_count = parsed.status, parsed.count
                faults.retry_after = None if parsed.retry_after is None else str(parsed.retry_after)
            if parsed.delay_s is not None:
                faults.delay_s, faults.delay_count = parsed.delay_s, parsed.count
            if parsed.down is not None:
                faults.down = parsed.down
            return faults.as_json()

    def clear_faults(self) -> dict[str, Any]:
        with self._lock:
            self._faults = _Faults()
            return self._faults.as_json()

    def stop(self) -> None:
        """Wake answers still sleeping on a ``delay_s`` fault (called by ``SimServer.stop``)."""
        self._stopping.set()

    # HTTP

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Answer | CloseConnection:
        path, _, query = raw_path.partition("?")
        if path.startswith(CONTROL_PREFIX):
            return self._control(method, path, body)
        with self._lock:
            self._requests.append(self._request_record(method, raw_path, headers, body))
            down, status_fault, delay = self._take_faults()
            if down:
                return CLOSE_CONNECTION
            answer = status_fault if status_fault is not None else self._api(method, path, query, headers, body)
        if delay:
            self._stopping.wait(delay)
        return answer

    def _take_faults(self) -> tuple[bool, Answer | None, float]:
        faults = self._faults
        if faults.down:
            return True, None, 0.0
        status_answer = None
        if faults.status_count and faults.status is not None:
            faults.status_count -= 1
            extra = {"Retry-After": faults.retry_after} if faults.retry_after is not None else {}
            status_answer = json_answer(faults.status, self._fault_body(faults.status), extra)
        delay = 0.0
        if faults.delay_count:
            faults.delay_count -= 1
            delay = faults.delay_s
        return False, status_answer, delay

    def _control(self, method: str, path: str, body: bytes) -> Answer:
        name = path[len(CONTROL_PREFIX):].rstrip("/")
        routes: dict[tuple[str, str], Route] = {
            ("GET", "events"): lambda: json_answer(200, self.events()),
            ("DELETE", "events"): lambda: self._clear(self._events),
            ("GET", "requests"): lambda: json_answer(200, self.requests()),
            ("DELETE", "requests"): lambda: self._clear(self._requests),
            ("GET", "faults"): lambda: json_answer(200, self.faults()),
            ("DELETE", "faults"): lambda: json_answer(200, self.clear_faults()),
            ("POST", "faults"): lambda: self._post_faults(body),
            ("POST", "reset"): self._reset_answer,
            **self._control_routes(body),
        }
        route = routes.get((method, name))
        if route is not None:
            return route()
        allowed = sorted(m for m, n in routes if n == name)
        if allowed:
            return json_answer(405, {"error": "Method not allowed", "details": [f"Use {', '.join(allowed)}"]},
                               {"Allow": ", ".join(allowed)})
        return json_answer(404, {"error": "Not found", "details": [f"No such simulator endpoint: {clip(path)}"]})

    def _reset_answer(self) -> Answer:
        self.reset()
        return json_answer(200, {"reset": True})

    def _clear(self, records: list[dict[str, Any]]) -> Answer:
        with self._lock:
            records.clear()
        return json_answer(200, [])

    def _post_faults(self, body: bytes) -> Answer:
        ok, request = parse_json(body)
        if not ok:
            return json_answer(400, {"error": "Bad fault request", "details": ["body is not JSON"]})
        try:
            return json_answer(200, self.set_faults(request))
        except FaultError as exc:
            return json_answer(400, {"error": "Bad fault request", "details": [str(exc)]})
