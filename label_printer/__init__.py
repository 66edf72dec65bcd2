"""Render OCOP product labels (QR code + Vietnamese text) to PNG/PDF and send them to printers.

Stand-alone: depends only on the standard library, Pillow and qrcode. Fonts (DejaVu Sans)
are bundled so Vietnamese diacritics render the same everywhere.
"""

from label_printer.model import LabelContent, LabelLayout, content_from_dict
from label_printer.render_pdf import render_pdf
from label_printer.render_png import LabelPlan, plan_label, render_image, render_png
from label_printer.transports import FilePrinter, PrinterError
from label_printer.typeface import PlacedLine

__all__ = [
    "FilePrinter",
    "LabelContent",
    "LabelLayout",
    "LabelPlan",
    "PlacedLine",
    "PrinterError",
    "content_from_dict",
    "plan_label",
    "render_image",
    "render_pdf",
    "render_png",
]
