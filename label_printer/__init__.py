"""Render OCOP product labels (QR code + Vietnamese text) and send them to printers.

Formats: PNG, PDF, PDF sticker sheets, ZPL (Zebra), TSPL (TSC/Xprinter) and ESC/POS
(receipt printers); transports: folder, CUPS, raw TCP 9100 and USB device files.
Stand-alone: depends only on the standard library, Pillow and qrcode. Fonts (DejaVu Sans)
are bundled so Vietnamese diacritics render the same everywhere.
"""

from label_printer.formats import FORMATS, render_labels
from label_printer.model import LabelContent, LabelLayout, content_from_dict
from label_printer.printers import open_printer
from label_printer.qr_fit import qr_fits
from label_printer.render_escpos import render_escpos
from label_printer.render_pdf import render_pdf
from label_printer.render_png import LabelPlan, plan_label, render_image, render_png
from label_printer.render_sheet import SheetLayout, render_pdf_sheet
from label_printer.render_tspl import render_tspl
from label_printer.render_zpl import render_zpl
from label_printer.transports import FilePrinter, Printer, PrinterError
from label_printer.typeface import PlacedLine

__all__ = [
    "FORMATS",
    "FilePrinter",
    "LabelContent",
    "LabelLayout",
    "LabelPlan",
    "PlacedLine",
    "Printer",
    "PrinterError",
    "SheetLayout",
    "content_from_dict",
    "open_printer",
    "plan_label",
    "qr_fits",
    "render_escpos",
    "render_image",
    "render_labels",
    "render_pdf",
    "render_pdf_sheet",
    "render_png",
    "render_tspl",
    "render_zpl",
]
