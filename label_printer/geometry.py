"""Place the QR code and the text column on a label: pure arithmetic in pixels, no drawing.

Two arrangements: side by side (QR left, text right) for labels and sheets, and stacked
(QR centred on top, text below) for receipt printers, which print line after line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from label_printer.model import LabelContent, LabelLayout, format_date, mm_to_px
from label_printer.qr_fit import QUIET_ZONE_MODULES, check_qr, symbol_modules
from label_printer.typeface import Box, Stack, TextBlock, fit_blocks

MARGIN_MM = 1.5
GAP_MM = 1.0
MIN_EM_MM = 1.2  # smallest font size (em height) before text gets shortened: about 3.4 pt
QR_MAX_WIDTH_SHARE = 0.65  # the QR never takes more than this share of the inner width
QR_MAX_HEIGHT_SHARE_STACKED = 0.55  # on receipts, the QR takes at most this share of the height
STAR_FILLED, STAR_EMPTY = "★", "☆"


@dataclass(frozen=True)
class Placement:
    """Where the QR code (with its quiet zone) and the text column go, in pixels."""

    version: int
    module_px: int
    qr_origin: tuple[int, int]  # top-left corner of the quiet zone
    text_box: Box

    @property
    def modules(self) -> int:
        """Modules across, quiet zone included."""
        return symbol_modules(self.version)

    @property
    def symbol_origin(self) -> tuple[int, int]:
        """Top-left corner of the symbol itself (inside the quiet zone)."""
        inset = QUIET_ZONE_MODULES * self.module_px
        return (self.qr_origin[0] + inset, self.qr_origin[1] + inset)


def place_side_by_side(url: str, layout: LabelLayout) -> Placement:
    """QR code left and vertically centred, text column to its right.

    Raises ``ValueError`` when the URL's QR code would not scan at this label size.
    """
    width, height = layout.width_px, layout.height_px
    margin, gap = mm_to_px(MARGIN_MM, layout.dpi), mm_to_px(GAP_MM, layout.dpi)
    available = min(height - 2 * margin, int((width - 2 * margin) * QR_MAX_WIDTH_SHARE))
    version, module_px = check_qr(url, available, layout.dpi)
    side = symbol_modules(version) * module_px
    origin = (margin, (height - side) // 2)
    return Placement(
        version, module_px, origin, (margin + side + gap, margin, width - margin, height - margin)
    )


def place_stacked(url: str, layout: LabelLayout) -> Placement:
    """QR code centred at the top, text below it across the whole width (receipt printers)."""
    width, height = layout.width_px, layout.height_px
    margin, gap = mm_to_px(MARGIN_MM, layout.dpi), mm_to_px(GAP_MM, layout.dpi)
    available = min(width - 2 * margin, int((height - 2 * margin) * QR_MAX_HEIGHT_SHARE_STACKED))
    version, module_px = check_qr(url, available, layout.dpi)
    side = symbol_modules(version) * module_px
    origin = ((width - side) // 2, margin)
    return Placement(
        version, module_px, origin, (margin, margin + side + gap, width - margin, height - margin)
    )


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


@functools.lru_cache(maxsize=128)
def fit_text(content: LabelContent, layout: LabelLayout, box: Box) -> Stack:
    """Set the text column in ``box`` at the largest font size that shows everything.

    Cached: unit labels differ only in their URL, which is not part of the text (callers
    pass the content with a placeholder URL to share one entry).
    """
    largest = max(1, round(layout.height_px * 0.085))
    smallest = min(largest, max(6, mm_to_px(MIN_EM_MM, layout.dpi)))
    return fit_blocks(text_blocks(content), box, largest, smallest)
