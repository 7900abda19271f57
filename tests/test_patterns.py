"""Scan patterns run in linear time, refuse what they cannot run, and match like ``re`` where it counts."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.patterns import PatternError, compile_pattern

REPO = Path(__file__).resolve().parent.parent
GENEROUS_S = 60


def test_a_catastrophic_backtracking_pattern_finishes_on_a_long_scan() -> None:
    # Python's re needs about 2**41 steps for this; the child is killed if it takes minutes.
    code = ("from kiosk.patterns import compile_pattern\n"
            "p = compile_pattern('(a+)+$')\n"
            "print(p.search('a' * 41 + '!'), p.search('a' * 100_000 + '!'), p.search('a' * 41))\n")
    done = subprocess.run([sys.executable, "-c", code], check=False, cwd=REPO, capture_output=True, text=True,
                          timeout=GENEROUS_S)
    assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["False", "False", "True"], "")


@pytest.mark.parametrize(("text", "words"), [
    ("", "an empty pattern matches every scan"),
    (r"(OP)\d+\1", "invalid escape sequence: \\1"),
    (r"^OP(?=\d)", "invalid perl operator: (?="),
    (r"^(?!TEST)", "invalid perl operator"),
    ("x{1001}", "invalid repetition size"),
    ("^(OP", "not a valid regular expression (missing ), unterminated subpattern"),
])
def test_patterns_that_cannot_run_in_linear_time_are_refused_with_the_reason(text: str, words: str) -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern(text)
    assert words in str(caught.value)


@pytest.mark.parametrize(("text", "everything"), [
    (".*", True), ("a*", True), ("|x", True), ("(?:)", True),
    ("^$", False), ("^OP", False), (r"^\d{5,6}$", False), ("(a+)+$", False),
])
def test_a_pattern_that_matches_every_scan_is_recognised(text: str, everything: bool) -> None:
    assert compile_pattern(text).matches_everything is everything


REALISTIC = [r"^OP\d+$", r"^OP", r"(?i)^badge-[a-f0-9]{4}$", r"^\d{5,6}$", r"^(J|T)\d+$", r"L[A-Z]{2}\d{3}",
             r"^[A-Z]{2}-\d{4}-[A-Z]$", r"^.{3}$", "^LEAD:"]


@given(pattern=st.sampled_from(REALISTIC),
       scan=st.text(alphabet="OPJTLABCDEFbadge-0123456789:xé\u00a0", max_size=12))
def test_realistic_patterns_match_exactly_as_python_re_does(pattern: str, scan: str) -> None:
    assert compile_pattern(pattern).search(scan) is (re.search(pattern, scan) is not None)


def test_non_ascii_scans_match_by_character() -> None:
    assert compile_pattern("^.{3}$").search("Äöü")
    assert compile_pattern("(?i)^äb$").search("ÄB")
    assert not compile_pattern(r"^\d+$").search("١٢٣")  # Arabic-Indic digits: \d is ASCII in RE2


def test_the_kiosk_classifies_long_scans_against_catastrophic_patterns(tmp_path: Path) -> None:
    # With Python's re each of these scans takes about 2**45 steps in one of the patterns.
    config = tmp_path / "kiosk.toml"
    config.write_text("\n".join([
        "[kiosk]", 'profile = "LP"', 'journal = "journal.sqlite3"', "",
        "[backends.jt]", 'vendor = "jobtrack"', 'base_url = "http://127.0.0.1:9"', "timeout_s = 1", "",
        "[lead]", "badge_pattern = '(b+)+$'", "",
        "[[profiles]]", 'name = "LP"', 'backend = "jt"', 'station = "LP"', "operator_pattern = '(a+)+$'",
        "job_patterns = ['(c+)+$']", "duplicate_window_s = 0", "",
    ]), encoding="utf-8")
    scans = "".join(f"{letter * 45}!\n" for letter in "abc") + "a" * 45 + "\n"
    done = subprocess.run([sys.executable, "-m", "kiosk", "run", "--headless", "--config", str(config)],
                          input=scans, capture_output=True, text=True, timeout=GENEROUS_S, cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    # Scans no pattern claims are ignored; the last one matches the operator pattern.
    assert [(line["scan"][:1], line["outcome"]) for line in lines] == [("a", "ignored"), ("b", "ignored"),
                                                                      ("c", "ignored"), ("a", "operator")]
