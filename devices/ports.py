"""Finding scanners: serial ports (pyserial's list) and Linux input devices (sysfs).

Serial ports match by path, by a ``/dev/serial/by-id/...`` link (resolved at each open, as
the target changes when a device is replugged), or by USB ``VID:PID`` plus an optional
serial number. Input devices are listed from ``/sys/class/input`` so names and IDs are
known even without permission to open ``/dev/input/event*``.
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path


class PortNotFound(Exception):
    """No device matches; ``str()`` is the message for the user."""


@dataclass(frozen=True)
class SerialPortInfo:
    device: str
    vid_pid: str | None = None
    serial_number: str | None = None
    description: str = ""
    manufacturer: str | None = None


@dataclass(frozen=True)
class InputDeviceInfo:
    path: str
    name: str | None = None
    vid_pid: str | None = None
    readable: bool = False

    @property
    def note(self) -> str:
        return "" if self.readable else "no permission: add the user to the 'input' group or add a udev rule"


def parse_vid_pid(text: str) -> tuple[int, int]:
    """``"0c2e:0b61"`` → ``(0x0C2E, 0x0B61)``; ValueError with a clear message otherwise."""
    parts = text.strip().split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        vid, pid = (int(p, 16) for p in parts)
    except ValueError:
        raise ValueError(f"VID:PID {text!r} is not two hex numbers like 0c2e:0b61") from None
    if not (0 <= vid <= 0xFFFF and 0 <= pid <= 0xFFFF):
        raise ValueError(f"VID:PID {text!r} is out of range (each part is 4 hex digits)")
    return vid, pid


def format_vid_pid(vid: int | None, pid: int | None) -> str | None:
    if vid is None or pid is None:
        return None
    return f"{vid:04x}:{pid:04x}"


# -- serial ---------------------------------------------------------------------------


def list_serial_ports() -> list[SerialPortInfo]:
    from serial.tools import list_ports  # type: ignore[import-untyped]

    ports = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        ports.append(
            SerialPortInfo(
                device=port.device,
                vid_pid=format_vid_pid(port.vid, port.pid),
                serial_number=port.serial_number,
                description=port.description if port.description and port.description != "n/a" else "",
                manufacturer=port.manufacturer,
            )
        )
    return ports


def find_serial_port(vid_pid: str, serial_number: str | None = None, ports: list[SerialPortInfo] | None = None) -> str:
    """The device path of the one plugged-in port matching VID:PID (and serial number)."""
    vid, pid = parse_vid_pid(vid_pid)
    wanted = format_vid_pid(vid, pid)
    candidates = [p for p in (list_serial_ports() if ports is None else ports) if p.vid_pid == wanted]
    if serial_number is not None:
        candidates = [p for p in candidates if p.serial_number == serial_number]
    what = f"VID:PID {wanted}" + (f" with serial number {serial_number}" if serial_number else "")
    if not candidates:
        raise PortNotFound(f"not found: no USB serial device with {what} is plugged in")
    if len(candidates) > 1:
        devices = ", ".join(p.device for p in candidates)
        raise PortNotFound(f"ambiguous: several devices have {what} ({devices}); set serial_number or port")
    return candidates[0].device


def resolve_port(path: str) -> str:
    """Follow a by-id link to the current tty; PortNotFound when it does not lead anywhere."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise PortNotFound(f"not found: {path} does not exist (check the cable / the by-id path)")
    return real


def serial_by_id_links(root: str = "/dev/serial/by-id") -> dict[str, str]:
    """``{link: target}`` for the stable by-id names a technician should put in the config."""
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return {}
    return {os.path.join(root, n): os.path.realpath(os.path.join(root, n)) for n in names}


# -- input devices --------------------------------------------------------------------


def list_input_devices(dev_root: str = "/dev/input", sys_root: str = "/sys/class/input") -> list[InputDeviceInfo]:
    try:
        names = [n for n in os.listdir(dev_root) if n.startswith("event")]
    except OSError:
        return []
    devices = []
    for node in sorted(names, key=lambda n: int(n[5:]) if n[5:].isdigit() else 0):
        path = os.path.join(dev_root, node)
        info = Path(sys_root) / node / "device"
        devices.append(
            InputDeviceInfo(
                path=path,
                name=_read_sys(info / "name"),
                vid_pid=_sys_vid_pid(info),
                readable=os.access(path, os.R_OK),
            )
        )
    return devices


def find_input_device(
    device: str | None = None,
    vid_pid: str | None = None,
    devices: list[InputDeviceInfo] | None = None,
) -> str:
    """Path of the input device given by path, by name glob (``*Honeywell*``) or by VID:PID."""
    if device and device.startswith("/") and not _is_glob(device):
        if os.path.exists(device):
            return device
        raise PortNotFound(f"not found: {device} does not exist (is the scanner plugged in?)")
    candidates = list_input_devices() if devices is None else devices
    if device:
        candidates = [d for d in candidates if d.name and fnmatch.fnmatchcase(d.name, device)]
    if vid_pid:
        wanted = format_vid_pid(*parse_vid_pid(vid_pid))
        candidates = [d for d in candidates if d.vid_pid == wanted]
    what = " and ".join(x for x in (device and f"name {device!r}", vid_pid and f"VID:PID {vid_pid}") if x)
    if not candidates:
        raise PortNotFound(f"not found: no input device with {what} (is the scanner plugged in?)")
    # A scanner often shows up as several event nodes (keyboard + consumer keys); the first
    # node is its keyboard interface.
    return candidates[0].path


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def _read_sys(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def _sys_vid_pid(device_dir: Path) -> str | None:
    vendor, product = _read_sys(device_dir / "id" / "vendor"), _read_sys(device_dir / "id" / "product")
    if vendor is None or product is None:
        return None
    try:
        return format_vid_pid(int(vendor, 16), int(product, 16))
    except ValueError:
        return None
