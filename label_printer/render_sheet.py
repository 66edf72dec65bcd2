"""Render many labels onto A4 sticker sheets as a PDF for office printers.

Each QR code is vector art (one filled path of module-row runs, in module units), so it
stays sharp at any printer resolution; each distinct text column is one 1-bit image mask
embedded once per document and reused by every label that shows it. The PDF is written
directly (no PDF library) and byte-for-byte deterministic: no dates, no random IDs.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from label_printer.job import TextRaster, plan_job
from label_printer.model import MM_PER_INCH, POINTS_PER_INCH, LabelContent, LabelLayout
from label_printer.qr import encode

PAGE_SIZES_MM = {"A4": (210.0, 297.0), "A5": (148.0, 210.0), "Letter": (215.9, 279.4)}
_RUN = re.compile(rb"1+")


@dataclass(frozen=True)
class SheetLayout:
    """A sticker sheet: page size, grid, label size and the margins and gaps around labels.

    Defaults match common 3 x 8 A4 sheets of 63.5 x 33.9 mm labels. Text is rasterised
    at ``dpi``; the QR code is vector, with module size a whole number of ``dpi`` dots.
    """

    page: str = "A4"
    columns: int = 3
    rows: int = 8
    label_w_mm: float = 63.5
    label_h_mm: float = 33.9
    margin_left_mm: float = 7.2
    margin_top_mm: float = 12.9
    gap_x_mm: float = 2.5
    gap_y_mm: float = 0.0
    dpi: int = 300

    def __post_init__(self) -> None:
        if self.page not in PAGE_SIZES_MM:
            raise ValueError(f"page must be one of {', '.join(PAGE_SIZES_MM)}, got {self.page!r}")
        if not (1 <= self.columns <= 20 and 1 <= self.rows <= 40):
            raise ValueError(
                f"grid must be 1-20 columns x 1-40 rows, got {self.columns} x {self.rows}"
            )
        gaps = (self.margin_left_mm, self.margin_top_mm, self.gap_x_mm, self.gap_y_mm)
        if min(gaps) < 0:
            raise ValueError("margins and gaps must not be negative")
        LabelLayout(self.label_w_mm, self.label_h_mm, self.dpi)  # validates size and dpi
        page_w, page_h = PAGE_SIZES_MM[self.page]
        used_w = (
            self.margin_left_mm
            + self.columns * self.label_w_mm
            + (self.columns - 1) * self.gap_x_mm
        )
        used_h = self.margin_top_mm + self.rows * self.label_h_mm + (self.rows - 1) * self.gap_y_mm
        if used_w > page_w + 0.01 or used_h > page_h + 0.01:
            raise ValueError(
                f"{self.columns} x {self.rows} labels of {self.label_w_mm:g} x "
                f"{self.label_h_mm:g} mm with these margins and gaps need "
                f"{used_w:.1f} x {used_h:.1f} mm, more than the {self.page} page "
                f"({page_w:g} x {page_h:g} mm)"
            )

    @property
    def label_layout(self) -> LabelLayout:
        return LabelLayout(self.label_w_mm, self.label_h_mm, self.dpi)

    @property
    def per_page(self) -> int:
        return self.columns * self.rows


def _pt(mm: float) -> float:
    return mm * POINTS_PER_INCH / MM_PER_INCH


def _num(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _nums(values: Sequence[float]) -> bytes:
    return " ".join(_num(v) for v in values).encode()


def qr_path(url: str) -> bytes:
    """The QR code's dark modules as rectangles in module units, y down, then ``f``."""
    ops: list[bytes] = []
    for r, row in enumerate(encode(url).rows()):
        ops.extend(
            b"%d %d %d 1 re" % (m.start(), r, m.end() - m.start()) for m in _RUN.finditer(row)
        )
    return b"\n".join(ops) + b"\nf"


class _Pdf:
    """Collects numbered objects and writes them with a cross-reference table."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects)

    def reserve(self) -> int:
        return self.add(b"")

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def stream(self, head: str, data: bytes) -> int:
        packed = zlib.compress(data, 6)
        prefix = f"{head} " if head else ""
        dictionary = b"<< %s/Filter /FlateDecode /Length %d >>" % (prefix.encode(), len(packed))
        return self.add(dictionary + b"\nstream\n" + packed + b"\nendstream")

    def write(self, root: int) -> bytes:
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        trailer = b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
        out += trailer % (len(self.objects) + 1, root, xref)
        return bytes(out)


def render_pdf_sheet(
    contents: LabelContent | Sequence[LabelContent], sheet: SheetLayout | None = None
) -> bytes:
    """Lay ``contents`` out row by row on as many pages of ``sheet`` as needed.

    Raises ``ValueError`` for an empty job or a URL whose QR code would not scan on the
    sheet's labels.
    """
    sheet = sheet or SheetLayout()
    planned = plan_job(contents, sheet.label_layout)
    px = POINTS_PER_INCH / sheet.dpi  # points per dot
    page_w, page_h = (_pt(v) for v in PAGE_SIZES_MM[sheet.page])
    pdf = _Pdf()
    catalog, pages, resources = pdf.reserve(), pdf.reserve(), pdf.reserve()
    images: dict[int, str] = {}
    xobjects: list[bytes] = []

    def image_name(text: TextRaster) -> str:
        name = images.get(id(text))
        if name is None:
            name = images[id(text)] = f"T{len(images)}"
            head = (
                f"/Type /XObject /Subtype /Image /Width {text.width_bytes * 8} "
                f"/Height {text.height} /ImageMask true /BitsPerComponent 1 "
                "/Decode [1 0]"
            )
            xobjects.append(b"/%s %d 0 R" % (name.encode(), pdf.stream(head, text.data)))
        return name

    kids = []
    for first in range(0, len(planned), sheet.per_page):
        ops = []
        for index, label in enumerate(planned[first : first + sheet.per_page]):
            row, col = divmod(index, sheet.columns)
            left = _pt(sheet.margin_left_mm + col * (sheet.label_w_mm + sheet.gap_x_mm))
            top = page_h - _pt(sheet.margin_top_mm + row * (sheet.label_h_mm + sheet.gap_y_mm))
            qx, qy = label.placement.symbol_origin
            m = label.placement.module_px * px
            matrix = (m, 0, 0, -m, left + qx * px, top - qy * px)  # module units, y down
            ops.append(b"q %s cm\n%s\nQ" % (_nums(matrix), qr_path(label.url)))
            text = label.text
            if not text.empty:
                w, h = text.width_bytes * 8 * px, text.height * px
                x, y = left + text.x * px, top - (text.y + text.height) * px
                ops.append(
                    b"q %s cm /%s Do Q" % (_nums((w, 0, 0, h, x, y)), image_name(text).encode())
                )
        content = pdf.stream("", b"\n".join(ops))
        page = b"<< /Type /Page /Parent %d 0 R /Contents %d 0 R /Resources %d 0 R >>"
        kids.append(pdf.add(page % (pages, content, resources)))
    pdf.set(resources, b"<< /XObject << " + b" ".join(xobjects) + b" >> >>")
    box = b"[0 0 %s %s]" % (_num(page_w).encode(), _num(page_h).encode())
    kid_refs = b" ".join(b"%d 0 R" % kid for kid in kids)
    pdf.set(
        pages, b"<< /Type /Pages /Kids [%s] /Count %d /MediaBox %s >>" % (kid_refs, len(kids), box)
    )
    pdf.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % pages)
    return pdf.write(catalog)
