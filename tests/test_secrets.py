"""Secrets stay secret: no password from base_url on screen, in doctor output or in any log line."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BurstSim, order_code
from rich.console import Console

from kiosk.connectors.base import redact_url
from kiosk.connectors.http import split_credentials


@pytest.mark.parametrize(("url", "shown"), [
    ("http://host:8080/x", "http://host:8080/x"),
    ("http://user:pa55@host/x", "http://***@host/x"),
    ("https://user:p@ss@host:1/x?y=a@b", "https://***@host:1/x?y=a@b"),
    ("http://user:pa55@[::1", "http://***@[::1"),  # does not parse, still redacted
])
def test_redact_url_hides_userinfo_even_in_urls_that_do_not_parse(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_split_credentials_moves_userinfo_into_a_basic_header() -> None:
    assert split_credentials("http://us%40er:p%3Ass@host:8080/api") == ("http://host:8080/api",
                                                                        "Basic dXNAZXI6cDpzcw==")
    assert split_credentials("http://host/api") == ("http://host/api", None)


# --- through the real paths ---------------------------------------------------------------------

PASSWORD = "pa@55word"  # an "@" in it defeated the old redaction, which showed "55word@host"
REPO = Path(__file__).resolve().parent.parent


def url_with_password(url: str) -> str:
    return url.replace("http://", f"http://kiosk:{PASSWORD}@", 1)


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)


def assert_no_password(*texts: str) -> None:
    for text in texts:
        assert "55word" not in text and "pa%4055word" not in text


def test_verbose_http_log_lines_carry_no_password_and_the_server_gets_basic_auth(
        burst_sim: BurstSim, write_config) -> None:
    config = write_config(url_with_password(burst_sim.url))
    done = run_cli("-v", "run", "--headless", "--config", str(config), stdin=f"{order_code(1)}\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["outcome"] == "ok"
    assert "HTTP Request: POST http://127.0.0.1:" in done.stderr  # httpx logged the request ...
    assert_no_password(done.stdout, done.stderr)  # ... without the password
    (request,) = [r for r in burst_sim.sim.requests() if r["method"] == "POST"]
    expected = "Basic " + base64.b64encode(f"kiosk:{PASSWORD}".encode()).decode()
    assert request["headers"]["authorization"] == expected


def test_doctor_never_shows_the_password(write_config, closed_port: int) -> None:
    config = write_config(url_with_password(f"http://127.0.0.1:{closed_port}"))
    done = run_cli("doctor", "--config", str(config))
    assert done.returncode == 1
    assert "base_url = http://***@127.0.0.1:" in done.stdout  # the hint names the redacted URL
    assert_no_password(done.stdout, done.stderr)


async def test_diagnostics_and_configuration_screens_never_show_the_password(jobtrack_sim, tmp_path: Path) -> None:
    from tuikit import PIN, kiosk, person, until
    from tuikit import write_config as tui_config

    from kiosk.tui.screens import ConfigScreen, DiagnosticsScreen, LeadMenuScreen, PinScreen

    async with kiosk(tui_config(tmp_path, url_with_password(jobtrack_sim.url)), size=(200, 50)) as (app, pilot):
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.screen, PinScreen))
        await person(pilot, PIN)
        await until(pilot, lambda: isinstance(app.screen, DiagnosticsScreen))  # F3 + PIN: diagnostics
        await pilot.pause()
        diagnostics = rendered(app.screen.query_one("#diagnostics-body").content)
        await pilot.press("escape")
        await until(pilot, lambda: len(app.screen_stack) == 1)
        await pilot.press("f2")  # still lead: the menu
        await until(pilot, lambda: isinstance(app.screen, LeadMenuScreen))
        await pilot.press("down", "down", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfigScreen))
        configuration = rendered(app.screen.query_one("#config-body").content)
    assert "http://***@127.0.0.1:" in diagnostics and "http://***@127.0.0.1:" in configuration
    assert_no_password(diagnostics, configuration)


def rendered(content: object) -> str:
    console = Console(width=300, file=io.StringIO(), record=True)
    console.print(content)
    return console.export_text()
