"""Choose a renderer by format name: one entry point for the CLI and the agent's print queue."""

from __future__ import annotations

from collections.abc import Sequence

from label_printer.job import as_list
from label_printer.model import DEFAULT_LAYOUT, THERMAL_LAYOUT, LabelContent, LabelLayout
from label_printer.render_escpos import render_escpos
from label_printer.render_pdf import MAX_COPIES, render_pdf
from label_printer.render_png import render_png
from label_printer.render_sheet import SheetLayout, render_pdf_sheet
from label_printer.render_tspl import DEFAULT_GAP_MM, render_tspl
from label_printer.render_zpl import render_zpl

FORMATS = ("png", "pdf", "pdf-sheet", "zpl", "tspl", "escpos")
THERMAL_FORMATS = ("zpl", "tspl", "escpos")
EXTENSIONS = {
    "png": "png",
    "pdf": "pdf",
    "pdf-sheet": "pdf",
    "zpl": "zpl",
    "tspl": "tspl",
    "escpos": "escpos",
}


def default_dpi(fmt: str) -> int:
    """203 dpi for thermal printers, 300 dpi for images and office printers."""
    return THERMAL_LAYOUT.dpi if fmt in THERMAL_FORMATS else DEFAULT_LAYOUT.dpi


def render_labels(
    fmt: str,
    contents: LabelContent | Sequence[LabelContent],
    layout: LabelLayout | None = None,
    sheet: SheetLayout | None = None,
    gap_mm: float = DEFAULT_GAP_MM,
) -> bytes:
    """Render a job in ``fmt`` (one of :data:`FORMATS`).

    ``layout`` is the label size for every format but ``pdf-sheet``, which takes
    ``sheet``; ``gap_mm`` is the liner between labels for ``tspl``. ``png`` renders a
    single label; ``pdf`` renders identical labels only (one page each). Raises
    ``ValueError`` for an unknown format or invalid input.
    """
    items = as_list(contents)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "pdf-sheet":
        return render_pdf_sheet(items, sheet)
    layout = layout or LabelLayout(dpi=default_dpi(fmt))
    if fmt == "zpl":
        return render_zpl(items, layout)
    if fmt == "tspl":
        return render_tspl(items, layout, gap_mm)
    if fmt == "escpos":
        return render_escpos(items, layout)
    if any(item != items[0] for item in items):
        raise ValueError(f"{fmt} renders copies of one label; use pdf-sheet or a printer format")
    if fmt == "png":
        if len(items) != 1:
            raise ValueError("png renders one label; use pdf, pdf-sheet or a printer format")
        return render_png(items[0], layout)
    if len(items) > MAX_COPIES:
        raise ValueError(f"pdf renders at most {MAX_COPIES} copies, got {len(items)}")
    return render_pdf(items[0], layout, copies=len(items))
