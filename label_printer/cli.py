"""Provide the `ocop label render` sub-command: JSON content in, PNG/PDF label file out."""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys
from typing import NoReturn

from label_printer.model import LabelLayout, content_from_dict
from label_printer.render_pdf import render_pdf
from label_printer.render_png import render_png
from label_printer.transports import FilePrinter, PrinterError

USAGE_ERROR = 2
PRINTER_FAILURE = 1


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``render`` to an existing ``ocop label`` sub-command group."""
    parser = subparsers.add_parser(
        "render",
        help="render a label (QR + text) to a PNG or PDF file",
        description="Render a product label from a JSON file and write it to a folder.",
    )
    parser.add_argument(
        "--content", type=pathlib.Path, required=True, help="JSON file with the label fields"
    )
    parser.add_argument("--format", choices=("png", "pdf"), default="png", help="output format")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder to write into")
    parser.add_argument("--copies", type=int, default=1, help="number of pages (PDF only)")
    defaults = LabelLayout()
    parser.add_argument("--width-mm", type=float, default=defaults.width_mm)
    parser.add_argument("--height-mm", type=float, default=defaults.height_mm)
    parser.add_argument("--dpi", type=int, default=defaults.dpi)
    parser.set_defaults(func=run_render)


def _fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    print(f"ocop label render: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def output_name(lot: str, fmt: str) -> str:
    """A safe file name derived from the lot code, e.g. ``label-KC-NM-261122-01.pdf``."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", lot).strip("_") or "label"
    return f"label-{stem}.{fmt}"


def run_render(args: argparse.Namespace) -> int:
    """Render the label described by ``args`` and print the path of the written file."""
    path: pathlib.Path = args.content
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))  # tolerate a BOM
    except FileNotFoundError:
        _fail(f"content file not found: {path}")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read content file {path}: {exc}")
    except json.JSONDecodeError as exc:
        _fail(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}")
    if args.copies != 1 and args.format != "pdf":
        _fail("--copies only applies to --format pdf")
    try:
        content = content_from_dict(raw)
        layout = LabelLayout(width_mm=args.width_mm, height_mm=args.height_mm, dpi=args.dpi)
        if args.format == "pdf":
            data = render_pdf(content, layout, copies=args.copies)
        else:
            data = render_png(content, layout)
    except ValueError as exc:
        _fail(f"{path}: {exc}")
    try:
        written = FilePrinter(args.out).send(output_name(content.lot, args.format), data)
    except PrinterError as exc:
        _fail(str(exc), PRINTER_FAILURE)
    print(written)
    return 0
