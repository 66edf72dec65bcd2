"""PDF sticker sheets rasterised by poppler's pdftoppm at 300 dpi: every QR code decodes, in its
cell (moved from tests/unit/label_printer/test_sheet.py, issue 14: unit tests run no programs)."""

from __future__ import annotations

import pathlib
import subprocess

import cv2
import pytest

from label_printer import SheetLayout, render_pdf_sheet
from tests.conftest import require_program
from tests.unit.label_printer.qr_decode import decode_multi
from tests.unit.label_printer.sheet_samples import units

pytestmark = pytest.mark.integration


def rasterise(pdf: bytes, tmp_path: pathlib.Path) -> list[pathlib.Path]:
    pdftoppm = require_program("pdftoppm")
    source = tmp_path / "sheet.pdf"
    source.write_bytes(pdf)
    subprocess.run([pdftoppm, "-r", "300", "-gray", "-png", source, tmp_path / "page"], check=True)
    return sorted(tmp_path.glob("page-*.png"))


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
