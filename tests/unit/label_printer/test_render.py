"""PNG/PDF rendering: the QR decodes to the URL, sizes and page counts are right."""

from __future__ import annotations

import dataclasses
import datetime
import io
import re

import cv2
import numpy as np
import pytest
from PIL import Image

from label_printer import (
    LabelContent,
    LabelLayout,
    plan_label,
    render_image,
    render_pdf,
    render_png,
)
from tests.unit.label_printer.qr_decode import decode

URL = "http://127.0.0.1:8000/01/08930000000017/10/KC-NM-261122-01"
SAMPLE = LabelContent(
    product_name="Gạo Ngọc Mầm",
    producer="Công ty TNHH MTV KC — Thạch Đài, Thạch Hà, Hà Tĩnh",
    ocop_stars=4,
    lot="KC-NM-261122-01",
    production_date=datetime.date(2022, 11, 26),
    expiry_date=datetime.date(2023, 11, 26),
    url=URL,
    extra_lines=("Khối lượng tịnh: 5 kg",),
)


def decode_qr(png: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None, "PNG could not be decoded by OpenCV"
    return decode(image)


def expected_px(mm: float, dpi: int) -> int:
    return round(mm / 25.4 * dpi)


def plan_text(content: LabelContent) -> str:
    return "\n".join(line.text for line in plan_label(content).lines)


def test_png_qr_decodes_to_url() -> None:
    assert decode_qr(render_png(SAMPLE)) == URL


@pytest.mark.parametrize(
    "layout", [LabelLayout(), LabelLayout(50.0, 30.0, 203), LabelLayout(100, 50, 300)]
)
def test_png_has_layout_size_and_decodes(layout: LabelLayout) -> None:
    png = render_png(SAMPLE, layout)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (
            expected_px(layout.width_mm, layout.dpi),
            expected_px(layout.height_mm, layout.dpi),
        )
        assert round(image.info["dpi"][0]) == layout.dpi
    assert decode_qr(png) == URL


def test_image_is_greyscale_on_white_with_crisp_qr_modules() -> None:
    image = render_image(SAMPLE)
    assert image.mode in ("1", "L")
    assert image.getpixel((0, 0)) == 255
    plan = plan_label(SAMPLE)
    left, top, right, bottom = plan.qr_box
    colours = image.crop((left, top, right, bottom)).getcolors()
    assert colours is not None
    assert {value for _count, value in colours} == {0, 255}, (
        "QR modules must be pure black/white (integer module size)"
    )
    assert plan.module_px == (min(right - left, bottom - top)) // len(plan.qr_matrix)


def test_captions_dates_and_stars_in_vietnamese() -> None:
    text = plan_text(SAMPLE)
    assert "OCOP ★★★★☆" in text
    assert "NSX: 26/11/2022" in text
    assert "HSD: 26/11/2023" in text
    assert "Số lô:" in text and SAMPLE.lot in text.replace("\n", "").replace("Số lô:", "")


def test_english_captions_and_missing_expiry() -> None:
    content = dataclasses.replace(SAMPLE, language="en", expiry_date=None)
    text = plan_text(content)
    assert "MFG: 26/11/2022" in text
    assert "Lot:" in text
    assert "EXP" not in text and "HSD" not in text and "NSX" not in text


def test_zero_stars_prints_no_ocop_line() -> None:
    assert "OCOP" not in plan_text(dataclasses.replace(SAMPLE, ocop_stars=0))


def test_label_too_small_for_qr_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="too small for the QR"):
        render_png(SAMPLE, LabelLayout(width_mm=8, height_mm=6, dpi=72))


def _pdf_numbers(pattern: bytes, pdf: bytes) -> list[list[float]]:
    return [[float(n) for n in m.split()] for m in re.findall(pattern, pdf)]


@pytest.mark.parametrize("copies", [1, 3])
def test_pdf_pages_and_page_size(copies: int) -> None:
    layout = LabelLayout(width_mm=60, height_mm=40, dpi=300)
    pdf = render_pdf(SAMPLE, layout, copies=copies)
    assert pdf.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == copies
    boxes = _pdf_numbers(rb"/MediaBox\s*\[([^\]]*)\]", pdf)
    assert len(boxes) == copies
    for x0, y0, x1, y1 in boxes:
        assert (x0, y0) == (0, 0)
        assert x1 == pytest.approx(60 * 72 / 25.4, abs=0.01)
        assert y1 == pytest.approx(40 * 72 / 25.4, abs=0.01)
    widths = [int(w) for w in re.findall(rb"/Width\s+(\d+)", pdf)]
    heights = [int(h) for h in re.findall(rb"/Height\s+(\d+)", pdf)]
    assert widths == [expected_px(60, 300)] * copies
    assert heights == [expected_px(40, 300)] * copies
    assert b"/DCTDecode" not in pdf, "the label raster must not be stored as lossy JPEG"


def test_pdf_other_size() -> None:
    pdf = render_pdf(SAMPLE, LabelLayout(width_mm=100, height_mm=50, dpi=203))
    ((_, _, width, height),) = _pdf_numbers(rb"/MediaBox\s*\[([^\]]*)\]", pdf)
    assert [width, height] == pytest.approx([283.46, 141.73], abs=0.01)  # 100 x 50 mm


@pytest.mark.parametrize("copies", [0, -1])
def test_pdf_rejects_bad_copies(copies: int) -> None:
    with pytest.raises(ValueError, match="copies"):
        render_pdf(SAMPLE, copies=copies)


def test_png_shows_the_pixels_of_render_image() -> None:
    png = render_png(SAMPLE)
    with Image.open(io.BytesIO(png)) as image:
        assert image.mode == "1"
        assert image.tobytes() == render_image(SAMPLE).tobytes()


def test_unit_labels_rendered_one_by_one_each_scan_as_their_own_url() -> None:
    """Placement and text are cached per QR version: a longer URL between short ones (another
    version, so another geometry) must not borrow theirs."""
    base = "http://127.0.0.1:8000/01/08930000000017/10/KC-NM-261122-01/21/"
    urls = [f"{base}{n:06d}?s={n * 7919:08X}" for n in range(1, 4)]
    urls.insert(1, urls[0] + "&x=" + "9" * 60)
    plans = {url: plan_label(dataclasses.replace(SAMPLE, url=url)) for url in urls}
    assert len({plan.module_px for plan in plans.values()}) == 2
    for url in urls:
        content = dataclasses.replace(SAMPLE, url=url)
        assert decode_qr(render_png(content)) == url
        image, plan = render_image(content), plans[url]
        left, top, _right, _bottom = plan.qr_box
        m, quiet = plan.module_px, 2 * plan.module_px  # finder pattern inside the quiet zone
        assert image.getpixel((left + m // 2, top + m // 2)) == 255
        assert image.getpixel((left + quiet + m // 2, top + quiet + m // 2)) == 0
