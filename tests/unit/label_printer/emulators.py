"""Tiny printers for tests: parse the ZPL, TSPL and ESC/POS subsets the kit emits into images.

They follow the printer manuals, not the renderers: every length and count in a command is
checked against the data that follows, and QR codes are drawn with the ``qrcode`` package
(an independent encoder) at the requested module size, so an image that decodes to the
URL means the job carried the right URL, position and size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M


@dataclass
class Page:
    """One printed label: a white canvas with black marks; ``copies`` as the printer would."""

    image: Image.Image
    copies: int = 1
    qr_urls: list[str] = field(default_factory=list)


def qr_image(url: str, module: int) -> Image.Image:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, box_size=module)
    code.add_data(url)
    image: Image.Image = code.make_image().get_image()
    return image.convert("L")


def _paste_bits(
    page: Image.Image, x: int, y: int, width_bytes: int, data: bytes, ones_black: bool
) -> None:
    height = len(data) // width_bytes
    raster = Image.frombytes("1", (width_bytes * 8, height), data)
    if ones_black:  # Pillow's "1" mode reads 1 as white
        raster = raster.point(lambda v: 255 - v)
    page.paste(raster.convert("L"), (x, y))


def _gfa_rows(data: str, width_bytes: int, total: int) -> bytes:
    """Expand ^GFA ASCII hex, where a comma fills the rest of the current row with 00
    (ZPL II Programming Guide, ^GF data); a row is complete after ``width_bytes`` bytes."""
    out = bytearray()
    row = ""
    for ch in data:
        if ch == ",":
            out += bytes.fromhex(row.ljust(2 * width_bytes, "0"))
            row = ""
        else:
            row += ch
            if len(row) == 2 * width_bytes:
                out += bytes.fromhex(row)
                row = ""
    assert row == "", "^GFA data ends in the middle of a row"
    assert len(out) == total, f"^GFA declared {total} bytes, data holds {len(out)}"
    return bytes(out)


def run_zpl(job: bytes) -> list[Page]:
    text = job.decode("ascii")
    pages = []
    for fmt in re.findall(r"\^XA(.*?)\^XZ", text, re.S):
        width = int(re.search(r"\^PW(\d+)", fmt)[1])  # type: ignore[index]
        height = int(re.search(r"\^LL(\d+)", fmt)[1])  # type: ignore[index]
        page = Page(Image.new("L", (width, height), 255))
        bar_height = 10
        if by := re.search(r"\^BY\d+,[\d.]+,(\d+)", fmt):
            bar_height = int(by[1])
        for x, y, body in re.findall(r"\^FO(\d+),(\d+)(.*?)\^FS", fmt, re.S):
            if g := re.fullmatch(r"\^GFA,(\d+),(\d+),(\d+),([0-9A-F,]*)", body):
                assert g[1] == g[2], "ASCII ^GF: binary byte count must equal field count"
                rows = _gfa_rows(g[4], int(g[3]), int(g[2]))
                _paste_bits(page.image, int(x), int(y), int(g[3]), rows, ones_black=True)
            elif q := re.fullmatch(r"\s*\^BQN,2,(\d+),M\s*(\^FH)?\^FDMA,(.*)", body, re.S):
                url = q[3]
                if q[2]:
                    url = re.sub(r"_([0-9A-F]{2})", lambda m: chr(int(m[1], 16)), url)
                page.qr_urls.append(url)
                # The printer lowers a ^FO-placed QR code by the ^BY bar code height.
                page.image.paste(qr_image(url, int(q[1])), (int(x), int(y) + bar_height))
            else:
                raise AssertionError(f"unexpected ZPL field: {body[:60]!r}")
        if pq := re.search(r"\^PQ(\d+)", fmt):
            page.copies = int(pq[1])
        pages.append(page)
    return pages


def run_tspl(job: bytes, dpi: int = 203) -> list[Page]:
    pages: list[Page] = []
    size = re.match(rb"SIZE ([\d.]+) mm,([\d.]+) mm\r\nGAP ([\d.]+) mm,0 mm\r\n", job)
    assert size, "a TSPL job starts with SIZE and GAP in mm"
    width = round(float(size[1]) * dpi / 25.4)
    height = round(float(size[2]) * dpi / 25.4)
    at = size.end()
    page = None
    while at < len(job):
        end = job.index(b"\r\n", at)
        line = job[at:end]
        if line == b"CLS":
            page = Page(Image.new("L", (width, height), 255))
        elif b := re.match(rb"BITMAP (\d+),(\d+),(\d+),(\d+),0,", line):
            assert page is not None
            start = at + b.end()
            count = int(b[3]) * int(b[4])
            _paste_bits(
                page.image,
                int(b[1]),
                int(b[2]),
                int(b[3]),
                job[start : start + count],
                ones_black=False,
            )
            assert job[start + count : start + count + 2] == b"\r\n"
            end = start + count
        elif q := re.fullmatch(rb'QRCODE (\d+),(\d+),M,(\d+),A,0,"(.*)"', line):
            assert page is not None
            url = q[4].decode("ascii").replace('\\["]', '"')
            page.qr_urls.append(url)
            page.image.paste(qr_image(url, int(q[3])), (int(q[1]), int(q[2])))
        elif p := re.fullmatch(rb"PRINT (\d+)", line):
            assert page is not None
            page.copies = int(p[1])
            pages.append(page)
            page = None
        else:
            raise AssertionError(f"unexpected TSPL line: {line[:60]!r}")
        at = end + 2
    return pages


def run_escpos(job: bytes, width: int) -> list[Page]:
    """Receipt printer: QR centred, raster from the left edge, a page ends at each cut.

    Each page starts with blank paper: the stretch between print head and cutter.
    """
    assert job.startswith(b"\x1b@")
    blank = Image.new("L", (width, 40), 255)
    at, pages, rows, align = 2, [], [blank], 0
    url, module = "", 0
    while at < len(job):
        if job.startswith(b"\x1ba", at):
            align, at = job[at + 2], at + 3
        elif job.startswith(b"\x1d(k", at):
            size = job[at + 3] | job[at + 4] << 8
            cn, fn, args = job[at + 5], job[at + 6], job[at + 7 : at + 5 + size]
            assert cn == 0x31, "QR code functions use cn = 49"
            if fn == 0x43:
                module = args[0]
            elif fn == 0x50:
                assert args[0] == 0x30
                url = args[1:].decode("ascii")
            elif fn == 0x51:
                code = qr_image(url, module)
                line = Image.new("L", (width, code.height), 255)
                line.paste(code, ((width - code.width) // 2 if align == 1 else 0, 0))
                rows.append(line)
            at += 5 + size
        elif job.startswith(b"\x1bJ", at):
            rows.append(Image.new("L", (width, job[at + 2]), 255))
            at += 3
        elif job.startswith(b"\x1dv0\x00", at):
            xb = job[at + 4] | job[at + 5] << 8
            yd = job[at + 6] | job[at + 7] << 8
            band = Image.new("L", (width, yd), 255)
            _paste_bits(band, 0, 0, xb, job[at + 8 : at + 8 + xb * yd], ones_black=True)
            rows.append(band)
            at += 8 + xb * yd
        elif job.startswith(b"\x1dVB\x00", at):
            height = sum(r.height for r in rows)
            image = Image.new("L", (width, height), 255)
            y = 0
            for r in rows:
                image.paste(r, (0, y))
                y += r.height
            pages.append(Page(image, 1, [url]))
            rows, at = [blank], at + 4
        else:
            raise AssertionError(f"unexpected ESC/POS bytes at {at}: {job[at : at + 8]!r}")
    return pages
