"""A loading dock for tests: the Loadings simulator on loopback and kiosk configs that use it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

GTIN_CRATE = "09506000134352"  # item unit 1 in the simulator's demo data
GTIN_ROUTER = "09506000134369"  # item unit 2, serialized (serial ids 750, 711, 712 new)
GTIN_PALLET = "09506000134376"  # item unit 3, 3 available
GHOST = "IU-9"  # a plain item-unit code for an item unit the API does not know

ITEM_UNITS: dict[str, Any] = {
    GTIN_CRATE: {"id": 1, "name": "Crate of 12 bottles"},
    GTIN_ROUTER: {"id": 2, "name": "Router X200"},
    GTIN_PALLET: {"id": 3, "name": "Pallet of water"},
    GHOST: 9,
}
BARCODE = {1: GTIN_CRATE, 2: GTIN_ROUTER, 3: GTIN_PALLET, 9: GHOST}
DOCK_PARAMS: dict[str, Any] = {"warehouse": 7, "type": 1, "reason": 2, "serial_prefix": "SN-"}


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def dock_profile(name: str, **overrides: Any) -> dict[str, Any]:
    """A dock profile at station DOCK-1: GS1 scans, loading references LD-..., serials SN-..."""
    return {"name": name, "backend": "dock", "station": "DOCK-1", "action": "loading", "gs1": True,
            "plain_patterns": ["^LD-", "^SN-", "^IU-"], "duplicate_window_s": 0, "params": dict(DOCK_PARAMS),
            **overrides}


def dock_config_text(base_url: str, profiles: list[dict[str, Any]] | None = None, *,
                     backend: Mapping[str, Any] | None = None) -> str:
    profiles = profiles or [dock_profile("DOCK")]
    keys = {"vendor": "loadings", "base_url": base_url, "timeout_s": 2.0, "item_units": ITEM_UNITS,
            **(backend or {})}
    lines = ["[kiosk]", f"profile = {toml_value(profiles[0]['name'])}", 'journal = "journal.sqlite3"', "",
             "[backends.dock]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in keys.items()]
    lines += ["", "[lead]", 'badge_pattern = "^LEAD"']
    for profile in profiles:
        lines += ["", "[[profiles]]"] + [f"{key} = {toml_value(value)}" for key, value in profile.items()]
    return "\n".join(lines) + "\n"


def write_dock_config(folder: Path, base_url: str, profiles: list[dict[str, Any]] | None = None,
                      **options: Any) -> Path:
    path = folder / "kiosk.toml"
    path.write_text(dock_config_text(base_url, profiles, **options), encoding="utf-8")
    return path
