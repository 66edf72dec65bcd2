"""GTIN check digits, lot codes and batch URLs."""

from __future__ import annotations

from datetime import date

import pytest

from trace_protocol.links import (
    build_batch_url,
    build_lot,
    check_gtin,
    check_lot,
    gtin_check_digit,
)


@pytest.mark.parametrize(
    ("gtin", "gtin14"),
    [
        ("4006381333931", "04006381333931"),  # GTIN-13
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # UPC-A / GTIN-12
        ("8936123450014", "08936123450014"),  # the demo catalog's rice
        ("08936123450014", "08936123450014"),  # already GTIN-14
    ],
)
def test_known_valid_gtins_are_padded_to_14(gtin: str, gtin14: str) -> None:
    assert check_gtin(gtin) == gtin14
    assert len(check_gtin(gtin)) == 14


@pytest.mark.parametrize(
    ("body", "digit"),
    [("400638133393", 1), ("9638507", 4), ("03600029145", 2), ("893612345001", 4)],
)
def test_check_digit_by_hand(body: str, digit: int) -> None:
    assert gtin_check_digit(body) == digit


@pytest.mark.parametrize(
    "gtin",
    [
        "4006381333932",  # wrong check digit
        "4006381333930",
        "96385075",
        "40063813339",  # 11 digits
        "400638133393100",  # 15 digits
        "4006381333 31",
        "40063813339３1",  # full-width digit
        "",
        "abcdefghijklm",
    ],
)
def test_invalid_gtins(gtin: str) -> None:
    with pytest.raises(ValueError):
        check_gtin(gtin)


def test_build_lot_format() -> None:
    assert build_lot("kc", "nm", date(2024, 3, 1), 1) == "KC-NM-240301-01"
    assert build_lot("KC", "NM", date(2031, 12, 9), 99) == "KC-NM-311209-99"


def test_longest_lot_is_20_characters() -> None:
    lot = build_lot("ABCDE", "WXYZ", date(2024, 3, 1), 42)
    assert lot == "ABCDE-WXYZ-240301-42"
    assert len(lot) == 20
    with pytest.raises(ValueError):
        build_lot("ABCDEF", "WXYZ", date(2024, 3, 1), 42)


@pytest.mark.parametrize("counter", [0, -1, 100])
def test_build_lot_rejects_counter_out_of_range(counter: int) -> None:
    with pytest.raises(ValueError):
        build_lot("KC", "NM", date(2024, 3, 1), counter)


@pytest.mark.parametrize("lot", ["", "A" * 21, "LÔ-1", "A B", "a#b"])
def test_check_lot_rejects_outside_ai82(lot: str) -> None:
    with pytest.raises(ValueError):
        check_lot(lot)


def test_build_batch_url_with_gtin_is_a_digital_link_path() -> None:
    url = build_batch_url("https://trace.example.vn/", "KC-NM-240301-01", "8936123450014")
    assert url == "https://trace.example.vn/01/08936123450014/10/KC-NM-240301-01"


def test_build_batch_url_without_gtin_uses_the_short_form() -> None:
    assert build_batch_url("http://x", "KC-NM-240301-01") == "http://x/l/KC-NM-240301-01"
    assert build_batch_url("http://x", "KC-NM-240301-01", None) == "http://x/l/KC-NM-240301-01"


def test_build_batch_url_percent_encodes_the_lot() -> None:
    assert build_batch_url("http://x", "A/B%C") == "http://x/l/A%2FB%25C"


def test_build_batch_url_rejects_bad_gtin_or_lot() -> None:
    with pytest.raises(ValueError):
        build_batch_url("http://x", "KC-1", "4006381333932")
    with pytest.raises(ValueError):
        build_batch_url("http://x", "lô 1")
