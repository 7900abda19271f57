"""Serial barcode scanners (pyserial): open, read, frame, survive unplugging.

The reader thread opens the port (path, by-id link resolved at each open, or USB VID:PID
with an optional serial number), reads with a short timeout so idle-gap framing and
``stop()`` work, and feeds a ``Framer``. When the device goes away (SerialException,
OSError, or pyserial's "readiness to read but returned no data") completed frames have
already been emitted, a partial frame becomes an ``incomplete`` UnreadableEvent, then
``StateEvent("disconnected")`` is emitted and the port is reopened with backoff
(0.1 s doubling to 1 s). Every successful open emits ``StateEvent("connected", reconnects=n)``.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial  # type: ignore[import-untyped]  # pyserial ships no type hints

from devices.events import ScannerStats, StateEvent
from devices.framing import Framer, FramingSpec
from devices.ports import PortNotFound, find_serial_port, resolve_port
from devices.reader_thread import ReaderThread

PERMISSION_MESSAGE = (
    "permission denied: add the user to the 'dialout' group "
    "(sudo usermod -aG dialout $USER, then log in again)"
)
BUSY_MESSAGE = (
    "port busy: another program has it open (ModemManager grabs ttyACM ports: "
    'add a udev rule ENV{ID_MM_DEVICE_IGNORE}="1")'
)
NOT_FOUND_MESSAGE = "not found: check the cable / the by-id path"

_PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
             "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}
_STOPBITS = {1: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE, 2: serial.STOPBITS_TWO}


class OpenFailed(Exception):
    """The port could not be opened; ``str()`` is the plain reason for the user."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind
        """``permission``, ``busy``, ``not_found`` or ``other``."""


@dataclass(frozen=True)
class SerialSettings:
    port: str | None = None
    vid_pid: str | None = None
    serial_number: str | None = None
    baudrate: int = 9600
    parity: str = "N"
    bytesize: int = 8
    stopbits: float = 1
    exclusive: bool = True

    def describe(self) -> str:
        if self.port:
            return self.port
        return f"USB {self.vid_pid}" + (f" serial {self.serial_number}" if self.serial_number else "")


def locate_port(settings: SerialSettings) -> str:
    """The tty path to open now: the resolved link, or the VID:PID match."""
    try:
        if settings.port:
            return resolve_port(settings.port)
        if settings.vid_pid:
            return find_serial_port(settings.vid_pid, settings.serial_number)
    except PortNotFound as exc:
        raise OpenFailed(str(exc), "not_found") from None
    except ValueError as exc:
        raise OpenFailed(str(exc)) from None
    raise OpenFailed("no port or vid_pid configured")


def open_serial(settings: SerialSettings, read_timeout: float = 0.05) -> serial.Serial:
    """Open the port as configured or raise ``OpenFailed`` with a message saying what to do."""
    path = locate_port(settings)
    port = serial.Serial()
    port.port = path
    port.baudrate = settings.baudrate
    port.parity = _PARITIES[settings.parity]
    port.bytesize = settings.bytesize
    port.stopbits = _STOPBITS[settings.stopbits]
    port.timeout = read_timeout
    port.exclusive = settings.exclusive
    try:
        port.open()
    except (serial.SerialException, OSError) as exc:
        raise classify_open_error(exc, path) from None
    except ValueError as exc:
        raise OpenFailed(f"invalid port settings: {exc}") from None
    return port


def classify_open_error(exc: BaseException, path: str) -> OpenFailed:
    code = getattr(exc, "errno", None)
    text = str(exc).lower()
    if code in (errno.EACCES, errno.EPERM) or "permission denied" in text:
        return OpenFailed(f"{PERMISSION_MESSAGE} [{path}]", "permission")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text or "busy" in text:
        return OpenFailed(f"{BUSY_MESSAGE} [{path}]", "busy")
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "no such file" in text:
        return OpenFailed(f"{NOT_FOUND_MESSAGE} [{path}]", "not_found")
    reason = getattr(exc, "strerror", None) or str(exc)
    return OpenFailed(f"cannot open {path}: {reason}")


def check_open(settings: SerialSettings) -> str:
    """Open and close the port once (for ``kiosk doctor``); returns the path, raises OpenFailed."""
    port = open_serial(settings)
    path = port.port or ""
    port.close()
    return path


def plain_read_error(exc: BaseException) -> str:
    text = str(exc)
    if "readiness to read but returned no data" in text:
        return "device disconnected (port readable but no data: unplugged?)"
    strerror = getattr(exc, "strerror", None)
    if strerror:
        return f"device disconnected ({strerror})"
    return f"device disconnected ({text.removeprefix('read failed: ')})"


class SerialScanner(ReaderThread):
    def __init__(
        self,
        name: str,
        settings: SerialSettings,
        spec: FramingSpec | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        read_timeout: float = 0.05,
        backoff_start_s: float = 0.1,
        backoff_max_s: float = 1.0,
    ) -> None:
        super().__init__()
        self.name = name
        self.settings = settings
        self.stats = ScannerStats()
        self.stats.extra["port"] = settings.describe()
        self._framer = Framer(name, spec)
        self._clock = clock
        self._read_timeout = read_timeout
        self._backoff = (backoff_start_s, backoff_max_s)
        self._opens = 0

    # -- reader thread ----------------------------------------------------------------

    def _run(self) -> None:
        delay = self._backoff[0]
        last_failure = None
        while not self._stop.is_set():
            try:
                port = open_serial(self.settings, self._read_timeout)
            except OpenFailed as exc:
                if str(exc) != last_failure:  # say it once, not at every retry
                    last_failure = str(exc)
                    self._send(StateEvent(self.name, "disconnected", message=str(exc),
                                          reconnects=max(self._opens - 1, 0)))
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay, last_failure = self._backoff[0], None
            self.stats.extra["device"] = port.port or ""
            self._send(StateEvent(self.name, "connected", message=port.port or "", reconnects=self._opens))
            self._opens += 1
            reason = self._read_until_lost(port)
            _close_quietly(port)
            if reason is not None:
                last_failure = reason
                self._send(StateEvent(self.name, "disconnected", message=reason, reconnects=self._opens - 1))

    def _read_until_lost(self, port: serial.Serial) -> str | None:
        """Read and frame until stop() (None) or the device is lost (the plain reason)."""
        while not self._stop.is_set():
            try:
                data = port.read(1)
                if data:
                    waiting = port.in_waiting
                    if waiting:
                        data += port.read(waiting)
            except (serial.SerialException, OSError) as exc:
                reason = plain_read_error(exc)
                self._send_all(self._framer.discard(f"{reason} before the frame ended"))
                return reason
            now = self._clock()
            self._send_all(self._framer.feed(data, now) if data else self._framer.poll(now))
        return None



def _close_quietly(port: serial.Serial) -> None:
    try:
        port.close()
    except (serial.SerialException, OSError):
        pass
