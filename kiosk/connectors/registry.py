"""The installed connectors: plug-ins registered under the entry-point group ``kiosk.connectors``.

A plant ships its own vendor as a separate package that declares, in its pyproject.toml::

    [project.entry-points."kiosk.connectors"]
    myvendor = "mypackage.connector:PLUGIN"

where ``PLUGIN`` is a ``kiosk.connectors.base.ConnectorPlugin``. The kiosk's own connectors
(job-track, ...) are registered the same way in the kiosk's pyproject.toml. Entry points are
read once per process.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from kiosk.connectors.base import ConnectorPlugin

GROUP = "kiosk.connectors"

log = logging.getLogger(__name__)


class PluginProblem(Exception):
    """An entry point that could not be loaded; ``str()`` names it and says why."""


@lru_cache(maxsize=1)
def _load() -> tuple[dict[str, ConnectorPlugin], tuple[str, ...]]:
    plugins: dict[str, ConnectorPlugin] = {}
    problems: list[str] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken third-party package must not stop the kiosk's own
            problems.append(f"connector {ep.name!r} ({ep.value}) cannot be loaded: {type(exc).__name__}: {exc}")
            continue
        if not isinstance(plugin, ConnectorPlugin):
            problems.append(f"connector {ep.name!r} ({ep.value}) is not a ConnectorPlugin")
            continue
        if plugin.vendor in plugins:
            problems.append(f"connector {ep.name!r}: vendor {plugin.vendor!r} is registered twice; "
                            "the first one is used")
            continue
        plugins[plugin.vendor] = plugin
    for problem in problems:
        log.warning("%s", problem)
    return plugins, tuple(problems)


def installed() -> dict[str, ConnectorPlugin]:
    """Every loadable connector, by vendor name."""
    return dict(_load()[0])


def problems() -> tuple[str, ...]:
    """Entry points that could not be loaded, as messages for ``kiosk doctor``."""
    return _load()[1]


def plugin_for(vendor: str) -> ConnectorPlugin:
    """The connector for ``vendor``; ``KeyError`` with the installed names when there is none."""
    plugins = installed()
    try:
        return plugins[vendor]
    except KeyError:
        known = ", ".join(sorted(plugins)) or "none"
        raise KeyError(f"no connector for vendor {vendor!r} is installed (installed: {known}); "
                       "a vendor's connector is a package to pip install (reinstall the kiosk "
                       "with pip install -e . if this is one of its own)") from None


def reset() -> None:
    """Forget what was read (tests that install a connector package at run time)."""
    _load.cache_clear()
