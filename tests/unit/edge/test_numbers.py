"""The touchscreen's number rule (issue 13): a decimal comma; a dot only between thousands."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.numbers import NumberError, format_number, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("14,5", 14.5),
        ("1.500", 1500.0),  # Vietnamese: one thousand five hundred, never 1.5
        ("1.500,25", 1500.25),
        ("12.345.678", 12345678.0),
        (" 7 ", 7.0),
        ("1 500", 1500.0),
        ("-3,5", -3.5),
        ("\u22123", -3.0),
        ("0", 0.0),
        ("0,5", 0.5),
    ],
)
def test_accepted(text: str, value: float) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("1.5", "use_comma"),  # an English decimal point: asked to use the comma
        ("14.25", "use_comma"),
        ("0.500", "use_comma"),  # a leading 0 cannot start a thousands group
        ("1.5000", "use_comma"),
        ("1.500.00", "use_comma"),
        (".5", "use_comma"),
        ("", "not_number"),
        ("abc", "not_number"),
        ("1e5", "not_number"),
        ("nan", "not_number"),
        ("inf", "not_number"),
        ("1,2,3", "not_number"),
        ("9" * 400, "not_number"),  # too large for a float: infinite
    ],
)
def test_refused(text: str, code: str) -> None:
    with pytest.raises(NumberError) as err:
        parse_number(text)
    assert err.value.code == code


def test_format() -> None:
    assert format_number(1500) == "1.500"
    assert format_number(1500, "en") == "1,500"
    assert format_number(14.5) == "14,5"
    assert format_number(1234567.891) == "1.234.567,891"
    assert format_number(0.1 + 0.2) == "0,3"
    assert format_number(-0.0) == "0"


@given(st.integers(-(10**12), 10**12), st.integers(0, 999_999))
def test_what_the_preview_shows_is_what_is_saved(whole: int, millionths: int) -> None:
    value = whole + (millionths / 1_000_000 if whole >= 0 else -millionths / 1_000_000)
    shown = format_number(value)
    assert parse_number(shown) == pytest.approx(value, abs=1e-6)
