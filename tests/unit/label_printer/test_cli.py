"""`ocop label render`: JSON in, file out; bad input gives exit code 2 and a clear message."""

from __future__ import annotations

import argparse
import json
import pathlib
import re
from typing import Any

import cv2
import numpy as np
import pytest

from label_printer.cli import register
from tests.unit.label_printer.qr_decode import decode

URL = "http://127.0.0.1:8000/01/08930000000017/10/KC-NM-261122-01"
CONTENT: dict[str, Any] = {
    "product_name": "Gạo Ngọc Mầm",
    "producer": "Công ty TNHH MTV KC — Thạch Đài, Thạch Hà, Hà Tĩnh",
    "ocop_stars": 4,
    "lot": "KC-NM-261122-01",
    "production_date": "2022-11-26",
    "expiry_date": "2023-11-26",
    "url": URL,
    "extra_lines": ["Khối lượng tịnh: 5 kg"],
}


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ocop label")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def write_json(path: pathlib.Path, data: object) -> pathlib.Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def test_render_png_writes_file_and_prints_path(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = write_json(tmp_path / "label.json", CONTENT)
    out = tmp_path / "out"
    assert run(["render", "--content", str(content), "--format", "png", "--out", str(out)]) == 0
    (written,) = out.iterdir()
    assert capsys.readouterr().out.strip() == str(written)
    assert written.suffix == ".png" and "KC-NM-261122-01" in written.name
    image = cv2.imdecode(np.frombuffer(written.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    assert image.shape == (round(40 / 25.4 * 300), round(60 / 25.4 * 300))
    assert decode(image) == URL


def test_render_pdf_with_copies_and_size(tmp_path: pathlib.Path) -> None:
    content = write_json(tmp_path / "label.json", {**CONTENT, "expiry_date": None})
    argv = [
        "render",
        "--content",
        str(content),
        "--format",
        "pdf",
        "--out",
        str(tmp_path / "o"),
        "--copies",
        "3",
        "--width-mm",
        "50",
        "--height-mm",
        "30",
        "--dpi",
        "203",
    ]
    assert run(argv) == 0
    (written,) = (tmp_path / "o").iterdir()
    pdf = written.read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) == 3
    box = re.search(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)", pdf)
    assert box is not None
    assert float(box[1]) == pytest.approx(50 * 72 / 25.4, abs=0.01)
    assert float(box[2]) == pytest.approx(30 * 72 / 25.4, abs=0.01)


def _expect_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as caught:
        run(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("{not json", "not valid JSON"),
        (
            json.dumps({k: v for k, v in CONTENT.items() if k != "lot"}),
            "missing required field(s): lot",
        ),
        (json.dumps({**CONTENT, "production_date": "26/11/2022"}), "production_date"),
        (json.dumps({**CONTENT, "ocop_stars": 7}), "ocop_stars"),
        (json.dumps({**CONTENT, "colour": "red"}), "unknown field(s): colour"),
        (json.dumps([1, 2]), "JSON object"),
    ],
)
def test_bad_content_exits_2_with_message(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], payload: str, message: str
) -> None:
    content = tmp_path / "bad.json"
    content.write_text(payload, encoding="utf-8")
    argv = ["render", "--content", str(content), "--format", "png", "--out", str(tmp_path / "o")]
    assert message in _expect_usage_error(argv, capsys)
    assert not (tmp_path / "o").exists()


def test_missing_content_file_and_bad_options(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = ["render", "--content", str(tmp_path / "nope.json"), "--out", str(tmp_path)]
    assert "not found" in _expect_usage_error(missing, capsys)
    content = str(write_json(tmp_path / "ok.json", CONTENT))
    png_copies = ["render", "--content", content, "--out", str(tmp_path), "--copies", "2"]
    assert "--copies" in _expect_usage_error(png_copies, capsys)
    tiny = [
        "render",
        "--content",
        content,
        "--out",
        str(tmp_path),
        "--width-mm",
        "8",
        "--height-mm",
        "6",
        "--dpi",
        "72",
    ]
    assert "too small" in _expect_usage_error(tiny, capsys)


def test_zpl_with_unit_urls_and_copies(tmp_path: pathlib.Path) -> None:
    content = write_json(tmp_path / "label.json", CONTENT)
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(f"https://ocop.vn/l/KC-NM-261122-01/21/{n}" for n in range(5)) + "\n")
    argv = ["render", "--content", str(content), "--format", "zpl", "--out", str(tmp_path / "o")]
    assert run([*argv, "--urls", str(urls), "--copies", "2"]) == 0
    (written,) = (tmp_path / "o").iterdir()
    assert written.name == "label-KC-NM-261122-01.zpl"
    zpl = written.read_text("ascii")
    assert zpl.count("^XA") == 5 and zpl.count("^PQ2") == 5
    assert "^PW480" in zpl and "^LL320" in zpl  # 60 x 40 mm at 203 dpi by default


@pytest.mark.parametrize(
    ("fmt", "extra", "suffix", "start"),
    [
        ("tspl", ["--gap-mm", "3"], ".tspl", b"SIZE 60 mm,40 mm\r\nGAP 3 mm,0 mm\r\n"),
        ("escpos", ["--width-mm", "72"], ".escpos", b"\x1b@"),
        ("pdf-sheet", ["--columns", "2", "--rows", "4", "--page", "A4"], "-sheet.pdf", b"%PDF"),
    ],
)
def test_other_formats(
    tmp_path: pathlib.Path, fmt: str, extra: list[str], suffix: str, start: bytes
) -> None:
    content = write_json(tmp_path / "label.json", CONTENT)
    argv = ["render", "--content", str(content), "--format", fmt, "--out", str(tmp_path / "o")]
    assert run(argv + extra) == 0
    (written,) = (tmp_path / "o").iterdir()
    assert written.name == f"label-KC-NM-261122-01{suffix}"
    assert written.read_bytes().startswith(start)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--format", "png", "--copies", "3"], "--copies"),
        (["--format", "pdf", "--urls", "u.txt"], "--urls needs"),
        (["--format", "zpl", "--columns", "2"], "--columns only apply to --format pdf-sheet"),
        (["--format", "zpl", "--gap-mm", "1"], "--gap-mm only applies"),
        (["--format", "zpl", "--copies", "0"], "--copies must be between"),
        (["--format", "pdf-sheet", "--rows", "30"], "more than the A4 page"),
        (["--format", "zpl", "--urls", "missing.txt"], "cannot read URL file"),
    ],
)
def test_option_errors(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    content = write_json(tmp_path / "label.json", CONTENT)
    argv = ["render", "--content", str(content), "--out", str(tmp_path / "o"), *extra]
    assert message in _expect_usage_error(argv, capsys)
    assert not (tmp_path / "o").exists()


def test_url_too_long_for_a_scannable_qr(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = write_json(tmp_path / "label.json", {**CONTENT, "url": URL + "/21/" + "9" * 120})
    argv = ["render", "--content", str(content), "--format", "tspl", "--out", str(tmp_path)]
    assert "too long for a label QR code" in _expect_usage_error(argv, capsys)
