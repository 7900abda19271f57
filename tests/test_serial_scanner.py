"""Serial scanner over a pseudo-terminal reached through a symlink (like /dev/serial/by-id)."""

from __future__ import annotations

import errno
import os
import queue
import time

import pytest
import serial

from devices.events import DiagnosticEvent, ScanEvent, StateEvent, UnreadableEvent
from devices.framing import FramingSpec
from devices.serial_scanner import (
    OpenFailed,
    SerialScanner,
    SerialSettings,
    check_open,
    classify_open_error,
    plain_read_error,
)


class FakePlug:
    """A pty pair behind a symlink: unplug closes the master, replug makes a new pair."""

    def __init__(self, tmp_path):
        self.link = str(tmp_path / "usb-Scanner_1234-if00")
        self.master = None
        self.slave = None
        self.plug()

    def plug(self):
        self.master, self.slave = os.openpty()
        tmp = self.link + ".new"
        os.symlink(os.ttyname(self.slave), tmp)
        os.replace(tmp, self.link)

    def unplug(self):
        os.close(self.master)
        os.close(self.slave)
        self.master = self.slave = None
        os.unlink(self.link)

    def write(self, data: bytes):
        os.write(self.master, data)

    def close(self):
        if self.master is not None:
            self.unplug()


class Collector:
    def __init__(self):
        self.queue: queue.Queue = queue.Queue()
        self.seen = []

    def __call__(self, event):
        self.queue.put(event)

    def wait_for(self, predicate, timeout=3.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                event = self.queue.get(timeout=0.05)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event
        raise AssertionError(f"timed out; seen: {self.seen}")


def wait_until(condition, timeout=3.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def plug(tmp_path):
    p = FakePlug(tmp_path)
    yield p
    p.close()


def is_state(state):
    return lambda e: isinstance(e, StateEvent) and e.state == state


def is_scan(e):
    return isinstance(e, ScanEvent)


def test_frames_arrive_with_text_raw_and_symbology(plug):
    scanner = SerialScanner("s1", SerialSettings(port=plug.link, baudrate=115200), FramingSpec(terminator="\r"))
    got = Collector()
    scanner.start(got)
    try:
        assert got.wait_for(is_state("connected")).reconnects == 0
        plug.write(b"]C10104012345678901\x1d10AB\r")
        plug.write(b"TRAY-")
        plug.write(b"0042\r")
        first = got.wait_for(is_scan)
        second = got.wait_for(is_scan)
    finally:
        scanner.stop()
    assert (first.text, first.symbology, first.raw) == (
        "0104012345678901\x1d10AB", "]C1", b"]C10104012345678901\x1d10AB")
    assert second.text == "TRAY-0042" and second.scanner == "s1"
    assert scanner.stats.frames == 2 and scanner.stats.last_text == "TRAY-0042"


def test_crlf_scanner_on_a_cr_terminator_gives_clean_frames_a_hint_and_unreadable_events(plug):
    spec = FramingSpec(terminator="\r", max_length=16, partial_timeout_s=0.2)
    scanner = SerialScanner("s1", SerialSettings(port=plug.link), spec)
    got = Collector()
    scanner.start(got)
    try:
        got.wait_for(is_state("connected"))
        plug.write(b"337178\r\n")
        first = got.wait_for(is_scan)
        plug.write(b"337178\r\n")
        second = got.wait_for(is_scan)
        plug.write(b"AB\xffCD\r\n")
        bad = got.wait_for(lambda e: isinstance(e, UnreadableEvent))
        plug.write(b"X" * 40 + b"\r\n")
        long = got.wait_for(lambda e: isinstance(e, UnreadableEvent))
        time.sleep(0.4)  # longer than partial_timeout_s: a leftover LF must not become a partial frame
        plug.write(b"OK\r\n")
        last = got.wait_for(is_scan)
    finally:
        scanner.stop()
    assert [(e.text, e.raw) for e in (first, second, last)] == [("337178", b"337178")] * 2 + [("OK", b"OK")]
    assert (bad.reason, bad.raw, bad.visible_text(), bad.scanner) == ("decode_error", b"AB\xffCD", "AB<xFF>CD", "s1")
    assert (long.reason, long.raw) == ("too_long", b"X" * 16) and "40 bytes" in long.message
    hints = [e for e in got.seen if isinstance(e, DiagnosticEvent)]
    assert [(h.kind, h.message) for h in hints] == [("crlf_mismatch", 'scanner sends CRLF, set terminator = "\\r\\n"')]
    assert [e for e in got.seen if isinstance(e, UnreadableEvent)] == [bad, long]
    assert (scanner.stats.frames, scanner.stats.unreadable) == (3, 2)
    assert scanner.stats.extra["hint"] == 'scanner sends CRLF, set terminator = "\\r\\n"'


def test_unplug_keeps_completed_frames_and_replug_reconnects(plug):
    scanner = SerialScanner("s1", SerialSettings(port=plug.link), FramingSpec(terminator="\r\n"))
    got = Collector()
    scanner.start(got)
    try:
        got.wait_for(is_state("connected"))
        plug.write(b"BEFORE-1\r\nPARTI")
        assert got.wait_for(is_scan).text == "BEFORE-1"
        wait_until(lambda: scanner._framer.pending == b"PARTI")  # partial bytes read before the cable goes
        plug.unplug()
        lost = got.wait_for(is_state("disconnected"))
        assert "disconnected" in lost.message
        partial = [e for e in got.seen if isinstance(e, UnreadableEvent)]
        assert [(u.reason, u.raw) for u in partial] == [("incomplete", b"PARTI")]
        assert got.seen.index(partial[0]) < got.seen.index(lost)

        replugged_at = time.monotonic()
        plug.plug()
        back = got.wait_for(is_state("connected"))
        assert time.monotonic() - replugged_at < 2.0
        assert back.reconnects == 1
        plug.write(b"AFTER-2\r\n")
        assert got.wait_for(is_scan).text == "AFTER-2"
    finally:
        scanner.stop()
    assert scanner.stats.reconnects == 1 and scanner.stats.state == "connected"


def test_missing_port_reports_not_found_and_retries_until_it_appears(plug, tmp_path):
    plug.unplug()
    scanner = SerialScanner("s1", SerialSettings(port=plug.link))
    got = Collector()
    scanner.start(got)
    try:
        lost = got.wait_for(is_state("disconnected"))
        assert lost.message.startswith("not found")
        plug.plug()
        got.wait_for(is_state("connected"))
        plug.write(b"LATE\r")
        assert got.wait_for(is_scan).text == "LATE"
    finally:
        scanner.stop()


def test_stop_returns_promptly(plug):
    scanner = SerialScanner("s1", SerialSettings(port=plug.link))
    got = Collector()
    scanner.start(got)
    got.wait_for(is_state("connected"))
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 1.0
    assert not scanner._thread.is_alive()


def test_idle_gap_framing_over_serial(plug):
    scanner = SerialScanner("s1", SerialSettings(port=plug.link), FramingSpec(terminator="none", idle_gap_s=0.05))
    got = Collector()
    scanner.start(got)
    try:
        got.wait_for(is_state("connected"))
        plug.write(b"NOTERM-7")
        assert got.wait_for(is_scan).text == "NOTERM-7"
    finally:
        scanner.stop()


def test_exclusive_open_reports_busy(plug):
    settings = SerialSettings(port=plug.link)
    holder = serial.Serial()
    holder.port = os.path.realpath(plug.link)
    holder.exclusive = True
    holder.open()
    try:
        with pytest.raises(OpenFailed) as info:
            check_open(settings)
    finally:
        holder.close()
    assert info.value.kind == "busy" and "ModemManager" in str(info.value)
    assert check_open(settings) == os.path.realpath(plug.link)


def test_open_error_messages():
    denied = classify_open_error(
        serial.SerialException(errno.EACCES, "could not open port /dev/ttyUSB0: Permission denied"), "/dev/ttyUSB0")
    assert str(denied).startswith("permission denied: add the user to the 'dialout' group "
                                  "(sudo usermod -aG dialout $USER")
    missing = classify_open_error(serial.SerialException(errno.ENOENT, "could not open port"), "/dev/ttyUSB9")
    assert str(missing).startswith("not found: check the cable / the by-id path")
    busy = classify_open_error(serial.SerialException(errno.EBUSY, "busy"), "/dev/ttyACM0")
    assert 'ENV{ID_MM_DEVICE_IGNORE}="1"' in str(busy)


def test_read_errors_are_said_plainly():
    ready = serial.SerialException("device reports readiness to read but returned no data "
                                   "(device disconnected or multiple access on port?)")
    assert plain_read_error(ready) == "device disconnected (port readable but no data: unplugged?)"
    assert plain_read_error(OSError(errno.EIO, "Input/output error")) == "device disconnected (Input/output error)"


def test_vid_pid_without_a_match_is_not_found():
    with pytest.raises(OpenFailed) as info:
        check_open(SerialSettings(vid_pid="ffff:fffe", serial_number="X1"))
    assert info.value.kind == "not_found" and "ffff:fffe" in str(info.value)


def test_vid_pid_matching_picks_by_serial_number():
    from devices.ports import (
        PortNotFound,
        SerialPortInfo,
        find_serial_port,
        parse_vid_pid,
    )

    ports = [SerialPortInfo("/dev/ttyACM0", "0c2e:0b61", "A1"), SerialPortInfo("/dev/ttyACM1", "0c2e:0b61", "B2")]
    assert find_serial_port("0C2E:0B61", "B2", ports=ports) == "/dev/ttyACM1"
    with pytest.raises(PortNotFound, match="ambiguous"):
        find_serial_port("0c2e:0b61", ports=ports)
    with pytest.raises(ValueError, match="two hex numbers"):
        parse_vid_pid("0c2e-0b61")
