"""Bundled fonts cover Vietnamese; wrapping and ellipsising keep text inside a width."""

from __future__ import annotations

import struct
import unicodedata
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from label_printer import typeface
from label_printer.typeface import ELLIPSIS, ellipsize, load_font, measure, wrap_text

VIETNAMESE_SAMPLE = "Mật ong Cường Nga, Nhung hươu Hương Sơn, Nước mắm, ỗ ữ ặ ệ ỵ Đ đ"
# Every precomposed Vietnamese letter (lower and upper case), built from base letters + tones.
_BASES = "aăâeêioôơuưy"
_TONES = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")
ALL_VIETNAMESE_LETTERS = (
    "".join(unicodedata.normalize("NFC", base + tone) for base in _BASES for tone in _TONES)
    + "đbcdghklmnpqrstvx"
)
ALL_VIETNAMESE_LETTERS += ALL_VIETNAMESE_LETTERS.upper()


def cmap_codepoints(font_path: Path) -> set[int]:
    """Code points mapped to a real glyph by the font's Unicode BMP cmap (format 4)."""
    data = font_path.read_bytes()
    num_tables = struct.unpack_from(">H", data, 4)[0]
    tables = {
        data[12 + 16 * i : 16 + 16 * i]: struct.unpack_from(">I", data, 20 + 16 * i)[0]
        for i in range(num_tables)
    }
    cmap = tables[b"cmap"]
    count = struct.unpack_from(">H", data, cmap + 2)[0]
    for i in range(count):
        platform, encoding, offset = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        sub = cmap + offset
        if (platform, encoding) == (3, 1) and struct.unpack_from(">H", data, sub)[0] == 4:
            break
    else:
        pytest.fail("font has no Windows Unicode BMP (format 4) cmap")
    seg_count = struct.unpack_from(">H", data, sub + 6)[0] // 2
    ends_at, starts_at = sub + 14, sub + 16 + 2 * seg_count
    deltas_at, ranges_at = starts_at + 2 * seg_count, starts_at + 4 * seg_count
    mapped: set[int] = set()
    for seg in range(seg_count):
        end, start = (
            struct.unpack_from(">H", data, at + 2 * seg)[0] for at in (ends_at, starts_at)
        )
        delta = struct.unpack_from(">h", data, deltas_at + 2 * seg)[0]
        range_offset = struct.unpack_from(">H", data, ranges_at + 2 * seg)[0]
        for code in range(start, end + 1):
            if range_offset == 0:
                glyph = (code + delta) & 0xFFFF
            else:
                at = ranges_at + 2 * seg + range_offset + 2 * (code - start)
                raw = struct.unpack_from(">H", data, at)[0]
                glyph = (raw + delta) & 0xFFFF if raw else 0
            if glyph:
                mapped.add(code)
    return mapped


@pytest.mark.parametrize("path", [typeface.REGULAR_FONT, typeface.BOLD_FONT])
def test_bundled_fonts_map_every_vietnamese_character(path: Path) -> None:
    assert path.is_file() and path.parent.parent == Path(typeface.__file__).resolve().parent
    covered = cmap_codepoints(path)
    assert ord("A") in covered and ord("中") not in covered  # the parser discriminates
    needed = set(VIETNAMESE_SAMPLE + ALL_VIETNAMESE_LETTERS + "★☆…—") - {" "}
    missing = sorted(ch for ch in needed if ord(ch) not in covered)
    assert not missing, f"{path.name} lacks glyphs for {missing}"


def _raster(text: str, bold: bool = False) -> bytes:
    font = load_font(48, bold)
    image = Image.new("L", (120, 120), 255)
    ImageDraw.Draw(image).text((20, 20), text, font=font, fill=0)
    return image.tobytes()


@pytest.mark.parametrize("bold", [False, True])
def test_pillow_draws_real_glyphs_not_the_missing_glyph_box(bold: bool) -> None:
    missing_box = _raster("\U0010fffd", bold)  # private-use code point: no glyph in DejaVu
    assert _raster("ộ", bold) != _raster("o", bold)
    for char in set(VIETNAMESE_SAMPLE) - {" "}:
        assert _raster(char, bold) != missing_box, f"{char!r} renders as the missing glyph"


def test_fonts_are_loaded_from_the_package_not_the_system() -> None:
    font = load_font(20)
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert Path(str(font.path)).resolve() == typeface.REGULAR_FONT
    assert Path(str(load_font(20, bold=True).path)).resolve() == typeface.BOLD_FONT


@pytest.mark.parametrize("width", [40, 90, 200])
@pytest.mark.parametrize("max_lines", [1, 2, 3])
def test_wrap_text_respects_width_and_line_count(width: int, max_lines: int) -> None:
    font = load_font(18)
    text = "Công ty TNHH MTV KC — Thạch Đài, Thạch Hà, Hà Tĩnh KC-NM-261122-01-ABCDEFGHIJ"
    lines = wrap_text(font, text, width, max_lines)
    assert 1 <= len(lines) <= max_lines
    assert all(measure(font, line).width <= width for line in lines)
    if not lines[-1].endswith(ELLIPSIS):
        assert "".join(lines).replace(" ", "") == text.replace(" ", "")


def test_wrap_keeps_whole_words_when_they_fit() -> None:
    font = load_font(18)
    lines = wrap_text(font, "Mật ong Cường Nga", measure(font, "Mật ong Cường").width, 2)
    assert lines == ("Mật ong Cường", "Nga")


def test_wrap_normalises_decomposed_text_and_whitespace() -> None:
    decomposed = unicodedata.normalize("NFD", "Nhung  hươu\nHương Sơn")
    assert wrap_text(load_font(18), decomposed, 1000, 1) == ("Nhung hươu Hương Sơn",)


def test_ellipsize() -> None:
    font = load_font(18)
    text = "Nhung hươu Hương Sơn"
    assert ellipsize(font, text, 10_000) == text
    short = ellipsize(font, text, measure(font, "Nhung hươu").width + 5)
    assert short.endswith(ELLIPSIS) and text.startswith(short[:-1].rstrip())
    assert measure(font, short).width <= measure(font, "Nhung hươu").width + 5
    assert ellipsize(font, text, 1) == ""


def test_measure_includes_stacked_accents() -> None:
    font = load_font(40)
    ascent, descent = font.getmetrics()
    extent = measure(font, "ỄỖẪ")
    left, top, right, bottom = font.getbbox("ỄỖẪ", anchor="la")
    assert extent.height >= max(bottom, ascent + descent) - min(top, 0)
    assert extent.width >= right - min(left, 0)
