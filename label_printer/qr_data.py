"""Turn QR data into codewords: mode, version, bit stream, Reed-Solomon (ISO 18004 §7.4-7.6).

One segment in the densest single mode the data allows (numeric, alphanumeric, else bytes),
at error correction M, so :func:`qr_version` is exactly the version :mod:`label_printer.qr`
draws. The block layout comes from the ``qrcode`` package's tables.
"""

from __future__ import annotations

import functools
import re

from qrcode.base import rs_blocks
from qrcode.constants import ERROR_CORRECT_M

_NUMERIC = re.compile(rb"[0-9]*\Z")
_ALPHANUMERIC = re.compile(rb"[0-9A-Z $%*+\-./:]*\Z")
_ALNUM_VALUE = {c: i for i, c in enumerate(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")}
_COUNT_BITS = {1: (10, 12, 14), 2: (9, 11, 13), 4: (8, 16, 16)}  # mode -> by version range
EC_LEVEL_BITS_M = 0b00  # format information bits for error correction M
MAX_VERSION = 40

_EXP = [0] * 512
_LOG = [0] * 256
_value = 1
for _i in range(255):
    _EXP[_i] = _EXP[_i + 255] = _value
    _LOG[_value] = _i
    _value <<= 1
    if _value & 0x100:
        _value ^= 0x11D


def _mode(data: bytes) -> int:
    if _NUMERIC.match(data):
        return 1
    return 2 if _ALPHANUMERIC.match(data) else 4


def _payload_bits(mode: int, length: int) -> int:
    if mode == 1:
        return 10 * (length // 3) + (0, 4, 7)[length % 3]
    if mode == 2:
        return 11 * (length // 2) + 6 * (length % 2)
    return 8 * length


@functools.cache
def _data_capacity_bits(version: int) -> int:
    return sum(block.data_count * 8 for block in rs_blocks(version, ERROR_CORRECT_M))


def _count_bits(mode: int, version: int) -> int:
    return _COUNT_BITS[mode][0 if version < 10 else 1 if version < 27 else 2]


def qr_version(data: bytes) -> int:
    """Smallest QR version (1-40) holding ``data`` at error correction M; ValueError if none."""
    mode = _mode(data)
    payload = _payload_bits(mode, len(data))
    for version in range(1, MAX_VERSION + 1):
        if 4 + _count_bits(mode, version) + payload <= _data_capacity_bits(version):
            return version
    raise ValueError(f"data is too long for any QR code ({len(data)} bytes)")


def _segment(data: bytes, mode: int, version: int) -> tuple[int, int]:
    """The data bit stream as (value, bit length), before terminator and padding."""
    value, length = mode, 4
    value = (value << _count_bits(mode, version)) | len(data)
    length += _count_bits(mode, version)
    if mode == 4:
        return (value << 8 * len(data)) | int.from_bytes(data, "big"), length + 8 * len(data)
    step = 3 if mode == 1 else 2
    for start in range(0, len(data), step):
        chunk = data[start : start + step]
        if mode == 1:
            value = (value << (1 + 3 * len(chunk))) | int(chunk)
            length += 1 + 3 * len(chunk)
        elif len(chunk) == 2:
            value = (value << 11) | (_ALNUM_VALUE[chunk[0]] * 45 + _ALNUM_VALUE[chunk[1]])
            length += 11
        else:
            value, length = (value << 6) | _ALNUM_VALUE[chunk[0]], length + 6
    return value, length


def _data_codewords(data: bytes, version: int) -> bytes:
    value, length = _segment(data, _mode(data), version)
    capacity = _data_capacity_bits(version)
    pad = min(4, capacity - length) + (-(length + min(4, capacity - length))) % 8
    value, length = value << pad, length + pad  # terminator, then zeros up to a byte boundary
    fill = (capacity - length) // 8
    return value.to_bytes(length // 8, "big") + (b"\xec\x11" * fill)[:fill]


@functools.cache
def _generator_table(degree: int) -> tuple[int, ...]:
    """For each factor f, f * generator(x) (without its leading term) as a ``degree``-byte int."""
    poly = [1]
    for i in range(degree):
        nxt = [0] * (len(poly) + 1)
        for j, coef in enumerate(poly):
            nxt[j] ^= coef
            if coef:
                nxt[j + 1] ^= _EXP[_LOG[coef] + i]
        poly = nxt
    table = [0]
    for factor in range(1, 256):
        log_f = _LOG[factor]
        products = bytes(_EXP[log_f + _LOG[c]] if c else 0 for c in poly[1:])
        table.append(int.from_bytes(products, "big"))
    return tuple(table)


def _ec_codewords(block: bytes, degree: int) -> bytes:
    table = _generator_table(degree)
    top, low = 8 * (degree - 1), (1 << 8 * (degree - 1)) - 1
    remainder = 0
    for byte in block:
        remainder = ((remainder & low) << 8) ^ table[byte ^ (remainder >> top)]
    return remainder.to_bytes(degree, "big")


def codewords(data: bytes, version: int) -> bytes:
    """Data and error correction codewords, interleaved block by block (ISO 18004 §7.6)."""
    stream = _data_codewords(data, version)
    blocks, ec_blocks, at = [], [], 0
    for block in rs_blocks(version, ERROR_CORRECT_M):
        chunk = stream[at : at + block.data_count]
        at += block.data_count
        blocks.append(chunk)
        ec_blocks.append(_ec_codewords(chunk, block.total_count - block.data_count))
    out = bytearray()
    for group in (blocks, ec_blocks):
        for i in range(max(len(b) for b in group)):
            out.extend(b[i] for b in group if i < len(b))
    return bytes(out)
