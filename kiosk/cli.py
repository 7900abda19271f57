"""The ``kiosk`` command line: run, demo, simulate, doctor, devices monitor, journal, hash-pin.

Every user-facing failure ends with a one-line (or few-line) message and a status code,
never a traceback: 2 for a bad config or bad arguments, 1 for an unhealthy check, 3 when
the journal cannot be written.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import sys
from pathlib import Path

from kiosk.config import Config, ConfigError, load_config
from kiosk.simulators import SIMULATED_VENDORS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kiosk", description="Shopfloor barcode-scanner kiosk.")
    p.add_argument("-v", "--verbose", action="store_true", help="log debug messages to stderr")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the kiosk (full-screen, or --headless)")
    run.add_argument("--config", required=True, type=Path, help="config file (TOML)")
    run.add_argument("--headless", action="store_true", help="no screen: one JSON line per scan on stdout")
    run.add_argument("--drain", type=float, default=0.0, metavar="SECONDS",
                     help="headless: at end of input, wait up to SECONDS for queued scans to be sent")

    demo = sub.add_parser("demo", help="run the kiosk against the built-in simulator and demo data")
    demo.add_argument("--headless", action="store_true", help="no screen: read scans from stdin")

    sim = sub.add_parser("simulate", help="serve a vendor simulator on 127.0.0.1")
    sim.add_argument("vendor", choices=SIMULATED_VENDORS)
    sim.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0 picks a free one)")
    sim.add_argument("--data", type=Path, help="data file (TOML); default: the built-in demo data")

    doctor = sub.add_parser("doctor", help="check config, scanners, backends and journal")
    doctor.add_argument("--config", required=True, type=Path)

    devices = sub.add_parser("devices", help="scanner tools for technicians")
    devices_sub = devices.add_subparsers(dest="devices_command", required=True, metavar="ACTION")
    monitor = devices_sub.add_parser("monitor", help="print each frame as it arrives, raw and escaped")
    monitor.add_argument("--config", required=True, type=Path)
    monitor.add_argument("--scanner", help="only this scanner (default: all configured)")

    journal = sub.add_parser("journal", help="export or summarise the scan journal")
    journal.add_argument("--config", required=True, type=Path)
    journal_sub = journal.add_subparsers(dest="journal_command", required=True, metavar="ACTION")
    export = journal_sub.add_parser("export", help="write scans to stdout")
    export.add_argument("--since", help="ISO date or time, e.g. 2026-11-21 or 2026-11-21T06:00")
    export.add_argument("--format", choices=["csv", "jsonl"], default="jsonl")
    stats = journal_sub.add_parser("stats", help="counts by outcome and by hour")
    stats.add_argument("--since", help="ISO date or time")

    sub.add_parser("hash-pin", help="print a salted hash of a lead PIN for [lead] pin_hash")
    return p


def _load(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        raise _Exit(2, str(exc)) from None


class _Exit(Exception):
    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _run(args: argparse.Namespace) -> int:
    config = _load(args.config)
    if args.headless:
        from kiosk.headless import run_headless

        return asyncio.run(run_headless(config, drain_s=args.drain))
    from kiosk.tui.app import run_tui

    _log_to_file(config.journal_path.with_suffix(".log"))
    return asyncio.run(run_tui(config))


def _log_to_file(path: Path) -> None:
    """While the screen is up, log lines would garble it: send them to a file instead."""
    root = logging.getLogger()
    try:
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def _demo(args: argparse.Namespace) -> int:
    from kiosk.demo import run_demo

    return run_demo(headless=args.headless)


def _simulate(args: argparse.Namespace) -> int:
    from kiosk.simulators import run_simulator

    return run_simulator(args.vendor, args.port, args.data)


def _doctor(args: argparse.Namespace) -> int:
    from kiosk.doctor import run_doctor

    return run_doctor(_load(args.config))


def _devices(args: argparse.Namespace) -> int:
    from kiosk.monitor_cli import run_monitor

    return run_monitor(_load(args.config), args.scanner)


def _journal(args: argparse.Namespace) -> int:
    from kiosk.journal import Journal, JournalError, format_stats

    config = _load(args.config)
    if not config.journal_path.exists():
        raise _Exit(1, f"{config.journal_path}: no journal yet (the kiosk has not run with this config)")
    try:
        journal = Journal.open(config.journal_path, config.kiosk.journal_retention_days)
    except JournalError as exc:
        raise _Exit(3, str(exc)) from None
    try:
        if args.journal_command == "export":
            journal.export(sys.stdout, since=args.since, fmt=args.format)
        else:
            print(format_stats(journal.stats(since=args.since)))
    except ValueError as exc:
        raise _Exit(2, str(exc)) from None
    finally:
        journal.close()
    return 0


def _hash_pin(args: argparse.Namespace) -> int:
    from kiosk.station.pin import hash_pin

    if sys.stdin.isatty():
        pin = getpass.getpass("Lead PIN: ")
        if getpass.getpass("Again: ") != pin:
            raise _Exit(2, "the two PINs differ; nothing printed")
    else:
        pin = sys.stdin.readline().rstrip("\r\n")
    if len(pin) < 4:
        raise _Exit(2, "a lead PIN needs at least 4 characters")
    print(hash_pin(pin))
    return 0


_COMMANDS = {"run": _run, "demo": _demo, "simulate": _simulate, "doctor": _doctor,
             "devices": _devices, "journal": _journal, "hash-pin": _hash_pin}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="kiosk: %(levelname)s %(name)s: %(message)s")
    try:
        return _COMMANDS[args.command](args)
    except _Exit as exc:
        if exc.message:
            print(f"kiosk: {exc.message}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
