"""PDF sticker sheets: grid, pages, a valid file (decoded after pdftoppm in
tests/integration/test_sheet_pdftoppm.py)."""

from __future__ import annotations

import dataclasses
import re
import zlib

import pytest

from label_printer import SheetLayout, render_pdf_sheet
from tests.unit.label_printer.sheet_samples import SAMPLE, UNIT_URL, units


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
