"""Keyboard-wedge burst detection with a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devices.events import UnreadableEvent
from devices.wedge import BurstRouter, Key, WedgeDetector, WedgeSettings


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
@given(text=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=4, max_size=40),
       fast=st.floats(0.5, 29), slow=st.floats(31, 400))
def test_classification_follows_the_pace(text, fast, slow):
    assert WedgeDetector().feed_text(text + "\r", 0.0, fast)[0].source == "scanner"
    assert WedgeDetector().feed_text(text + "\r", 0.0, slow)[0].source == "manual"


# -- BurstRouter: screens with a focused widget ----------------------------------------------


def route(router: BurstRouter, presses, poll: bool = True):
    """Feed (key, time) pairs, polling at each deadline before the next key as a timer would.

    Returns (keys given to the widget, scans)."""
    widget, found = [], []

    def take(routing):
        widget.extend(routing.keys)
        if routing.scan is not None:
            found.append(routing.scan)

    for key, now in presses:
        if poll and router.deadline is not None and router.deadline < now:
            take(router.poll(router.deadline + 0.001))
        take(router.feed(key, key if len(key) == 1 else None, now))
    take(router.poll(float("inf")))
    return [k.key for k in widget], found


def typed(text, start=0.0, ms=5.0, enter=True):
    presses = [(ch, start + i * ms / 1000) for i, ch in enumerate(text)]
    if enter:
        presses.append(("enter", start + len(text) * ms / 1000))
    return presses


def test_router_a_scanner_burst_on_a_menu_is_a_scan_and_nothing_reaches_the_widget():
    widget, [scan] = route(BurstRouter(), typed("CMD:PROFILE:AR", start=3.0))
    assert widget == []
    assert (scan.text, scan.source, scan.scanner, scan.t_first) == ("CMD:PROFILE:AR", "scanner", "keyboard", 3.0)


def test_router_slow_typing_goes_to_the_widget_key_by_key_without_waiting_for_enter():
    router = BurstRouter()
    assert router.feed("1", "1", 0.0).keys == ()
    assert router.deadline == 0.15
    assert router.poll(0.1).keys == ()
    assert [k.key for k in router.poll(0.2).keys] == ["1"]
    assert router.deadline is None
    widget, found = route(BurstRouter(), typed("1234", ms=400))
    assert (widget, found) == (["1", "2", "3", "4", "enter"], [])


def test_router_fast_typing_is_held_until_enter_then_given_to_the_widget_in_order():
    widget, found = route(BurstRouter(), typed("4321", ms=100), poll=False)
    assert (widget, found) == (["4", "3", "2", "1", "enter"], [])


def test_router_keys_a_scanner_never_sends_release_what_is_held_in_order():
    router = BurstRouter()
    router.feed("a", "a", 0.0)
    assert [k.key for k in router.feed("down", None, 0.01).keys] == ["a", "down"]
    router.feed("b", "b", 0.02)
    assert [k.key for k in router.feed("backspace", None, 0.03).keys] == ["b", "backspace"]
    assert [k.key for k in router.feed("escape", None, 0.04).keys] == ["escape"]


def test_router_bare_enter_and_short_bursts_belong_to_the_widget():
    assert [k.key for k in BurstRouter().feed("enter", None, 1.0).keys] == ["enter"]
    widget, found = route(BurstRouter(), typed("12", ms=2))  # below min_length: a person
    assert (widget, found) == (["1", "2", "enter"], [])


def test_router_a_burst_over_max_length_is_unreadable_not_truncated():
    widget, [unreadable] = route(BurstRouter(max_length=8), typed("0123456789AB", ms=2))
    assert widget == [] and isinstance(unreadable, UnreadableEvent)
    assert (unreadable.reason, unreadable.raw) == ("too_long", b"01234567") and "12 characters" in unreadable.message


def test_router_uses_the_injected_clock_and_gap_follows_max_gap_ms():
    now = [50.0]
    router = BurstRouter(settings=WedgeSettings(max_gap_ms=20), clock=lambda: now[0])
    router.feed("A", "A")
    assert router.deadline == 50.02
    for ch in "BCDE":
        now[0] += 0.002
        router.feed(ch, ch)
    now[0] += 0.002
    routing = router.feed("enter")
    assert routing.keys == () and routing.scan.text == "ABCDE" and routing.scan.t_first == 50.0


def test_router_aim_identifier_is_split_off_as_for_other_scanners():
    _, [scan] = route(BurstRouter(), typed("]C1010123\x1d10X"))
    assert (scan.symbology, scan.text) == ("]C1", "010123\x1d10X")


KEYS = ["A", "B", "7", ":", "enter", "down", "backspace", "escape", "tab"]


@settings(max_examples=200, deadline=None)
@given(presses=st.lists(st.tuples(st.sampled_from(KEYS), st.sampled_from([0.002, 0.004, 0.06, 0.2, 1.0])),
                        max_size=40), poll=st.booleans())
def test_router_loses_nothing_and_keeps_the_order(presses, poll):
    """Every key either reaches the widget once, in order, or is part of exactly one scan."""
    timeline, now = [], 0.0
    for key, step in presses:
        now += step
        timeline.append((key, now))
    widget_keys: list[Key] = []
    scans = []
    router = BurstRouter()
    for key, at in timeline:
        if poll and router.deadline is not None and router.deadline < at:
            widget_keys.extend(router.poll(router.deadline + 0.0001).keys)
        routing = router.feed(key, key if len(key) == 1 else None, at)
        widget_keys.extend(routing.keys)
        if routing.scan is not None:
            scans.append(routing.scan)
    widget_keys.extend(router.poll(float("inf")).keys)
    fed = [Key(key, key if len(key) == 1 else None, at) for key, at in timeline]
    assert widget_keys == [k for k in fed if k in widget_keys]  # a subsequence, in order
    consumed = [k for k in fed if k not in widget_keys]
    groups, current = [], ""
    for k in consumed:
        if k.key == "enter":
            groups.append(current)
            current = ""
        else:
            current += k.character or ""
    assert current == ""
    assert groups == [s.raw.decode() for s in scans]
    assert all(s.source == "scanner" for s in scans)
