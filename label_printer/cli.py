"""Provide the `ocop label render` sub-command: JSON content in, one label file out, any format."""

from __future__ import annotations

import argparse
import dataclasses
import json
import pathlib
import re
import sys
from typing import Any, NoReturn

from label_printer.formats import EXTENSIONS, FORMATS, default_dpi, render_labels
from label_printer.model import LabelContent, LabelLayout, content_from_dict
from label_printer.render_pdf import MAX_COPIES
from label_printer.render_sheet import PAGE_SIZES_MM, SheetLayout
from label_printer.render_tspl import DEFAULT_GAP_MM
from label_printer.transports import FilePrinter, PrinterError

USAGE_ERROR = 2
PRINTER_FAILURE = 1
MAX_LABELS = 10_000
_SHEET = SheetLayout()
_SHEET_OPTIONS = {  # option -> (SheetLayout field, type, help)
    "--page": ("page", str, f"sheet page size: {', '.join(PAGE_SIZES_MM)} (default A4)"),
    "--columns": ("columns", int, f"labels across a sheet (default {_SHEET.columns})"),
    "--rows": ("rows", int, f"labels down a sheet (default {_SHEET.rows})"),
    "--margin-left-mm": ("margin_left_mm", float, "sheet margin left of the first column"),
    "--margin-top-mm": ("margin_top_mm", float, "sheet margin above the first row"),
    "--gap-x-mm": ("gap_x_mm", float, "space between sheet columns"),
    "--gap-y-mm": ("gap_y_mm", float, "space between sheet rows"),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``render`` to an existing ``ocop label`` sub-command group."""
    parser = subparsers.add_parser(
        "render",
        help="render labels (QR + text) as PNG, PDF, a PDF sheet, ZPL, TSPL or ESC/POS",
        description="Render product labels from a JSON file and write one file to a folder.",
    )
    parser.add_argument(
        "--content", type=pathlib.Path, required=True, help="JSON file with the label fields"
    )
    parser.add_argument("--format", choices=FORMATS, default="png", help="output format")
    parser.add_argument("--out", type=pathlib.Path, required=True, help="folder to write into")
    parser.add_argument(
        "--copies", type=int, default=1, help="labels per URL (every format but png)"
    )
    parser.add_argument(
        "--urls",
        type=pathlib.Path,
        help="file with one URL per line: one label each, e.g. unit serials (not png/pdf)",
    )
    parser.add_argument("--width-mm", type=float, help="label width (default 60; sheets 63.5)")
    parser.add_argument("--height-mm", type=float, help="label height (default 40; sheets 33.9)")
    parser.add_argument("--dpi", type=int, help="dots per inch (default 203 zpl/tspl/escpos, 300)")
    parser.add_argument(
        "--gap-mm", type=float, default=DEFAULT_GAP_MM, help="liner between labels (tspl)"
    )
    for option, (_field, kind, text) in _SHEET_OPTIONS.items():
        parser.add_argument(option, type=kind, help=text + " (pdf-sheet)")
    parser.set_defaults(func=run_render)


def _fail(message: str, code: int = USAGE_ERROR) -> NoReturn:
    print(f"ocop label render: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def output_name(lot: str, fmt: str) -> str:
    """A safe file name derived from the lot code, e.g. ``label-KC-NM-261122-01.pdf``."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", lot).strip("_") or "label"
    suffix = "-sheet" if fmt == "pdf-sheet" else ""
    return f"label-{stem}{suffix}.{EXTENSIONS.get(fmt, fmt)}"


def _read_json(path: pathlib.Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))  # tolerate a BOM
    except FileNotFoundError:
        _fail(f"content file not found: {path}")
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read content file {path}: {exc}")
    except json.JSONDecodeError as exc:
        _fail(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}")


def _read_urls(path: pathlib.Path) -> list[str]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read URL file {path}: {exc}")
    urls = [line.strip() for line in lines if line.strip()]
    if not urls:
        _fail(f"URL file {path} has no URLs")
    return urls


def _check_options(args: argparse.Namespace) -> None:
    if args.copies != 1 and args.format == "png":
        _fail("--copies does not apply to --format png (one image per file)")
    if args.urls is not None and args.format in ("png", "pdf"):
        _fail(f"--urls needs --format pdf-sheet, zpl, tspl or escpos, not {args.format}")
    if not 1 <= args.copies <= (MAX_COPIES if args.format == "pdf" else MAX_LABELS):
        _fail(
            f"--copies must be between 1 and {MAX_COPIES if args.format == 'pdf' else MAX_LABELS}"
        )
    sheet_given = [
        opt for opt, (name, *_) in _SHEET_OPTIONS.items() if getattr(args, name) is not None
    ]
    if sheet_given and args.format != "pdf-sheet":
        _fail(f"{', '.join(sheet_given)} only apply to --format pdf-sheet")
    if args.gap_mm != DEFAULT_GAP_MM and args.format != "tspl":
        _fail("--gap-mm only applies to --format tspl")


def _jobs(content: LabelContent, args: argparse.Namespace) -> list[LabelContent]:
    urls = _read_urls(args.urls) if args.urls is not None else [content.url]
    if len(urls) * args.copies > MAX_LABELS:
        _fail(f"at most {MAX_LABELS} labels per file, asked for {len(urls) * args.copies}")
    return [dataclasses.replace(content, url=url) for url in urls for _ in range(args.copies)]


def _render(contents: list[LabelContent], args: argparse.Namespace) -> bytes:
    dpi = args.dpi if args.dpi is not None else default_dpi(args.format)
    if args.format == "pdf-sheet":
        fields = {name: getattr(args, name) for name, *_ in _SHEET_OPTIONS.values()}
        fields = {k: v for k, v in fields.items() if v is not None}
        if args.width_mm is not None:
            fields["label_w_mm"] = args.width_mm
        if args.height_mm is not None:
            fields["label_h_mm"] = args.height_mm
        return render_labels("pdf-sheet", contents, sheet=SheetLayout(dpi=dpi, **fields))
    width = args.width_mm if args.width_mm is not None else LabelLayout.width_mm
    height = args.height_mm if args.height_mm is not None else LabelLayout.height_mm
    layout = LabelLayout(width_mm=width, height_mm=height, dpi=dpi)
    return render_labels(args.format, contents, layout, gap_mm=args.gap_mm)


def run_render(args: argparse.Namespace) -> int:
    """Render the labels described by ``args`` and print the path of the written file."""
    path: pathlib.Path = args.content
    raw = _read_json(path)
    _check_options(args)
    try:
        content = content_from_dict(raw)
        data = _render(_jobs(content, args), args)
    except ValueError as exc:
        _fail(f"{path}: {exc}")
    try:
        written = FilePrinter(args.out).send(output_name(content.lot, args.format), data)
    except PrinterError as exc:
        _fail(str(exc), PRINTER_FAILURE)
    print(written)
    return 0
