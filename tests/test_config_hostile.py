"""Config that could hurt the station: every case is exit 2 naming the file (and key), no traceback.

Each case writes a real file; ``load_config`` reads it, and the cases that crashed or hung
the kiosk also run the real CLI (``python -m kiosk``) in a subprocess with its address space
capped, so a build that tries to read ``/dev/zero`` whole fails fast instead of eating the
machine, and a build that waits on a FIFO fails by the timeout.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config

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


# --- keys that crashed the kiosk or started one that can never take a scan -----------------------

SERIAL = 'kind = "serial"\nport = "/dev/ttyKIOSKTEST0"'


def config_with(tmp_path: Path, *changes: tuple[str, str]) -> Path:
    text = GOOD
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


CASES = {
    "retention 1e9 days": (("j.sqlite3\"", 'j.sqlite3"\njournal_retention_days = 1e9'),
                           "kiosk.journal_retention_days", "less than or equal to 36500"),
    "retention inf": (("j.sqlite3\"", 'j.sqlite3"\njournal_retention_days = inf'),
                      "kiosk.journal_retention_days", "finite number"),
    "journal path with NUL": (('"j.sqlite3"', '"j\\u0000.sqlite3"'), "kiosk.journal", "no NUL characters"),
    "base_url unclosed IPv6": (('"http://127.0.0.1:9"', '"http://[::1"'), "backends.lab.base_url",
                               "'[' of an IPv6 address without its ']'"),
    "base_url with NUL": (('"http://127.0.0.1:9"', '"http://127.0.0.1:9/\\u0000x"'), "backends.lab.base_url",
                          "control characters"),
    "base_url port 99999": (('"http://127.0.0.1:9"', '"http://127.0.0.1:99999"'), "backends.lab.base_url",
                            "port '99999', which is not a number from 1 to 65535"),
    "timeout nan": (("timeout_s = 1.0", "timeout_s = nan"), "backends.lab.timeout_s", "finite number"),
    "budget inf": (("timeout_s = 1.0", "timeout_s = 1.0\nmax_requests_per_minute = inf"),
                   "backends.lab.max_requests_per_minute", "finite number"),
    "retry_after_max_s negative": (("timeout_s = 1.0", "timeout_s = 1.0\nretry_after_max_s = -1"),
                                   "backends.lab.retry_after_max_s", "greater than or equal to 0"),
    "auth_header empty": (("timeout_s = 1.0", 'timeout_s = 1.0\nauth_header = ""'), "backends.lab.auth_header",
                          "must be an HTTP header name"),
    "auth_header with CR LF": (("timeout_s = 1.0", 'timeout_s = 1.0\nauth_header = "X-Key\\r\\nX-Evil: 1"'),
                               "backends.lab.auth_header", "no spaces, colons, CR or LF"),
    "auth_scheme with LF": (("timeout_s = 1.0", 'timeout_s = 1.0\nauth_scheme = "Bearer\\nX-Evil: 1"'),
                            "backends.lab.auth_scheme", "no spaces, CR or LF"),
    "token_env empty": (("timeout_s = 1.0", 'timeout_s = 1.0\ntoken_env = ""'), "backends.lab.token_env",
                        "must be the name of an environment variable"),
    "token_file with NUL": (("timeout_s = 1.0", 'timeout_s = 1.0\ntoken_file = "tok\\u0000en"'),
                            "backends.lab.token_file", "no NUL characters"),
    "operator_pattern empty": (('station = "LP"', 'station = "LP"\noperator_pattern = ""'),
                               "profiles[0].operator_pattern", "an empty pattern matches every scan"),
    "operator_pattern matches everything": (('station = "LP"', 'station = "LP"\noperator_pattern = ".*"'),
                                            "profiles[0].operator_pattern", "matches every scan"),
    "operator_pattern back-reference": (('station = "LP"', 'station = "LP"\noperator_pattern = "^(OP)\\\\1"'),
                                        "profiles[0].operator_pattern", "cannot run in linear time"),
    "job pattern look-ahead": (('station = "LP"', 'station = "LP"\njob_patterns = ["^J", "^(?=T)"]'),
                               "profiles[0].job_patterns[1]", "cannot run in linear time"),
    "job_patterns empty list": (('station = "LP"', 'station = "LP"\njob_patterns = []'),
                                "profiles[0].job_patterns", "no job could be scanned"),
    "badge_pattern empty": (("[[scanners]]", '[lead]\nbadge_pattern = ""\n\n[[scanners]]'), "lead.badge_pattern",
                            "an empty pattern matches every scan"),
    "scanner encoding rot13": (('kind = "stdin"', 'kind = "stdin"\nencoding = "rot13"'), "scanners[0].encoding",
                               "'rot13' is not a text encoding"),
    "scanner encoding undefined": (('kind = "stdin"', 'kind = "stdin"\nencoding = "undefined"'),
                                   "scanners[0].encoding", "does not read plain digits and letters"),
    "baudrate 1e20": (('kind = "stdin"', SERIAL + "\nbaudrate = 1e20"), "scanners[0].baudrate", ""),
    "baudrate 2**63-1": (('kind = "stdin"', SERIAL + "\nbaudrate = 9223372036854775807"), "scanners[0].baudrate",
                         "less than or equal to 4000000"),
    "baudrate 10 million": (('kind = "stdin"', SERIAL + "\nbaudrate = 10000000"), "scanners[0].baudrate",
                            "less than or equal to 4000000"),
}


@pytest.mark.parametrize("case", list(CASES), ids=str)
def test_a_harmful_key_is_refused_naming_file_and_key(tmp_path: Path, case: str) -> None:
    change, key, words = CASES[case]
    path = config_with(tmp_path, change)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert f"{path}: {key}: " in message and words in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize("case", ["scanner encoding rot13", "baudrate 2**63-1", "operator_pattern empty",
                                  "base_url unclosed IPv6", "retention 1e9 days"], ids=str)
def test_the_kiosk_itself_exits_2_on_a_harmful_key(tmp_path: Path, case: str) -> None:
    change, key, _ = CASES[case]
    path = config_with(tmp_path, change)
    assert_refused(kiosk("run", "--headless", "--config", str(path), stdin="72544\n"), f"{path}: {key}: ")


def test_doctor_does_not_pass_a_journal_path_with_nul(tmp_path: Path) -> None:
    path = config_with(tmp_path, CASES["journal path with NUL"][0])
    assert_refused(kiosk("doctor", "--config", str(path)), f"{path}: kiosk.journal: must be a file path")


def test_a_token_file_that_is_a_fifo_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "token")
    path = config_with(tmp_path, ("timeout_s = 1.0", 'timeout_s = 1.0\ntoken_file = "token"'))
    done = kiosk("run", "--headless", "--config", str(path), stdin="72544\n")
    assert_refused(done, f"{path}: backends.lab.token_file: token file {tmp_path / 'token'} "
                         "is a named pipe (FIFO), not a regular file")
