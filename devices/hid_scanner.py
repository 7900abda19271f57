"""Linux USB-HID scanners through evdev (the optional ``hid`` extra), grabbed exclusively.

Only opening and grabbing the device needs the ``evdev`` package (imported lazily); the
reading is plain ``os.read`` of ``struct input_event`` records decoded by
``devices.hid_keymaps``, so tests drive the whole path through a pipe with an injected
``opener``. Enter ends a scan (the framer's CR/LF mode). A device that disappears (ENODEV,
or end of file) gives ``StateEvent("disconnected")`` and is looked for again every
``poll_s`` seconds (by path, name glob or VID:PID) until it returns.
"""

from __future__ import annotations

import errno
import os
import select
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

from devices.events import DeviceEvent, ScannerStats, StateEvent
from devices.framing import Framer, FramingSpec
from devices.hid_keymaps import EV_KEY, InputEventReader, KeyDecoder
from devices.ports import PortNotFound, find_input_device
from devices.reader_thread import ReaderThread

INSTALL_MESSAGE = "install the hid extra: pip install 'kiosk[hid]'"
PERMISSION_MESSAGE = (
    "permission denied: add the user to the 'input' group (sudo usermod -aG input $USER, then log in again) "
    "or add a udev rule giving the kiosk user access"
)
_READ_S = 0.05


class HidUnavailable(Exception):
    """evdev is not installed; retrying will not help."""


class HidOpenFailed(Exception):
    """The device exists but could not be opened or grabbed; ``str()`` says why."""


class DeviceHandle(Protocol):
    def fileno(self) -> int: ...

    def close(self) -> None: ...


Opener = Callable[[str, bool], DeviceHandle]


def open_evdev(path: str, grab: bool = True) -> DeviceHandle:
    """Open an input device with evdev and grab it so keystrokes never reach the console."""
    try:
        import evdev  # type: ignore[import-not-found]  # the optional hid extra
    except ImportError:
        raise HidUnavailable(INSTALL_MESSAGE) from None
    try:
        device = evdev.InputDevice(path)
    except PermissionError:
        raise HidOpenFailed(f"{PERMISSION_MESSAGE} [{path}]") from None
    except OSError as exc:
        raise HidOpenFailed(f"cannot open {path}: {exc.strerror or exc}") from None
    if grab:
        try:
            device.grab()
        except OSError as exc:
            device.close()
            if exc.errno == errno.EBUSY:
                raise HidOpenFailed(f"device busy: another program has grabbed {path}") from None
            raise HidOpenFailed(f"cannot grab {path}: {exc.strerror or exc}") from None
    return device


def hid_framing(spec: FramingSpec | None) -> FramingSpec:
    """Enter arrives as CR; line-ending terminators all mean 'Enter ends the scan'.

    Decoded keys are fed as UTF-8, so the framer decodes UTF-8 whatever the config says.
    """
    spec = replace(spec or FramingSpec(), encoding="utf-8")
    if spec.terminator in ("\r", "\n", "\r\n"):
        spec = replace(spec, terminator="\r\n")
    return spec


class HidScanner(ReaderThread):
    def __init__(
        self,
        name: str,
        device: str | None = None,
        vid_pid: str | None = None,
        layout: str = "us",
        grab: bool = True,
        spec: FramingSpec | None = None,
        *,
        opener: Opener = open_evdev,
        clock: Callable[[], float] = time.monotonic,
        poll_s: float = 0.5,
    ) -> None:
        super().__init__()
        if not (device or vid_pid):
            raise ValueError("a hid scanner needs device or vid_pid")
        self.name = name
        self.stats = ScannerStats()
        self.stats.extra["device"] = device or f"USB {vid_pid}"
        self._device, self._vid_pid, self._grab = device, vid_pid, grab
        self._layout = layout
        KeyDecoder(layout)  # fail now on an unknown layout
        self._spec = hid_framing(spec)
        self._opener = opener
        self._clock = clock
        self._poll_s = poll_s
        self._opens = 0

    def locate(self) -> str:
        return find_input_device(self._device, self._vid_pid)

    # -- reader thread ----------------------------------------------------------------

    def _run(self) -> None:
        last_failure = None
        while not self._stop.is_set():
            try:
                path = self.locate()
                handle = self._opener(path, self._grab)
            except HidUnavailable as exc:
                self._send(StateEvent(self.name, "disconnected", message=str(exc)))
                return
            except (PortNotFound, HidOpenFailed, OSError) as exc:
                if str(exc) != last_failure:
                    last_failure = str(exc)
                    self._send(StateEvent(self.name, "disconnected", message=str(exc),
                                          reconnects=max(self._opens - 1, 0)))
                self._stop.wait(self._poll_s)
                continue
            last_failure = None
            self.stats.extra["path"] = path
            self._send(StateEvent(self.name, "connected", message=path, reconnects=self._opens))
            self._opens += 1
            reason = self._read_until_gone(handle)
            try:
                handle.close()
            except OSError:
                pass
            if reason is not None:
                last_failure = reason
                self._send(StateEvent(self.name, "disconnected", message=reason, reconnects=self._opens - 1))

    def _read_until_gone(self, handle: DeviceHandle) -> str | None:
        fd = handle.fileno()
        reader, decoder, framer = InputEventReader(), KeyDecoder(self._layout), Framer(self.name, self._spec)
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([fd], [], [], _READ_S)
                data = os.read(fd, 4096) if ready else None
            except OSError as exc:
                reason = "device removed" if exc.errno == errno.ENODEV else f"device lost ({exc.strerror or exc})"
                self._send_all(framer.discard(reason))
                return reason
            now = self._clock()
            if data is None:
                self._send_all(framer.poll(now))
                continue
            if not data:
                self._send_all(framer.discard("device removed"))
                return "device removed"
            self._send_all(self._decode_chunk(reader.feed(data), decoder, framer, now))
        return None

    def _decode_chunk(self, events, decoder: KeyDecoder, framer: Framer, now: float) -> list[DeviceEvent]:
        """Feed each key's text at its own time: kernel timestamps shifted onto our clock."""
        keys = [e for e in events if e.type == EV_KEY]
        if not keys:
            return []
        offset = now - keys[-1].time
        out: list[DeviceEvent] = []
        for event in keys:
            text = decoder.event(event)
            if text:
                out += framer.feed(text.encode("utf-8"), min(event.time + offset, now))
        return out

