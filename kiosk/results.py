"""``ScanResult``: what a processed scan came to, as both front ends show it.

The headless mode prints ``as_json()`` (one line per result); the Textual screens style it by
``outcome`` through ``kiosk.outcomes``. Text fields hold raw data: front ends render them as
plain text through ``devices.text.visible``, never as markup. A vendor's answer arrives as
labelled ``fields``; the JSON line carries them as an object, and the job-track keys
``order_number``, ``tray_number``, ``po_number`` stay top-level keys for every vendor (null
where a vendor has no such value).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kiosk.connectors.base import DisplayField
from kiosk.outcomes import Outcome, style

JSON_FIELDS = ("id", "ts", "scan", "scanner", "profile", "station", "operator", "outcome", "title",
               "details", "order_number", "tray_number", "po_number", "latency_ms")
TOP_LEVEL_KEYS = ("order_number", "tray_number", "po_number")


@dataclass(frozen=True)
class ScanResult:
    id: int | None
    ts: str
    scan: str
    scanner: str
    profile: str
    station: str
    operator: str | None
    outcome: str
    title: str
    details: tuple[str, ...] = ()
    fields: tuple[DisplayField, ...] = ()
    """The vendor's answer as labelled values (empty unless the vendor did it)."""
    action: str | None = None
    verb: str = "sent"
    """The action's verb ("checked in"), for headlines such as "NOT CHECKED IN"."""
    latency_ms: float | None = None
    source: str = "scanner"
    replay: bool = False
    http_status: int | None = None
    waiting: int = 0
    """Scans waiting in the outbox after this one was handled."""
    kind: str | None = None

    def value(self, key: str) -> str | None:
        for f in self.fields:
            if f.key == key:
                return f.value
        return None

    @property
    def order_number(self) -> str | None:
        return self.value("order_number")

    @property
    def tray_number(self) -> str | None:
        return self.value("tray_number")

    @property
    def po_number(self) -> str | None:
        return self.value("po_number")

    @property
    def station_desc(self) -> str:
        return self.value("station_desc") or ""

    @property
    def must_ack(self) -> bool:
        return style(self.outcome).must_ack

    def as_json(self) -> str:
        data: dict[str, Any] = {name: getattr(self, name) for name in JSON_FIELDS}
        data["details"] = list(self.details)
        data["source"] = self.source
        if self.action is not None:
            data["action"] = self.action
        if self.fields:
            data["fields"] = {f.key: f.value for f in self.fields}
        if self.replay:
            data["replay"] = True
        if self.outcome == Outcome.QUEUED:
            data["waiting"] = self.waiting
        return json.dumps(data, ensure_ascii=True)
