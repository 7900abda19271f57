"""``kiosk doctor``: what is plugged in, and can every configured part be reached?

Lists serial ports and input devices, then checks each configured scanner (open + close),
each backend (the connector's ``probe()``), and the journal location. Prints one aligned
row per check (part, OK/FAIL, detail) with a "what to do" line under each failure, and
returns 0 when all configured parts are healthy, 1 otherwise. Plain text unless ``out`` is
a terminal. Nothing raises to the user: every failure becomes a FAIL row.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devices.hid_scanner import INSTALL_MESSAGE, HidScanner
from devices.ports import PortNotFound, list_input_devices, list_serial_ports, serial_by_id_links
from devices.serial_scanner import OpenFailed, check_open
from devices.text import visible
from kiosk.config import Config, ScannerConfig
from kiosk.connectors.base import BackendConfig
from kiosk.connectors.registry import installed, problems
from kiosk.scanners import serial_settings

HINTS = {
    "permission": "add the user to the 'dialout' group: sudo usermod -aG dialout $USER, then log in again",
    "busy": 'close the other program (stop the kiosk itself if it runs); for ModemManager add a udev rule ENV{ID_MM_DEVICE_IGNORE}="1" and replug',
    "not_found": "check the cable and the port in the config (ls -l /dev/serial/by-id/ shows stable names)",
    "other": "check the port settings in the config and the cable",
    "hid_missing": "install the hid extra: pip install 'kiosk[hid]'",
    "hid_access": "add the user to the 'input' group (sudo usermod -aG input $USER, then log in again) or add a udev rule",
    "hid_not_found": "plug the scanner in; check device / vid_pid in the config against the input devices listed above",
    "backend": "start the server or check base_url (and network, proxy, firewall) for this backend",
    "journal": "create the folder and give the kiosk user write permission (or set kiosk.journal elsewhere)",
}


@dataclass(frozen=True)
class Check:
    part: str
    ok: bool
    detail: str
    hint: str = ""


# -- checks ---------------------------------------------------------------------------


def check_scanner(cfg: ScannerConfig) -> Check:
    part = f"scanner {cfg.name} ({cfg.kind})"
    if cfg.kind == "stdin":
        return Check(part, True, "reads standard input")
    if cfg.kind == "serial":
        return _check_serial(part, cfg)
    return _check_hid(part, cfg)


def _check_serial(part: str, cfg: ScannerConfig) -> Check:
    settings = serial_settings(cfg)
    try:
        path = check_open(settings)
    except OpenFailed as exc:
        return Check(part, False, str(exc), HINTS.get(exc.kind, HINTS["other"]))
    where = settings.describe()
    detail = f"opened {path}" + (f" (via {where})" if where != path else "") + f" at {cfg.baudrate} baud"
    return Check(part, True, detail)


def _check_hid(part: str, cfg: ScannerConfig) -> Check:
    scanner = HidScanner(cfg.name, device=cfg.device, vid_pid=cfg.vid_pid, layout=cfg.layout)
    try:
        path = scanner.locate()
    except (PortNotFound, ValueError) as exc:
        return Check(part, False, str(exc), HINTS["hid_not_found"])
    if not os.access(path, os.R_OK):
        return Check(part, False, f"permission denied on {path}", HINTS["hid_access"])
    try:
        import evdev  # noqa: F401 - only whether it can be imported
    except ImportError:
        return Check(part, False, f"found {path}, but {INSTALL_MESSAGE}", HINTS["hid_missing"])
    return Check(part, True, f"found {path} (readable)")


def check_backend(name: str, backend: BackendConfig, base_dir: Path | None = None) -> Check:
    part = f"backend {name} ({backend.vendor})"
    try:
        ok, message = asyncio.run(_probe(name, backend, base_dir))
    except Exception as exc:  # a connector that fails to build or probe is a FAIL row, not a traceback
        ok, message = False, f"probe failed: {exc}"
    return Check(part, ok, message, "" if ok else f"{HINTS['backend']} (base_url = {backend.display_url})")


async def _probe(name: str, backend: BackendConfig, base_dir: Path | None) -> tuple[bool, str]:
    from kiosk.connectors import make_connector

    connector = make_connector(name, backend, base_dir=base_dir)
    try:
        probe = await asyncio.wait_for(connector.probe(), timeout=backend.timeout_s + 2)
    except asyncio.TimeoutError:
        return False, f"no answer from {backend.display_url} within {backend.timeout_s + 2:g} s"
    finally:
        await connector.aclose()
    return probe.ok, probe.message


def check_journal(path: Path) -> Check:
    """Really write: an existing journal is opened as the kiosk opens it, else a probe file."""
    part = "journal"
    folder = path.parent
    if not folder.is_dir():
        return Check(part, False, f"folder {folder} does not exist", HINTS["journal"])
    if path.exists():
        if not path.is_file():
            return Check(part, False, f"{path} exists but is not a file", HINTS["journal"])
        from kiosk.journal import Journal, JournalError

        try:
            Journal.open(path).close()
        except JournalError as exc:
            return Check(part, False, str(exc), HINTS["journal"])
        return Check(part, True, f"{path} is a healthy, writable journal")
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".kiosk-doctor-"):
            pass
    except OSError as exc:
        return Check(part, False, f"folder {folder} is not writable ({exc.strerror})", HINTS["journal"])
    return Check(part, True, f"{path} will be created in a writable folder")


def run_checks(config: Config) -> list[Check]:
    checks = [check_scanner(cfg) for cfg in config.scanners]
    checks += [check_backend(name, backend, config.path.parent) for name, backend in config.backends.items()]
    checks.append(check_journal(config.journal_path))
    return checks


# -- output ---------------------------------------------------------------------------


def connector_listing() -> list[str]:
    """The installed connectors (entry-point group kiosk.connectors) and any that failed to load."""
    plugins = installed()
    lines = ["Connectors:"]
    for vendor, plugin in sorted(plugins.items()):
        actions = ", ".join(sorted(plugin.actions))
        lines.append(f"  {vendor:<12} actions: {actions}" + (f"  ({plugin.description})" if plugin.description else ""))
    if not plugins:
        lines.append("  (none installed: reinstall the kiosk with pip install -e .)")
    lines += [f"  FAILED: {problem}" for problem in problems()]
    return lines


def device_listing() -> list[str]:
    lines = connector_listing() + ["", "Serial ports:"]
    try:
        ports = list_serial_ports()
    except Exception as exc:  # pyserial's listing reads sysfs; never let it stop the doctor
        ports = []
        lines.append(f"  (cannot list serial ports: {exc})")
    links = {target: link for link, target in serial_by_id_links().items()}
    for port in ports:
        fields = [port.device, port.vid_pid or "-", port.serial_number or "-", port.description or "-"]
        if port.device in links:
            fields.append(links[port.device])
        lines.append("  " + "  ".join(visible(f) for f in fields))
    if not ports:
        lines.append("  none found")
    lines.append("Input devices:")
    devices = list_input_devices()
    for device in devices:
        if device.readable:
            lines.append(f"  {device.path}  {device.vid_pid or '-'}  {visible(device.name or '-')}")
        else:
            lines.append(f"  {device.path}  {device.vid_pid or '-'}  {visible(device.name or '-')}  ({device.note})")
    if not devices:
        lines.append("  none found")
    return lines


def format_table(checks: list[Check], color: bool = False) -> list[str]:
    width = max([len("PART")] + [len(c.part) for c in checks])
    lines = [f"{'PART':<{width}}  STATUS  DETAIL"]
    for check in checks:
        status = "OK" if check.ok else "FAIL"
        if color:
            status_cell = ("\x1b[32m" if check.ok else "\x1b[31m") + f"{status:<6}" + "\x1b[0m"
        else:
            status_cell = f"{status:<6}"
        lines.append(f"{visible(check.part):<{width}}  {status_cell}  {visible(check.detail)}")
        if not check.ok and check.hint:
            lines.append(f"{'':<{width}}          what to do: {check.hint}")
    return lines


def run_doctor(config: Config, out: TextIO = sys.stdout) -> int:
    """Print the device listing and the checks; 0 when every configured part is healthy."""
    checks = run_checks(config)
    color = hasattr(out, "isatty") and out.isatty() and not os.environ.get("NO_COLOR")
    lines = device_listing() + [""] + format_table(checks, color)
    failed = sum(not c.ok for c in checks)
    lines += ["", "All checks passed." if not failed else f"{failed} of {len(checks)} checks failed."]
    out.write("\n".join(lines) + "\n")
    out.flush()
    return 0 if not failed else 1
