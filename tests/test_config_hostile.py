"""Config that could hurt the station: every case is exit 2 naming the file (and key), no traceback.

Each case writes a real file and runs the real CLI (``python -m kiosk``) in a subprocess with
its address space capped, so a build that tries to read ``/dev/zero`` whole fails fast
instead of eating the machine, and a build that waits on a FIFO fails by the timeout.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GENEROUS_S = 60
ADDRESS_SPACE = 2 * 1024**3

GOOD = """
[kiosk]
profile = "LP"
journal = "j.sqlite3"

[backends.lab]
vendor = "jobtrack"
base_url = "http://127.0.0.1:9"
timeout_s = 1.0

[[profiles]]
name = "LP"
backend = "lab"
station = "LP"

[[scanners]]
name = "console"
kind = "stdin"
"""


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def kiosk(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kiosk", *args], check=False, input=stdin, capture_output=True,
                          text=True, timeout=GENEROUS_S, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          preexec_fn=_cap_memory)


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
    for word in words:
        assert word in done.stderr


# --- the file itself -------------------------------------------------------------------------


def test_config_dev_zero_is_refused_without_reading_it() -> None:
    assert_refused(kiosk("run", "--headless", "--config", "/dev/zero"),
                   "/dev/zero: is a character device, not a regular file")


def test_config_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "kiosk.toml"
    os.mkfifo(fifo)
    assert_refused(kiosk("doctor", "--config", str(fifo)), f"{fifo}: is a named pipe (FIFO), not a regular file")


@pytest.mark.parametrize("nesting", ["a = " + "[" * 5000 + "]" * 5000, "a = " + "{b = " * 5000 + "1" + "}" * 5000],
                         ids=["arrays", "inline tables"])
def test_toml_nested_5000_deep_is_refused(tmp_path: Path, nesting: str) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD + nesting + "\n", encoding="utf-8")
    assert_refused(kiosk("run", "--headless", "--config", str(path)), f"{path}: not valid TOML: nested too deeply")


def test_a_config_over_1_mib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_text(GOOD + ("# padding " * 100 + "\n") * 1100, encoding="utf-8")
    assert_refused(kiosk("run", "--headless", "--config", str(path)), f"{path}: is larger than 1 MiB")
