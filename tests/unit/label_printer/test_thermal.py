"""ZPL, TSPL and ESC/POS: byte-exact golden jobs, and every printed label scans to its URL.

Goldens live in ``golden/``; regenerate them only on purpose, and review the diff:
``OCOP_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/label_printer/test_thermal.py``.
They depend on the bundled fonts and Pillow's FreeType text rasteriser.
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import re
from collections.abc import Callable

import pytest

from label_printer import LabelContent, LabelLayout, render_escpos, render_tspl, render_zpl
from label_printer import job as job_module
from label_printer.job import TextRaster
from label_printer.render_escpos import raster
from label_printer.render_zpl import graphic_field
from tests.unit.label_printer.emulators import Page, run_escpos, run_tspl, run_zpl
from tests.unit.label_printer.qr_decode import decode

GOLDEN = pathlib.Path(__file__).parent / "golden"
UPDATE = os.environ.get("OCOP_UPDATE_GOLDEN") == "1"
UNIT_URL = "https://ocop.vn/01/08930000000017/10/KC-NM-261122-01/21/{:06d}"
SAMPLE = LabelContent(
    product_name="Gạo Ngọc Mầm",
    producer="Công ty TNHH MTV KC — Thạch Đài, Thạch Hà, Hà Tĩnh",
    ocop_stars=4,
    lot="KC-NM-261122-01",
    production_date=datetime.date(2022, 11, 26),
    expiry_date=datetime.date(2023, 11, 26),
    url=UNIT_URL.format(1),
    extra_lines=("Khối lượng tịnh: 5 kg",),
)
# Three unit labels with their own serials, then the last one again (printed as 2 copies).
JOB = [dataclasses.replace(SAMPLE, url=UNIT_URL.format(n)) for n in (1, 2, 3, 3)]
RECEIPT = LabelLayout(width_mm=48, height_mm=45, dpi=203)  # 58 mm paper: 384 dots printable

Renderer = Callable[[list[LabelContent]], bytes]
RENDERERS: dict[str, Renderer] = {
    "zpl": lambda c: render_zpl(c),
    "tspl": lambda c: render_tspl(c),
    "escpos": lambda c: render_escpos(c, RECEIPT),
}


def emulate(fmt: str, data: bytes) -> list[Page]:
    if fmt == "zpl":
        return run_zpl(data)
    if fmt == "tspl":
        return run_tspl(data)
    return run_escpos(data, RECEIPT.width_px)


def check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
    assert path.exists(), f"missing golden {name}: run with OCOP_UPDATE_GOLDEN=1 and review it"
    assert data == path.read_bytes(), f"{name} changed; if intended, regenerate and review"


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
@pytest.mark.parametrize("kind", ["label", "job"])
def test_golden_bytes(fmt: str, kind: str) -> None:
    contents = [SAMPLE] if kind == "label" else JOB
    check_golden(f"{kind}.{fmt}", RENDERERS[fmt](contents))


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_every_label_scans_to_its_url(fmt: str) -> None:
    pages = emulate(fmt, RENDERERS[fmt](JOB))
    if fmt == "escpos":  # receipt printers have no copies: the repeated label prints twice
        assert [p.qr_urls[0] for p in pages] == [c.url for c in JOB]
    else:
        assert [(p.qr_urls, p.copies) for p in pages] == [
            ([UNIT_URL.format(1)], 1),
            ([UNIT_URL.format(2)], 1),
            ([UNIT_URL.format(3)], 2),
        ]
    for page in pages:
        assert decode(page.image) == page.qr_urls[0]
        ink = page.image.point(lambda v: 255 * (v < 128)).getbbox()
        assert ink is not None


def test_golden_zpl_is_well_formed() -> None:
    text = (GOLDEN / "job.zpl").read_text("ascii")
    formats = re.findall(r"\^XA\n(.*?)\^XZ\n", text, re.S)
    assert len(formats) == 3 and text.count("^XA") == 3
    graphics = re.findall(r"\^GFA,(\d+),(\d+),(\d+),", text)
    assert len(set(graphics)) == 1, "one text raster shared by the whole job"
    total, count, per_row = map(int, graphics[0])
    assert total == count and total % per_row == 0
    assert re.findall(r"\^BQN,2,(\d+),M", text) == ["8"] * 3  # 8 dots per module at 203 dpi
    assert "^PQ2" in formats[2] and "^PQ" not in formats[0] + formats[1]


def test_golden_tspl_is_well_formed() -> None:
    data = (GOLDEN / "job.tspl").read_bytes()
    assert data.startswith(b"SIZE 60 mm,40 mm\r\nGAP 2 mm,0 mm\r\nCLS\r\nBITMAP ")
    assert data.count(b"CLS\r\n") == 3
    assert re.findall(rb"PRINT (\d+)\r\n", data) == [b"1", b"1", b"2"]
    assert data.count(b',M,8,A,0,"' + UNIT_URL.format(3).encode() + b'"\r\n') == 1


def test_golden_escpos_is_well_formed() -> None:
    data = (GOLDEN / "label.escpos").read_bytes()
    url = UNIT_URL.format(1).encode()
    store = b"\x1d(k" + (len(url) + 3).to_bytes(2, "little") + b"1P0" + url
    assert data.startswith(b"\x1b@\x1ba\x01\x1d(k\x04\x001A2\x00\x1d(k\x03\x001C")
    assert store + b"\x1d(k\x03\x001Q0" in data
    assert data.endswith(b"\x1dVB\x00") and data.count(b"\x1dv0\x00") == 1


def test_text_raster_is_rendered_once_per_job(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = job_module.rasterise_lines

    def counting(*args: object, **kwargs: object) -> TextRaster:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(job_module, "rasterise_lines", counting)
    job_module.clear_caches()
    many = [dataclasses.replace(SAMPLE, url=UNIT_URL.format(n)) for n in range(200)]
    other = dataclasses.replace(SAMPLE, product_name="Mật ong hoa nhãn")
    render_zpl([*many, other])
    assert len(calls) == 2  # one per distinct text, not one per label
    job_module.clear_caches()


def test_zpl_escapes_field_characters_and_refuses_non_ascii() -> None:
    tilde = dataclasses.replace(SAMPLE, url="https://ocop.vn/~kc/l/A_1")
    zpl = render_zpl(tilde).decode("ascii")
    assert "^FH^FDMA,https://ocop.vn/_7Ekc/l/A_5F1^FS" in zpl
    assert run_zpl(zpl.encode())[0].qr_urls == [tilde.url]
    for render in (render_zpl, render_tspl, render_escpos):
        with pytest.raises(ValueError, match="ASCII"):
            render(dataclasses.replace(SAMPLE, url="https://ocop.vn/gạo"))


@pytest.mark.parametrize("render", [render_zpl, render_tspl, render_escpos])
def test_refuses_urls_that_would_not_scan(render: Callable[..., bytes]) -> None:
    long_url = "https://ocop.vn/01/08930000000017/10/KC-NM-261122-01/21/" + "9" * 120
    with pytest.raises(ValueError, match="too long for a label QR code"):
        render(dataclasses.replace(SAMPLE, url=long_url))
    with pytest.raises(ValueError, match="too small for the QR code"):
        render(SAMPLE, LabelLayout(width_mm=20, height_mm=12, dpi=203))
    with pytest.raises(ValueError, match="at least one label"):
        render([])


def test_tspl_gap_and_size() -> None:
    tspl = render_tspl(SAMPLE, LabelLayout(50.5, 30, 203), gap_mm=3)
    assert tspl.startswith(b"SIZE 50.5 mm,30 mm\r\nGAP 3 mm,0 mm\r\n")
    with pytest.raises(ValueError, match="gap_mm"):
        render_tspl(SAMPLE, gap_mm=-1)


def test_raster_helpers() -> None:
    tall = TextRaster(0, 0, 2, 300, bytes(range(256)) * 2 + bytes(88))
    data = raster(tall)
    assert data.startswith(b"\x1dv0\x00\x02\x00\x00\x01")  # 2 bytes across, 256 rows
    second = 8 + 2 * 256
    assert data[second : second + 8] == b"\x1dv0\x00\x02\x00\x2c\x00"  # then 44 rows
    field = graphic_field(TextRaster(0, 0, 3, 3, bytes([0xF0, 0, 0, 0, 0, 0, 1, 2, 3])))
    assert field == "^GFA,9,9,3,F0,,010203"
