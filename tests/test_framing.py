"""Framing: terminators, prefix/suffix, AIM identifiers, limits, bad bytes, chunking properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.aim import describe_aim, is_gs1, split_aim
from devices.events import (
    CRLF_HINT,
    DiagnosticEvent,
    ScanEvent,
    ScannerStats,
    UnreadableEvent,
)
from devices.framing import TERMINATOR_MODES, Framer, FramingSpec


def frame_all(data: bytes, now: float = 0.0, **spec) -> list:
    framer = Framer("t", FramingSpec(**spec))
    return framer.feed(data, now) + framer.flush(now)


def scans(events) -> list[ScanEvent]:
    return [e for e in events if isinstance(e, ScanEvent)]


def diags(events) -> list[DiagnosticEvent]:
    return [e for e in events if isinstance(e, DiagnosticEvent)]


def unreadables(events) -> list[UnreadableEvent]:
    return [e for e in events if isinstance(e, UnreadableEvent)]


# -- terminators ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "terminator, stream",
    [
        ("\r", b"A1\rB2\r"),
        ("\n", b"A1\nB2\n"),
        ("\r\n", b"A1\r\nB2\r\n"),
        ("\t", b"A1\tB2\t"),
        ("etx", b"A1\x03B2\x03"),
        ("etx", b"\x02A1\x03\x02B2\x03"),
        ("stx-etx", b"\x02A1\x03\x02B2\x03"),
    ],
)
def test_each_terminator_splits_frames(terminator, stream):
    events = frame_all(stream, terminator=terminator)
    assert [e.text for e in events] == ["A1", "B2"]
    assert [e.raw for e in events] == [b"A1", b"B2"]


@pytest.mark.parametrize("stream", [b"A1\r\nB2\r\n", b"A1\rB2\r", b"A1\nB2\n", b"A1\r\n\r\nB2\n\r"])
def test_crlf_mode_tolerates_lone_cr_and_lf(stream):
    assert [e.text for e in frame_all(stream, terminator="\r\n")] == ["A1", "B2"]


def test_bare_terminators_are_dropped_silently():
    assert frame_all(b"\r\r\rX\r\r", terminator="\r") == [scans(frame_all(b"X\r"))[0]]


def test_stx_etx_reports_bytes_outside_frames_but_ignores_line_ends():
    events = frame_all(b"junk\x02A1\x03\r\n\x02B2\x03", terminator="stx-etx")
    assert [e.text for e in scans(events)] == ["A1", "B2"]
    [diag] = diags(events)
    assert diag.kind == "outside_frame" and diag.raw == b"junk"


def test_stx_etx_frame_without_etx_at_end_of_input_is_unreadable():
    events = frame_all(b"\x02A1\x03\x02B2", terminator="stx-etx")
    assert [e.text for e in scans(events)] == ["A1"]
    assert [(u.reason, u.raw) for u in unreadables(events)] == [("incomplete", b"B2")]
    assert diags(events) == []


def test_stx_inside_a_frame_restarts_it():
    events = frame_all(b"\x02A1\x02B2\x03", terminator="stx-etx")
    assert [e.text for e in scans(events)] == ["B2"]
    assert [(u.reason, u.raw) for u in unreadables(events)] == [("incomplete", b"A1")]


def test_idle_gap_ends_a_frame():
    framer = Framer("t", FramingSpec(terminator="none", idle_gap_s=0.05))
    assert framer.feed(b"AB", 1.000) == []
    assert framer.feed(b"C", 1.020) == []
    assert framer.poll(1.060) == []
    [scan] = framer.poll(1.071)
    assert (scan.text, scan.t_first, scan.t_last) == ("ABC", 1.000, 1.020)
    [first] = framer.feed(b"D", 2.0) + framer.feed(b"E", 2.2)  # the gap before E closes D
    assert first.text == "D"
    assert [e.text for e in framer.flush(2.2)] == ["E"]


def test_times_come_from_the_chunks_holding_first_and_last_byte():
    framer = Framer("t")
    assert framer.feed(b"AB", 5.0) == [] and framer.feed(b"CD", 5.01) == []
    [scan] = framer.feed(b"E\rF", 5.02)
    assert (scan.t_first, scan.t_last) == (5.0, 5.02)
    assert scan.byte_times == (5.0, 5.0, 5.01, 5.01, 5.02)


def test_a_stale_partial_frame_is_reported_not_kept_forever():
    framer = Framer("t", FramingSpec(terminator="\r", partial_timeout_s=2.0))
    framer.feed(b"ABC\n", 0.0)
    assert framer.poll(1.0) == []
    [unreadable] = framer.poll(2.5)
    assert isinstance(unreadable, UnreadableEvent)
    assert unreadable.reason == "incomplete" and unreadable.raw == b"ABC\n" and "no CR" in unreadable.message
    assert (unreadable.t_first, unreadable.t_last) == (0.0, 0.0)
    assert [e.text for e in framer.feed(b"XYZ\r", 3.0)] == ["XYZ"]


def test_discard_reports_a_partial_frame():
    framer = Framer("t")
    [scan] = framer.feed(b"DONE\rPART", 0.0)
    [unreadable] = framer.discard("unplugged")
    assert scan.text == "DONE" and isinstance(unreadable, UnreadableEvent)
    assert (unreadable.reason, unreadable.raw) == ("incomplete", b"PART")
    assert framer.flush(1.0) == []


# -- content --------------------------------------------------------------------------


def test_prefix_and_suffix_are_stripped_only_when_present():
    events = frame_all(b"<<A1>>\rB2>>\r<<C3\rD4\r", prefix=b"<<", suffix=b">>")
    assert [e.text for e in events] == ["A1", "B2", "C3", "D4"]
    assert events[0].raw == b"<<A1>>"


def test_gs_survives_and_aim_identifier_is_kept_apart():
    [scan] = frame_all(b"]C101095011010209171719050810ABCD1234\x1d2110\r")
    assert scan.symbology == "]C1"
    assert scan.text == "01095011010209171719050810ABCD1234\x1d2110"
    assert scan.raw.startswith(b"]C1")


@pytest.mark.parametrize("aim", ["]C1", "]E0", "]d2", "]Q3", "]A0"])
def test_aim_identifiers(aim):
    [scan] = frame_all(f"PFX{aim}4006381333931\r".encode(), prefix=b"PFX")
    assert (scan.symbology, scan.text) == (aim, "4006381333931")


def test_data_starting_with_a_bracket_is_not_an_identifier():
    [scan] = frame_all(b"]!12\r")
    assert (scan.symbology, scan.text) == (None, "]!12")
    assert split_aim(b"]C") == (None, b"]C")


def test_aim_can_be_switched_off():
    [scan] = frame_all(b"]C1ABC\r", strip_aim=False)
    assert (scan.symbology, scan.text) == (None, "]C1ABC")


def test_aim_descriptions():
    assert describe_aim("]C1") == "]C1 GS1-128"
    assert describe_aim("]Q3") == "]Q3 GS1 QR Code"
    assert describe_aim(None) == "-"
    assert is_gs1("]d2") and not is_gs1("]E0")


def test_invalid_bytes_are_unreadable_and_the_next_frame_is_fine():
    events = frame_all(b"AB\xff\xfeC\rOK\r")
    [unreadable] = unreadables(events)
    assert unreadable.reason == "decode_error" and unreadable.raw == b"AB\xff\xfeC" and "byte 2" in unreadable.message
    assert unreadable.visible_text() == "AB<xFF><xFE>C"
    assert [e.text for e in scans(events)] == ["OK"]


def test_other_encodings_decode():
    [scan] = frame_all("Müller\r".encode("latin-1"), encoding="latin-1")
    assert scan.text == "Müller"


def test_frame_empty_after_stripping_is_reported():
    events = frame_all(b"]C1\r", prefix=b"")
    assert [u.reason for u in unreadables(events)] == ["empty"]


def test_too_long_frame_is_discarded_and_the_next_frame_reads_correctly():
    events = frame_all(b"X" * 300 + b"\rGOOD\r", max_length=256)
    [unreadable] = unreadables(events)
    assert unreadable.reason == "too_long" and "300 bytes" in unreadable.message and unreadable.raw == b"X" * 256
    assert unreadable.visible_text() == "X" * 63 + "…"
    assert [e.text for e in scans(events)] == ["GOOD"]


def test_frame_of_exactly_max_length_passes():
    [scan] = frame_all(b"Y" * 16 + b"\r", max_length=16)
    assert scan.text == "Y" * 16


def test_unknown_terminator_is_refused():
    with pytest.raises(ValueError):
        FramingSpec(terminator="\x04")


# -- properties -----------------------------------------------------------------------

ALPHABET = list(b"AB1]C\x1d\r\n\t\x02\x03\xff\xc3\xa9")
streams = st.lists(st.sampled_from(ALPHABET), max_size=120).map(bytes)


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    pieces, start = [], 0
    for point in points + [len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@settings(max_examples=150, deadline=None)
@given(data=streams, cuts=st.lists(st.integers(0, 120), max_size=20), mode=st.sampled_from(TERMINATOR_MODES),
       max_length=st.integers(1, 12))
def test_any_chunking_frames_like_the_whole_stream(data, cuts, mode, max_length):
    spec = FramingSpec(terminator=mode, max_length=max_length)
    whole = Framer("t", spec)
    expected = whole.feed(data, 0.0) + whole.flush(0.0)
    split = Framer("t", spec)
    got = []
    for piece in chunked(data, cuts):
        got += split.feed(piece, 0.0)
    got += split.flush(0.0)
    assert got == expected


ENDINGS = {"\r": b"\r", "\n": b"\n", "\r\n": b"\r\n", "\t": b"\t", "etx": b"\x03", "stx-etx": b"\x02\x03"}


@settings(max_examples=150, deadline=None)
@given(data=streams, mode=st.sampled_from(sorted(ENDINGS)), max_length=st.integers(1, 12))
def test_frames_never_hold_the_terminator_nor_exceed_max_length(data, mode, max_length):
    for event in frame_all(data, terminator=mode, max_length=max_length):
        if isinstance(event, ScanEvent):
            assert not set(event.raw) & set(ENDINGS[mode])
            assert len(event.raw) <= max_length
            assert event.text in event.raw.decode()
        else:
            assert len(event.raw) <= max(max_length, 256)


@settings(max_examples=150, deadline=None)
@given(frames=st.lists(st.binary(max_size=20).filter(lambda b: b"\r" not in b), max_size=8),
       max_length=st.integers(1, 12))
def test_cr_mode_matches_a_reference_split(frames, max_length):
    """Each CR-separated piece with data gives exactly one event: a scan, or unreadable
    (too_long, decode_error). LFs before a piece's data belong to no frame (a CRLF scanner)."""
    data = b"".join(f + b"\r" for f in frames)
    events = frame_all(data, terminator="\r", max_length=max_length, strip_aim=False)
    events = [e for e in events if not isinstance(e, DiagnosticEvent)]
    pieces = [f.lstrip(b"\n") for f in frames]
    pieces = [p for p in pieces if p]
    assert len(events) == len(pieces)
    for piece, event in zip(pieces, events, strict=True):
        if len(piece) > max_length:
            assert isinstance(event, UnreadableEvent) and event.reason == "too_long"
        elif isinstance(event, ScanEvent):
            assert event.raw == piece and event.text == piece.decode().rstrip("\n")
        else:
            assert isinstance(event, UnreadableEvent) and event.reason == "decode_error" and event.raw == piece


@settings(max_examples=150, deadline=None)
@given(data=streams, mode=st.sampled_from(TERMINATOR_MODES), max_length=st.integers(1, 12))
def test_no_scan_starts_or_ends_with_a_line_end_and_unreadables_keep_bytes(data, mode, max_length):
    for event in frame_all(data, terminator=mode, max_length=max_length):
        if isinstance(event, ScanEvent):
            assert event.text and event.text[0] not in "\r\n" and event.text[-1] not in "\r\n"
        elif isinstance(event, UnreadableEvent):
            assert event.raw and len(event.visible_text()) <= 64 and len(event.visible_text(10)) <= 10


# Scanner data that survives framing unchanged: no terminator, no line end, no "]" (AIM).
clean_frames = st.lists(st.text(alphabet="AB19 -\x1d\u00e9", min_size=1, max_size=12), min_size=1, max_size=6)
line_ends = st.sampled_from([b"", b"\r", b"\n", b"\r\n", b"\n\r", b"\r\n\r\n"])
WRAP = {"\r": (b"", b"\r"), "\n": (b"", b"\n"), "\r\n": (b"", b"\r\n"), "\t": (b"", b"\t"), "etx": (b"\x02", b"\x03"),
        "stx-etx": (b"\x02", b"\x03"), "none": (b"", b"")}


@settings(max_examples=200, deadline=None)
@given(frames=clean_frames, mode=st.sampled_from(TERMINATOR_MODES), before=line_ends, after=line_ends,
       inside=st.booleans())
def test_line_ends_around_the_data_never_change_a_scan(frames, mode, before, after, inside):
    """Whatever CR/LF a scanner adds before or after its data (inside the frame or between
    frames), every mode gives exactly the scanned texts; spaces are data."""
    start, end = WRAP[mode]
    framer = Framer("t", FramingSpec(terminator=mode))
    events, stream = [], b""
    for i, text in enumerate(frames):
        body = text.encode()
        chunk = start + before + body + after + end if inside or mode == "none" else before + start + body + end + after
        events += framer.feed(chunk, float(i))  # "none": one second apart, so every frame ends
        stream += chunk
    events += framer.flush(float(len(frames)))
    assert [e.text for e in events if isinstance(e, ScanEvent)] == frames
    assert unreadables(events) == []
    hints = [d for d in diags(events) if d.kind == "crlf_mismatch"]
    assert len(hints) == (1 if mode in ("\r", "\n") and b"\r\n" in stream else 0)
    assert all(h.message == CRLF_HINT for h in hints)


def test_a_crlf_scanner_on_a_cr_terminator_gives_clean_frames_and_one_hint():
    framer = Framer("t", FramingSpec(terminator="\r"))
    events = framer.feed(b"337178\r\n", 1.0) + framer.feed(b"337178\r\n", 2.0) + framer.poll(10.0)
    assert [(e.text, e.raw) for e in scans(events)] == [("337178", b"337178"), ("337178", b"337178")]
    assert [(d.kind, d.message) for d in diags(events)] == [
        ("crlf_mismatch", 'scanner sends CRLF, set terminator = "\\r\\n"')]
    assert unreadables(events) == [] and framer.pending == b""


def test_a_crlf_scanner_on_an_lf_terminator_loses_the_cr_and_gets_the_hint():
    events = frame_all(b"72544\r\n101\r\n", terminator="\n")
    assert [(e.text, e.raw) for e in scans(events)] == [("72544", b"72544\r"), ("101", b"101\r")]
    assert [d.kind for d in diags(events)] == ["crlf_mismatch"]


def test_whitespace_only_frame_is_still_a_scan():
    [scan] = frame_all(b"   \r")
    assert scan.text == "   "


def test_stats_count_unreadable_frames_and_keep_the_hint_apart_from_errors():
    stats = ScannerStats()
    for event in frame_all(b"OK\r\n\xff\r\n", terminator="\r"):
        stats.record(event)
    assert (stats.frames, stats.unreadable, stats.errors) == (1, 1, 1)
    assert stats.last_raw == b"\xff" and "not valid utf-8" in stats.last_error
    assert stats.extra["hint"] == CRLF_HINT
