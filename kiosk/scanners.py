"""From the kiosk's ``ScannerConfig`` to a running ``devices`` scanner.

The only place that knows both the config models and the device classes; ``devices``
itself stays free of the kiosk.
"""

from __future__ import annotations

from typing import BinaryIO

from devices.events import Scanner
from devices.framing import FramingSpec
from devices.hid_scanner import HidScanner
from devices.serial_scanner import SerialScanner, SerialSettings
from devices.stdin_scanner import StdinScanner
from kiosk.config import Config, ScannerConfig

_HID_ENCODING = "utf-8"  # HID keys are decoded to text and fed to the framer as UTF-8


def framing_spec(cfg: ScannerConfig) -> FramingSpec:
    encoding = _HID_ENCODING if cfg.kind == "hid" else cfg.encoding
    return FramingSpec(
        terminator=cfg.terminator,
        idle_gap_s=cfg.idle_gap_ms / 1000,
        prefix=cfg.prefix.encode(encoding),
        suffix=cfg.suffix.encode(encoding),
        encoding=encoding,
        max_length=cfg.max_length,
    )


def serial_settings(cfg: ScannerConfig) -> SerialSettings:
    return SerialSettings(
        port=cfg.port,
        vid_pid=cfg.vid_pid,
        serial_number=cfg.serial_number,
        baudrate=cfg.baudrate,
        parity=cfg.parity,
        bytesize=cfg.bytesize,
        stopbits=cfg.stopbits,
    )


def build_scanner(cfg: ScannerConfig, *, stdin: BinaryIO | None = None) -> Scanner:
    """A scanner for one config entry, not yet started (call ``start(emit)``)."""
    spec = framing_spec(cfg)
    if cfg.kind == "stdin":
        return StdinScanner(cfg.name, stream=stdin, spec=spec)
    if cfg.kind == "serial":
        return SerialScanner(cfg.name, serial_settings(cfg), spec)
    if cfg.kind == "hid":
        return HidScanner(cfg.name, device=cfg.device, vid_pid=cfg.vid_pid, layout=cfg.layout, grab=cfg.grab, spec=spec)
    raise ValueError(f"scanner {cfg.name!r}: unknown kind {cfg.kind!r}")


def build_scanners(config: Config, *, screen: bool, stdin: BinaryIO | None = None) -> list[Scanner]:
    """The scanners a front end runs, not yet started; ``ValueError`` says why one cannot be built.

    On the screen the keyboard is the built-in scanner, so stdin entries are left out; headless
    mode with no scanner configured reads standard input.
    """
    if screen:
        return [build_scanner(cfg) for cfg in config.scanners if cfg.kind != "stdin"]
    if not config.scanners:
        return [StdinScanner("stdin", stream=stdin)]
    return [build_scanner(cfg, stdin=stdin) for cfg in config.scanners]
