"""kiosk doctor: scanners, backends and journal checked, with hints for each failure."""

from __future__ import annotations

import io
import os
import stat

import pytest

from kiosk.config import Config, KioskSection, ProfileConfig, ScannerConfig
from kiosk.connectors.jobtrack import JobTrackConfig
from fsutil import unwritable
from kiosk.doctor import check_journal, format_table, Check, run_doctor


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
        profiles=[ProfileConfig(name="p", backend="jt", station="S1")],
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

    serial_cfg = ScannerConfig(name="s", kind="serial", vid_pid="0c2e:0b61", baudrate=115200, parity="E", terminator="etx", prefix="§", encoding="latin-1", idle_gap_ms=80)
    scanner = build_scanner(serial_cfg)
    assert isinstance(scanner, SerialScanner) and scanner.settings.baudrate == 115200 and scanner.settings.parity == "E"
    spec = framing_spec(serial_cfg)
    assert (spec.terminator, spec.prefix, spec.idle_gap_s, spec.encoding) == ("etx", b"\xa7", 0.08, "latin-1")
    assert isinstance(build_scanner(ScannerConfig(name="i", kind="stdin")), StdinScanner)
    hid = build_scanner(ScannerConfig(name="h", kind="hid", device="*Honeywell*", layout="de", prefix="§"))
    assert isinstance(hid, HidScanner) and hid._spec.terminator == "\r\n" and hid._spec.prefix == "§".encode()
