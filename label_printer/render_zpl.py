"""Render labels as ZPL II for Zebra printers: native ``^BQ`` QR code, text as a ``^GF`` graphic.

Zebra code pages cannot print Vietnamese diacritics reliably, so the text column is sent as
a 1-bit graphic (``^GFA``, ASCII hex, with the documented comma shorthand that ends a row
with white); the QR code is drawn by the printer from the URL (``^BQN``, model 2,
error correction M, automatic data mode), which keeps each label small. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from label_printer.job import PlannedLabel, TextRaster, plan_job, repeats
from label_printer.model import THERMAL_LAYOUT, LabelContent, LabelLayout

MAX_MAGNIFICATION = 10  # ^BQ magnification 1-10 on every firmware (newer ones allow 100)
# Firmware moves a ^FO-positioned QR code down by the ^BY bar code height, which persists
# between labels; pin it to its minimum and place the field that much higher.
BAR_CODE_HEIGHT = 10
_FIELD_HEX_ESCAPES = {ord("_"): "_5F", ord("^"): "_5E", ord("~"): "_7E"}


def graphic_field(text: TextRaster) -> str:
    """``^GFA`` for the raster: total bytes twice, bytes per row, then the rows in hex.

    Trailing white bytes of a row are replaced by a comma, which the printer reads as
    "fill the rest of this row with 00" (ZPL II Programming Guide, ^GF, data parameter).
    """
    total = text.width_bytes * text.height
    rows = []
    data = text.data.hex().upper()
    step = 2 * text.width_bytes
    for start in range(0, len(data), step):
        row = data[start : start + step]
        trimmed = row.rstrip("0")
        if len(trimmed) % 2:
            trimmed += "0"
        rows.append(row if len(trimmed) == len(row) else trimmed + ",")
    return f"^GFA,{total},{total},{text.width_bytes},{''.join(rows)}"


def qr_field(url: str) -> str:
    """``^FD`` for a QR code: error correction M, automatic mode (``MA,``), then the URL.

    ``^``, ``~`` and ``_`` would end or alter the field, so a URL holding any of them is
    sent with ``^FH`` (hex escapes after ``_``).
    """
    if not url.isascii() or not url.isprintable():
        raise ValueError(
            f"a ZPL QR code takes printable ASCII only; percent-encode the URL: {url!r}"
        )
    if any(ch in url for ch in "^~_"):
        return "^FH^FDMA," + url.translate(_FIELD_HEX_ESCAPES) + "^FS"
    return f"^FDMA,{url}^FS"


def _label(label: PlannedLabel, copies: int, layout: LabelLayout, graphics: dict[int, str]) -> str:
    place = label.placement
    qx, qy = place.symbol_origin
    magnification = min(place.module_px, MAX_MAGNIFICATION)
    parts = ["^XA", f"^PW{layout.width_px}", f"^LL{layout.height_px}", "^LH0,0"]
    if not label.text.empty:
        graphic = graphics.get(id(label.text))
        if graphic is None:
            graphic = graphics[id(label.text)] = graphic_field(label.text)
        parts.append(f"^FO{label.text.x},{label.text.y}{graphic}^FS")
    parts.append(f"^BY2,3,{BAR_CODE_HEIGHT}")
    parts.append(f"^FO{qx},{max(0, qy - BAR_CODE_HEIGHT)}^BQN,2,{magnification},M")
    parts.append(qr_field(label.url))
    if copies > 1:
        parts.append(f"^PQ{copies}")
    parts.append("^XZ")
    return "\n".join(parts) + "\n"


def render_zpl(
    contents: LabelContent | Sequence[LabelContent], layout: LabelLayout = THERMAL_LAYOUT
) -> bytes:
    """One ZPL format (``^XA`` … ``^XZ``) per label; identical neighbours become ``^PQ`` copies.

    Raises ``ValueError`` for an empty job or a URL whose QR code would not scan on
    ``layout`` (see :func:`label_printer.qr_fit.check_qr`).
    """
    graphics: dict[int, str] = {}
    planned = plan_job(contents, layout)
    out = "".join(_label(label, n, layout, graphics) for label, n in repeats(planned))
    return out.encode("ascii")
