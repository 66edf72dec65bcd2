"""PDF sticker sheets: grid, pages, a valid file, and every QR decodes after pdftoppm at 300 dpi."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
import re
import subprocess
import zlib

import cv2
import pytest

from label_printer import LabelContent, SheetLayout, render_pdf_sheet
from tests.conftest import require_program
from tests.unit.label_printer.qr_decode import decode_multi

UNIT_URL = "https://ocop.vn/01/08930000000017/10/KC-NM-261122-01/21/{:06d}"
SAMPLE = LabelContent(
    product_name="Mật ong hoa nhãn Cường Nga",
    producer="Cơ sở Cường Nga — Nghi Lộc, Nghệ An",
    ocop_stars=3,
    lot="CN-MO-240301-02",
    production_date=datetime.date(2024, 3, 1),
    expiry_date=datetime.date(2026, 3, 1),
    url=UNIT_URL.format(0),
)


def units(count: int) -> list[LabelContent]:
    return [dataclasses.replace(SAMPLE, url=UNIT_URL.format(n)) for n in range(count)]


def rasterise(pdf: bytes, tmp_path: pathlib.Path) -> list[pathlib.Path]:
    pdftoppm = require_program("pdftoppm")
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "300", "-gray", "-png", source, tmp_path / "page"], check=True)
    return sorted(tmp_path.glob("page-*.png"))


def test_pages_and_grid() -> None:
    pdf = render_pdf_sheet(units(30))  # 24 on the first A4 page, 6 on the second
    assert pdf.startswith(b"%PDF-1.4") and pdf.rstrip().endswith(b"%%EOF")
    assert re.search(rb"/Count 2 ", pdf) and len(re.findall(rb"/Type /Page\b", pdf)) == 2
    assert b"/MediaBox [0 0 595.276 841.89]" in pdf
    assert pdf.count(b"/Subtype /Image") == 1, "one text image shared by every unit label"
    assert content_streams(pdf).count(b" cm /T0 Do Q") == 30


def content_streams(pdf: bytes) -> bytes:
    """All Flate streams but images, decompressed and joined."""
    found = re.finditer(rb"<< (/Filter[^>]*)>>\nstream\n", pdf)
    return b"".join(
        zlib.decompress(pdf[m.end() : m.end() + int(re.search(rb"/Length (\d+)", m[1])[1])])  # type: ignore[index]
        for m in found
    )


def test_every_qr_decodes_after_pdftoppm(tmp_path: pathlib.Path) -> None:
    # A whole 3 x 8 sheet is decoded in the CUPS integration test; a sparser grid keeps this
    # one fast while still covering several pages and cells.
    sheet = SheetLayout(columns=2, rows=3, label_w_mm=80, label_h_mm=45)
    contents = units(9)
    pages = rasterise(render_pdf_sheet(contents, sheet), tmp_path)
    assert len(pages) == 2
    found = set()
    for page in pages:
        image = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
        assert image is not None
        assert image.shape[0] == 3508 and image.shape[1] in (2480, 2481)  # A4 at 300 dpi
        found |= decode_multi(image)
    assert found == {c.url for c in contents}


def test_custom_grid_places_labels_in_their_cells(tmp_path: pathlib.Path) -> None:
    sheet = SheetLayout(columns=2, rows=3, label_w_mm=90, label_h_mm=50, margin_left_mm=10,
                        margin_top_mm=20, gap_x_mm=5, gap_y_mm=5, dpi=300)  # fmt: skip
    contents = units(6)
    (page,) = rasterise(render_pdf_sheet(contents, sheet), tmp_path)
    image = cv2.imread(str(page), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    dots = 300 / 25.4
    for index, content in enumerate(contents):
        row, col = divmod(index, 2)
        x0, y0 = 10 + col * 95, 20 + row * 55
        cell = image[
            round(y0 * dots) : round((y0 + 50) * dots), round(x0 * dots) : round((x0 + 90) * dots)
        ]
        assert decode_multi(cell) == {content.url}, (row, col)


def test_xref_offsets_point_at_their_objects() -> None:
    pdf = render_pdf_sheet(units(3))
    start = int(re.search(rb"startxref\n(\d+)\n", pdf)[1])  # type: ignore[index]
    assert pdf[start:].startswith(b"xref\n0 ")
    offsets = [int(o) for o in re.findall(rb"(\d{10}) 00000 n ", pdf)]
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(b"%d 0 obj\n" % number)
    assert render_pdf_sheet(units(3)) == pdf, "output is deterministic"


def test_distinct_texts_get_their_own_image() -> None:
    other = dataclasses.replace(SAMPLE, product_name="Nước mắm Vạn Phần")
    assert render_pdf_sheet([*units(5), other]).count(b"/Subtype /Image") == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rows": 9}, "more than the A4 page"),
        ({"page": "B5"}, "page must be one of"),
        ({"columns": 0}, "grid"),
        ({"gap_x_mm": -1}, "negative"),
        ({"label_w_mm": 2}, "width_mm"),
    ],
)
def test_sheet_layout_validation(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SheetLayout(**kwargs)  # type: ignore[arg-type]


def test_refuses_urls_that_would_not_scan_and_empty_jobs() -> None:
    long_url = UNIT_URL.format(1) + "?x=" + "y" * 120
    with pytest.raises(ValueError, match="too long for a label QR code"):
        render_pdf_sheet(dataclasses.replace(SAMPLE, url=long_url))
    with pytest.raises(ValueError, match="at least one label"):
        render_pdf_sheet([])
