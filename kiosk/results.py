"""``ScanResult``: what a processed scan came to, as both front ends show it.

The headless mode prints ``as_json()`` (one line per result); the Textual screens pick
their style from ``outcome``. Text fields hold raw data: front ends render them as plain
text through ``devices.text.visible``, never as markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# Outcomes that mean the station needs a person to look: shown full-screen until acknowledged.
ATTENTION = frozenset({"rejected", "parked"})
FAILURE = frozenset({"error", "journal"})

JSON_FIELDS = ("id", "ts", "scan", "scanner", "profile", "station", "operator", "outcome", "title",
               "details", "order_number", "tray_number", "po_number", "latency_ms")


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
    order_number: str | None = None
    tray_number: str | None = None
    po_number: str | None = None
    latency_ms: float | None = None
    source: str = "scanner"
    replay: bool = False
    http_status: int | None = None
    station_desc: str = ""
    status_time: str | None = None
    waiting: int = 0
    """Scans waiting in the outbox after this one was handled."""
    kind: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_json(self) -> str:
        data: dict[str, Any] = {name: getattr(self, name) for name in JSON_FIELDS}
        data["details"] = list(self.details)
        data["source"] = self.source
        if self.replay:
            data["replay"] = True
        if self.outcome == "queued":
            data["waiting"] = self.waiting
        return json.dumps(data, ensure_ascii=True)
