"""Technician monitor: frames described with visible control characters, hex and timing."""

from __future__ import annotations

import io
import os
import threading
import time

from devices.events import DiagnosticEvent, ScanEvent, StateEvent, UnreadableEvent
from devices.monitor import describe_event, describe_frame
from kiosk.config import Config, KioskSection, ProfileConfig, ScannerConfig
from kiosk.connectors.jobtrack import JobTrackConfig
from kiosk.monitor_cli import run_monitor


def make_config(tmp_path, scanners):
    return Config(
        kiosk=KioskSection(profile="p"),
        backends={"jt": JobTrackConfig(vendor="jobtrack", base_url="http://127.0.0.1:9")},
        profiles=[ProfileConfig(name="p", backend="jt", station="S1")],
        scanners=scanners,
        path=tmp_path / "kiosk.toml",
    )


def test_describe_frame_shows_escaped_text_hex_symbology_and_timing():
    event = ScanEvent(
        text="01\x1d\x1b[2J",
        raw=b"]C101\x1d\x1b[2J",
        scanner="s1",
        symbology="]C1",
        t_first=1.0,
        t_last=1.012,
        byte_times=(1.0,) * 5 + (1.004,) * 2 + (1.012,) * 2,
    )
    text = describe_frame(event, prev_t_last=0.5)
    assert "\x1b" not in text
    assert "text   01<GS><ESC>[2J" in text
    assert "hex    5d 43 31 30 31 1d 1b 5b 32 4a" in text
    assert "symbology=]C1 GS1-128" in text and "len=7 chars/10 bytes" in text
    assert "3 chunks, gaps 4.0, 8.0 ms (max 8.0)" in text and "took 12.0 ms" in text
    assert "0.500 s after the previous frame" in text


def test_describe_other_events():
    diag = describe_event(DiagnosticEvent("s1", "decode_error", "byte 0 is not valid utf-8", b"\xff\x1b"))
    assert "problem decode_error" in diag and "<xFF><ESC>" in diag and "ff 1b" in diag
    state = describe_event(StateEvent("s1", "connected", "/dev/ttyUSB0", reconnects=2))
    assert state == "[s1] connected: /dev/ttyUSB0 (reconnects: 2)"


def test_monitor_prints_a_frame_written_into_a_pty(tmp_path):
    master, slave = os.openpty()
    link = tmp_path / "scanner"
    link.symlink_to(os.ttyname(slave))
    config = make_config(tmp_path, [ScannerConfig(name="bench", kind="serial", port=str(link), terminator="\r\n")])
    out, stop, result = io.StringIO(), threading.Event(), []
    thread = threading.Thread(target=lambda: result.append(run_monitor(config, "bench", out=out, stop=stop)))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while "[bench] connected" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.01)
        os.write(master, b"]d2010123\x1d10LOT\x1bX\r\n")
        while "hex" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=3)
        os.close(master)
        os.close(slave)
    printed = out.getvalue()
    assert result == [0]
    assert "text   010123<GS>10LOT<ESC>X" in printed
    assert "1d 31 30 4c 4f 54 1b 58" in printed and "symbology=]d2 GS1 DataMatrix" in printed
    assert "\x1b" not in printed


def test_describe_an_unreadable_frame():
    text = describe_event(UnreadableEvent("s1", b"AB\xff\x1b", "decode_error", "byte 2 is not valid utf-8", 1.0, 1.003))
    assert text.splitlines()[0] == "[s1] unreadable decode_error: byte 2 is not valid utf-8"
    assert "raw    AB<xFF><ESC>" in text and "hex    41 42 ff 1b" in text and "took 3.0 ms" in text


def test_monitor_says_when_a_cr_terminated_scanner_sends_crlf(tmp_path):
    master, slave = os.openpty()
    link = tmp_path / "scanner"
    link.symlink_to(os.ttyname(slave))
    config = make_config(tmp_path, [ScannerConfig(name="bench", kind="serial", port=str(link), terminator="\r")])
    out, stop, result = io.StringIO(), threading.Event(), []
    thread = threading.Thread(target=lambda: result.append(run_monitor(config, "bench", out=out, stop=stop)))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while "[bench] connected" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.01)
        os.write(master, b"337178\r\n")
        os.write(master, b"337178\r\n")
        os.write(master, b"\xff\xfe\r\n")
        while "unreadable" not in out.getvalue():
            assert time.monotonic() < deadline, out.getvalue()
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=3)
        os.close(master)
        os.close(slave)
    printed = out.getvalue()
    assert result == [0]
    assert printed.count("text   337178\n") == 2 and "text   <LF>" not in printed
    assert printed.count('[bench] hint: scanner sends CRLF, set terminator = "\\r\\n"') == 1
    assert "[bench] unreadable decode_error: byte 0 is not valid utf-8" in printed


def test_unknown_scanner_name_exits_2_listing_names(tmp_path):
    config = make_config(tmp_path, [ScannerConfig(name="a", kind="stdin"), ScannerConfig(name="b", kind="stdin")])
    err = io.StringIO()
    assert run_monitor(config, "zzz", out=io.StringIO(), err=err) == 2
    assert "unknown scanner 'zzz'; configured scanners: a, b" in err.getvalue()
