"""Layout: whatever the text, everything stays inside the label and the QR still scans."""

from __future__ import annotations

import dataclasses
import datetime
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from label_printer import LabelContent, LabelLayout, LabelPlan, plan_label, render_image
from label_printer.typeface import ELLIPSIS, load_font
from tests.unit.label_printer.qr_decode import decode

URL = "http://127.0.0.1:8000/01/08930000000017/10/KC-NM-261122-01"
BASE = LabelContent(
    product_name="Nhung hươu Hương Sơn",
    producer="HTX Chăn nuôi hươu Hương Sơn",
    ocop_stars=5,
    lot="HS-NH-240101-07",
    production_date=datetime.date(2024, 1, 1),
    expiry_date=datetime.date(2026, 1, 1),
    url=URL,
)
LONG_NAME = "Mật ong hoa nhãn rừng nguyên chất Cường Nga thượng hạng đặc biệt " * 4
LONG_PRODUCER = "Hợp tác xã sản xuất kinh doanh dịch vụ nông nghiệp tổng hợp " * 5

_VOWELS = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
_LETTERS = "".join(unicodedata.normalize("NFC", v + t) for v in _VOWELS for t in _TONES)
VIETNAMESE_ALPHABET = _LETTERS + _LETTERS.upper() + "đĐbcdghklmnpqrstvx0123456789 ,.-—()&/"


def decode_qr(image: Image.Image) -> str:
    return decode(image)


def assert_inside(plan: LabelPlan) -> None:
    left, top, right, bottom = plan.text_box
    assert 0 <= left < right <= plan.width_px and 0 <= top < bottom <= plan.height_px
    qr_left, qr_top, qr_right, qr_bottom = plan.qr_box
    assert qr_left >= 0 and qr_top >= 0 and qr_bottom <= plan.height_px
    assert qr_right <= left, "text column must start right of the QR code"
    previous_bottom = top
    for line in plan.lines:
        x0, y0, x1, y1 = line.box
        assert left <= x0 and x1 <= right and top <= y0 and y1 <= bottom, line
        assert y0 >= previous_bottom, "lines must not overlap"
        previous_bottom = y1
        # The real ink, measured independently with Pillow, lies inside the line's box.
        ink = load_font(line.size, line.bold).getbbox(line.text, anchor="la")
        assert x0 <= line.x + ink[0] and line.x + ink[2] <= x1
        assert y0 <= line.y + ink[1] and line.y + ink[3] <= y1


def assert_margins_blank(image: Image.Image, plan: LabelPlan) -> None:
    """Nothing is drawn outside the QR code and the text column."""
    left, top, right, bottom = plan.text_box
    strips = [
        (0, 0, image.width, top),
        (0, bottom, image.width, image.height),
        (right, 0, image.width, image.height),
        (0, 0, plan.qr_box[0], image.height),
        (plan.qr_box[2], 0, left, image.height),
    ]
    for strip in strips:
        assert image.crop(strip).getextrema() == (255, 255), strip


@pytest.mark.parametrize(
    ("name", "producer"),
    [
        ("Gạo Ngọc Mầm", "KC"),
        (LONG_NAME, "KC"),
        ("Gạo", LONG_PRODUCER),
        (LONG_NAME, LONG_PRODUCER),
        ("X" * 300, "Y" * 300),
    ],
)
@pytest.mark.parametrize(
    "layout", [LabelLayout(), LabelLayout(50, 30, 203), LabelLayout(40, 25, 300)]
)
def test_long_text_fits_inside_the_label(name: str, producer: str, layout: LabelLayout) -> None:
    content = dataclasses.replace(BASE, product_name=name, producer=producer)
    plan = plan_label(content, layout)
    image = render_image(content, layout)
    assert image.size == (
        round(layout.width_mm / 25.4 * layout.dpi),
        round(layout.height_mm / 25.4 * layout.dpi),
    )
    assert (plan.width_px, plan.height_px) == image.size
    assert_inside(plan)
    assert_margins_blank(image, plan)
    assert decode_qr(image) == URL


def test_short_text_is_complete_and_larger_than_long_text() -> None:
    short = plan_label(BASE)
    long = plan_label(dataclasses.replace(BASE, product_name=LONG_NAME, producer=LONG_PRODUCER))
    assert short.complete
    assert not any(line.text.endswith(ELLIPSIS) for line in short.lines)
    assert max(line.size for line in long.lines) < max(line.size for line in short.lines)


def test_overlong_name_and_producer_are_ellipsised_but_lot_and_dates_kept() -> None:
    content = dataclasses.replace(BASE, product_name=LONG_NAME, producer=LONG_PRODUCER)
    plan = plan_label(content)
    texts = [line.text for line in plan.lines]
    assert not plan.complete
    assert sum(text.endswith(ELLIPSIS) for text in texts) >= 2
    joined = "".join(texts)
    assert BASE.lot in joined
    assert "NSX: 01/01/2024" in texts and "HSD: 01/01/2026" in texts
    name_lines = [line for line in plan.lines if line.bold and "OCOP" not in line.text]
    assert len(name_lines) <= 2


def test_many_extra_lines_never_overflow() -> None:
    content = dataclasses.replace(BASE, extra_lines=tuple(f"Dòng thêm số {i}" for i in range(40)))
    plan = plan_label(content)
    assert not plan.complete
    assert_inside(plan)
    assert_margins_blank(render_image(content), plan)
    texts = [line.text for line in plan.lines]
    assert "NSX: 01/01/2024" in texts and "HSD: 01/01/2026" in texts
    assert "Dòng thêm số 39" not in texts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(VIETNAMESE_ALPHABET, min_size=1, max_size=90),
    producer=st.text(VIETNAMESE_ALPHABET, max_size=160),
    stars=st.integers(0, 5),
)
def test_random_vietnamese_text_renders_and_scans(name: str, producer: str, stars: int) -> None:
    content = dataclasses.replace(BASE, product_name=name, producer=producer, ocop_stars=stars)
    plan = plan_label(content)
    assert_inside(plan)
    image = render_image(content)
    assert_margins_blank(image, plan)
    assert decode_qr(image) == URL
