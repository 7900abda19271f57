"""Benchmark 6: a burst of good-part scans at a Prodsmart machine-counter station.

Headless mode (subprocess, pty scanner) gets ``n`` scans at once at a counter station; the
Prodsmart simulator runs in its own process. The figure is scans per second from the first
byte written until the simulator's counter stands at ``n`` (the last scan counted). Run twice:

- at Prodsmart's limit (simulator and kiosk budget 120 requests per minute): the budget lets
  a few requests go live, the rest wait and combine (each request carries the running total),
  so the burst costs a handful of requests; "not accepted" (counter requests the simulator did
  not count, i.e. 429s) must stay 0;
- without a limit (100 000 per minute on both sides): every scan is its own request, the
  kiosk's own overhead per counted scan.

Baseline in the same run: the same ``n`` counts (1..n) posted one after another to a fresh
unlimited simulator with a bare keep-alive ``httpx.Client`` (Basic key:secret, which the
machine endpoints take), as requests per second.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.burst import Writer
from benchmarks.harness import (
    PYTHON,
    SIM_START_TIMEOUT_S,
    BenchError,
    Headless,
    LineReader,
    Workspace,
    child_env,
    pipe_fd,
    reap,
    scanner_port,
    skip_probes,
    wait_ready,
)
from kiosk.simulators.prodsmart import DEMO_DATA_PATH, DEMO_KEY, DEMO_SECRET

MACHINE = "A32"
LIMIT_PER_MINUTE = 120
UNLIMITED_PER_MINUTE = 100_000
COUNT_TIMEOUT_S = 120.0


class ProdsmartSimulator:
    """``python -m kiosk simulate prodsmart --port 0 --data FILE`` in its own process."""

    def __init__(self, ws: Workspace, per_minute: int, name: str) -> None:
        demo = DEMO_DATA_PATH.read_text(encoding="utf-8")
        if "requests_per_minute = 120" not in demo:
            raise BenchError("the Prodsmart demo data no longer says requests_per_minute = 120")
        data = ws.path / f"{name}-data.toml"
        data.write_text(demo.replace("requests_per_minute = 120", f"requests_per_minute = {per_minute}"),
                        encoding="utf-8")
        self.log = ws.path / f"{name}.stderr"
        with self.log.open("wb") as err:
            self.proc = subprocess.Popen([PYTHON, "-m", "kiosk", "simulate", "prodsmart", "--port", "0",
                                          "--data", str(data)], stdout=subprocess.PIPE, stderr=err,
                                         env=child_env(), cwd=ws.path)
        ws.callback(self.stop)
        first = LineReader(pipe_fd(self.proc.stdout)).read_line(SIM_START_TIMEOUT_S)
        text = first[1].decode(errors="replace").strip() if first else ""
        if not text.startswith("listening on "):
            raise BenchError(f"Prodsmart simulator did not start: {text!r}")
        self.url = text.removeprefix("listening on ")
        self.control = httpx.Client(base_url=self.url, timeout=10.0)
        ws.callback(self.control.close)

    def count(self) -> int:
        state = self.control.get("/__sim__/state").raise_for_status().json()
        return next(m["count"] for m in state["machines"] if m["code"] == MACHINE)

    def events(self) -> list[dict[str, Any]]:
        return self.control.get("/__sim__/events").raise_for_status().json()

    def requests(self) -> list[dict[str, Any]]:
        return self.control.get("/__sim__/requests").raise_for_status().json()

    def stop(self) -> None:
        reap(self.proc, 5.0)
        if self.proc.stdout:
            self.proc.stdout.close()


def write_config(ws: Workspace, url: str, scanner: str | None, per_minute: int) -> Path:
    (ws.path / "key").write_text(DEMO_KEY + "\n", encoding="utf-8")
    (ws.path / "secret").write_text(DEMO_SECRET + "\n", encoding="utf-8")
    lines = ["[kiosk]", 'profile = "CNT"', 'journal = "journal.sqlite3"', "bell = false", "",
             "[backends.ps]", 'vendor = "prodsmart"', f'base_url = "{url}"', 'key_file = "key"',
             'secret_file = "secret"', "timeout_s = 5.0", f"max_requests_per_minute = {per_minute}", "",
             "[[profiles]]", 'name = "CNT"', 'backend = "ps"', f'station = "{MACHINE}"',
             'action = "machine-counter"', "duplicate_window_s = 0"]
    if scanner is not None:
        lines += ["", "[[scanners]]", 'name = "bench"', 'kind = "serial"', f'port = "{scanner}"',
                  "baudrate = 115200", 'terminator = "\\r"']
    path = ws.path / "kiosk.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def bare_rate(ws: Workspace, n: int) -> float:
    """Baseline: counts 1..n posted one after another with a bare keep-alive httpx client."""
    sim = ProdsmartSimulator(ws, UNLIMITED_PER_MINUTE, "baseline-sim")
    with httpx.Client(base_url=sim.url, auth=(DEMO_KEY, DEMO_SECRET), timeout=10.0) as client:
        t0 = time.monotonic()
        for count in range(1, n + 1):
            client.post(f"/api/machines/{MACHINE}/counter", json={"count": count}).raise_for_status()
        return n / (time.monotonic() - t0)


def one_burst(n: int, per_minute: int) -> dict[str, Any]:
    with Workspace("prodsmart") as ws:
        sim = ProdsmartSimulator(ws, per_minute, "sim")
        port = scanner_port(ws)
        kiosk = Headless(ws, write_config(ws, sim.url, port.path, per_minute), port)
        wait_ready(kiosk, port, 20.0)
        skip_probes(kiosk)
        writer = Writer(port, ["GOOD"] * n)
        writer.start()
        deadline = time.monotonic() + COUNT_TIMEOUT_S
        while (count := sim.count()) < n:
            kiosk.lines.pump()
            if time.monotonic() > deadline:
                raise BenchError(f"the counter stands at {count} of {n} after {COUNT_TIMEOUT_S:g} s; "
                                 f"{kiosk.describe()}")
            time.sleep(0.02)  # the poll costs the simulator: not too often on a 2-core machine
        t_end = time.monotonic()
        writer.join(10.0)
        if writer.error:
            raise BenchError(f"writing to the scanner failed: {writer.error!r}")
        kiosk.stop()
        lines = [r.data for r in kiosk.rest()]
        events, requests = sim.events(), sim.requests()
        final = sim.count()
    counts = [e["count"] for e in events if e["action"] == "counter" and e["count"] is not None]
    counter_requests = sum(1 for r in requests if r["raw_path"].startswith(f"/api/machines/{MACHINE}/counter"))
    elapsed = t_end - writer.t_first
    return {
        "per_minute": per_minute, "scans": n, "seconds": elapsed, "scans_per_s": n / elapsed,
        "counter_requests": counter_requests,
        "token_requests": sum(1 for r in requests if r["raw_path"].startswith("/api/authorization")),
        "not_accepted": counter_requests - len(counts),
        "final_count": final, "strictly_increasing": all(a < b for a, b in zip(counts, counts[1:], strict=False)),
        "result_lines": len(lines), "scanner": port.kind,
    }


def run(quick: bool) -> dict[str, Any]:
    n = 100 if quick else 1000
    with Workspace("prodsmart-baseline") as ws:
        baseline = bare_rate(ws, n)
    out: dict[str, Any] = {"scans": n, "baseline_requests_per_s": baseline}
    for key, per_minute in (("at_limit", LIMIT_PER_MINUTE), ("unlimited", UNLIMITED_PER_MINUTE)):
        burst = one_burst(n, per_minute)
        burst["ratio"] = burst["scans_per_s"] / baseline
        out[key] = burst
    return out
