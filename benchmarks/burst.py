"""Benchmark 2: a burst of scans written to the serial port as fast as it takes them.

Headless mode (subprocess, pty scanner) gets ``n`` scans of distinct active orders in one
go, from a writer thread (the pty's buffer blocks the writer while the kiosk catches up).
Checked: every scan has exactly one result line in scan order (ids increasing), none is
lost, and the simulator's accepted check-ins are exactly the scans, in order.

Run twice: against a healthy simulator, and with the simulator answering 503 to the
first ``n/2`` requests (``{"status": 503, "count": n/2, "retry_after": 0}``): the first
scan queues, the rest wait behind it in the outbox, and the sender replays them in order
once the server recovers; headless runs with ``--drain``. ``retry_after: 0`` keeps the
run bounded: with the kiosk's normal back-off (1 s doubling to 60 s) 500 consecutive 503
answers take hours, by design.

The figure is scans per second end to end: first byte written to the last final result
line (for the 503 run, the last replayed ``ok``). Baseline in the same run: the same
check-ins posted one after another with a bare keep-alive ``httpx.Client``.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import httpx

from benchmarks.harness import (
    STATION,
    BenchError,
    Headless,
    Simulator,
    Workspace,
    order_code,
    scanner_port,
    skip_probes,
    wait_ready,
    write_config,
)

TARGET_SCANS_PER_S = 200.0
COLLECT_TIMEOUT_S = 180.0
DRAIN_S = 60.0


class Writer(threading.Thread):
    """Writes every frame to the scanner port without pausing; records first/last write times."""

    def __init__(self, port: Any, codes: list[str]) -> None:
        super().__init__(name="burst-writer", daemon=True)
        self.port, self.codes = port, codes
        self.t_first = self.t_last = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.t_first = time.monotonic()
            for code in self.codes:
                self.t_last = self.port.write(self.port.frame(code))
        except BaseException as exc:  # noqa: BLE001 - the thread's failure, reported by the caller
            self.error = exc


def feed(kiosk: Headless, port: Any, codes: list[str], what: str) -> tuple[list[dict[str, Any]], float, Writer]:
    """Write every code to the scanner port at once and collect until each has a final result."""
    writer = Writer(port, codes)
    writer.start()
    lines, t_end = collect(kiosk, codes)
    writer.join(10.0)
    if writer.error:
        raise BenchError(f"{what}: writing to the scanner failed: {writer.error!r}")
    return lines, t_end, writer


def collect(kiosk: Headless, codes: list[str]) -> tuple[list[dict[str, Any]], float]:
    """Result lines until every scan has a final outcome; (lines, time of the last final line)."""
    lines: list[dict[str, Any]] = []
    final: set[str] = set()
    t_end = 0.0
    deadline = time.monotonic() + COLLECT_TIMEOUT_S
    while len(final) < len(codes):
        result = kiosk.next_result(max(0.0, deadline - time.monotonic()))
        if result is None:
            raise BenchError(f"burst: only {len(final)} of {len(codes)} scans finished; {kiosk.describe()}")
        lines.append(result.data)
        if result.data.get("outcome") != "queued":
            final.add(str(result.data.get("scan")))
            t_end = result.t
    return lines, t_end


def check(lines: list[dict[str, Any]], codes: list[str], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Order and completeness of the result lines and of the simulator's check-ins."""
    position = {code: i for i, code in enumerate(codes)}
    live = [line for line in lines if not line.get("replay")]
    replay = [line for line in lines if line.get("replay")]
    finals = [line for line in lines if line.get("outcome") != "queued"]
    ok_scans = [line["scan"] for line in finals if line.get("outcome") == "ok"]
    live_ids = [line["id"] for line in live]
    replay_ids = [line["id"] for line in replay]
    event_orders = [event["order_number"] for event in events]
    return {
        "scans": len(codes),
        "result_lines": len(lines),
        "live_lines": len(live),
        "replay_lines": len(replay),
        "queued_lines": sum(1 for line in lines if line.get("outcome") == "queued"),
        "lost": len(set(codes) - set(ok_scans)),
        "duplicates": len(ok_scans) - len(set(ok_scans)),
        "live_in_order": [line["scan"] for line in live] == codes and _increasing(live_ids),
        "replays_in_order": _increasing(replay_ids) and _increasing([position[line["scan"]] for line in replay]),
        "ok_in_scan_order": ok_scans == codes,
        "simulator_events": len(events),
        "simulator_complete_in_order": event_orders == codes,
    }


def _increasing(values: list[int]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


def bare_rate(base_url: str, codes: list[str]) -> float:
    """Baseline: the same check-ins, one after another, with a bare keep-alive httpx client."""
    url = f"{base_url}/api/v2/job_track/stations/{STATION}"
    with httpx.Client(headers={"Accept": "application/json"}, timeout=10.0) as client:
        t0 = time.monotonic()
        for code in codes:
            client.post(url, json={"order": code}).raise_for_status()
        return len(codes) / (time.monotonic() - t0)


def one_burst(n: int, fail_first_half: bool) -> dict[str, Any]:
    with Workspace("burst") as ws:
        sim = Simulator(ws, n)
        port = scanner_port(ws)
        kiosk = Headless(ws, write_config(ws.path / "kiosk.toml", sim.url, port.path), port,
                         drain_s=DRAIN_S if fail_first_half else 0.0)
        wait_ready(kiosk, port, 20.0)
        skip_probes(kiosk)
        sim.clear()
        if fail_first_half:
            sim.set_faults({"status": 503, "count": n // 2, "retry_after": 0})
        codes = [order_code(i) for i in range(n)]
        lines, t_end, writer = feed(kiosk, port, codes, "burst")
        finished = kiosk.stop(DRAIN_S + 10)
        lines += [r.data for r in kiosk.rest()]
        out = check(lines, codes, sim.events())
        out["simulator_requests"] = len(sim.requests())
        out["exit_code"] = finished.returncode
        out["baseline_scans_per_s"] = bare_rate(sim.url, codes)
    elapsed = t_end - writer.t_first
    out.update(seconds=elapsed, scans_per_s=n / elapsed, write_seconds=writer.t_last - writer.t_first,
               scanner=port.kind, ratio=(n / elapsed) / out["baseline_scans_per_s"])
    return out


def run(quick: bool) -> dict[str, Any]:
    n = 100 if quick else 1000
    healthy = one_burst(n, fail_first_half=False)
    failing = one_burst(n, fail_first_half=True)
    return {"scans": n, "healthy": healthy, "first_half_503": failing, "target_scans_per_s": TARGET_SCANS_PER_S}
