"""Ed25519 device keys: generate, load, save, sign and verify."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


def b64url(data: bytes) -> str:
    """Base64url without padding, as used for signatures and public keys on the wire."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Inverse of :func:`b64url`; raises ``ValueError`` on malformed input."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError("base64url text must be an ASCII string")
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"malformed base64url: {exc}") from exc


class DeviceKey:
    """A device's Ed25519 private key. The private half never leaves the device."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key_b64(self) -> str:
        raw = self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return b64url(raw)

    def sign(self, message: bytes) -> str:
        """Sign ``message``; returns the base64url signature."""
        return b64url(self._private.sign(message))

    def save(self, path: Path) -> None:
        """Write the key as PEM readable only by its owner (mode 0600), atomically."""
        pem = self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> DeviceKey:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: Path) -> DeviceKey:
        """Load the key at ``path``, making a new one on first boot."""
        if path.exists():
            return cls.load(path)
        key = cls.generate()
        key.save(path)
        return key


def load_public_key(public_key_b64: str) -> Ed25519PublicKey:
    """Parse a base64url raw Ed25519 public key; raises ``ValueError`` if malformed."""
    raw = b64url_decode(public_key_b64)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_signature(public_key: Ed25519PublicKey, message: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid signature of ``message``."""
    try:
        public_key.verify(b64url_decode(signature_b64), message)
    except (InvalidSignature, ValueError):
        return False
    return True
