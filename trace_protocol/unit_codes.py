"""Unit labels: serials minted offline and the short code that proves a label is genuine.

A unit label's URL carries ``s``, a 72-bit truncated HMAC-SHA256 of the lot and serial under the
device's label key. The key is made on the device and handed to the server once, at enrolment,
so the server can tell a genuine code from a forged one before the batch has synced. A full
Ed25519 signature (86 characters) would not fit a QR code of version 8 at error correction M on
a 25 mm label; a truncated MAC does, and guessing one online takes ~2^71 tries.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path
from urllib.parse import quote

from trace_protocol.digital_link import build_link
from trace_protocol.links import SHORT_PREFIX, check_gtin, check_lot
from trace_protocol.signing import b64url, b64url_decode

LABEL_KEY_BYTES = 32
MAC_CHARS = 12  # base64url characters: 72 bits
SIG_PARAM = "s"


def new_label_key() -> bytes:
    return os.urandom(LABEL_KEY_BYTES)


def load_or_create_label_key(path: Path) -> bytes:
    """The device's label key, made on first use and kept readable only by its owner."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != LABEL_KEY_BYTES:
            raise ValueError(f"{path} is not a {LABEL_KEY_BYTES}-byte label key")
        return key
    key = new_label_key()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return key


def encode_label_key(key: bytes) -> str:
    return b64url(key)


def decode_label_key(text: str) -> bytes:
    key = b64url_decode(text)
    if len(key) != LABEL_KEY_BYTES:
        raise ValueError(f"a label key is {LABEL_KEY_BYTES} bytes")
    return key


def unit_mac(key: bytes, lot: str, serial: str, gtin: str | None) -> str:
    message = f"ocop-unit-v1|{gtin or ''}|{lot}|{serial}".encode()
    return b64url(hmac.new(key, message, hashlib.sha256).digest())[:MAC_CHARS]


def verify_unit_mac(key: bytes, lot: str, serial: str, gtin: str | None, mac: str) -> bool:
    return hmac.compare_digest(unit_mac(key, lot, serial, gtin), mac)


def format_serial(number: int) -> str:
    """Serials are plain decimal numbers counted per lot from 1: short, and in GS1 AI 21."""
    if number < 1 or number >= 10**20:
        raise ValueError("a serial is a number from 1 with at most 20 digits")
    return str(number)


def build_unit_url(base_url: str, lot: str, serial: str, mac: str, gtin: str | None) -> str:
    """``/01/{gtin14}/10/{lot}/21/{serial}?s=…`` with a GTIN, else ``/l/{lot}/{serial}?s=…``.

    ``s`` is not an AI, so GS1 parsers accept and ignore it (standards/NOTES.md §1.2 rule 6).
    """
    base = base_url.rstrip("/")
    if gtin:
        return build_link(base, check_gtin(gtin), check_lot(lot), serial, extra={SIG_PARAM: mac})
    path = f"/{SHORT_PREFIX}/{quote(check_lot(lot), safe='')}/{quote(serial, safe='')}"
    return f"{base}{path}?{SIG_PARAM}={mac}"


def batch_mac(key: bytes, lot: str, gtin: str | None) -> str:
    """A batch label's code (issue 15): the unit scheme on the batch URL, so a batch label printed
    offline and scanned before its batch synced is told genuine, not "not found"."""
    message = f"ocop-batch-v1|{gtin or ''}|{lot}".encode()
    return b64url(hmac.new(key, message, hashlib.sha256).digest())[:MAC_CHARS]


def verify_batch_mac(key: bytes, lot: str, gtin: str | None, mac: str) -> bool:
    return hmac.compare_digest(batch_mac(key, lot, gtin), mac)


def build_signed_batch_url(base_url: str, lot: str, mac: str, gtin: str | None) -> str:
    """The batch URL (:func:`trace_protocol.links.build_batch_url`) with ``?s=`` its code."""
    base = base_url.rstrip("/")
    if gtin:
        return build_link(base, check_gtin(gtin), check_lot(lot), extra={SIG_PARAM: mac})
    return f"{base}/{SHORT_PREFIX}/{quote(check_lot(lot), safe='')}?{SIG_PARAM}={mac}"
