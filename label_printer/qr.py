"""Draw QR symbols (ISO/IEC 18004 §7.7-7.9) fast enough for jobs of thousands of unit labels.

Per version, everything that does not depend on the data (function patterns, the order
codeword bits fill the modules, the eight mask patterns) is computed once and cached. A
symbol is then one Python integer with a bit per module, and the masks are scored with
whole-symbol bit operations instead of module-by-module loops: about 30x faster than the
``qrcode`` package's ``make``, whose matrices it reproduces bit for bit for a given mask
(tests/unit/label_printer/test_qr.py). Alignment positions come from ``qrcode``'s table.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qrcode.util import PATTERN_POSITION_TABLE

from label_printer.qr_data import EC_LEVEL_BITS_M, codewords, qr_version


def _bch(value: int, generator: int, degree: int) -> int:
    remainder = value << degree
    while remainder.bit_length() > degree:
        remainder ^= generator << (remainder.bit_length() - generator.bit_length())
    return (value << degree) | remainder


_MASKS: tuple[Callable[[int, int], bool], ...] = (
    lambda i, j: (i + j) % 2 == 0,
    lambda i, j: i % 2 == 0,
    lambda i, j: j % 3 == 0,
    lambda i, j: (i + j) % 3 == 0,
    lambda i, j: (i // 2 + j // 3) % 2 == 0,
    lambda i, j: (i * j) % 2 + (i * j) % 3 == 0,
    lambda i, j: ((i * j) % 2 + (i * j) % 3) % 2 == 0,
    lambda i, j: ((i + j) % 2 + (i * j) % 3) % 2 == 0,
)
_BITS_AS_DIGITS = bytes.maketrans(b"\x00\x01", b"01")
_BYTE_BITS = tuple(bytes((b >> (7 - k)) & 1 for k in range(8)) for b in range(256))


@dataclass(frozen=True)
class _Template:
    """Everything about one version that does not depend on the data.

    Module (row, col) is bit ``total - 1 - (row * stride + col)`` of an int, so the int's
    big-endian bytes are the rows, left to right; ``stride`` > size leaves a light column
    between rows so that shifts by one never join the end of a row to the next one.
    """

    size: int
    stride: int
    function: int  # dark function modules except format information
    formats: tuple[int, ...]  # format information modules for each mask
    masks: tuple[int, ...]  # data modules each mask flips
    gather: Callable[[bytes], tuple[int, ...]]  # placed bits -> every cell, row by row
    placed: int  # number of modules codeword (and remainder) bits fill
    pair_h: int  # cells whose right neighbour is in the symbol
    pair_v: int  # cells whose lower neighbour is in the symbol
    inside: int


def _function_modules(version: int, size: int) -> dict[tuple[int, int], bool]:
    cells: dict[tuple[int, int], bool] = {}
    for top, left in ((0, 0), (size - 7, 0), (0, size - 7)):
        for r in range(-1, 8):
            for c in range(-1, 8):
                if 0 <= top + r < size and 0 <= left + c < size:
                    ring = max(abs(r - 3), abs(c - 3))
                    cells[(top + r, left + c)] = ring in (0, 1, 3)
    centres = PATTERN_POSITION_TABLE[version - 1]
    for row in centres:
        for col in centres:
            if (row, col) not in cells:
                for r in range(-2, 3):
                    for c in range(-2, 3):
                        cells[(row + r, col + c)] = max(abs(r), abs(c)) != 1
    for i in range(8, size - 8):  # timing patterns, after the alignment patterns they cross
        cells.setdefault((6, i), i % 2 == 0)
        cells.setdefault((i, 6), i % 2 == 0)
    for i in range(9):  # format information areas, filled per mask later
        cells.setdefault((8, i), False)
        cells.setdefault((i, 8), False)
    for i in range(8):
        cells[(8, size - 1 - i)] = cells[(size - 1 - i, 8)] = False
    cells[(size - 8, 8)] = True  # the dark module
    if version >= 7:
        bits = _bch(version, 0x1F25, 12)
        for i in range(18):
            dark = bool((bits >> i) & 1)
            cells[(i // 3, i % 3 + size - 11)] = cells[(i % 3 + size - 11, i // 3)] = dark
    return cells


def _format_cells(size: int, mask: int) -> list[tuple[int, int]]:
    bits = _bch((EC_LEVEL_BITS_M << 3) | mask, 0x537, 10) ^ 0x5412
    dark: list[tuple[int, int]] = []
    for i in range(15):
        if (bits >> i) & 1:
            dark.append((i if i < 6 else i + 1 if i < 8 else size - 15 + i, 8))
            dark.append((8, size - 1 - i if i < 8 else 15 - i if i < 9 else 14 - i))
    return dark


def _placement(size: int, taken: dict[tuple[int, int], bool]) -> list[tuple[int, int]]:
    """Free modules in the order codeword bits fill them (two-column zigzag, ISO 18004 §7.7.3)."""
    order: list[tuple[int, int]] = []
    upward = True
    col = size - 1
    while col > 0:
        if col == 6:
            col -= 1
        rows = range(size - 1, -1, -1) if upward else range(size)
        for row in rows:
            for c in (col, col - 1):
                if (row, c) not in taken:
                    order.append((row, c))
        upward = not upward
        col -= 2
    return order


@functools.cache
def _template(version: int) -> _Template:
    size = 17 + 4 * version
    stride = (size // 8 + 1) * 8
    total = size * stride

    def bits(cells: Iterable[tuple[int, int]]) -> int:
        value = 0
        for row, col in cells:
            value |= 1 << (total - 1 - (row * stride + col))
        return value

    taken = _function_modules(version, size)
    order = _placement(size, taken)
    blank = len(order)  # index of a light cell in the gathered bit string
    source = [blank] * total
    for index, (row, col) in enumerate(order):
        source[row * stride + col] = index
    everything = [(r, c) for r in range(size) for c in range(size)]
    return _Template(
        size=size,
        stride=stride,
        function=bits(cell for cell, dark in taken.items() if dark),
        formats=tuple(bits(_format_cells(size, mask)) for mask in range(8)),
        masks=tuple(bits(cell for cell in order if fn(*cell)) for fn in _MASKS),
        gather=operator.itemgetter(*source),
        placed=blank,
        pair_h=bits((r, c) for r, c in everything if c < size - 1),
        pair_v=bits((r, c) for r, c in everything if r < size - 1),
        inside=bits(everything),
    )


def _penalty(m: int, t: _Template) -> int:
    """ISO 18004 §7.8.3 mask penalty (N1 runs, N2 blocks, N3 finder-like, N4 balance)."""
    s = t.stride
    light = ~m & t.inside
    score = 0
    eq_h = ~(m ^ (m << 1)) & t.pair_h  # module equals its right neighbour
    eq_v = ~(m ^ (m << s)) & t.pair_v  # module equals the one below
    for eq, step in ((eq_h, 1), (eq_v, s)):
        runs = eq & (eq << step) & (eq << 2 * step) & (eq << 3 * step)  # 5 equal from here
        score += runs.bit_count() + 2 * (runs & ~(runs >> step)).bit_count()
        core = m & (light << step) & (m << 2 * step) & (m << 3 * step) & (m << 4 * step)
        core &= (light << 5 * step) & (m << 6 * step)  # 1011101 starts here
        four = light & (light << step) & (light << 2 * step) & (light << 3 * step)
        finder_like = (core & (four << 7 * step)) | 0
        score += 40 * (finder_like.bit_count() + (four & (core << 4 * step)).bit_count())
    score += 3 * (eq_h & eq_v & (eq_h << s)).bit_count()
    modules = t.size * t.size
    score += 10 * (abs(m.bit_count() * 100 - modules * 50) // (modules * 5))
    return score


@dataclass(frozen=True)
class QrSymbol:
    """An encoded QR code without quiet zone: ``size`` x ``size`` modules, dark bits set."""

    version: int
    mask: int
    size: int
    stride: int
    bits: int

    def rows(self) -> list[bytes]:
        """Each row as ``b"0"``/``b"1"`` characters (``1`` = dark), top to bottom."""
        text = format(self.bits, f"0{self.size * self.stride}b").encode()
        s = self.stride
        return [text[r * s : r * s + self.size] for r in range(self.size)]

    def packed_rows(self) -> bytes:
        """Rows of ``stride`` bits, most significant bit first, 1 = dark (for 1-bit images)."""
        return self.bits.to_bytes(self.size * self.stride // 8, "big")

    def matrix(self) -> tuple[tuple[bool, ...], ...]:
        return tuple(tuple(ch == 0x31 for ch in row) for row in self.rows())


def encode(url: str, mask: int | None = None) -> QrSymbol:
    """Encode ``url`` (UTF-8) at error correction M; the mask is chosen per ISO 18004 §7.8.3."""
    data = url.encode("utf-8")
    version = qr_version(data)
    t = _template(version)
    codeword_bits = b"".join(_BYTE_BITS[b] for b in codewords(data, version))
    codeword_bits = codeword_bits.ljust(t.placed + 1, b"\x00")  # remainder bits, light cell
    cells = bytes(t.gather(codeword_bits)).translate(_BITS_AS_DIGITS)
    placed = int(cells, 2)
    choices = range(8) if mask is None else (mask,)
    scored = []
    for k in choices:
        symbol_bits = t.function | t.formats[k] | (placed ^ t.masks[k])
        scored.append((_penalty(symbol_bits, t) if mask is None else 0, k, symbol_bits))
    _score, best, symbol_bits = min(scored)
    return QrSymbol(version, best, t.size, t.stride, symbol_bits)
