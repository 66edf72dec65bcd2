"""Render labels as TSPL for TSC and Xprinter label printers: native QR code, text as a bitmap.

Per job: ``SIZE`` and ``GAP`` once; per label: ``CLS``, the text column as ``BITMAP`` (binary,
bit 0 = black dot, the inverse of ZPL), ``QRCODE`` (error correction M, automatic mode) and
``PRINT``. Lines end with CR LF. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from label_printer.job import PlannedLabel, TextRaster, plan_job, repeats
from label_printer.model import THERMAL_LAYOUT, LabelContent, LabelLayout

DEFAULT_GAP_MM = 2.0
MAX_CELL_WIDTH = 10  # QRCODE cell width 1-10
_INVERT = bytes(b ^ 0xFF for b in range(256))
_EOL = b"\r\n"


def _mm(value: float) -> str:
    return f"{value:g} mm"


def bitmap(text: TextRaster) -> bytes:
    """``BITMAP x,y,width in bytes,height in dots,0 (overwrite),`` then the inverted raster."""
    head = f"BITMAP {text.x},{text.y},{text.width_bytes},{text.height},0,".encode("ascii")
    return head + text.data.translate(_INVERT) + _EOL


def qrcode_command(x: int, y: int, cell: int, url: str) -> bytes:
    """``QRCODE x,y,M,cell width,A,0,"url"``: error correction M, automatic mode, no rotation."""
    if not url.isascii() or not url.isprintable():
        raise ValueError(
            f"a TSPL QR code takes printable ASCII only; percent-encode the URL: {url!r}"
        )
    quoted = url.replace('"', '\\["]')  # TSPL's escape for a double quote inside a string
    return f'QRCODE {x},{y},M,{cell},A,0,"{quoted}"'.encode("ascii") + _EOL


def _label(label: PlannedLabel, copies: int, bitmaps: dict[int, bytes]) -> bytes:
    x, y = label.placement.symbol_origin
    parts = [b"CLS" + _EOL]
    if not label.text.empty:
        data = bitmaps.get(id(label.text))
        if data is None:
            data = bitmaps[id(label.text)] = bitmap(label.text)
        parts.append(data)
    parts.append(qrcode_command(x, y, min(label.placement.module_px, MAX_CELL_WIDTH), label.url))
    parts.append(f"PRINT {copies}".encode("ascii") + _EOL)
    return b"".join(parts)


def render_tspl(
    contents: LabelContent | Sequence[LabelContent],
    layout: LabelLayout = THERMAL_LAYOUT,
    gap_mm: float = DEFAULT_GAP_MM,
) -> bytes:
    """A TSPL job for ``contents`` on labels of ``layout`` separated by ``gap_mm`` of liner.

    Identical neighbouring labels are printed as copies (``PRINT n``). Raises
    ``ValueError`` for an empty job, a negative gap or a URL whose QR code would not scan.
    """
    if not 0 <= gap_mm <= 50:
        raise ValueError(f"gap_mm must be between 0 and 50, got {gap_mm}")
    planned = plan_job(contents, layout)
    bitmaps: dict[int, bytes] = {}
    head = f"SIZE {_mm(layout.width_mm)},{_mm(layout.height_mm)}\r\nGAP {_mm(gap_mm)},0 mm\r\n"
    body = b"".join(_label(label, n, bitmaps) for label, n in repeats(planned))
    return head.encode("ascii") + body
