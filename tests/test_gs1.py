"""GS1 barcodes at the station: real-world element strings, AIM identifiers, refusals, properties."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.station.gs1 import (
    MAX_TEXT,
    Gs1Data,
    Gs1Field,
    Gs1Refusal,
    Refusal,
    identifier_for,
    is_known_ai,
    parse_gs1,
)

GS = "\x1d"
TODAY = dt.date(2025, 6, 1)
GTIN = "09506000134352"  # GS1's own example GTIN
EAN13 = "5901234123457"
SSCC = "106141412345678908"  # GS1's example SSCC
GLN = "0614141000005"


def ok(text: str, symbology: str | None = "]C1", today: dt.date = TODAY) -> Gs1Data:
    result = parse_gs1(text, symbology, today=today)
    assert isinstance(result, Gs1Data), result
    return result


def refused(text: str, symbology: str | None = "]C1", today: dt.date = TODAY) -> Gs1Refusal:
    result = parse_gs1(text, symbology, today=today)
    assert isinstance(result, Gs1Refusal), result
    return result


def pairs(data: Gs1Data) -> list[tuple[str, str]]:
    return [(e.ai, e.value) for e in data.elements]


# --- real-world element strings --------------------------------------------------------------

# A GS1 DataMatrix on a medicine pack (EU FMD): GTIN, expiry, batch <GS> serial.
PHARMA = f"01{GTIN}17270531" f"10A1B2C3{GS}" "21X7KQ9P2M4T"


@pytest.mark.parametrize("symbology", ["]d2", "]C1", "]Q3", "]e0", "]J1", None])
def test_pharma_datamatrix_with_gs(symbology: str | None) -> None:
    data = ok(PHARMA, symbology)
    assert pairs(data) == [("01", GTIN), ("17", "270531"), ("10", "A1B2C3"), ("21", "X7KQ9P2M4T")]
    assert (data.gtin, data.expiry, data.batch, data.serial, data.sscc) == (
        GTIN, dt.date(2027, 5, 31), "A1B2C3", "X7KQ9P2M4T", None)
    assert (data.text, data.symbology) == (PHARMA, symbology)


def test_fields_are_labelled_values_in_a_fixed_order() -> None:
    assert ok(PHARMA, "]d2").fields() == (
        Gs1Field("gtin", "GTIN", GTIN), Gs1Field("batch", "Batch", "A1B2C3"),
        Gs1Field("expiry", "Expiry", "2027-05-31"), Gs1Field("serial", "Serial", "X7KQ9P2M4T"),
    )


def test_other_elements_follow_with_gs1_titles() -> None:
    data = ok(f"01{GTIN}3103000750" f"15270101" f"400PO-4711{GS}" "21S1")
    assert data.fields() == (
        Gs1Field("gtin", "GTIN", GTIN), Gs1Field("serial", "Serial", "S1"),
        Gs1Field("ai3103", "(3103) NET WEIGHT (kg)", "000750"),
        Gs1Field("ai15", "(15) BEST BEFORE or BEST BY", "270101"),
        Gs1Field("ai400", "(400) ORDER NUMBER", "PO-4711"),
    )
    assert data.values() == {"01": GTIN, "3103": "000750", "15": "270101", "400": "PO-4711", "21": "S1"}


def test_logistics_label_sscc_gs1_128() -> None:
    data = ok(f"00{SSCC}")
    assert (data.sscc, data.fields()) == (SSCC, (Gs1Field("sscc", "SSCC", SSCC),))


def test_fixed_length_elements_followed_directly_by_variable_ones() -> None:
    assert pairs(ok(f"01{GTIN}10LOT42")) == [("01", GTIN), ("10", "LOT42")]
    assert pairs(ok(f"01{GTIN}17270531" "21SER-0001")) == [("01", GTIN), ("17", "270531"), ("21", "SER-0001")]
    assert pairs(ok(f"00{SSCC}02{GTIN}37" "24")) == [("00", SSCC), ("02", GTIN), ("37", "24")]


def test_without_gs_a_variable_element_takes_the_rest() -> None:
    # The GS1 rule: without <GS> the batch runs to the end, serial included.
    assert pairs(ok(f"01{GTIN}10LOT4221SER")) == [("01", GTIN), ("10", "LOT4221SER")]
    assert pairs(ok(f"01{GTIN}10LOT42{GS}21SER")) == [("01", GTIN), ("10", "LOT42"), ("21", "SER")]


def test_gs_before_the_first_and_after_the_last_element_and_doubled_is_ignored() -> None:
    assert pairs(ok(f"{GS}01{GTIN}10LOT{GS}{GS}21S{GS}")) == [("01", GTIN), ("10", "LOT"), ("21", "S")]


@pytest.mark.parametrize("text", [f"(01){GTIN}(17)270531(10)A1B2C3(21)X7KQ9P2M4T",
                                  f"(01) {GTIN} (17) 270531 (10) A1B2C3 (21) X7KQ9P2M4T",
                                  f"(01){GTIN}(17)270531(10)A1B2C3{GS}(21)X7KQ9P2M4T"])
@pytest.mark.parametrize("symbology", [None, "]C0", "]C1", "]d1"])
def test_human_readable_form(text: str, symbology: str | None) -> None:
    assert pairs(ok(text, symbology)) == pairs(ok(PHARMA, "]d2"))


@pytest.mark.parametrize(("text", "symbology"), [(EAN13, "]E0"), (EAN13, None), (GTIN, "]I1"), ("96385074", "]E4"),
                                                 ("614141999996", "]E0")])
def test_bare_gtin_from_ean_upc_itf(text: str, symbology: str | None) -> None:
    data = ok(text, symbology)
    assert pairs(data) == [("01", text.zfill(14))]
    assert data.text == text


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "symbology", "kind", "value", "digit"), [
    (f"01{GTIN[:-1]}3", "]d2", "GTIN", GTIN[:-1] + "3", 2),
    ((f"01{GTIN[:-1]}3" "17270531" f"10A{GS}21B"), "]d2", "GTIN", GTIN[:-1] + "3", 2),
    (f"00{SSCC[:-1]}7", "]C1", "SSCC", SSCC[:-1] + "7", 8),
    (f"414{GLN[:-1]}9", "]C1", "GLN", GLN[:-1] + "9", 5),
    (EAN13[:-1] + "8", "]E0", "GTIN", EAN13[:-1] + "8", 7),
    (f"(01){GTIN[:-1]}0", None, "GTIN", GTIN[:-1] + "0", 2),
])
def test_bad_check_digit(text: str, symbology: str | None, kind: str, value: str, digit: int) -> None:
    refusal = refused(text, symbology)
    assert refusal.reason is Refusal.BAD_CHECK_DIGIT
    assert refusal.message == (f"{kind} {value} has a bad check digit (it should end in {digit}): "
                               "a misread or damaged label.")


def test_bad_check_digit_keeps_the_parsed_elements_for_the_screen_and_journal() -> None:
    refusal = refused(f"01{GTIN[:-1]}3" f"10LOT{GS}21S")
    assert refusal.data is not None and refusal.data.values() == {"01": GTIN[:-1] + "3", "10": "LOT", "21": "S"}


def test_expired_product_is_refused() -> None:
    refusal = refused(f"01{GTIN}17250531" "10LOT")
    assert (refusal.reason, refusal.message) == (Refusal.EXPIRED,
                                                 "Expired on 2025-05-31: this product must not be used.")
    assert refusal.data is not None and refusal.data.expiry == dt.date(2025, 5, 31)


@pytest.mark.parametrize(("expiry", "today", "expired"), [
    ("250601", dt.date(2025, 6, 1), False),
    ("250601", dt.date(2025, 6, 2), True),
    ("250531", dt.date(2025, 6, 1), True),
    ("250600", dt.date(2025, 6, 30), False),
    ("250600", dt.date(2025, 7, 1), True),
])
def test_expiry_is_relative_to_today(expiry: str, today: dt.date, expired: bool) -> None:
    result = parse_gs1(f"01{GTIN}17{expiry}", "]C1", today=today)
    assert isinstance(result, Gs1Refusal) is expired
    if expired:
        assert isinstance(result, Gs1Refusal) and result.reason is Refusal.EXPIRED


@pytest.mark.parametrize(("expiry", "last_day"), [("260200", dt.date(2026, 2, 28)), ("280200", dt.date(2028, 2, 29)),
                                                  ("261200", dt.date(2026, 12, 31)), ("260400", dt.date(2026, 4, 30))])
def test_expiry_day_00_means_the_last_day_of_the_month(expiry: str, last_day: dt.date) -> None:
    data = ok(f"01{GTIN}17{expiry}")
    assert data.expiry == last_day
    assert data.fields()[1] == Gs1Field("expiry", "Expiry", last_day.isoformat())
    assert isinstance(parse_gs1(f"01{GTIN}17{expiry}", "]C1", today=last_day + dt.timedelta(days=1)), Gs1Refusal)


@pytest.mark.parametrize(("text", "message"), [
    (f"01{GTIN}17250230", "The (17) expiry date 250230 is not a date."),
    (f"01{GTIN}17250001", "The (17) expiry date 250001 is not a date."),
    ("11250431", "The (11) PROD DATE 250431 is not a date."),
])
def test_a_date_that_is_no_date(text: str, message: str) -> None:
    refusal = refused(text)
    assert (refusal.reason, refusal.message, refusal.data) == (Refusal.BAD_DATE, message, None)


@pytest.mark.parametrize(("text", "symbology", "message"), [
    ("", "]C1", "Not a GS1 barcode: the scan is empty."),
    (GS * 3, "]C1", "Not a GS1 barcode: the scan is empty."),
    ("ORD-72544", None, "Not a GS1 barcode: no GS1 application identifier at character 1."),
    ("hello", "]C1", "Not a GS1 barcode: no GS1 application identifier at character 1."),
    (f"01{GTIN}xx", "]C1", "Not a GS1 barcode: no GS1 application identifier at character 17."),
    (f"01{GTIN[:10]}", "]C1", "Not a GS1 barcode: the (01) GTIN at character 1 does not fit its format N2+N14."),
    (f"01{GTIN}17251340", "]C1",
     "Not a GS1 barcode: the (17) expiry date at character 17 does not fit its format N2+N6."),
    (f"01{GTIN}10{GS}21S", "]C1",
     "Not a GS1 barcode: the (10) batch at character 17 does not fit its format N2+X..20."),
    (f"01{GTIN}21{'S' * 21}", "]C1", "Not a GS1 barcode: no GS1 application identifier at character 39."),
    (f"01{GTIN}10LOT\x1b[31m", "]C1", "Not a GS1 barcode: no GS1 application identifier at character 22."),
    (f"01{GTIN}10\x1b[31m", "]C1",
     "Not a GS1 barcode: the (10) batch at character 17 does not fit its format N2+X..20."),
    (PHARMA, "]C0", "Not a GS1 barcode: ]C0 Code 128 carries no GS1 data."),
    (PHARMA, "]d1", "Not a GS1 barcode: ]d1 Data Matrix carries no GS1 data."),
    (PHARMA, "]Q1", "Not a GS1 barcode: ]Q1 QR Code carries no GS1 data."),
    (EAN13, "]C0", "Not a GS1 barcode: ]C0 Code 128 carries no GS1 data."),
    (PHARMA, "]E0", "Not a GS1 barcode: ]E0 needs a GTIN of 8, 12, 13 or 14 digits."),
    (f"01{GTIN}10LÖT", "]C1", "Not a GS1 barcode: it holds characters that GS1 barcodes cannot carry."),
    ("0" * (MAX_TEXT + 1), "]d2", f"Not a GS1 barcode: {MAX_TEXT + 1} characters, at most {MAX_TEXT} fit in one."),
    ("(01)", None, "Not a GS1 barcode: the text in parentheses is not (AI)value pairs."),
    (f"(01){GTIN}(", None, "Not a GS1 barcode: the text in parentheses is not (AI)value pairs."),
    (f"(01){GTIN}(21)", None, "Not a GS1 barcode: the text in parentheses is not (AI)value pairs."),
    (f"(01){GTIN}x(21)S", None, "Not a GS1 barcode: the (01) GTIN does not fit its format N2+N14."),
    (f"(1){GTIN}", None, "Not a GS1 barcode: (1) is not a GS1 application identifier."),
    (f"(011){GTIN}", None, "Not a GS1 barcode: (011) is not a GS1 application identifier."),
    (f"(01){GTIN}1", None, "Not a GS1 barcode: the (01) GTIN does not fit its format N2+N14."),
])
def test_not_a_gs1_barcode(text: str, symbology: str | None, message: str) -> None:
    refusal = refused(text, symbology)
    assert (refusal.reason, refusal.message, refusal.data) == (Refusal.NOT_GS1, message, None)


def test_a_symbology_biip_cannot_read_counts_as_none() -> None:
    for symbology in ("", "]", "]C", "]Yx", "]?1", "C1", "]C10"):
        assert pairs(ok(PHARMA, symbology)) == pairs(ok(PHARMA, None)), symbology


def test_a_long_message_within_the_limit_is_read() -> None:
    text = GS.join(f"21S{n:05d}" for n in range(MAX_TEXT // 9))
    assert len(ok(text, "]d2").elements) == MAX_TEXT // 9


# --- what a profile sends ----------------------------------------------------------------------


def test_identifier_is_the_chosen_element_or_the_whole_text() -> None:
    data = ok(PHARMA, "]d2")
    assert identifier_for(data, "21") == "X7KQ9P2M4T"
    assert identifier_for(data, "01") == GTIN
    assert identifier_for(data, None) == PHARMA
    assert identifier_for(data, "") == PHARMA


def test_identifier_element_missing_is_refused_with_the_scan_kept() -> None:
    data = ok(f"01{GTIN}10LOT")
    refusal = identifier_for(data, "21")
    assert isinstance(refusal, Gs1Refusal)
    assert (refusal.reason, refusal.message, refusal.data) == (
        Refusal.MISSING_ELEMENT, "This barcode has no (21) serial number, which this station sends.", data)
    other = identifier_for(data, "400")
    assert isinstance(other, Gs1Refusal)
    assert other.message == "This barcode has no (400) ORDER NUMBER, which this station sends."


def test_known_application_identifiers() -> None:
    assert [is_known_ai(ai) for ai in ("01", "21", "17", "00", "3103", "8003")] == [True] * 6
    assert [is_known_ai(ai) for ai in ("", "0", "011", "2", "99999", "ab")] == [False] * 6


# --- properties -------------------------------------------------------------------------------

SYMBOLOGIES = st.sampled_from([None, "", "]", "]C1", "]C0", "]d2", "]d1", "]Q3", "]Q1", "]E0", "]E4", "]I1", "]e0",
                               "]Y9", "]Yx", "]z0", "]J1"])
SCANNY = st.text(alphabet=st.sampled_from(list("0123456789()" + GS + "ABCxyz-/ \x00\x1b\x7f\u00e9")), max_size=80)
DIGITS = st.text(alphabet=st.sampled_from(list("0123456789") * 5 + ["(", ")", GS, "A"]), max_size=120)


@given(st.one_of(st.text(max_size=200), SCANNY, DIGITS), SYMBOLOGIES, st.dates())
def test_parsing_never_raises_it_returns_data_or_a_refusal(text: str, symbology: str | None, today: dt.date) -> None:
    result = parse_gs1(text, symbology, today=today)
    assert isinstance(result, (Gs1Data, Gs1Refusal))
    if isinstance(result, Gs1Refusal):
        assert result.message and result.message.isprintable()
        assert result.message.isascii()
    else:
        assert result.elements and result.text == text
        for field in result.fields():
            assert field.value.isprintable()
        json.dumps(result.values())


CHARSET_82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"


@given(
    gtin_body=st.text(alphabet="0123456789", min_size=13, max_size=13),
    expiry=st.dates(min_value=dt.date(2026, 1, 1), max_value=dt.date(2060, 12, 31)),
    batch=st.text(alphabet=CHARSET_82, min_size=1, max_size=20),
    serial=st.text(alphabet=CHARSET_82, min_size=1, max_size=20),
    trailing_gs=st.booleans(),
)
def test_element_strings_built_by_the_rules_read_back(gtin_body: str, expiry: dt.date, batch: str, serial: str,
                                                      trailing_gs: bool) -> None:
    from biip.checksums import gs1_standard_check_digit

    gtin = gtin_body + str(gs1_standard_check_digit(gtin_body))
    text = f"01{gtin}17{expiry:%y%m%d}10{batch}{GS}21{serial}" + (GS if trailing_gs else "")
    data = ok(text, "]d2", today=dt.date(2025, 12, 31))
    assert (data.gtin, data.expiry, data.batch, data.serial) == (gtin, expiry, batch, serial)
    assert identifier_for(data, "21") == serial


def test_the_module_is_pure() -> None:
    code = "import json, sys, kiosk.station.gs1; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    modules = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert not {"httpx", "textual", "sqlite3", "serial"} & modules
    assert "biip" in modules
