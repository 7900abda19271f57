"""Vendor connectors: each takes a check-in request and gives an ``Outcome``.

Connectors import no textual and no station logic. ``make_connector`` picks the
connector class for a backend's ``vendor``.
"""

from __future__ import annotations

from kiosk.config import BackendConfig
from kiosk.connectors.base import Connector


def make_connector(name: str, backend: BackendConfig) -> Connector:
    if backend.vendor == "jobtrack":
        from kiosk.connectors.jobtrack import JobTrackConnector

        return JobTrackConnector(name, backend)
    raise ValueError(f"no connector for vendor {backend.vendor!r}")
