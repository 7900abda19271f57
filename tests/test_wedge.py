"""Keyboard-wedge burst detection with a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.wedge import WedgeDetector, WedgeSettings


def type_keys(detector, keys_and_times):
    events = []
    for key, now in keys_and_times:
        character = key if len(key) == 1 else None
        event = detector.feed_key(key, character, now)
        if event:
            events.append(event)
    return events


def test_fast_burst_is_a_scanner():
    [event] = WedgeDetector().feed_text("TRAY-0042\r", start=10.0, ms_per_char=5)
    assert (event.text, event.source, event.t_first) == ("TRAY-0042", "scanner", 10.0)
    assert abs(event.t_last - (10.0 + 9 * 0.005)) < 1e-9


def test_slow_typing_is_manual():
    [event] = WedgeDetector().feed_text("TRAY-0042\n", start=0.0, ms_per_char=180)
    assert (event.text, event.source) == ("TRAY-0042", "manual")


def test_short_entry_is_manual_even_when_fast():
    [event] = WedgeDetector().feed_text("123\r", start=0.0, ms_per_char=2)
    assert event.source == "manual"


def test_threshold_is_the_average_over_the_whole_burst():
    detector = WedgeDetector(settings=WedgeSettings(avg_ms_per_char=30))
    assert detector.feed_text("ABCDEFGH\r", 0.0, 30)[0].source == "scanner"
    assert detector.feed_text("ABCDEFGH\r", 5.0, 31)[0].source == "manual"


def test_a_single_pause_mid_scan_is_averaged_out_unless_max_gap_is_set():
    keys = [(ch, 0.004 * i) for i, ch in enumerate("0123456789")]
    keys = keys[:5] + [(k, t + 0.1) for k, t in keys[5:]]  # a 100 ms hiccup after 5 keys
    keys.append(("enter", keys[-1][1] + 0.004))
    [relaxed] = type_keys(WedgeDetector(), keys)
    assert relaxed.source == "scanner"
    [strict] = type_keys(WedgeDetector(settings=WedgeSettings(max_gap_ms=50)), keys)
    assert strict.source == "manual" and strict.text == "0123456789"


def test_a_person_pausing_mid_entry_stays_manual():
    keys = [("A", 0.0), ("B", 0.15), ("C", 0.3), ("D", 2.3), ("E", 2.45), ("enter", 2.6)]
    [event] = type_keys(WedgeDetector(), keys)
    assert (event.text, event.source) == ("ABCDE", "manual")


def test_backspace_removes_a_character_and_marks_the_entry_manual():
    keys = [(ch, i * 0.003) for i, ch in enumerate("ABCX")] + [("backspace", 0.012), ("D", 0.015), ("enter", 0.018)]
    [event] = type_keys(WedgeDetector(), keys)
    assert (event.text, event.source) == ("ABCD", "manual")


def test_bare_enter_is_left_to_the_screen():
    detector = WedgeDetector()
    assert detector.feed_key("enter", None, 1.0) is None
    assert detector.pending == ""


def test_tab_ends_an_entry_only_when_enabled():
    assert WedgeDetector().feed_text("ABCD\tEF\r", 0.0, 5)[0].text == "ABCDEF"
    events = WedgeDetector(settings=WedgeSettings(tab_ends_entry=True)).feed_text("ABCD\tEFGH\r", 0.0, 5)
    assert [e.text for e in events] == ["ABCD", "EFGH"]


def test_aim_identifier_and_gs_from_a_wedge():
    [event] = WedgeDetector().feed_text("]C101234\x1d10X\r", 0.0, 3)
    assert (event.symbology, event.text) == ("]C1", "01234\x1d10X")


def test_uses_the_injected_clock():
    now = [100.0]
    detector = WedgeDetector(clock=lambda: now[0])
    for ch in "ABCDE":
        detector.feed_key(ch, ch)
        now[0] += 0.002
    event = detector.feed_key("enter")
    assert event.source == "scanner" and event.t_first == 100.0


@settings(max_examples=100, deadline=None)
@given(text=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=40), fast=st.floats(0.5, 29), slow=st.floats(31, 400))
def test_classification_follows_the_pace(text, fast, slow):
    assert WedgeDetector().feed_text(text + "\r", 0.0, fast)[0].source == "scanner"
    assert WedgeDetector().feed_text(text + "\r", 0.0, slow)[0].source == "manual"
