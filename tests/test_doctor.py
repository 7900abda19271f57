"""kiosk doctor: scanners, backends and journal checked, with hints for each failure."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fsutil import unwritable

from kiosk.config import Config, KioskSection, ProfileConfig, ScannerConfig
from kiosk.connectors.jobtrack import JobTrackConfig
from kiosk.doctor import Check, check_journal, format_table, run_doctor


@pytest.fixture
def pty_link(tmp_path):
    master, slave = os.openpty()
    link = tmp_path / "usb-Scanner-if00"
    link.symlink_to(os.ttyname(slave))
    yield str(link)
    os.close(master)
    os.close(slave)


def make_config(tmp_path, base_url: str, scanners: list[ScannerConfig], journal="kiosk.sqlite3") -> Config:
    return Config(
        kiosk=KioskSection(profile="p", journal=journal),
        backends={"jt": JobTrackConfig(vendor="jobtrack", base_url=base_url, timeout_s=2)},
        profiles=[ProfileConfig(name="p", backend="jt", station="LP")],
        scanners=scanners,
        path=tmp_path / "kiosk.toml",
    )


def test_all_healthy_gives_exit_0(tmp_path, pty_link, jobtrack_sim):
    config = make_config(
        tmp_path,
        jobtrack_sim.url,
        [ScannerConfig(name="bench", kind="serial", port=pty_link), ScannerConfig(name="pipe", kind="stdin")],
    )
    out = io.StringIO()
    assert run_doctor(config, out) == 0, out.getvalue()
    text = out.getvalue()
    assert "Serial ports:" in text and "Input devices:" in text
    assert any(line.startswith("scanner bench (serial)") and "  OK  " in line for line in text.splitlines())
    assert f"opened {os.path.realpath(pty_link)} (via {pty_link})" in text
    assert "All checks passed." in text and "\x1b[" not in text


def test_missing_port_and_unreachable_backend_give_exit_1_with_hints(tmp_path, closed_port):
    config = make_config(
        tmp_path,
        f"http://127.0.0.1:{closed_port}",
        [ScannerConfig(name="gone", kind="serial", port=str(tmp_path / "usb-missing"))],
    )
    out = io.StringIO()
    assert run_doctor(config, out) == 1
    lines = out.getvalue().splitlines()
    scanner_row = next(i for i, line in enumerate(lines) if line.startswith("scanner gone"))
    assert "FAIL" in lines[scanner_row] and "not found" in lines[scanner_row]
    assert "what to do: check the cable" in lines[scanner_row + 1]
    backend_row = next(i for i, line in enumerate(lines) if line.startswith("backend jt"))
    assert "FAIL" in lines[backend_row]
    assert "what to do: start the server or check base_url" in lines[backend_row + 1]
    assert "2 of 3 checks failed." in out.getvalue()


def test_table_columns_are_aligned():
    lines = format_table([Check("scanner a (stdin)", True, "ok"), Check("journal", False, "no folder", "create it")])
    assert lines[1].index("OK") == lines[2].index("FAIL") == lines[0].index("STATUS")


def test_journal_checks(tmp_path):
    assert check_journal(tmp_path / "j.sqlite3").ok
    missing = check_journal(tmp_path / "nope" / "j.sqlite3")
    assert not missing.ok and "does not exist" in missing.detail and "create the folder" in missing.hint
    (tmp_path / "dir.sqlite3").mkdir()
    assert "not a file" in check_journal(tmp_path / "dir.sqlite3").detail
    existing = tmp_path / "ok.sqlite3"
    existing.write_bytes(b"")
    assert check_journal(existing).ok


def test_journal_in_a_read_only_folder_fails(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    with unwritable(folder):
        check = check_journal(folder / "j.sqlite3")
    assert not check.ok and "not writable" in check.detail


def test_existing_garbage_journal_fails(tmp_path):
    bad = tmp_path / "j.sqlite3"
    bad.write_bytes(b"this is not sqlite" * 100)
    check = check_journal(bad)
    assert not check.ok and "not a kiosk journal" in check.detail


def test_hid_scanner_not_present_fails_with_hint(tmp_path, jobtrack_sim):
    config = make_config(tmp_path, jobtrack_sim.url, [ScannerConfig(name="gun", kind="hid", device="*NoSuchScanner*")])
    out = io.StringIO()
    assert run_doctor(config, out) == 1
    assert "what to do: plug the scanner in" in out.getvalue()


def test_build_scanner_maps_each_kind():
    from devices.hid_scanner import HidScanner
    from devices.serial_scanner import SerialScanner
    from devices.stdin_scanner import StdinScanner
    from kiosk.scanners import build_scanner, framing_spec

    serial_cfg = ScannerConfig(name="s", kind="serial", vid_pid="0c2e:0b61", baudrate=115200, parity="E",
                               terminator="etx", prefix="§", encoding="latin-1", idle_gap_ms=80)
    scanner = build_scanner(serial_cfg)
    assert isinstance(scanner, SerialScanner) and scanner.settings.baudrate == 115200 and scanner.settings.parity == "E"
    spec = framing_spec(serial_cfg)
    assert (spec.terminator, spec.prefix, spec.idle_gap_s, spec.encoding) == ("etx", b"\xa7", 0.08, "latin-1")
    assert isinstance(build_scanner(ScannerConfig(name="i", kind="stdin")), StdinScanner)
    hid = build_scanner(ScannerConfig(name="h", kind="hid", device="*Honeywell*", layout="de", prefix="§"))
    assert isinstance(hid, HidScanner) and hid._spec.terminator == "\r\n" and hid._spec.prefix == "§".encode()


# --- the backend probe and token problems, through the CLI against the simulator -------------

TOKEN_ENV = "KIOSK_DOCTOR_TEST_TOKEN"
GOOD_TOKEN = "d0ctor-t0ken"


@pytest.fixture
def guarded_sim():
    """The job-track simulator demanding a bearer token, on loopback."""
    from kiosk.simulators.jobtrack import JobTrackSim
    from kiosk.simulators.server import SimServer

    with SimServer(JobTrackSim(token=GOOD_TOKEN)) as server:
        yield server


def write_kiosk_toml(tmp_path: Path, base_url: str, *, station: str = "LP", token: str = f'token_env = "{TOKEN_ENV}"',
                     scanners: str = "") -> Path:
    path = tmp_path / "kiosk.toml"
    path.write_text(f"""
[kiosk]
profile = "LP"
journal = "journal.sqlite3"
[backends.jt]
vendor = "jobtrack"
base_url = "{base_url}"
timeout_s = 2
{token}
[[profiles]]
name = "LP"
backend = "jt"
station = "LP"
[[profiles]]
name = "X"
backend = "jt"
station = "{station}"
{scanners}
""", encoding="utf-8")
    return path


def kiosk(*args: str, token: str | None = GOOD_TOKEN, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    if token is not None:
        env[TOKEN_ENV] = token
    return subprocess.run([sys.executable, "-m", "kiosk", *args], capture_output=True, text=True, timeout=60,
                          env=env, cwd=cwd, stdin=subprocess.DEVNULL, check=False)


def backend_row(output: str) -> tuple[str, str]:
    """The backend row and its "what to do" line ("" when there is none)."""
    lines = output.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("backend jt (jobtrack)"))
    after = lines[i + 1].strip() if i + 1 < len(lines) else ""
    return lines[i], after if after.startswith("what to do:") else ""


def test_doctor_proves_base_url_token_and_every_station(tmp_path, guarded_sim):
    config = write_kiosk_toml(tmp_path, guarded_sim.url, station="BC")
    proc = kiosk("doctor", "--config", str(config))
    row, hint = backend_row(proc.stdout)
    assert proc.returncode == 0, proc.stdout
    assert "  OK  " in row and "base URL and token accepted, station 'LP' found" in row and "found too: 'BC'" in row
    assert hint == "" and guarded_sim.app.events() == []


def test_doctor_says_the_token_was_refused(tmp_path, guarded_sim):
    config = write_kiosk_toml(tmp_path, guarded_sim.url)
    proc = kiosk("doctor", "--config", str(config), token="stale-token")
    row, hint = backend_row(proc.stdout)
    assert proc.returncode == 1
    assert "FAIL" in row and "token refused:" in row and "HTTP 401" in row
    assert hint.startswith(f"what to do: check the API token in the environment variable {TOKEN_ENV} "
                           "(backends.jt.token_env)")
    assert "stale-token" not in proc.stdout and "start the server" not in proc.stdout


def test_doctor_and_run_name_the_file_and_key_of_a_missing_token(tmp_path, guarded_sim):
    config = write_kiosk_toml(tmp_path, guarded_sim.url)
    message = f"{config.resolve()}: backends.jt.token_env: environment variable {TOKEN_ENV} is not set or empty"
    doctor = kiosk("doctor", "--config", str(config), token=None)
    row, hint = backend_row(doctor.stdout)
    assert doctor.returncode == 1
    assert "FAIL" in row and message in row
    assert hint.startswith(f"what to do: set {TOKEN_ENV} to the API token in the kiosk's environment")
    run = kiosk("run", "--headless", "--config", str(config), token=None)
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr.startswith(f"kiosk: {message} (it must hold the API token)\n  what to do: set {TOKEN_ENV} ")
    assert "backend 'jt'" not in run.stderr and "Traceback" not in run.stderr


def test_doctor_reads_a_relative_token_file_next_to_the_config_and_names_a_missing_one(tmp_path, guarded_sim):
    config = write_kiosk_toml(tmp_path, guarded_sim.url, token='token_file = "secrets/jt.token"')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    missing = kiosk("doctor", "--config", str(config), cwd=elsewhere)
    row, hint = backend_row(missing.stdout)
    token_path = tmp_path.resolve() / "secrets" / "jt.token"
    assert missing.returncode == 1
    assert f"backends.jt.token_file: token file {token_path} not found" in row
    assert hint.startswith(f"what to do: put the API token on the first line of {token_path}")
    token_path.parent.mkdir()
    token_path.write_text(GOOD_TOKEN + "\n", encoding="utf-8")
    token_path.chmod(0o600)  # a token file others can read is a FAIL of its own
    found = kiosk("doctor", "--config", str(config), cwd=elsewhere)
    assert found.returncode == 0, found.stdout


def test_doctor_says_wrong_base_url_for_a_404_on_the_probe_path(tmp_path, guarded_sim):
    config = write_kiosk_toml(tmp_path, f"{guarded_sim.url}/api/v2")
    proc = kiosk("doctor", "--config", str(config))
    row, hint = backend_row(proc.stdout)
    assert proc.returncode == 1
    assert "FAIL" in row and f"wrong base_url: {guarded_sim.url}/api/v2 answered HTTP 404" in row
    assert hint.startswith(f"what to do: set backends.jt.base_url in {config.resolve()} "
                           "to the server's address without the API path")


def test_doctor_names_the_profile_whose_station_the_vendor_does_not_know(tmp_path, guarded_sim):
    config = write_kiosk_toml(tmp_path, guarded_sim.url, station="lp")
    proc = kiosk("doctor", "--config", str(config))
    row, hint = backend_row(proc.stdout)
    assert proc.returncode == 1
    assert "FAIL" in row and "station 'lp' not found" in row
    assert hint.startswith(f"what to do: check profiles[1].station in {config.resolve()}")


def test_doctor_says_start_the_server_when_nothing_listens(tmp_path, closed_port):
    config = write_kiosk_toml(tmp_path, f"http://127.0.0.1:{closed_port}")
    proc = kiosk("doctor", "--config", str(config))
    row, hint = backend_row(proc.stdout)
    assert proc.returncode == 1 and "connection refused" in row
    assert hint.startswith("what to do: start the server or check base_url")


# --- listening to a scanner -------------------------------------------------------------------


@pytest.fixture
def pty_pair(tmp_path):
    """(by-id style link to a pty's slave, the master end the test writes to as the scanner)."""
    master, slave = os.openpty()
    link = tmp_path / "usb-Scanner-if00"
    link.symlink_to(os.ttyname(slave))
    yield str(link), master
    os.close(master)
    os.close(slave)


def test_doctor_listen_says_a_cr_configured_scanner_sends_crlf(tmp_path, pty_pair, jobtrack_sim):
    link, master = pty_pair
    scanners = f'[[scanners]]\nname = "bench"\nkind = "serial"\nport = "{link}"\nterminator = "\\r"\n'
    config = write_kiosk_toml(tmp_path, jobtrack_sim.url, token="", scanners=scanners)
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "doctor", "--config", str(config), "--listen", "20"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert first.startswith("Scan a barcode with each scanner now (bench)"), first
    os.write(master, b"337178\r\n")
    out, err = proc.communicate(timeout=30)
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("scanner bench scans"))
    assert proc.returncode == 1, out + err
    assert "FAIL" in lines[i] and "read 1 scan(s): '337178'" in lines[i]
    assert 'scanner sends CRLF, set terminator = "\\r\\n"' in lines[i]
    assert lines[i + 1].strip() == ('what to do: scanner sends CRLF, set terminator = "\\r\\n" '
                                    f"for scanners[0] in {config.resolve()}")
