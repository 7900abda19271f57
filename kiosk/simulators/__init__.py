"""Vendor simulators: real HTTP servers on 127.0.0.1 that follow the vendor documents.

Tests, `kiosk demo` and `kiosk simulate VENDOR` use them. ``run_simulator`` is the body of
the `kiosk simulate` command.
"""

from __future__ import annotations

import errno
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.simulators.server import SimApp

SIMULATED_VENDORS = ("jobtrack", "prodsmart")


def _fail(message: str) -> int:
    print(f"kiosk simulate: {message}", file=sys.stderr, flush=True)
    return 2


def run_simulator(vendor: str, port: int, data: Path | None = None) -> int:
    """Serve the vendor's simulator on 127.0.0.1:``port`` until SIGTERM/SIGINT.

    Returns 0 after a signal, or 2 with one line on stderr for an unknown vendor, a bad data
    file or a port that cannot be used.
    """
    if vendor not in SIMULATED_VENDORS:
        return _fail(f"no simulator for vendor {vendor!r} (known: {', '.join(SIMULATED_VENDORS)})")
    if not 0 <= port <= 65535:
        return _fail(f"port {port} is not a TCP port number (0-65535)")

    from kiosk.simulators.common import SimDataError
    from kiosk.simulators.server import serve_cli

    try:
        app = _simulator(vendor, data)
    except SimDataError as exc:
        return _fail(str(exc))
    try:
        return serve_cli(app, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return _fail(f"port {port} is already in use")
        if exc.errno == errno.EACCES:
            return _fail(f"port {port} needs more privileges (use a port above 1023)")
        return _fail(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})")


def _simulator(vendor: str, data: Path | None) -> SimApp:
    """The vendor's simulator on ``data`` (or its demo data); raises ``SimDataError``."""
    if vendor == "prodsmart":
        from kiosk.simulators.prodsmart import ProdsmartSim

        return ProdsmartSim.from_file(data)
    from kiosk.simulators.jobtrack import JobTrackSim

    return JobTrackSim.from_file(data)
