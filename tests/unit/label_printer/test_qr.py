"""The fast QR encoder matches the qrcode package bit for bit; qr_fits draws the line right."""

from __future__ import annotations

import random
import string

import pytest
import qrcode
import qrcode.util
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from label_printer import qr_fits
from label_printer.qr import QrSymbol, _penalty, _template, encode
from label_printer.qr_data import qr_version
from label_printer.qr_fit import check_qr
from tests.unit.label_printer.qr_decode import decode

URL_CHARS = string.ascii_letters + string.digits + "/:.-_~?=&%"


def reference(url: str, mask: int) -> tuple[int, tuple[tuple[bool, ...], ...]]:
    """Version and modules from the qrcode package: one segment, the same mask."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=mask)
    code.add_data(url, optimize=0)
    code.make(fit=True)
    return code.version, tuple(tuple(bool(m) for m in row) for row in code.get_matrix())


def sample_urls(count: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    lengths = [1, 7, 17, 30, 45, 62, 63, 80, 106, 122, 152, 153, 200, 300]
    urls = [
        "".join(rnd.choice(URL_CHARS) for _ in range(rnd.choice(lengths))) for _ in range(count)
    ]
    return [*urls, "0123456789" * 5, "HTTPS://X.VN/01/08930000000017/10/L1", "7"]


@pytest.mark.parametrize("url", sample_urls(120, seed=5))
def test_matrix_equals_qrcode_package_for_the_same_mask(url: str) -> None:
    mask = sum(map(ord, url)) % 8
    version, matrix = reference(url, mask)
    symbol = encode(url, mask)
    assert symbol.version == version
    assert symbol.matrix() == matrix


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=URL_CHARS + "ạ", min_size=1, max_size=250), st.integers(0, 7))
def test_matrix_equals_qrcode_package_property(url: str, mask: int) -> None:
    version, matrix = reference(url, mask)
    assert encode(url, mask).matrix() == matrix and encode(url, mask).version == version


@pytest.mark.parametrize("url", sample_urls(15, seed=9))
def test_mask_penalty_equals_qrcode_lost_point(url: str) -> None:
    for mask in range(8):
        symbol = encode(url, mask)
        expected = qrcode.util.lost_point([list(row) for row in symbol.matrix()])
        assert _penalty(symbol.bits, _template(symbol.version)) == expected


def test_chosen_mask_has_the_lowest_penalty() -> None:
    url = "https://ocop.vn/01/08930000000017/10/KC-NM-261122-01/21/000123"
    symbol = encode(url)
    penalties = [_penalty(encode(url, k).bits, _template(symbol.version)) for k in range(8)]
    assert penalties[symbol.mask] == min(penalties)
    assert penalties.index(min(penalties)) == symbol.mask


def image(symbol: QrSymbol, module: int = 6) -> Image.Image:
    side = symbol.size + 8
    cells = bytearray(b"\xff" * side * side)
    for r, row in enumerate(symbol.matrix()):
        for c, dark in enumerate(row):
            if dark:
                cells[(r + 4) * side + c + 4] = 0
    modules = Image.frombytes("L", (side, side), bytes(cells))
    return modules.resize((side * module, side * module), Image.Resampling.NEAREST)


@pytest.mark.parametrize("url", [*sample_urls(10, seed=11), "https://ocop.vn/l/KC-NM-261122-01"])
def test_symbols_decode(url: str) -> None:
    assert decode(image(encode(url))) == url


def test_packed_rows_match_rows() -> None:
    symbol = encode("https://ocop.vn/l/ABC")
    packed = symbol.packed_rows()
    row_bytes = symbol.stride // 8
    for r, row in enumerate(symbol.rows()):
        bits = "".join(f"{b:08b}" for b in packed[r * row_bytes : (r + 1) * row_bytes])
        assert bits[: symbol.size].encode() == row and set(bits[symbol.size :]) <= {"0"}


@pytest.mark.parametrize("url", sample_urls(40, seed=3))
def test_version_equals_qrcode_best_fit(url: str) -> None:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
    code.add_data(url, optimize=0)
    code.make(fit=True)
    assert qr_version(url.encode()) == code.version


# Version 8 at M holds 152 bytes, version 9 holds 180 (ISO 18004 table 7): byte-mode URLs.
def url_of(length: int) -> str:
    head = "https://ocop.vn/01/08930000000017/21/"
    return head + "a" * (length - len(head))


def test_qr_fits_at_the_issue_reference_size() -> None:
    assert qr_fits(url_of(152))[:2] == (True, 8)
    assert qr_fits(url_of(152))[2] == pytest.approx(199 / 53)
    fits, version, per_module = qr_fits(url_of(153))
    assert (fits, version) == (False, 9)
    assert per_module == pytest.approx(199 / 57)  # enough dots, but the version is too high
    assert qr_fits(url_of(62))[:2] == (True, 4)


def test_qr_fits_dot_boundary() -> None:
    # Version 8 with its quiet zone is 53 modules: 159 dots give 3 per module, 158 do not.
    side_for = {dots: dots * 25.4 / 203 for dots in (158, 159)}
    assert qr_fits(url_of(152), side_for[159], 203) == (True, 8, 3.0)
    fits, version, per_module = qr_fits(url_of(152), side_for[158], 203)
    assert (fits, version) == (False, 8) and per_module < 3
    short = "https://ocop.vn/l/A1"  # 20 bytes: version 2, 29 modules, needs 87 dots
    assert qr_fits(short, 87 * 25.4 / 203, 203) == (True, 2, 3.0)
    assert qr_fits(short, 86 * 25.4 / 203, 203)[0] is False


def test_qr_fits_rejects_nonsense_and_overlong() -> None:
    assert qr_fits("x" * 3000) == (False, 0, 0.0)
    with pytest.raises(ValueError):
        qr_fits("https://ocop.vn", side_mm=0)


def test_check_qr_messages() -> None:
    with pytest.raises(ValueError, match=r"too long for a label QR code.*version 9"):
        check_qr(url_of(153), 400, 203)
    with pytest.raises(ValueError, match="label too small for the QR code"):
        check_qr(url_of(62), 100, 203)
    assert check_qr(url_of(62), 200, 203) == (4, 5)
