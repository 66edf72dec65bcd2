"""Lay out a label (QR code left, text right) and rasterise it to a 1-bit image or PNG bytes.

:func:`plan_label` is the pure layout step (positions and font sizes, no drawing) so the
geometry can be checked without looking at pixels; :func:`label_rows` draws the same layout
from the print job's cached text raster and the fast QR encoder (issue 17: a PNG per unit
label used to rasterise the text and encode an 8-bit PNG every time).
"""

from __future__ import annotations

import dataclasses
import functools
import zlib
from dataclasses import dataclass

from PIL import Image

from label_printer.geometry import (
    GAP_MM,
    MARGIN_MM,
    MIN_EM_MM,
    QR_MAX_WIDTH_SHARE,
    STAR_EMPTY,
    STAR_FILLED,
    Placement,
    fit_text,
    place_side_by_side,
    stars_text,
    text_blocks,
)
from label_printer.job import TextRaster, text_raster
from label_printer.model import DEFAULT_LAYOUT, LabelContent, LabelLayout
from label_printer.qr import QrSymbol, encode
from label_printer.qr_fit import MIN_DOTS_PER_MODULE, QUIET_ZONE_MODULES, url_version
from label_printer.typeface import Box, PlacedLine

QR_BORDER_MODULES = QUIET_ZONE_MODULES
MIN_MODULE_PX = MIN_DOTS_PER_MODULE
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

__all__ = [
    "GAP_MM",
    "MARGIN_MM",
    "MIN_EM_MM",
    "MIN_MODULE_PX",
    "QR_BORDER_MODULES",
    "QR_MAX_WIDTH_SHARE",
    "STAR_EMPTY",
    "STAR_FILLED",
    "LabelPlan",
    "label_rows",
    "plan_label",
    "qr_matrix",
    "render_image",
    "render_png",
    "stars_text",
    "text_blocks",
]


@dataclass(frozen=True)
class LabelPlan:
    """Where everything goes on the label, in pixels."""

    width_px: int
    height_px: int
    qr_matrix: tuple[tuple[bool, ...], ...]
    qr_origin: tuple[int, int]
    module_px: int
    text_box: Box
    lines: tuple[PlacedLine, ...]
    complete: bool  # False if some text had to be shortened or dropped to fit

    @property
    def qr_box(self) -> Box:
        side = len(self.qr_matrix) * self.module_px
        x, y = self.qr_origin
        return (x, y, x + side, y + side)


def _with_quiet_zone(symbol: QrSymbol) -> tuple[tuple[bool, ...], ...]:
    blank = (False,) * (symbol.size + 2 * QR_BORDER_MODULES)
    pad = (False,) * QR_BORDER_MODULES
    rows = tuple(pad + row + pad for row in symbol.matrix())
    return (blank,) * QR_BORDER_MODULES + rows + (blank,) * QR_BORDER_MODULES


def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """QR modules for ``url`` (error correction M) including a quiet zone of 2 modules."""
    url_version(url)  # a clear error for URLs too long for any QR code
    return _with_quiet_zone(encode(url))


def plan_label(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> LabelPlan:
    """Compute the label geometry: QR position/module size and auto-shrunk text lines.

    Raises ``ValueError`` if the label is too small for a scannable QR code or the URL is
    too long for one (see :func:`label_printer.qr_fit.check_qr`).
    """
    place = place_side_by_side(content.url, layout)
    stack = fit_text(dataclasses.replace(content, url="-"), layout, place.text_box)
    matrix = _with_quiet_zone(encode(content.url))
    return LabelPlan(
        layout.width_px,
        layout.height_px,
        matrix,
        place.qr_origin,
        place.module_px,
        place.text_box,
        stack.lines,
        stack.complete,
    )


_PLACEMENTS: dict[tuple[int, LabelLayout], Placement] = {}


def _placement(url: str, layout: LabelLayout) -> Placement:
    """``place_side_by_side``, once per QR version and layout: the geometry depends on the
    URL's version only (as in :func:`job.plan_job`), so a run of unit labels pays once."""
    key = (url_version(url), layout)
    place = _PLACEMENTS.get(key)
    if place is None:
        if len(_PLACEMENTS) >= 256:
            _PLACEMENTS.clear()
        place = _PLACEMENTS[key] = place_side_by_side(url, layout)
    return place


@functools.lru_cache(maxsize=64)
def _text_rows(text: TextRaster, row_bits: int) -> tuple[int, ...]:
    """The text raster as one int per label row (``row_bits`` wide, bit 1 = black)."""
    rows = [0] * (text.y + text.height)
    for r in range(text.height):
        data = int.from_bytes(text.data[r * text.width_bytes : (r + 1) * text.width_bytes])
        shift = row_bits - text.x - text.width_bytes * 8
        rows[text.y + r] = data << shift if shift >= 0 else data >> -shift
    return tuple(rows)


def _scaled(row: bytes, module_px: int) -> int:
    """A symbol row of b"0"/b"1" modules as an int with each module ``module_px`` bits wide."""
    wide = row.replace(b"0", b"a").replace(b"1", b"b")
    return int(wide.replace(b"a", b"0" * module_px).replace(b"b", b"1" * module_px), 2)


def label_rows(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> list[int]:
    """The label as 1-bit rows (one int per row, most significant bit = left edge of a row of
    whole bytes, bit 1 = black): the job's shared text raster with this label's QR code.

    The text raster is the one ZPL, TSPL and the PDF sheets print (:func:`job.text_raster`,
    cached), and the QR comes from the fast encoder, so a run of unit labels costs one
    encode and a few hundred integer ORs each. Raises ``ValueError`` like :func:`plan_label`.
    """
    place = _placement(content.url, layout)
    row_bits = (layout.width_px + 7) // 8 * 8
    left = place.text_box[0]
    text = text_raster(dataclasses.replace(content, url="-"), layout, place.text_box, left)
    rows = [*_text_rows(text, row_bits)]
    rows += [0] * (layout.height_px - len(rows))
    symbol = encode(content.url)
    m = place.module_px
    x, y = place.symbol_origin
    shift = row_bits - x - symbol.size * m
    for row in symbol.rows():
        dark = _scaled(row, m) << shift
        for k in range(y, y + m):
            rows[k] |= dark
        y += m
    return rows


def render_image(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> Image.Image:
    """Render the label as a 1-bit ("1") image of exactly the layout size, white background:
    the dots a thermal printer prints (text without anti-aliasing, as in ZPL/TSPL)."""
    row_bytes = (layout.width_px + 7) // 8
    data = b"".join(row.to_bytes(row_bytes) for row in label_rows(content, layout))
    size = (layout.width_px, layout.height_px)
    return Image.frombytes("1", size, data, "raw", "1;I", row_bytes)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return len(body).to_bytes(4) + kind + body + zlib.crc32(kind + body).to_bytes(4)


def render_png(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> bytes:
    """Render the label as a 1-bit greyscale PNG with the print resolution recorded (pHYs).

    Written directly (PNG spec §11: IHDR, pHYs, IDAT, IEND; filter type 0 on every row)
    from :func:`label_rows`: Pillow's encoder spent most of the time packing and
    compressing an 8-bit image. zlib level 1 on these mostly white rows is about 3x
    faster than level 6 for a file about a third larger (~4 kB).
    """
    row_bytes = (layout.width_px + 7) // 8
    white = (1 << row_bytes * 8) - 1  # PNG greyscale: 0 = black, 1 = white
    raw = b"".join(b"\0" + (row ^ white).to_bytes(row_bytes) for row in label_rows(content, layout))
    header = layout.width_px.to_bytes(4) + layout.height_px.to_bytes(4) + bytes((1, 0, 0, 0, 0))
    per_metre = round(layout.dpi / 0.0254).to_bytes(4)
    return b"".join(
        (
            PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"pHYs", per_metre + per_metre + b"\1"),
            _chunk(b"IDAT", zlib.compress(raw, 1)),
            _chunk(b"IEND", b""),
        )
    )
