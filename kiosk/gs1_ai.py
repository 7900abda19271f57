"""GS1 Application Identifiers: which exist, from biip's table. Pure, no I/O.

Its own module so that the config check (``identifier_ai``) and the station's GS1 reading
(``kiosk.station.gs1``) share one look-up without the config importing station logic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier


def known_ai(ai: str) -> GS1ApplicationIdentifier | None:
    """The Application Identifier ``ai`` exactly (biip's look-up also matches a longer text).

    biip is imported here, not at module level: it costs about 15 MB, and only a config that
    names an ``identifier_ai`` needs it."""
    from biip import ParseError
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier

    try:
        found = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        return None
    return found if found.ai == ai else None


def is_known_ai(ai: str) -> bool:
    """Whether ``ai`` is a GS1 Application Identifier (for checking ``identifier_ai`` in a config)."""
    return known_ai(ai) is not None
