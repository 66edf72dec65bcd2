"""Lay out a label (QR code left, text right) and rasterise it to a Pillow image or PNG bytes.

:func:`plan_label` is the pure layout step (positions and font sizes, no drawing) so the
geometry can be checked without looking at pixels; :func:`render_image` draws a plan.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
from PIL import Image, ImageDraw
from qrcode.constants import ERROR_CORRECT_M
from qrcode.exceptions import DataOverflowError

from label_printer.model import DEFAULT_LAYOUT, LabelContent, LabelLayout, format_date, mm_to_px
from label_printer.typeface import Box, PlacedLine, TextBlock, fit_blocks, load_font

QR_BORDER_MODULES = 2
MIN_MODULE_PX = 2
MARGIN_MM = 1.5
GAP_MM = 1.0
MIN_EM_MM = 1.2  # smallest font size (em height) before text gets shortened: about 3.4 pt
QR_MAX_WIDTH_SHARE = 0.65  # the QR never takes more than this share of the inner width
STAR_FILLED, STAR_EMPTY = "★", "☆"


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


def qr_matrix(url: str) -> tuple[tuple[bool, ...], ...]:
    """QR modules for ``url`` (error correction M) including a quiet zone of 2 modules."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QR_BORDER_MODULES, box_size=1)
    qr.add_data(url)
    try:
        qr.make(fit=True)
    except DataOverflowError:
        raise ValueError(f"url is too long to fit in a QR code ({len(url)} characters)") from None
    return tuple(tuple(bool(cell) for cell in row) for row in qr.get_matrix())


def stars_text(stars: int) -> str:
    return "OCOP " + STAR_FILLED * stars + STAR_EMPTY * (5 - stars)


def text_blocks(content: LabelContent) -> list[TextBlock]:
    """The paragraphs of the text column, top to bottom."""
    blocks = [TextBlock(content.product_name, bold=True, scale=1.35, max_lines=2)]
    if content.ocop_stars > 0:
        blocks.append(TextBlock(stars_text(content.ocop_stars), bold=True))
    blocks.append(TextBlock(content.producer, scale=0.8, max_lines=2))
    lot = f"{content.caption('lot')}: {content.lot}"
    blocks.append(TextBlock(lot, max_lines=2))
    dates = [("production_date", content.production_date), ("expiry_date", content.expiry_date)]
    for field_name, value in dates:
        if value is not None:
            text = f"{content.caption(field_name)}: {format_date(value)}"
            blocks.append(TextBlock(text))
    blocks.extend(TextBlock(line, scale=0.9, max_lines=2) for line in content.extra_lines)
    return blocks


def plan_label(content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT) -> LabelPlan:
    """Compute the label geometry: QR position/module size and auto-shrunk text lines.

    Raises ``ValueError`` if the label is too small for a scannable QR code.
    """
    width, height = layout.width_px, layout.height_px
    margin, gap = mm_to_px(MARGIN_MM, layout.dpi), mm_to_px(GAP_MM, layout.dpi)
    matrix = qr_matrix(content.url)
    modules = len(matrix)
    available = min(height - 2 * margin, int((width - 2 * margin) * QR_MAX_WIDTH_SHARE))
    module_px = available // modules if available > 0 else 0
    if module_px < MIN_MODULE_PX:
        raise ValueError(
            f"label too small for the QR code: {modules} modules need at least "
            f"{modules * MIN_MODULE_PX} px but only {max(available, 0)} px are available; "
            "use a bigger label, a higher dpi or a shorter URL"
        )
    side = modules * module_px
    qr_origin = (margin, (height - side) // 2)
    text_box = (margin + side + gap, margin, width - margin, height - margin)
    largest = max(1, round(height * 0.085))
    smallest = min(largest, max(6, mm_to_px(MIN_EM_MM, layout.dpi)))
    stack = fit_blocks(text_blocks(content), text_box, largest, smallest)
    return LabelPlan(
        width, height, matrix, qr_origin, module_px, text_box, stack.lines, stack.complete
    )


def draw_plan(plan: LabelPlan) -> Image.Image:
    """Rasterise a :class:`LabelPlan`: black on white, 8-bit greyscale ("L")."""
    image = Image.new("L", (plan.width_px, plan.height_px), 255)
    draw = ImageDraw.Draw(image)
    qx, qy = plan.qr_origin
    m = plan.module_px
    for row, cells in enumerate(plan.qr_matrix):
        for col, dark in enumerate(cells):
            if dark:
                x, y = qx + col * m, qy + row * m
                draw.rectangle((x, y, x + m - 1, y + m - 1), fill=0)
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
