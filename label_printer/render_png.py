"""Lay out a label (QR code left, text right) and rasterise it to a Pillow image or PNG bytes.

:func:`plan_label` is the pure layout step (positions and font sizes, no drawing) so the
geometry can be checked without looking at pixels; :func:`render_image` draws a plan.
"""

from __future__ import annotations

import dataclasses
import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

from label_printer.geometry import (
    GAP_MM,
    MARGIN_MM,
    MIN_EM_MM,
    QR_MAX_WIDTH_SHARE,
    STAR_EMPTY,
    STAR_FILLED,
    fit_text,
    place_side_by_side,
    stars_text,
    text_blocks,
)
from label_printer.model import DEFAULT_LAYOUT, LabelContent, LabelLayout
from label_printer.qr import QrSymbol, encode
from label_printer.qr_fit import MIN_DOTS_PER_MODULE, QUIET_ZONE_MODULES, url_version
from label_printer.typeface import Box, PlacedLine, load_font

QR_BORDER_MODULES = QUIET_ZONE_MODULES
MIN_MODULE_PX = MIN_DOTS_PER_MODULE

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
    "draw_plan",
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


def draw_plan(plan: LabelPlan) -> Image.Image:
    """Rasterise a :class:`LabelPlan`: black on white, 8-bit greyscale ("L")."""
    image = Image.new("L", (plan.width_px, plan.height_px), 255)
    side = len(plan.qr_matrix)
    cells = bytes(0 if dark else 255 for row in plan.qr_matrix for dark in row)
    modules = Image.frombytes("L", (side, side), cells)
    m = plan.module_px
    image.paste(modules.resize((side * m, side * m), Image.Resampling.NEAREST), plan.qr_origin)
    draw = ImageDraw.Draw(image)
    for line in plan.lines:
        draw.text(
            (line.x, line.y), line.text, font=load_font(line.size, line.bold), fill=0, anchor="la"
        )
    return image


def render_image(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> Image.Image:
    """Render the label as an "L" mode image of exactly the layout size, white background."""
    return draw_plan(plan_label(content, layout))


def render_png(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> bytes:
    """Render the label as PNG bytes with the print resolution recorded in the file."""
    buffer = io.BytesIO()
    render_image(content, layout).save(buffer, format="PNG", dpi=(layout.dpi, layout.dpi))
    return buffer.getvalue()
