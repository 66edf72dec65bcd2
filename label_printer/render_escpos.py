"""Render labels as ESC/POS for receipt printers: native QR code on top, text raster below, cut.

Per job ``ESC @`` once; per label: centred QR code (``GS ( k`` functions 165, 167, 169, 180
and 181: model 2, module size, error correction M, store, print), a small feed, the text
column as raster bit images (``GS v 0``, in bands of at most 256 rows so that printers with
small buffers cope) and a feed-and-partial-cut (``GS V 66 0``). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from label_printer.job import PlannedLabel, TextRaster, stacked_job
from label_printer.model import THERMAL_LAYOUT, LabelContent, LabelLayout, mm_to_px

GS, ESC = b"\x1d", b"\x1b"
INITIALIZE = ESC + b"@"
CENTRE, LEFT = ESC + b"a\x01", ESC + b"a\x00"
QR_MODEL_2 = GS + b"(k\x04\x00\x31\x41\x32\x00"
QR_ERROR_CORRECTION_M = GS + b"(k\x03\x00\x31\x45\x31"
QR_PRINT = GS + b"(k\x03\x00\x31\x51\x30"
FEED_AND_PARTIAL_CUT = GS + b"V\x42\x00"
MAX_MODULE_DOTS = 16  # GS ( k function 167 accepts 1-16
BAND_ROWS = 256
GAP_MM = 1.0


def qr_commands(url: str, module_dots: int) -> bytes:
    """Model 2, module size, error correction M, store ``url`` and print it."""
    if not url.isascii() or not url.isprintable():
        raise ValueError(
            f"an ESC/POS QR code takes printable ASCII only; percent-encode it: {url!r}"
        )
    data = url.encode("ascii")
    size = len(data) + 3
    store = GS + b"(k" + bytes((size & 0xFF, size >> 8)) + b"\x31\x50\x30" + data
    module = GS + b"(k\x03\x00\x31\x43" + bytes((min(module_dots, MAX_MODULE_DOTS),))
    return QR_MODEL_2 + module + QR_ERROR_CORRECTION_M + store + QR_PRINT


def raster(text: TextRaster) -> bytes:
    """``GS v 0`` (normal density) bands: bytes across, rows down, then the rows."""
    out = bytearray()
    row_bytes = text.width_bytes
    for top in range(0, text.height, BAND_ROWS):
        rows = min(BAND_ROWS, text.height - top)
        out += GS + b"v0\x00" + row_bytes.to_bytes(2, "little") + rows.to_bytes(2, "little")
        out += text.data[top * row_bytes : (top + rows) * row_bytes]
    return bytes(out)


def _label(label: PlannedLabel, feed: bytes, rasters: dict[int, bytes]) -> bytes:
    parts = [CENTRE, qr_commands(label.url, label.placement.module_px), feed, LEFT]
    if not label.text.empty:
        data = rasters.get(id(label.text))
        if data is None:
            data = rasters[id(label.text)] = raster(label.text)
        parts.append(data)
    parts.append(FEED_AND_PARTIAL_CUT)
    return b"".join(parts)


def render_escpos(
    contents: LabelContent | Sequence[LabelContent], layout: LabelLayout = THERMAL_LAYOUT
) -> bytes:
    """An ESC/POS job; ``layout.width_mm`` is the printable width (48 mm on 58 mm paper,
    72 mm on 80 mm paper) and ``layout.height_mm`` the length of each label.

    Raises ``ValueError`` for an empty job or a URL whose QR code would not scan.
    """
    planned = stacked_job(contents, layout)
    feed = ESC + b"J" + bytes((min(255, mm_to_px(GAP_MM, layout.dpi)),))  # print, feed n dots
    rasters: dict[int, bytes] = {}
    return INITIALIZE + b"".join(_label(label, feed, rasters) for label in planned)
