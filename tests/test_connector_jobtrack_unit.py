"""Fast unit tests of the job-track connector: ``httpx.MockTransport`` over the simulator's own
request handler, no socket. The same demo codes run over real loopback HTTP in
test_connector_jobtrack.py; here every rule is checked in-process, and the exact request the
connector builds (path, body, auth header) is what the simulator sees.
"""

from __future__ import annotations

import httpx
import pytest
from conftest import checkin

from kiosk.connectors.base import Accepted, BadAnswer, Rejected
from kiosk.connectors.jobtrack import JobTrackConfig, JobTrackConnector
from kiosk.simulators.jobtrack import DEMO_CODES, JobTrackSim, demo_data
from kiosk.simulators.server import CloseConnection

TOKEN_ENV = "KIOSK_UNIT_JOBTRACK_TOKEN"


def sim_transport(sim: JobTrackSim, seen: list[httpx.Request] | None = None) -> httpx.MockTransport:
    """The simulator's ``handle()`` as an httpx transport (its answer streamed, as on a socket)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        answer = sim.handle(request.method, request.url.raw_path.decode("ascii"), headers, request.content)
        if isinstance(answer, CloseConnection):
            raise httpx.RemoteProtocolError("server closed the connection", request=request)
        status, answer_headers, body = answer
        return httpx.Response(status, headers=answer_headers, stream=httpx.ByteStream(body))

    return httpx.MockTransport(handle)


def connector(sim: JobTrackSim, seen: list[httpx.Request] | None = None, **keys: object) -> JobTrackConnector:
    config = JobTrackConfig(vendor="jobtrack", base_url="http://jobtrack.test", token_env=TOKEN_ENV, **keys)
    return JobTrackConnector("unit", config, transport=sim_transport(sim, seen))


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "unit-token")


@pytest.mark.parametrize("demo", DEMO_CODES, ids=lambda d: f"{d.code}@{d.station}+{d.operator}")
async def test_every_demo_rule_in_process(demo) -> None:
    jt = connector(JobTrackSim(demo_data()))
    answer = await jt.perform(checkin(demo.station, demo.code, demo.operator))
    await jt.aclose()
    if demo.accepted:
        assert isinstance(answer, Accepted) and answer.http_status == 200
    else:
        assert answer == Rejected(title=demo.title, details=demo.details, http_status=demo.status)


async def test_the_request_is_built_as_documented() -> None:
    seen: list[httpx.Request] = []
    jt = connector(JobTrackSim(demo_data()), seen, order_field="job", auth_scheme="Token")
    await jt.perform(checkin("A/B", "72544", "OP1001"))
    await jt.aclose()
    [request] = seen
    assert request.method == "POST"
    assert request.url.raw_path == b"/api/v2/job_track/stations/A%2FB"
    assert request.headers["Authorization"] == "Token unit-token"
    assert request.content == b'{"job":"72544","operator":"OP1001"}'


async def test_a_dropped_connection_after_sending_is_unknown_not_refused() -> None:
    sim = JobTrackSim(demo_data())
    sim.set_faults({"down": True})
    jt = connector(sim)
    answer = await jt.perform(checkin("LP", "72544"))
    await jt.aclose()
    assert not isinstance(answer, (Accepted, Rejected))
    assert not isinstance(answer, BadAnswer) or answer.unknown or answer.transient
