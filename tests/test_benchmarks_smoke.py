"""Smoke test of the benchmark suite: ``python -m benchmarks --quick`` runs and reports.

Structure only: exit status 0, every benchmark present with numeric figures, and no scan
lost or reordered in the bursts. Never a timing assertion: the machine is shared and noisy.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from benchmarks import BENCHMARKS

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 120


def number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def run_quick(tmp_path: Path) -> dict:
    out = tmp_path / "x.json"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def test_quick_run_reports_every_benchmark(tmp_path: Path) -> None:
    report = run_quick(tmp_path)
    results = report["benchmarks"]
    assert set(results) == set(BENCHMARKS)
    assert report["rows"] and report["machine"]["cores"]

    headless = results["latency"]["headless"]
    for key in ("kiosk_ms", "baseline_ms"):
        assert all(number(headless[key][p]) for p in ("p50", "p95", "p99"))
    assert all(number(headless["overhead_ms"][p]) for p in ("p50", "p95", "p99"))
    tui = results["latency"]["tui"]
    assert "skipped" in tui or all(number(tui["kiosk_ms"][p]) for p in ("p50", "p95", "p99"))

    for key in ("healthy", "first_half_503"):
        burst = results["burst"][key]
        assert number(burst["scans_per_s"]) and number(burst["baseline_scans_per_s"])
        assert burst["lost"] == 0 and burst["duplicates"] == 0
        assert burst["live_in_order"] and burst["replays_in_order"] and burst["ok_in_scan_order"]
        assert burst["simulator_complete_in_order"]
    assert results["burst"]["first_half_503"]["replay_lines"] == results["burst"]["scans"]

    startup = results["startup"]
    assert number(startup["headless"]["seconds"]) and number(startup["headless"]["rss_mb"])
    assert number(startup["baseline_import_textual"]["seconds"])
    assert "skipped" in startup["tui"] or number(startup["tui"]["seconds"])

    journal = results["journal"]
    assert number(journal["full_scans_per_s"]) and number(journal["off_scans_per_s"])

    drain = results["drain"]
    assert number(drain["measured_s"]) and number(drain["theoretical_min_s"])
    assert drain["ok"] == drain["scans"] and drain["in_order"]

    prodsmart = results["prodsmart"]
    assert number(prodsmart["baseline_requests_per_s"])
    for key in ("at_limit", "unlimited"):
        burst = prodsmart[key]
        assert number(burst["scans_per_s"]) and number(burst["ratio"])
        assert burst["final_count"] == burst["scans"] and burst["strictly_increasing"]
        assert burst["not_accepted"] == 0
    assert prodsmart["at_limit"]["counter_requests"] < prodsmart["scans"]
