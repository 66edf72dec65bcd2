"""Ed25519 device keys and the base64url encoding used on the wire."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trace_protocol.signing import (
    DeviceKey,
    b64url,
    b64url_decode,
    load_public_key,
    verify_signature,
)

_KEY = DeviceKey.generate()
_PUB = load_public_key(_KEY.public_key_b64)
MESSAGE = "Gạo Ngọc Mầm, lô KC-NM-240301-01".encode()


def flip_bit(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_save_load_round_trip_keeps_the_key_and_mode_0600(tmp_path: Path) -> None:
    key = DeviceKey.generate()
    path = tmp_path / "keys" / "device-key.pem"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert not (tmp_path / "keys" / "device-key.pem.tmp").exists()
    loaded = DeviceKey.load(path)
    assert loaded.public_key_b64 == key.public_key_b64
    # The loaded key signs so that the original public key verifies it.
    pub = load_public_key(key.public_key_b64)
    assert verify_signature(pub, MESSAGE, loaded.sign(MESSAGE))


def test_save_overwrites_an_existing_key_file_keeping_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    DeviceKey.generate().save(path)
    second = DeviceKey.generate()
    second.save(path)
    assert DeviceKey.load(path).public_key_b64 == second.public_key_b64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_load_or_create_makes_a_key_once_then_reuses_it(tmp_path: Path) -> None:
    path = tmp_path / "k.pem"
    first = DeviceKey.load_or_create(path)
    assert path.exists()
    assert DeviceKey.load_or_create(path).public_key_b64 == first.public_key_b64


def test_load_rejects_a_non_ed25519_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "ec.pem"
    path.write_bytes(pem)
    with pytest.raises(ValueError, match="Ed25519"):
        DeviceKey.load(path)


def test_public_key_is_32_raw_bytes_in_unpadded_base64url() -> None:
    key = DeviceKey.generate()
    assert len(key.public_key_b64) == 43
    assert "=" not in key.public_key_b64
    assert len(b64url_decode(key.public_key_b64)) == 32


def test_sign_and_verify() -> None:
    key = DeviceKey.generate()
    sig = key.sign(MESSAGE)
    assert len(b64url_decode(sig)) == 64
    assert verify_signature(load_public_key(key.public_key_b64), MESSAGE, sig)


def test_signature_does_not_verify_under_another_key() -> None:
    sig = DeviceKey.generate().sign(MESSAGE)
    other = load_public_key(DeviceKey.generate().public_key_b64)
    assert not verify_signature(other, MESSAGE, sig)


@settings(max_examples=30)
@given(st.integers(min_value=0, max_value=len(MESSAGE) * 8 - 1))
def test_a_flipped_bit_in_the_message_fails(bit: int) -> None:
    sig = _KEY.sign(MESSAGE)
    assert not verify_signature(_PUB, flip_bit(MESSAGE, bit), sig)


@settings(max_examples=30)
@given(st.integers(min_value=0, max_value=64 * 8 - 1))
def test_a_flipped_bit_in_the_signature_fails(bit: int) -> None:
    raw = b64url_decode(_KEY.sign(MESSAGE))
    assert not verify_signature(_PUB, MESSAGE, b64url(flip_bit(raw, bit)))


@pytest.mark.parametrize("sig", ["", "not base64!", "é", "AAAA", b64url(b"\x00" * 64)])
def test_malformed_or_wrong_signatures_return_false(sig: str) -> None:
    assert not verify_signature(_PUB, MESSAGE, sig)


@given(st.binary(max_size=200))
def test_b64url_round_trip(data: bytes) -> None:
    text = b64url(data)
    assert "=" not in text
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert b64url_decode(text) == data
    # Same alphabet as the standard urlsafe codec, only unpadded.
    assert text == base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_b64url_uses_the_url_safe_alphabet() -> None:
    assert b64url(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8") == b"\xfb\xff"


@pytest.mark.parametrize("text", ["a", "abcde", "é"])
def test_b64url_decode_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        b64url_decode(text)


@pytest.mark.parametrize("size", [0, 16, 31, 33, 64])
def test_load_public_key_rejects_wrong_lengths(size: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        load_public_key(b64url(bytes(size)))


def test_load_public_key_rejects_malformed_base64() -> None:
    with pytest.raises(ValueError):
        load_public_key("not-a-key-ü")
