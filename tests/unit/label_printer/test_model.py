"""LabelContent/LabelLayout validation and parsing from JSON-style dicts."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from label_printer.model import LabelContent, LabelLayout, content_from_dict, format_date

DATA: dict[str, Any] = {
    "product_name": "Nước mắm",
    "producer": "Cơ sở Nga",
    "ocop_stars": 3,
    "lot": "L1",
    "production_date": "2024-02-29",
    "url": "http://example.test/x",
}


def test_parses_minimal_dict_with_defaults() -> None:
    content = content_from_dict(DATA)
    assert content.production_date == datetime.date(2024, 2, 29)
    assert content.expiry_date is None
    assert content.extra_lines == ()
    assert content.language == "vi"
    assert content.caption("lot") == "Số lô"


def test_parses_full_dict() -> None:
    data = {**DATA, "expiry_date": "2025-03-01", "extra_lines": ["a", "b"], "language": "en"}
    content = content_from_dict(data)
    assert content.expiry_date == datetime.date(2025, 3, 1)
    assert content.extra_lines == ("a", "b")
    assert content.caption("production_date") == "MFG"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ocop_stars": 6}, "between 0 and 5"),
        ({"ocop_stars": True}, "integer"),
        ({"ocop_stars": "5"}, "integer"),
        ({"language": "fr"}, "language"),
        ({"url": "  "}, "url"),
        ({"lot": 12}, "lot must be a string"),
        ({"extra_lines": "one line"}, "extra_lines"),
        ({"expiry_date": "2024-01-01"}, "before"),
        ({"production_date": "2024-13-01"}, "production_date"),
    ],
)
def test_invalid_values_raise_value_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        content_from_dict({**DATA, **change})


@pytest.mark.parametrize(
    "kwargs", [{"width_mm": 0}, {"height_mm": -1}, {"dpi": 10}, {"width_mm": 5000}]
)
def test_layout_rejects_nonsense(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        LabelLayout(**kwargs)


def test_layout_sizes() -> None:
    layout = LabelLayout(width_mm=25.4, height_mm=50.8, dpi=203)
    assert (layout.width_px, layout.height_px) == (203, 406)
    assert (layout.width_pt, layout.height_pt) == pytest.approx((72.0, 144.0))


def test_format_date_is_day_month_year() -> None:
    assert format_date(datetime.date(2022, 11, 6)) == "06/11/2022"


def test_content_is_frozen() -> None:
    content = LabelContent("a", "b", 0, "l", datetime.date(2024, 1, 1), None, "u")
    with pytest.raises(AttributeError):
        content.lot = "other"  # type: ignore[misc]
