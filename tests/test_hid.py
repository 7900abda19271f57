"""HID scanners: input_event records through a pipe, layouts, shift/caps state, hot-plug."""

from __future__ import annotations

import os
import queue
import sys
import time

import pytest

from devices.events import ScanEvent, StateEvent
from devices.hid_keymaps import (
    EV_KEY,
    EV_MSC,
    INPUT_EVENT,
    InputEvent,
    InputEventReader,
    KeyDecoder,
    decode_events,
    iter_input_events,
    key_event,
)
from devices.hid_scanner import INSTALL_MESSAGE, HidScanner, HidUnavailable, open_evdev

SHIFT, CAPS, CTRL, ALTGR, ENTER = 42, 58, 29, 100, 28

# key codes by US position, enough to type test strings
US_CODES = {**{c: 16 + i for i, c in enumerate("qwertyuiop")}, **{c: 30 + i for i, c in enumerate("asdfghjkl")},
            **{c: 44 + i for i, c in enumerate("zxcvbnm")}, **{c: 2 + i for i, c in enumerate("1234567890")}, "-": 12}


def tap(code: int, t: float = 0.0) -> bytes:
    return key_event(code, 1, t) + key_event(code, 0, t)


def typed(text: str, t: float = 0.0) -> bytes:
    """Records a US-layout scanner sends for ``text`` (letters, digits, '-'), then Enter."""
    out = b""
    for ch in text:
        if ch.isupper():
            out += key_event(SHIFT, 1, t) + tap(US_CODES[ch.lower()], t) + key_event(SHIFT, 0, t)
        else:
            out += tap(US_CODES[ch], t)
    return out + tap(ENTER, t)


def decode_through_pipe(data: bytes, layout: str = "us") -> str:
    read_fd, write_fd = os.pipe()
    os.write(write_fd, data)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb", buffering=0) as stream:
        return decode_events(list(iter_input_events(stream, chunk=7)), layout)


def test_records_have_the_native_kernel_layout():
    assert INPUT_EVENT.size == (24 if sys.maxsize > 2**32 else 16)
    record = InputEvent(12, 345678, EV_KEY, 30, 1)
    assert InputEventReader().feed(record.pack()) == [record]


def test_records_split_across_reads_are_reassembled():
    data = key_event(30, 1, 1.5) + key_event(30, 0, 1.5)
    reader = InputEventReader()
    events = [e for i in range(0, len(data), 5) for e in reader.feed(data[i:i + 5])]
    assert [(e.type, e.code, e.value) for e in events if e.type == EV_KEY] == [(EV_KEY, 30, 1), (EV_KEY, 30, 0)]
    assert events[0].time == 1.5


def test_us_text_with_shift_through_a_pipe():
    assert decode_through_pipe(typed("Tray-42X")) == "Tray-42X\r"


def test_shifted_symbols_per_layout():
    two, seven, q = 3, 8, 16
    shifted = key_event(SHIFT, 1) + tap(two) + tap(seven) + key_event(SHIFT, 0)
    assert decode_through_pipe(shifted, "us") == "@&"
    assert decode_through_pipe(shifted, "de") == '"/'
    assert decode_through_pipe(shifted, "fr") == "27"
    assert decode_through_pipe(tap(two) + tap(seven), "fr") == "éè"
    assert decode_through_pipe(key_event(ALTGR, 1) + tap(q) + key_event(ALTGR, 0), "de") == "@"


def test_qwertz_and_azerty_letters():
    y_us, z_us, q_us, a_us, m_us, semicolon = 21, 44, 16, 30, 50, 39
    assert decode_through_pipe(tap(y_us) + tap(z_us), "de") == "zy"
    assert decode_through_pipe(tap(q_us) + tap(a_us) + tap(semicolon) + tap(m_us), "fr") == "aqm,"


def test_caps_lock_affects_letters_only():
    decoder = KeyDecoder("us")
    assert decoder.key(CAPS, 1) == "" and decoder.key(CAPS, 0) == ""
    assert decoder.key(30, 1) == "A" and decoder.key(2, 1) == "1"
    decoder.key(SHIFT, 1)
    assert decoder.key(30, 1) == "a" and decoder.key(2, 1) == "!"
    decoder.key(SHIFT, 0)
    decoder.key(CAPS, 1)
    assert decoder.key(30, 1) == "a"
    de = KeyDecoder("de")
    de.key(CAPS, 1)
    assert de.key(26, 1) == "Ü" and de.key(12, 1) == "ß"


def test_shift_state_is_per_device():
    first, second = KeyDecoder(), KeyDecoder()
    first.key(SHIFT, 1)
    assert first.key(30, 1) == "A" and second.key(30, 1) == "a"


def test_ctrl_bracket_gives_gs_and_other_events_are_ignored():
    decoder = KeyDecoder("us")
    decoder.key(CTRL, 1)
    assert decoder.key(27, 1) == "\x1d"
    decoder.key(CTRL, 0)
    assert decoder.event(InputEvent(0, 0, EV_MSC, 4, 458756)) == ""
    assert decoder.key(30, 2) == "a"  # auto-repeat types again
    assert decoder.key(30, 0) == ""


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError):
        KeyDecoder("dvorak")


def test_open_without_evdev_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "evdev", None)
    with pytest.raises(HidUnavailable) as info:
        open_evdev("/dev/input/event0")
    assert str(info.value) == INSTALL_MESSAGE


# -- the scanner thread, with pipes standing in for /dev/input/eventN -----------------


class PipeDevice:
    """Each open makes a fresh pipe; ``write`` types into the current one."""

    def __init__(self, path):
        self.path = path
        self.path.write_text("")
        self.write_fd = None
        self.opened = queue.Queue()

    def opener(self, path, grab):
        assert path == str(self.path) and grab
        read_fd, self.write_fd = os.pipe()
        self.opened.put(path)
        return _Handle(read_fd)

    def write(self, data: bytes):
        os.write(self.write_fd, data)

    def unplug(self):
        self.path.unlink()
        os.close(self.write_fd)
        self.write_fd = None

    def replug(self):
        self.path.write_text("")


class _Handle:
    def __init__(self, fd):
        self.fd = fd

    def fileno(self):
        return self.fd

    def close(self):
        os.close(self.fd)


def wait_for(q, predicate, seen, timeout=3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = q.get(timeout=0.05)
        except queue.Empty:
            continue
        seen.append(event)
        if predicate(event):
            return event
    raise AssertionError(f"timed out; seen {seen}")


def test_scanner_reads_scans_and_survives_unplug(tmp_path):
    fake = PipeDevice(tmp_path / "event7")
    scanner = HidScanner("hid1", device=str(fake.path), layout="us", opener=fake.opener, poll_s=0.05)
    events, seen = queue.Queue(), []
    scanner.start(events.put)
    try:
        assert wait_for(events, lambda e: isinstance(e, StateEvent), seen).state == "connected"
        fake.write(typed("Tray-0042", t=100.0))
        scan = wait_for(events, lambda e: isinstance(e, ScanEvent), seen)
        assert (scan.text, scan.source, scan.scanner) == ("Tray-0042", "scanner", "hid1")

        fake.write(typed("abc")[:-2 * INPUT_EVENT.size * 2])  # partial scan: no Enter
        fake.unplug()
        lost = wait_for(events, lambda e: isinstance(e, StateEvent), seen)
        assert lost.state == "disconnected" and lost.message == "device removed"
        assert any(getattr(e, "reason", "") == "incomplete" for e in seen)

        fake.replug()
        back = wait_for(events, lambda e: isinstance(e, StateEvent) and e.state == "connected", seen)
        assert back.reconnects == 1
        fake.write(typed("AFTER9"))
        assert wait_for(events, lambda e: isinstance(e, ScanEvent), seen).text == "AFTER9"
    finally:
        scanner.stop()
    assert not scanner._thread.is_alive()


def test_scanner_keeps_key_timing(tmp_path):
    fake = PipeDevice(tmp_path / "event3")
    scanner = HidScanner("hid1", device=str(fake.path), opener=fake.opener)
    events, seen = queue.Queue(), []
    scanner.start(events.put)
    try:
        wait_for(events, lambda e: isinstance(e, StateEvent), seen)
        fake.write(tap(30, 50.000) + tap(48, 50.010) + tap(46, 50.020) + tap(ENTER, 50.030))
        scan = wait_for(events, lambda e: isinstance(e, ScanEvent), seen)
    finally:
        scanner.stop()
    assert scan.text == "abc"
    assert scan.t_last - scan.t_first == pytest.approx(0.020, abs=1e-6)


def test_missing_evdev_is_reported_once_and_the_thread_ends(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "evdev", None)
    (tmp_path / "event1").write_text("")
    scanner = HidScanner("hid1", device=str(tmp_path / "event1"))
    events, seen = queue.Queue(), []
    scanner.start(events.put)
    lost = wait_for(events, lambda e: isinstance(e, StateEvent), seen)
    scanner.stop()
    assert lost.state == "disconnected" and lost.message == INSTALL_MESSAGE


def test_find_input_device_by_name_glob_and_vid_pid():
    from devices.ports import InputDeviceInfo, PortNotFound, find_input_device

    devices = [
        InputDeviceInfo("/dev/input/event0", "AT Translated Set 2 keyboard", "0001:0001", True),
        InputDeviceInfo("/dev/input/event5", "Honeywell Imaging Scanner", "0c2e:0b61", True),
        InputDeviceInfo("/dev/input/event6", "Honeywell Imaging Scanner Consumer", "0c2e:0b61", True),
    ]
    assert find_input_device("*Honeywell*", devices=devices) == "/dev/input/event5"
    assert find_input_device(vid_pid="0C2E:0B61", devices=devices) == "/dev/input/event5"
    with pytest.raises(PortNotFound, match="no input device with name"):
        find_input_device("*Zebra*", devices=devices)
