"""Smoke test of the benchmark suite: ``python -m benchmarks --quick`` runs and reports.

Structure only: exit status 0, every benchmark present with numeric figures and its
targets reported, and no scan lost or reordered (bursts, the journal through the service,
the memory runs). Never a timing assertion: the machine is shared and noisy.
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
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)], check=False,
                          cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    return json.loads(out.read_text(encoding="utf-8"))


def percentiles_ok(stats: dict) -> bool:
    return all(number(stats[p]) for p in ("p50", "p95", "p99"))


def test_quick_run_reports_every_benchmark(tmp_path: Path) -> None:
    report = run_quick(tmp_path)
    results = report["benchmarks"]
    assert set(results) == set(BENCHMARKS)
    assert not [name for name, data in results.items() if "error" in data]
    assert report["rows"] and report["machine"]["cores"]

    latency = results["latency"]
    headless = latency["headless"]
    assert percentiles_ok(headless["kiosk_ms"]) and percentiles_ok(headless["baseline_ms"])
    assert set(headless["baselines"]) == {"sync_httpx", "sync_stdlib", "async_httpx"}
    for baseline in headless["baselines"].values():
        assert percentiles_ok(baseline["ms"]) and all(number(v) for v in baseline["overhead_ms"].values())
    tui = latency["tui"]
    assert "skipped" in tui or percentiles_ok(tui["kiosk_ms"])
    assert number(latency["targets"]["tui_p99_ms"])

    clients = results["client"]["clients"]
    assert {"sync_httpx", "sync_stdlib", "raw_asyncio", "async_default", "connector"} <= set(clients)
    assert all(number(c["ms"]["p50"]) and number(c["loop_iterations"]) for c in clients.values())
    assert all(number(ms) for ms in results["client"]["breakdown"]["layers_ms"].values())

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

    memory = results["memory"]
    assert memory["headless"]["ok"] == memory["scans"] and number(memory["headless"]["rss_mb"])
    assert "skipped" in memory["tui"] or (memory["tui"]["in_order"] and number(memory["tui"]["rss_mb"]))

    journal = results["journal"]
    for mode in ("one_by_one", "burst"):
        figures = journal[mode]
        assert number(figures["full_scans_per_s"]) and number(figures["off_scans_per_s"])
        assert figures["commits_per_scan"] >= 1
        for check in (figures["full_check"], figures["off_check"]):
            assert check["lost"] == 0 and check["duplicates"] == 0
            assert check["in_order"] and check["ids_increasing"]

    growth = results["growth"]
    assert growth["sizes"] and number(growth["startup_ratio"]["ratio"]) and number(growth["worst_delay"]["ms"])
    for size in growth["by_size"].values():
        assert size["build"]["rows"] == size["rows"]
        assert number(size["startup_warm_s"]) and percentiles_ok(size["per_scan"]["kiosk_ms"])
        assert size["tools"]["export"]["lines"] >= size["rows"]
        assert size["beside"]["runs"] and number(size["beside"]["sharing_delay_ms"])
        for run in size["beside"]["runs"]:
            assert all(percentiles_ok(run[key]) for key in ("alone_ms", "copy_ms", "journal_ms"))

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

    targets = report["targets"]
    assert targets and all(t["met"] in ("met", "MISSED", "—") for t in targets)
    assert any("durable scans/s" in t["target"] for t in targets)
