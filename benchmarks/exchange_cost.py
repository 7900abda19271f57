"""What the bounded request costs: ``exchange()`` and the job-track connector against bare httpx.

``python -m benchmarks.exchange_cost [N]`` (default 2000). The job-track simulator runs in its
own process; each round sends the same kind of check-in four ways, interleaved so that drift
in the machine hits all of them alike:

- ``send``: a bare ``httpx.AsyncClient.send()`` (keep-alive), the async baseline;
- ``exchange``: ``kiosk.connectors.http.exchange()`` on the same kind of client (whole-exchange
  deadline, streamed body with the decompressed-size cap, the "sent" trace);
- ``connector``: ``JobTrackConnector.perform()`` (exchange plus building the request and
  reading the answer into a ``CheckedIn``);
- ``sync``: a bare ``httpx.Client.post()``, the sync baseline of issue 12.

Prints p50 / p95 / p99 / mean per way and the differences to ``send``. Not part of
``python -m benchmarks`` yet; a standalone measurement for the hostile-world work.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from benchmarks.harness import STATION, Simulator, Workspace, order_code, percentiles
from kiosk.connectors.base import Request
from kiosk.connectors.http import exchange
from kiosk.connectors.jobtrack import JobTrackConfig, JobTrackConnector

WARMUP = 50
ORDERS = 5000


async def measure(url: str, n: int) -> dict[str, list[float]]:
    path = f"{url}/api/v2/job_track/stations/{STATION}"
    samples: dict[str, list[float]] = {"send": [], "exchange": [], "connector": [], "sync": []}
    sync = httpx.Client(timeout=5.0)
    connector = JobTrackConnector("bench", JobTrackConfig(vendor="jobtrack", base_url=url, timeout_s=5.0))
    async with httpx.AsyncClient(timeout=5.0) as client:

        async def send(code: str) -> None:
            response = await client.send(client.build_request("POST", path, json={"order": code}))
            assert response.status_code == 200, response.status_code

        async def bounded(code: str) -> None:
            answer = await exchange(client, client.build_request("POST", path, json={"order": code}), deadline_s=5.0)
            assert answer.status == 200, answer.status

        async def perform(code: str) -> None:
            answer = await connector.perform(Request("checkin", STATION, code))
            assert getattr(answer, "http_status", None) == 200, answer

        async def sync_post(code: str) -> None:
            assert sync.post(path, json={"order": code}).status_code == 200

        ways: dict[str, Callable[[str], Awaitable[None]]] = {
            "send": send, "exchange": bounded, "connector": perform, "sync": sync_post}
        for i in range(n + WARMUP):
            code = order_code(i % ORDERS)
            for name, way in ways.items():
                started = time.perf_counter()
                await way(code)
                if i >= WARMUP:
                    samples[name].append((time.perf_counter() - started) * 1000)
    await connector.aclose()
    sync.close()
    return samples


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 2000
    with Workspace("exchange") as ws:
        sim = Simulator(ws, ORDERS)
        samples = asyncio.run(measure(sim.url, n))
    base = percentiles(samples["send"])
    for name, values in samples.items():
        p = percentiles(values)
        print(f"{name:9s} n={p['n']}  p50 {p['p50']:.3f}  p95 {p['p95']:.3f}  p99 {p['p99']:.3f}  "
              f"mean {p['mean']:.3f} ms   vs send: p50 {p['p50'] - base['p50']:+.3f}  "
              f"mean {p['mean'] - base['mean']:+.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
