"""The Scantrust simulator: a printing partner confirms an SSC work order, over real HTTP.

``ScantrustSim`` follows ../shared/vendor-docs/scantrust-workorders.txt:
``PATCH /api/v2/workorders/{id}/printer-confirm/`` with ``{"substrate", "equipment",
"external_id"}`` and the UAT token in a header. Confirming a work order in state "new" starts
code generation: ``codegen_status`` 6 while the codes are generated, then 4 with the state
"completed" (or "ready to print", per work order), ``is_ready_to_print`` true and a
``codegen_file`` link. ``GET /api/v2/workorders/{id}/`` shows a work order.
``scantrust_demo.toml`` next to this module is the demo data; ``DEMO_CODES`` lists which scan
there gives which answer.

The rules run in this order, the first that applies answers (bodies are Django REST
framework's, the framework behind the API's ``count/next/previous/results`` lists and
trailing slashes):

- unknown path: 404 ``{"detail": "Not found."}``
- no token header, or another scheme: 401 ``{"detail": "Authentication credentials were not
  provided."}``; unknown token: 401 ``{"detail": "Invalid token."}``
- another method: 405 ``{"detail": "Method \\"GET\\" not allowed."}``
- the token lacks the permission (``workorder_edit`` to confirm, ``workorder_view`` to
  show): 403 ``{"detail": "You do not have permission to perform this action."}``
- unknown work order: 404 ``{"detail": "Not found."}``
- body not JSON: 400 ``{"detail": "JSON parse error - ..."}``; not an object: 400
  ``{"non_field_errors": [...]}``
- bad fields, one list per field: substrate or equipment missing (``This field is
  required.``), null, not an id (``Incorrect type. Expected pk value, received str.``) or
  unknown (``Invalid pk "99" - object does not exist.``); external_id not text
- already confirmed, or not in state "new": 400 ``{"detail": "..."}``
- success: 200 with the work order.

Assumptions where the document is silent:
- The token header: the document points to an "Authentication & Tokens" page it does not
  include. Default ``Authorization: UAT <token>``; the header name and scheme are
  constructor arguments (scheme "" means the bare token). A token lists its permissions;
  confirming needs ``workorder_edit``.
- substrate and equipment are required ids (numbers or digit strings, as in the example
  ``"1"``); external_id is optional text (numbers are taken as text), stored and returned as
  sent. The document's example sends ``"3"`` and shows ``"tk_001"`` back; the simulator
  returns what was sent.
- The confirm answer shows the work order after the request: with ``codegen_seconds = 0`` the
  codes are already generated (state completed, codegen_status 4); otherwise state "new"
  and codegen_status 6 as in the document's example answer, and 4 once ``codegen_seconds``
  have passed on the simulator's clock (a constructor argument, for tests).
- Before confirmation a work order has codegen_status 1 (the create example's value); one
  that the data file puts in state "ready to print" or "completed" has codegen_status 4.
- ``codegen_file`` is a path on the simulator, ``/media/workorders/<id>/codes.zip``.
- A second confirmation is refused (400 "Workorder <id> has already been confirmed."), as is
  one of a work order in another state than "new" (400 "Workorder <id> is <state> and cannot
  be confirmed.").
- A status fault answers ``{"detail": "Simulated fault (HTTP <status>)."}``.

``/__sim__/`` endpoints and faults: see ``kiosk.simulators.common``. An event per
confirmation: ``{"workorder", "substrate", "equipment", "external_id", "confirmed_at"}``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import Field, model_validator

from kiosk.simulators.common import (
    SimBase,
    Strict,
    clip,
    load_model,
    now_stamp,
    parse_json,
)
from kiosk.simulators.server import Answer, json_answer

WORKORDERS_PREFIX = "/api/v2/workorders/"
DEMO_DATA_PATH = Path(__file__).with_name("scantrust_demo.toml")
DEMO_TOKEN = "scantrust-demo-uat-token"
DEMO_VIEW_TOKEN = "scantrust-view-only-token"
DEMO_SUBSTRATE = 74
DEMO_EQUIPMENT = 214
DEMO_EXTERNAL_ID = "tk_001"
ALL_PERMISSIONS = ["workorder_view", "workorder_create", "workorder_edit", "workorder_cancel", "workorder_archive"]

NOT_FOUND = "Not found."
NO_CREDENTIALS = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
NO_PERMISSION = "You do not have permission to perform this action."
FIELD_REQUIRED = "This field is required."
FIELD_NULL = "This field may not be null."
CODEGEN_NEW = 1
CODEGEN_GENERATING = 6
CODEGEN_DONE = 4
MAX_EXTERNAL_ID = 255

_CONFIRM = re.compile(r"/api/v2/workorders/(\d{1,18})/printer-confirm/")
_SHOW = re.compile(r"/api/v2/workorders/(\d{1,18})/")

State = Literal["new", "ready to print", "completed", "cancelled"]


def already_confirmed(workorder: int) -> str:
    return f"Workorder {workorder} has already been confirmed."


def wrong_state(workorder: int, state: str) -> str:
    return f"Workorder {workorder} is {state} and cannot be confirmed."


def invalid_pk(value: Any) -> str:
    return f'Invalid pk "{clip(str(value))}" - object does not exist.'


def incorrect_type(value: Any) -> str:
    return f"Incorrect type. Expected pk value, received {type(value).__name__}."


# --- data model -------------------------------------------------------------------------


class Named(Strict):
    id: int = Field(ge=1)
    name: str = ""
    description: str = ""


class Product(Strict):
    id: int = Field(ge=1)
    sku: str = ""
    name: str = ""


class Token(Strict):
    token: str = Field(min_length=1)
    permissions: list[str] = Field(default_factory=lambda: list(ALL_PERMISSIONS))


class WorkOrder(Strict):
    id: int = Field(ge=1)
    reference: str = ""
    state: State = "new"
    company: int
    printing_partner: int
    brand: Named | None = None
    product: Product | None = None
    quantity: int = Field(ge=1)
    code_layout: Literal["sg-inside", "sg-outside", "custom"] = "sg-outside"
    remarks: str = ""
    activate_on_complete: bool = False
    template: int | None = None
    url_prefix: str = "HTTPS://QR1.CH/Q/"
    creation_date: str = "2021-03-10T08:46:55.234818Z"
    confirmed_state: Literal["ready to print", "completed"] = "completed"
    """The state the work order reaches once its codes are generated."""
    codegen_seconds: float = Field(0.0, ge=0, le=86_400)
    """How long code generation takes after confirmation (0: done within the request)."""


class ScantrustData(Strict):
    tokens: list[Token] = Field(min_length=1)
    companies: list[Named] = Field(default_factory=list)
    substrates: list[Named] = Field(default_factory=list)
    equipment: list[Named] = Field(default_factory=list)
    workorders: list[WorkOrder] = Field(default_factory=list)

    @model_validator(mode="after")
    def _references(self) -> ScantrustData:
        for key in ("companies", "substrates", "equipment", "workorders"):
            seen: set[int] = set()
            for i, item in enumerate(getattr(self, key)):
                if item.id in seen:
                    raise ValueError(f"{key}[{i}].id: id {item.id} is used twice")
                seen.add(item.id)
        companies = {c.id for c in self.companies}
        for i, order in enumerate(self.workorders):
            for key in ("company", "printing_partner"):
                if getattr(order, key) not in companies:
                    raise ValueError(f"workorders[{i}].{key}: unknown company {getattr(order, key)}")
        return self


def load_sim_data(path: str | Path) -> ScantrustData:
    """Read and validate simulator data; raise ``SimDataError`` naming the file and key."""
    return load_model(path, ScantrustData)


def demo_data() -> ScantrustData:
    return load_sim_data(DEMO_DATA_PATH)


# --- demo codes ---------------------------------------------------------------------------


class DemoCode(NamedTuple):
    """One scanned work order id and what the simulator answers on fresh demo data."""

    code: str
    status: int
    expected: str
    """The state on success, else the answer's message."""
    codegen_status: int | None = None
    substrate: Any = DEMO_SUBSTRATE
    token: str = DEMO_TOKEN
    note: str = ""


# Listed in an order that also works as one session on the same (mutating) simulator.
DEMO_CODES: list[DemoCode] = [
    DemoCode("4977", 200, "completed", CODEGEN_DONE, note="codes generated at once; codes file ready"),
    DemoCode("4977", 400, already_confirmed(4977), note="confirmed a moment ago"),
    DemoCode("5094", 200, "new", CODEGEN_GENERATING, note="the document's example: codes being generated"),
    DemoCode("4978", 200, "ready to print", CODEGEN_DONE),
    DemoCode("4990", 400, wrong_state(4990, "completed"), note="printed long ago"),
    DemoCode("4991", 400, wrong_state(4991, "cancelled")),
    DemoCode("9999", 404, NOT_FOUND, note="unknown work order"),
    DemoCode("4979", 400, invalid_pk(99), substrate=99, note="a station set up with substrate 99"),
    DemoCode("4979", 403, NO_PERMISSION, token=DEMO_VIEW_TOKEN, note="a token without workorder_edit"),
    DemoCode("4979", 401, INVALID_TOKEN, token="revoked-token"),
    DemoCode("4979", 200, "completed", CODEGEN_DONE, note="still new after the refusals above"),
]


# --- the simulator ------------------------------------------------------------------------


class _Progress:
    """What the simulator adds to a work order once it is confirmed."""

    def __init__(self, substrate: int, equipment: int, external_id: str, ready_at: float) -> None:
        self.substrate = substrate
        self.equipment = equipment
        self.external_id = external_id
        self.ready_at = ready_at
        self.completed_stamp: str | None = None


def _detail(status: int, detail: str, headers: dict[str, str] | None = None) -> Answer:
    return json_answer(status, {"detail": detail}, headers)


class ScantrustSim(SimBase):
    """The simulated Scantrust work-order API as an app for ``SimServer``."""

    def __init__(self, data: ScantrustData | None = None, *, token_header: str = "Authorization",
                 token_scheme: str = "UAT", clock: Callable[[], float] = time.monotonic) -> None:
        self._initial = data if data is not None else demo_data()
        self.token_header = token_header.lower()
        self.token_scheme = token_scheme
        self._clock = clock
        super().__init__()

    def _reset_data(self) -> None:
        self._data = self._initial.model_copy(deep=True)
        self._orders = {order.id: order for order in self._data.workorders}
        self._progress: dict[int, _Progress] = {}

    def workorder(self, workorder_id: int) -> dict[str, Any] | None:
        """The work order as the API shows it, or None."""
        with self._lock:
            order = self._orders.get(workorder_id)
            return self._as_json(order) if order else None

    def _fault_body(self, status: int) -> Any:
        return {"detail": f"Simulated fault (HTTP {status})."}

    def _api(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> Answer:
        confirm = _CONFIRM.fullmatch(path)
        show = None if confirm else _SHOW.fullmatch(path)
        match = confirm or show
        if match is None:
            return _detail(404, NOT_FOUND)
        token = self._token(headers)
        if token is None:
            return _detail(401, NO_CREDENTIALS, self._challenge())
        if token not in {t.token for t in self._data.tokens}:
            return _detail(401, INVALID_TOKEN, self._challenge())
        allowed = "PATCH" if confirm else "GET"
        if method != allowed:
            return _detail(405, f'Method "{clip(method)}" not allowed.', {"Allow": allowed})
        needed = "workorder_edit" if confirm else "workorder_view"
        if not any(t.token == token and needed in t.permissions for t in self._data.tokens):
            return _detail(403, NO_PERMISSION)
        order = self._orders.get(int(match.group(1)))
        if order is None:
            return _detail(404, NOT_FOUND)
        if show:
            return json_answer(200, self._as_json(order))
        return self._confirm(order, body)

    def _token(self, headers: dict[str, str]) -> str | None:
        value = headers.get(self.token_header, "").strip()
        if self.token_scheme:
            scheme, _, value = value.partition(" ")
            if scheme.lower() != self.token_scheme.lower():
                return None
            value = value.strip()
        return value or None

    def _challenge(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.token_scheme} if self.token_scheme else {}

    def _confirm(self, order: WorkOrder, body: bytes) -> Answer:
        parsed, payload = parse_json(body)
        if not parsed:
            return _detail(400, "JSON parse error - the request body is not valid JSON")
        if not isinstance(payload, dict):
            kind = "list" if isinstance(payload, list) else type(payload).__name__
            return json_answer(400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]})
        errors: dict[str, list[str]] = {}
        substrate = self._pk(payload, "substrate", {s.id for s in self._data.substrates}, errors)
        equipment = self._pk(payload, "equipment", {e.id for e in self._data.equipment}, errors)
        external_id = payload.get("external_id", "")
        if isinstance(external_id, (int, float)) and not isinstance(external_id, bool):
            external_id = str(external_id)
        if external_id is None:
            errors["external_id"] = [FIELD_NULL]
        elif not isinstance(external_id, str):
            errors["external_id"] = ["Not a valid string."]
        elif len(external_id) > MAX_EXTERNAL_ID:
            errors["external_id"] = [f"Ensure this field has no more than {MAX_EXTERNAL_ID} characters."]
        if errors:
            return json_answer(400, errors)
        self._advance(order)
        if order.id in self._progress:
            return _detail(400, already_confirmed(order.id))
        if order.state != "new":
            return _detail(400, wrong_state(order.id, order.state))
        assert substrate is not None and equipment is not None and isinstance(external_id, str)
        self._progress[order.id] = _Progress(substrate, equipment, external_id, self._clock() + order.codegen_seconds)
        self._record({"workorder": order.id, "substrate": substrate, "equipment": equipment,
                      "external_id": external_id, "confirmed_at": now_stamp()})
        return json_answer(200, self._as_json(order))

    @staticmethod
    def _pk(payload: dict[str, Any], key: str, known: set[int], errors: dict[str, list[str]]) -> int | None:
        if key not in payload:
            errors[key] = [FIELD_REQUIRED]
            return None
        value = payload[key]
        if value is None:
            errors[key] = [FIELD_NULL]
            return None
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
            number = int(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            number = value
        else:
            errors[key] = [incorrect_type(value)]
            return None
        if number not in known:
            errors[key] = [invalid_pk(value)]
            return None
        return number

    def _advance(self, order: WorkOrder) -> None:
        """Finish code generation once its time has come."""
        progress = self._progress.get(order.id)
        if progress is None or progress.completed_stamp is not None or self._clock() < progress.ready_at:
            return
        progress.completed_stamp = now_stamp()
        order.state = order.confirmed_state

    def _as_json(self, order: WorkOrder) -> dict[str, Any]:
        self._advance(order)
        progress = self._progress.get(order.id)
        companies = {c.id: c for c in self._data.companies}
        substrates = {s.id: s for s in self._data.substrates}
        equipment = {e.id: e for e in self._data.equipment}
        if progress is not None:
            done = progress.completed_stamp is not None
            completed = progress.completed_stamp
            codegen_status = CODEGEN_DONE if done else CODEGEN_GENERATING
        else:  # as found in the data: generated long ago, or never confirmed
            done = order.state in ("ready to print", "completed")
            completed = order.creation_date if done else None
            codegen_status = CODEGEN_DONE if done else CODEGEN_NEW
        return {
            "id": order.id,
            "company": companies[order.company].model_dump(exclude={"description"}),
            "printing_partner": companies[order.printing_partner].model_dump(exclude={"description"}),
            "equipment": equipment[progress.equipment].model_dump(exclude={"description"}) if progress else None,
            "state": order.state,
            "due_date": None,
            "reference": order.reference or None,
            "creation_date": order.creation_date,
            "code_layout": order.code_layout,
            "use_serial_number": True,
            "static_unique_codes_quantity": 0,
            "quantity": order.quantity,
            "is_ready_to_print": done,
            "date_codes_completed": completed,
            "is_archived": False,
            "codegen_status": codegen_status,
            "codegen_file": f"/media/workorders/{order.id}/codes.zip" if done else None,
            "data": {"remarks": order.remarks, "activate_on_complete": order.activate_on_complete,
                     "static_unique_codes_quantity": 0},
            "product": order.product.model_dump() if order.product else None,
            "brand": order.brand.model_dump(exclude={"description"}) if order.brand else None,
            "remarks": order.remarks,
            "printed_date": None,
            "has_secure_workflow": False,
            "static_impositions": 0,
            "designer": None,
            "external_id": progress.external_id if progress else "",
            "is_fingerprint_trained": False,
            "substrate": substrates[progress.substrate].model_dump() if progress else None,
            "template": order.template,
            "template_image": None,
            "is_hybrid": False,
            "is_static_print": False,
            "is_fp_serialized": False,
            "url_prefix": order.url_prefix,
            "extended_id_style": "legacy",
            "partner_permissions": [],
        }
