"""Vendor simulators: real HTTP servers on 127.0.0.1 that follow the vendor documents.

Tests, `kiosk demo` and `kiosk simulate VENDOR` use them. ``run_simulator`` is the body of
the `kiosk simulate` command; ``SIMULATED_VENDORS`` names the vendors it knows.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.simulators.server import SimApp


def _jobtrack(data: Path | None) -> SimApp:
    from kiosk.simulators.jobtrack import JobTrackSim, demo_data, load_sim_data

    return JobTrackSim(load_sim_data(data) if data is not None else demo_data())


def _movilitas(data: Path | None) -> SimApp:
    from kiosk.simulators.movilitas import MovilitasSim, load_sim_data

    return MovilitasSim(load_sim_data(data) if data is not None else None)


def _prodsmart(data: Path | None) -> SimApp:
    from kiosk.simulators.prodsmart import ProdsmartSim, load_sim_data

    return ProdsmartSim(load_sim_data(data) if data is not None else None)


def _scantrust(data: Path | None) -> SimApp:
    from kiosk.simulators.scantrust import ScantrustSim, load_sim_data

    return ScantrustSim(load_sim_data(data) if data is not None else None)


def _loadings(data: Path | None) -> SimApp:
    from kiosk.simulators.loadings import LoadingsSim, load_sim_data

    return LoadingsSim(load_sim_data(data) if data is not None else None)


_BUILDERS: dict[str, Callable[[Path | None], SimApp]] = {
    "jobtrack": _jobtrack,
    "prodsmart": _prodsmart,
    "movilitas": _movilitas,
    "scantrust": _scantrust,
    "loadings": _loadings,
}
SIMULATED_VENDORS = tuple(_BUILDERS)


def _fail(message: str) -> int:
    print(f"kiosk simulate: {message}", file=sys.stderr, flush=True)
    return 2


def run_simulator(vendor: str, port: int, data: Path | None = None) -> int:
    """Serve the vendor's simulator on 127.0.0.1:``port`` until SIGTERM/SIGINT.

    Returns 0 after a signal, or 2 with one line on stderr for an unknown vendor, a bad data
    file or a port that cannot be used.
    """
    build = _BUILDERS.get(vendor)
    if build is None:
        return _fail(f"no simulator for vendor {vendor!r} (known: {', '.join(SIMULATED_VENDORS)})")
    if not 0 <= port <= 65535:
        return _fail(f"port {port} is not a TCP port number (0-65535)")

    from kiosk.simulators.common import SimDataError
    from kiosk.simulators.server import serve_cli

    try:
        app = build(data)
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

