"""Config loading: every kind of broken config gets one clear message and exit status 2."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]

GOOD = """
[kiosk]
profile = "LP"
journal = "j.sqlite3"

[backends.lab]
vendor = "jobtrack"
base_url = "http://127.0.0.1:8765"
token_env = "KIOSK_LAB_TOKEN"
timeout_s = 5.0

[[profiles]]
name = "LP"
backend = "lab"
station = "LP"
operator_pattern = "^OP"

[[scanners]]
name = "console"
kind = "stdin"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_contract_config_loads_and_resolves_journal_against_its_folder(tmp_path):
    config = load_config(write(tmp_path, GOOD))
    assert config.journal_path == tmp_path.resolve() / "j.sqlite3"
    assert config.profile("LP").station == "LP"
    assert config.backends["lab"].timeout_s == 5.0


def test_example_config_is_valid():
    config = load_config(ROOT / "config.example.toml")
    assert {p.name for p in config.profiles} >= {"LP", "INSP"}


@pytest.mark.parametrize("change,key,words", [
    (("timeout_s = 5.0", "timeout_s = \"soon\""), "backends.lab.timeout_s", "valid number"),
    (('station = "LP"', 'station = "LP"\nbogus = 1'), "profiles[0].bogus", "unknown key"),
    (('backend = "lab"', 'backend = "nope"'), "profiles[0].backend", "unknown backend 'nope'"),
    (('profile = "LP"', 'profile = "XX"'), "kiosk.profile", "unknown profile 'XX'"),
    (('"^OP"', '"^(OP"'), "profiles[0].operator_pattern", "not a valid regular expression"),
    (('kind = "stdin"', 'kind = "laser"'), "scanners[0].kind", "'stdin', 'serial' or 'hid'"),
    (('vendor = "jobtrack"', 'vendor = "sap"'), "backends.lab.vendor", "'jobtrack'"),
    (('base_url = "http://127.0.0.1:8765"', 'base_url = "127.0.0.1"'), "backends.lab.base_url", "http://"),
    (('[[profiles]]\nname = "LP"', '[[profiles]]'), "profiles[0].name", "missing"),
    (('kind = "stdin"', 'kind = "serial"\nvid_pid = "honeywell"'), "scanners[0].vid_pid", "0c2e:0b61"),
])
def test_broken_config_names_file_key_and_problem(tmp_path, change, key, words):
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}: {key}: " in message
    assert words in message


def test_bad_toml_and_missing_and_binary_files(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(write(tmp_path, "[kiosk\nprofile="))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(binary)


def test_cli_exits_2_with_one_clear_message_and_no_traceback(tmp_path):
    path = write(tmp_path, GOOD.replace('"^OP"', '"[unclosed"'))
    proc = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert f"{path}: profiles[0].operator_pattern: not a valid regular expression" in proc.stderr


@pytest.mark.parametrize("station, shown", [('""', "an empty station code"), ('"."', "station code '.'"),
                                             ('".."', "station code '..'")])
def test_cli_refuses_a_station_code_that_cannot_be_a_path_segment(tmp_path, station, shown):
    text = GOOD + '\n[[profiles]]\nname = "BC"\nbackend = "lab"\nstation = ' + station + "\n"
    path = write(tmp_path, text)
    for command in (["run", "--headless"], ["doctor"]):
        proc = subprocess.run([sys.executable, "-m", "kiosk", *command, "--config", str(path)],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        assert proc.stderr == f"kiosk: {path}: profiles[1].station: {shown} cannot be a URL path segment: "\
                              "give the station's code as the vendor spells it\n"


def test_hash_pin_command_prints_a_verifiable_hash():
    from kiosk.station.pin import verify_pin

    proc = subprocess.run([sys.executable, "-m", "kiosk", "hash-pin"], input="4321\n",
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    stored = proc.stdout.strip()
    assert stored.startswith("scrypt$") and "4321" not in stored
    assert verify_pin("4321", stored)
    short = subprocess.run([sys.executable, "-m", "kiosk", "hash-pin"], input="12\n",
                           capture_output=True, text=True, timeout=60, check=False)
    assert short.returncode == 2 and "at least 4" in short.stderr


class Terminal:
    """`kiosk hash-pin` on a pseudo-terminal that is its controlling terminal (getpass reads it)."""

    def __init__(self) -> None:
        self.master, slave = os.openpty()
        # A new session whose controlling terminal is the pty, then the real command.
        take_tty = ("import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
                    "os.execv(sys.executable, [sys.executable, '-m', 'kiosk', 'hash-pin'])")
        self.proc = subprocess.Popen([sys.executable, "-c", take_tty], stdin=slave, stdout=slave, stderr=slave,
                                     start_new_session=True)
        os.close(slave)
        self.seen = ""

    def read_until(self, words: str, timeout: float = 20.0) -> str:
        """Everything printed until ``words`` appears (or the program ended)."""
        deadline = time.monotonic() + timeout
        while words not in self.seen:
            assert time.monotonic() < deadline, f"timed out waiting for {words!r}; seen {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the program ended and closed the terminal
                    break
                if not chunk:
                    break
                self.seen += chunk.decode("utf-8", "replace")
        return self.seen

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def finish(self) -> int:
        self.read_until("\x00never\x00")
        code = self.proc.wait(timeout=20)
        os.close(self.master)
        return code


def test_hash_pin_on_a_terminal_refuses_a_short_pin_after_the_first_entry():
    term = Terminal()
    term.read_until("Lead PIN: ")
    term.type("12\n")
    assert term.finish() == 2
    assert "a lead PIN needs at least 4 characters" in term.seen and "Again" not in term.seen


def test_hash_pin_on_a_terminal_asks_twice_for_a_good_pin():
    from kiosk.station.pin import verify_pin

    term = Terminal()
    term.read_until("Lead PIN: ")
    term.type("4321\n")
    term.read_until("Again: ")
    term.type("4321\n")
    assert term.finish() == 0
    stored = term.seen.split("Again: ", 1)[1].strip()
    assert stored.startswith("scrypt$") and "4321" not in term.seen and verify_pin("4321", stored)
