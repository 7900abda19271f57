"""``kiosk doctor``: what is plugged in, and can every configured part be reached?

Lists serial ports and input devices, then checks each configured scanner (open + close),
each backend (the connector's ``probe()`` for every station its profiles use: proves base
URL, token and station without checking anything in), the journal location (a journal in
use by a running kiosk is reported with its PID, not opened), that every scan pattern runs
in linear time, and that token files are private (like ssh with a key other users can read). With
``listen_s`` it also starts the serial and HID scanners for that long and checks what a scan
sends (terminator, encoding, length), e.g. ``scanner sends CRLF, set terminator = "\\r\\n"``.
Prints one aligned row per check (part, OK/FAIL, detail) with a "what to do" line under each
failure, and returns 0 when all configured parts are healthy, 1 otherwise. Plain text unless
``out`` is a terminal. Nothing raises to the user: every failure becomes a FAIL row.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from devices.events import (
    HINT_KINDS,
    DeviceEvent,
    DiagnosticEvent,
    ScanEvent,
    Scanner,
    StateEvent,
    UnreadableEvent,
)
from devices.framing import terminator_label
from devices.hid_scanner import INSTALL_MESSAGE, HidScanner
from devices.ports import (
    PortNotFound,
    list_input_devices,
    list_serial_ports,
    serial_by_id_links,
)
from devices.serial_scanner import OpenFailed, check_open
from devices.text import visible
from kiosk.config import Config, ScannerConfig
from kiosk.connectors.base import Probe
from kiosk.connectors.registry import installed, problems
from kiosk.files import loose_permissions
from kiosk.patterns import PatternError, compile_pattern
from kiosk.scanners import build_scanner, serial_settings

HINTS = {
    "permission": "add the user to the 'dialout' group: sudo usermod -aG dialout $USER, then log in again",
    "busy": "close the other program (stop the kiosk itself if it runs); "
            'for ModemManager add a udev rule ENV{ID_MM_DEVICE_IGNORE}="1" and replug',
    "not_found": "check the cable and the port in the config (ls -l /dev/serial/by-id/ shows stable names)",
    "other": "check the port settings in the config and the cable",
    "hid_missing": "install the hid extra: pip install 'kiosk[hid]'",
    "hid_access": "add the user to the 'input' group (sudo usermod -aG input $USER, then log in again) "
                  "or add a udev rule",
    "hid_not_found": "plug the scanner in; check device / vid_pid in the config against the input devices listed above",
    "backend": "start the server or check base_url (and network, proxy, firewall) for this backend",
    "journal": "create the folder and give the kiosk user write permission (or set kiosk.journal elsewhere)",
}
SETTLE_S = 0.5
"""Listening goes on this long after every scanner has sent something (a trailing LF, more scans)."""
OPEN_WAIT_S = 3.0
"""How long listening waits for the scanners' ports to open before asking for a scan."""


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
        import evdev  # type: ignore[import-not-found]  # noqa: F401 - only whether it can be imported
    except ImportError:
        return Check(part, False, f"found {path}, but {INSTALL_MESSAGE}", HINTS["hid_missing"])
    return Check(part, True, f"found {path} (readable)")


def check_backend(config: Config, name: str) -> Check:
    """Probe the backend once per station its profiles use, stopping at the first failure."""
    part = f"backend {name} ({config.backends[name].vendor})"
    try:
        return asyncio.run(_probe(config, name, part))
    except Exception as exc:  # noqa: BLE001 - a connector that fails to build or probe is a FAIL row, not a traceback
        return Check(part, False, f"probe failed: {exc}", _probe_hint(config, name, "answer"))


async def _probe(config: Config, name: str, part: str) -> Check:
    from kiosk.runtime import StartupError, build_connector

    backend = config.backends[name]
    try:
        connector = build_connector(config, name)
    except StartupError as exc:
        return Check(part, False, exc.message, exc.advice)
    stations: list[str | None] = list(dict.fromkeys(p.station for p in config.profiles if p.backend == name))
    limit = backend.timeout_s + 2
    passed: list[tuple[str | None, Probe]] = []
    try:
        for station in stations or [None]:
            try:
                probe = await asyncio.wait_for(connector.probe(station), timeout=limit)
            except TimeoutError:
                return Check(part, False, f"no answer from {backend.display_url} within {limit:g} s",
                             _probe_hint(config, name, "unreachable"))
            if not probe.ok:
                return Check(part, False, probe.message, _probe_hint(config, name, probe.problem, station))
            passed.append((station, probe))
    finally:
        await connector.aclose()
    detail = passed[0][1].message
    if len(passed) > 1:
        detail += "; found too: " + ", ".join(repr(station) for station, _ in passed[1:])
    return Check(part, True, detail)


def _probe_hint(config: Config, name: str, problem: str, station: str | None = None) -> str:
    """What to do about a failed probe, naming the config file and the key to change."""
    backend = config.backends[name]
    key = f"backends.{name}"
    if problem == "token":
        token_env, token_file = getattr(backend, "token_env", None), getattr(backend, "token_file", None)
        if token_env:
            source = f"the environment variable {token_env} ({key}.token_env)"
        elif token_file:
            source = f"the file {config.resolve(token_file)} ({key}.token_file)"
        else:
            return f"the server wants an API token: set {key}.token_env or {key}.token_file in {config.path}"
        how = ""
        if hasattr(backend, "auth_header"):
            scheme = getattr(backend, "auth_scheme", "") or "(bare token)"
            how = f"; the kiosk sends it as {backend.auth_header}: {scheme} ... ({key}.auth_header / auth_scheme)"
        return f"check the API token in {source}: it must be a token this server accepts (ask its administrator){how}"
    if problem == "base_url":
        return (f"set {key}.base_url in {config.path} to the server's address without the API path "
                f"(now {backend.display_url}); the kiosk adds the path itself")
    if problem == "station":
        keys = [f"profiles[{i}].station" for i, p in enumerate(config.profiles)
                if p.backend == name and p.station == station]
        return (f"check {', '.join(keys) or 'the station'} in {config.path}: "
                "the vendor's station code, spelled exactly (case matters)")
    if problem == "server":
        return ("the server reports a problem of its own: try again later or ask its administrator "
                "(the kiosk keeps scans and sends them later)")
    if problem == "unreachable":
        return f"{HINTS['backend']} (base_url = {backend.display_url})"
    return f"check that {key}.base_url ({backend.display_url}) is the vendor's API server"


def check_journal(path: Path) -> Check:
    """Really write: an existing journal is opened as the kiosk opens it, else a probe file."""
    part = "journal"
    folder = path.parent
    if not folder.is_dir():
        return Check(part, False, f"folder {folder} does not exist", HINTS["journal"])
    if path.exists():
        if not path.is_file():
            return Check(part, False, f"{path} exists but is not a file", HINTS["journal"])
        from kiosk.journal import Journal, JournalError, lock_holder

        holder = lock_holder(path)
        if holder is not None:
            who = f"a running kiosk (PID {holder})" if holder > 0 else "a running kiosk"
            return Check(part, True, f"{path} is in use by {who}; one kiosk per journal, so doctor leaves it be")
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


def listen_scanners(config: Config, seconds: float, out: TextIO, only: set[str] | None = None) -> list[Check]:
    """Start the serial and HID scanners (those named in ``only``, when given) for up to
    ``seconds`` and judge what a scan sends."""
    chosen = [(i, cfg) for i, cfg in enumerate(config.scanners)
              if cfg.kind in ("serial", "hid") and (only is None or cfg.name in only)]
    if not chosen:
        return []
    events: queue.Queue[DeviceEvent] = queue.Queue()
    scanners: list[Scanner] = [build_scanner(cfg) for _, cfg in chosen]
    seen: dict[str, list[DeviceEvent]] = {cfg.name: [] for _, cfg in chosen}
    for scanner in scanners:
        scanner.start(events.put)
    try:
        # Ask for a scan only once every port is open: bytes sent before would be lost.
        _collect(events, seen, OPEN_WAIT_S, until=lambda got: any(isinstance(e, StateEvent) for e in got))
        names = ", ".join(visible(cfg.name) for _, cfg in chosen)
        out.write(f"Scan a barcode with each scanner now ({names}); listening for {seconds:g} s ...\n")
        out.flush()
        _collect(events, seen, seconds, until=lambda got: any(isinstance(e, (ScanEvent, UnreadableEvent)) for e in got),
                 settle_s=SETTLE_S)
    finally:
        for scanner in scanners:
            scanner.stop()
    return [_judge_scans(config, i, cfg, seen[cfg.name]) for i, cfg in chosen]


def _collect(events: queue.Queue[DeviceEvent], seen: dict[str, list[DeviceEvent]], seconds: float,
             until: Callable[[list[DeviceEvent]], bool], settle_s: float = 0.0) -> None:
    """Gather events for up to ``seconds``; stop ``settle_s`` after ``until`` holds for every scanner."""
    deadline = time.monotonic() + seconds
    settled: float | None = None
    while True:
        now = time.monotonic()
        if now >= deadline or (settled is not None and now >= settled):
            return
        if settled is None and all(until(got) for got in seen.values()):
            settled = now + settle_s
            continue
        try:
            event = events.get(timeout=0.05)
        except queue.Empty:
            continue
        if event.scanner in seen:
            seen[event.scanner].append(event)


def _judge_scans(config: Config, index: int, cfg: ScannerConfig, events: list[DeviceEvent]) -> Check:
    part = f"scanner {cfg.name} scans"
    key = f"scanners[{index}]"
    scans = [e.text for e in events if isinstance(e, ScanEvent)]
    unreadable = [e for e in events if isinstance(e, UnreadableEvent)]
    hints = [e.message for e in events if isinstance(e, DiagnosticEvent) and e.kind in HINT_KINDS]
    read = f"read {len(scans)} scan(s)" + (": " + ", ".join(repr(visible(t)) for t in scans[:3]) if scans else "")
    if hints:
        return Check(part, False, f"{read}; {hints[0]}", f"{hints[0]} for {key} in {config.path}")
    if unreadable:
        first = unreadable[0]
        advice = {
            "incomplete": f"the scanner's suffix is not {terminator_label(cfg.terminator)}: "
                          f"set {key}.terminator to what it sends (kiosk devices monitor shows the bytes), "
                          "or program the scanner's suffix",
            "decode_error": f"set {key}.encoding to the scanner's character set, "
                            "or check baudrate/parity (garbled bytes)",
            "too_long": f"raise {key}.max_length, or check {key}.terminator (frames run into each other)",
            "empty": f"check {key}.prefix / suffix: nothing was left of the scan",
        }[first.reason]
        detail = f"{read}; {len(unreadable)} unreadable: {first.reason}: {first.message}"
        return Check(part, False, detail, advice)
    if not scans:
        return Check(part, False, "nothing was scanned while the doctor listened",
                     "scan a barcode while the doctor listens; "
                     "check the cable, baudrate and the scanner's interface mode")
    return Check(part, True, read)


def check_patterns(config: Config) -> Check | None:
    """Every scan pattern compiles for linear-time matching (load_config refuses the others;
    this row says so for the technician, and catches a config built another way)."""
    patterns = [("lead.badge_pattern", config.lead.badge_pattern)]
    for i, profile in enumerate(config.profiles):
        patterns.append((f"profiles[{i}].operator_pattern", profile.operator_pattern))
        patterns += [(f"profiles[{i}].job_patterns[{j}]", p) for j, p in enumerate(profile.job_patterns or [])]
    given = [(key, text) for key, text in patterns if text is not None]
    for key, text in given:
        try:
            compile_pattern(text)
        except PatternError as exc:
            return Check("scan patterns", False, f"{key}: {exc}", f"change {key} in {config.path}")
    if not given:
        return None
    return Check("scan patterns", True, f"{len(given)} pattern(s), each runs in linear time in the scan's length (RE2)")


def check_token_files(config: Config) -> list[Check]:
    """A token file other users can read is a FAIL, as ssh refuses such a key."""
    checks = []
    for name, backend in config.backends.items():
        token_file = getattr(backend, "token_file", None)
        if token_file is None:
            continue
        path = config.resolve(token_file)
        if not path.is_file():
            continue  # the backend's own row says what is wrong with it
        part = f"token file of backend {name}"
        loose = loose_permissions(path)
        if loose:
            checks.append(Check(part, False, f"{path} is not private ({loose})",
                                f"chmod 600 {path}, owned by the kiosk user: only the kiosk may read the API token"))
        else:
            checks.append(Check(part, True, f"{path} is readable by its owner only"))
    return checks


def run_checks(config: Config) -> list[Check]:
    checks = [check_scanner(cfg) for cfg in config.scanners]
    checks += [check_backend(config, name) for name in config.backends]
    checks.append(check_journal(config.journal_path))
    patterns = check_patterns(config)
    if patterns is not None:
        checks.append(patterns)
    checks += check_token_files(config)
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
    except Exception as exc:  # noqa: BLE001 - pyserial's listing reads sysfs; never let it stop the doctor
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


def run_doctor(config: Config, out: TextIO = sys.stdout, listen_s: float = 0.0) -> int:
    """Print the device listing and the checks; 0 when every configured part is healthy.

    With ``listen_s`` > 0 the serial and HID scanners that opened are also listened to."""
    checks = run_checks(config)
    if listen_s > 0:
        opened = {cfg.name for cfg, check in zip(config.scanners, checks, strict=False) if check.ok}
        checks += listen_scanners(config, listen_s, out, only=opened)
    color = hasattr(out, "isatty") and out.isatty() and not os.environ.get("NO_COLOR")
    lines = device_listing() + [""] + format_table(checks, color)
    failed = sum(not c.ok for c in checks)
    lines += ["", "All checks passed." if not failed else f"{failed} of {len(checks)} checks failed."]
    out.write("\n".join(lines) + "\n")
    out.flush()
    return 0 if not failed else 1
