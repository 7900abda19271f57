"""Vendor connectors: each takes a ``Request`` and gives an ``Answer``.

Connectors import no textual and no station logic. ``make_connector`` builds the connector
of a backend's ``vendor`` from the installed plug-ins (``kiosk.connectors.registry``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from kiosk.connectors.base import BackendConfig, Connector, ConnectorError
from kiosk.connectors.registry import plugin_for

if TYPE_CHECKING:
    import httpx


def make_connector(name: str, backend: BackendConfig, *, base_dir: Path | None = None,
                   transport: httpx.AsyncBaseTransport | None = None) -> Connector:
    """The connector for ``backend``; ``ConnectorError`` says why one cannot be built."""
    try:
        plugin = plugin_for(backend.vendor)
    except KeyError as exc:
        raise ConnectorError(exc.args[0], key="vendor") from None
    if not isinstance(backend, plugin.config_model):
        backend = plugin.config_model.model_validate(backend.model_dump())
    return plugin.factory(name, backend, base_dir=base_dir, transport=transport)
