"""Lot codes with a device lot letter (issue 12, finding 1): build, parse, 20-character budget."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace_protocol.links import (
    LOT_LETTERS,
    MAX_LOT_INDEX,
    LotCode,
    build_lot,
    lot_letter,
    lot_prefix,
    parse_lot,
)

PREFIX = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-", min_size=1, max_size=5).filter(
    lambda s: not s.startswith("-") and not s.endswith("-") and "--" not in s
)
PRODUCT = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_", min_size=1, max_size=4)
DAYS = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31))
INDEX = st.one_of(st.none(), st.integers(min_value=1, max_value=MAX_LOT_INDEX))


@given(PREFIX, PRODUCT, DAYS, st.integers(min_value=1, max_value=99), INDEX)
def test_build_then_parse_round_trips(
    prefix: str, product: str, day: date, counter: int, index: int | None
) -> None:
    lot = build_lot(prefix, product, day, counter, index)
    assert len(lot) <= 20
    assert parse_lot(lot) == LotCode(prefix, product, day, counter, index)
    assert lot_prefix(lot) == prefix.upper()


@given(PRODUCT, DAYS, st.integers(min_value=1, max_value=99))
def test_devices_of_one_facility_never_share_a_code(product: str, day: date, n: int) -> None:
    lots = {build_lot("KC", product, day, n, i) for i in range(1, MAX_LOT_INDEX + 1)}
    assert len(lots) == MAX_LOT_INDEX
    assert build_lot("KC", product, day, n) not in lots


def test_format_examples() -> None:
    assert build_lot("KC", "NM", date(2026, 12, 4), 1, 1) == "KC-NM-261204A01"
    assert build_lot("KC", "NM", date(2026, 12, 4), 1, 2) == "KC-NM-261204B01"
    assert build_lot("kc", "nm", date(2026, 12, 4), 7) == "KC-NM-261204-07"  # no index: old form
    longest = build_lot("ABCDE", "WXYZ", date(2024, 3, 1), 42, MAX_LOT_INDEX)
    assert longest == "ABCDE-WXYZ-240301Z42" and len(longest) == 20


def test_letters_skip_i_and_o() -> None:
    assert "I" not in LOT_LETTERS and "O" not in LOT_LETTERS
    assert [lot_letter(i) for i in (1, 8, 9, 24)] == ["A", "H", "J", "Z"]
    for bad in (0, MAX_LOT_INDEX + 1):
        with pytest.raises(ValueError):
            lot_letter(bad)


@pytest.mark.parametrize(
    "lot",
    [
        "",
        "KC-NM-261204",
        "KC-NM-261204-1",
        "KC-NM-261204I01",
        "KC-NM-2612040-01",
        "kc-nm-261204-01",
    ],
)
def test_parse_rejects_what_build_never_makes(lot: str) -> None:
    assert parse_lot(lot) is None


def test_parse_keeps_a_code_with_an_impossible_date() -> None:
    parsed = parse_lot("KC-NM-261399A01")
    assert parsed is not None and parsed.day is None and parsed.index == 1


@pytest.mark.parametrize(
    ("lot", "prefix"),
    [
        ("KC-NM-261204A01", "KC"),
        ("K-C-NM-261204-07", "K-C"),  # a facility code with '-' parses whole
        ("KC-NAM-LON-261204-07", "KC"),  # no build_lot code: up to the first "-"
        ("LEGACY42", "LEGACY42"),
        ("", ""),
    ],
)
def test_the_prefix_of_any_lot(lot: str, prefix: str) -> None:
    assert lot_prefix(lot) == prefix
