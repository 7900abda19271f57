"""``python -m benchmarks [--quick] [--json FILE] [--only NAME ...] [--journal-rows N ...]``.

Runs each benchmark in turn (a failing one is reported and the others still run), prints
the machine, the figures table and the targets (figure, baseline, met/MISSED), and writes
everything as JSON with ``--json``. Exit status 0 when every benchmark ran (targets met or
not), 1 when one failed to run. ``--quick`` is the reduced set for CI smoke use (under a
minute; figures not meaningful). ``--journal-rows`` sets the pre-filled journal sizes of the
``growth`` benchmark (default 1000 100000 1000000; quick: 1000).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks import BENCHMARKS, report
from benchmarks.harness import serial_scanner_available, tui_available

MODULES = {"latency": "benchmarks.latency", "client": "benchmarks.client", "burst": "benchmarks.burst",
           "startup": "benchmarks.startup", "memory": "benchmarks.memory", "journal": "benchmarks.journal_rate",
           "growth": "benchmarks.growth", "drain": "benchmarks.drain",
           "prodsmart": "benchmarks.prodsmart"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced set for CI smoke use (under a minute)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON here")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                   help=f"run only these ({', '.join(BENCHMARKS)})")
    p.add_argument("--journal-rows", nargs="+", type=_rows, metavar="N",
                   help="growth: pre-filled journal sizes (e.g. 1000 100k 1M)")
    return p.parse_args(argv)


def _rows(text: str) -> int:
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:].lower(), 1)
    try:
        value = int(float(text[:-1] if scale > 1 else text) * scale)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a row count (e.g. 1000, 100k, 1M)") from None
    if value < 1:
        raise argparse.ArgumentTypeError("a journal needs at least one row")
    return value


def run_one(name: str, quick: bool, options: dict[str, Any]) -> dict[str, Any]:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    try:
        result = importlib.import_module(MODULES[name]).run(quick, **options)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("kiosk."):
            raise
        result = {"skipped": f"this code has no {exc.name} (an older commit?)"}
    except Exception as exc:  # noqa: BLE001 - one broken benchmark must not hide the others' figures
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"}
    result["wall_s"] = time.monotonic() - t0
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    info = report.machine()
    notes = []
    if not serial_scanner_available():
        notes.append("serial scanner driver missing: headless scans go through stdin instead of a pty")
    if not tui_available():
        notes.append("kiosk.tui.app missing: TUI latency and start-up not measured")
    options: dict[str, dict[str, Any]] = {"growth": {"journal_rows": args.journal_rows}}
    results = {name: run_one(name, args.quick, options.get(name, {})) for name in (args.only or BENCHMARKS)}
    info["loadavg_end"] = report.machine()["loadavg"]
    rows = report.rows(results)
    targets = report.targets(results)
    print(report.describe_machine(info))
    print(f"mode: {'quick (figures not meaningful)' if args.quick else 'full'}; "
          f"wall time {time.monotonic() - started:.0f} s")
    for note in notes:
        print(f"note: {note}")
    print()
    print(report.table(rows))
    if "drain" in results:
        print("\n* " + results["drain"].get("label", "job-track backend with a budget"))
    if targets:
        print()
        print(report.table(targets, report.TARGET_COLUMNS))
    print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in info['loadavg_end'])}")
    if args.json:
        document = {"quick": args.quick, "machine": info, "notes": notes, "benchmarks": results, "rows": rows,
                    "targets": targets}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.finite(document), indent=2) + "\n", encoding="utf-8")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
