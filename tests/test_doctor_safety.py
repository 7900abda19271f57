"""``kiosk doctor`` and start-up on what could hurt a station: a journal a running kiosk holds,
scan patterns, and a token file other users can read (warned like ssh warns about a key)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import BurstSim

REPO = Path(__file__).resolve().parent.parent
TOKEN = "s3cret-t0ken-value"


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)


def row(output: str, part: str) -> str:
    """The doctor's table row for ``part`` and its "what to do" line, if any."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(part + " "):
            follow = lines[i + 1] if i + 1 < len(lines) and "what to do:" in lines[i + 1] else ""
            return " ".join((line + " " + follow).split())
    raise AssertionError(f"no row {part!r} in:\n{output}")


def token_file(tmp_path: Path, mode: int) -> Path:
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def test_doctor_fails_a_token_file_others_can_read(burst_sim: BurstSim, write_config, tmp_path: Path) -> None:
    path = token_file(tmp_path, 0o644)
    done = run("doctor", "--config", str(write_config(burst_sim.url, backend={"token_file": "token"})))
    assert done.returncode == 1
    assert row(done.stdout, "token file of backend jt") == (
        f"token file of backend jt FAIL {path} is not private (mode 0644: group and others have access to it) "
        f"what to do: chmod 600 {path}, owned by the kiosk user: only the kiosk may read the API token")
    assert TOKEN not in done.stdout + done.stderr


def test_doctor_passes_a_private_token_file(burst_sim: BurstSim, write_config, tmp_path: Path) -> None:
    path = token_file(tmp_path, 0o600)
    done = run("doctor", "--config", str(write_config(burst_sim.url, backend={"token_file": "token"})))
    assert row(done.stdout, "token file of backend jt") == (
        f"token file of backend jt OK {path} is readable by its owner only")


def test_start_up_warns_about_a_token_file_others_can_read(burst_sim: BurstSim, write_config,
                                                          tmp_path: Path) -> None:
    path = token_file(tmp_path, 0o666)
    config = write_config(burst_sim.url, backend={"token_file": "token"})
    done = run("run", "--headless", "--config", str(config), stdin="")
    assert done.returncode == 0, done.stderr
    assert (f"token file {path} is not private (mode 0666: group and others have access to it): "
            f"run chmod 600 {path}") in done.stderr
    assert TOKEN not in done.stderr


def test_doctor_reports_patterns_as_linear_time(burst_sim: BurstSim, write_config) -> None:
    done = run("doctor", "--config", str(write_config(burst_sim.url)))
    assert row(done.stdout, "scan patterns") == (
        "scan patterns OK 1 pattern(s), each runs in linear time in the scan's length (RE2)")


def test_doctor_reports_a_journal_held_by_a_running_kiosk_with_its_pid(burst_sim: BurstSim, write_config) -> None:
    config = write_config(burst_sim.url)
    kiosk = subprocess.Popen([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert kiosk.stderr is not None
        assert b"ready" in kiosk.stderr.readline()
        done = run("doctor", "--config", str(config))
    finally:
        kiosk.terminate()
        kiosk.communicate(timeout=30)
    journal = config.parent / "journal.sqlite3"
    assert row(done.stdout, "journal") == (
        f"journal OK {journal} is in use by a running kiosk (PID {kiosk.pid}); "
        "one kiosk per journal, so doctor leaves it be")
    assert kiosk.returncode == 0  # the running kiosk was not disturbed
