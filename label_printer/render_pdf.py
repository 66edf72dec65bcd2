"""Render a label as a PDF: one page per copy, page exactly the label size, label as a raster.

The raster is converted to 1-bit so Pillow stores it losslessly (CCITT G4 when libtiff is
available, otherwise as an uncompressed palette image) instead of as a lossy JPEG.
"""

from __future__ import annotations

import io

from PIL import Image, features

from label_printer.model import DEFAULT_LAYOUT, MM_PER_INCH, LabelContent, LabelLayout
from label_printer.render_png import render_image

MAX_COPIES = 500


def _lossless_page(image: Image.Image) -> Image.Image:
    bilevel = image.point(lambda value: 255 if value >= 128 else 0, mode="1")
    if features.check("libtiff"):
        return bilevel
    return bilevel.convert("P")


def render_pdf(
    content: LabelContent, layout: LabelLayout = DEFAULT_LAYOUT, copies: int = 1
) -> bytes:
    """Render ``copies`` identical pages of ``layout.width_mm`` x ``layout.height_mm``."""
    if not 1 <= copies <= MAX_COPIES:
        raise ValueError(f"copies must be between 1 and {MAX_COPIES}, got {copies}")
    page = _lossless_page(render_image(content, layout))
    # Resolution chosen so that pixels * 72 / resolution equals the size in points exactly,
    # even though the pixel count was rounded.
    dpi = (
        page.width * MM_PER_INCH / layout.width_mm,
        page.height * MM_PER_INCH / layout.height_mm,
    )
    buffer = io.BytesIO()
    page.save(
        buffer,
        format="PDF",
        dpi=dpi,
        save_all=True,
        append_images=[page] * (copies - 1),
        title="OCOP label",
    )
    return buffer.getvalue()
