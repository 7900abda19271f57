"""``python -m benchmarks [--quick] [--json FILE] [--only NAME ...]``: run, print, save.

Runs each benchmark in turn (a failing one is reported and the others still run), prints
the machine and the figures table, and writes everything as JSON with ``--json``. Exit
status 0 when every benchmark ran (targets missed or not), 1 when one failed to run.
``--quick`` is the reduced set for CI smoke use (under a minute; figures not meaningful).
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

from benchmarks import BENCHMARKS
from benchmarks import report
from benchmarks.harness import serial_scanner_available, tui_available

MODULES = {"latency": "benchmarks.latency", "burst": "benchmarks.burst", "startup": "benchmarks.startup",
           "journal": "benchmarks.journal_rate", "drain": "benchmarks.drain", "prodsmart": "benchmarks.prodsmart"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="reduced set for CI smoke use (under a minute)")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the results as JSON here")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, metavar="NAME",
                   help=f"run only these ({', '.join(BENCHMARKS)})")
    return p.parse_args(argv)


def run_one(name: str, quick: bool) -> dict[str, Any]:
    print(f"running {name} ...", file=sys.stderr, flush=True)
    t0 = time.monotonic()
    try:
        result = importlib.import_module(MODULES[name]).run(quick)
    except Exception as exc:  # one broken benchmark must not hide the others' figures
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
    results = {name: run_one(name, args.quick) for name in (args.only or BENCHMARKS)}
    info["loadavg_end"] = report.machine()["loadavg"]
    rows = report.rows(results)
    print(report.describe_machine(info))
    print(f"mode: {'quick (figures not meaningful)' if args.quick else 'full'}; "
          f"wall time {time.monotonic() - started:.0f} s")
    for note in notes:
        print(f"note: {note}")
    print()
    print(report.table(rows))
    if "drain" in results:
        print("\n* " + results["drain"].get("label", "job-track backend with a budget"))
    if args.json:
        document = {"quick": args.quick, "machine": info, "notes": notes, "benchmarks": results, "rows": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report.finite(document), indent=2) + "\n", encoding="utf-8")
    return 1 if any("error" in r for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
