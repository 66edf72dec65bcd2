"""Workers of a facility and their touchscreen PINs, as the catalog carries them (hashed).

A PIN never travels or rests in clear: the office hashes it (PBKDF2-HMAC-SHA256, a random salt
per worker) and only ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` goes into the catalog, the
server database, the retained config topic and the device's journal file. A PIN says *who* did a
step; it is not a password against someone holding the catalog: 4-8 digits can be tried offline
(see docs/security: the hash only slows that down).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

ALGORITHM = "pbkdf2_sha256"
# ~25 ms here, ~0.15 s on a Raspberry Pi 4: paid once per login, not per event.
ITERATIONS = 100_000
MIN_ITERATIONS = 10_000
MAX_ITERATIONS = 2_000_000
PIN_LENGTHS = range(4, 9)
MAX_WORKERS = 200


class WorkerError(ValueError):
    """A worker entry or PIN that cannot be used; the message names it."""


@dataclass(frozen=True)
class Worker:
    """Who may record on a facility's touchscreens. ``pin`` is the hash, never the PIN."""

    id: str
    name: str
    pin: str

    def check_pin(self, pin: str) -> bool:
        return verify_pin(pin, self.pin)

    def by(self) -> dict[str, str]:
        """What an event body records about who made it (private: office only)."""
        return {"id": self.id, "name": self.name}


def check_pin_format(pin: str) -> str:
    if not (pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS):
        raise WorkerError("a PIN is 4 to 8 digits")
    return pin


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def hash_pin(pin: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """``pbkdf2_sha256$100000$<salt b64>$<hash b64>`` for a 4-8 digit PIN."""
    check_pin_format(pin)
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return f"{ALGORITHM}${iterations}${_b64(salt)}${_b64(digest)}"


def _parse_hash(encoded: str) -> tuple[int, bytes, bytes]:
    parts = encoded.split("$")
    if len(parts) != 4 or parts[0] != ALGORITHM or not parts[1].isdigit():
        raise WorkerError(f"pin: expected {ALGORITHM}$<iterations>$<salt>$<hash>")
    iterations = int(parts[1])
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise WorkerError(f"pin: iterations must be {MIN_ITERATIONS}-{MAX_ITERATIONS}")
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except ValueError as exc:
        raise WorkerError("pin: salt and hash must be base64") from exc
    if len(salt) < 8 or len(digest) != 32:
        raise WorkerError("pin: salt of 8+ bytes and a 32-byte hash expected")
    return iterations, salt, digest


def verify_pin(pin: str, encoded: str) -> bool:
    try:
        check_pin_format(pin)
        iterations, salt, digest = _parse_hash(encoded)
    except WorkerError:
        return False
    candidate = hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)
    return hmac.compare_digest(candidate, digest)


def parse_workers(obj: Any, where: str = "workers") -> tuple[Worker, ...]:
    """The catalog's ``workers`` list: ``[{"id", "name", "pin": <hash>}]``; absent = no PINs."""
    if obj is None:
        return ()
    if not isinstance(obj, list) or len(obj) > MAX_WORKERS:
        raise WorkerError(f"{where}: must be a list of at most {MAX_WORKERS} workers")
    out: list[Worker] = []
    for i, item in enumerate(obj):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise WorkerError(f"{at}: must be an object")
        wid, name, pin = item.get("id"), item.get("name"), item.get("pin")
        if not isinstance(wid, str) or not 1 <= len(wid) <= 16 or not wid.isascii():
            raise WorkerError(f"{at}.id: 1-16 ASCII characters")
        if not all(c.isalnum() or c in "-_" for c in wid):
            raise WorkerError(f"{at}.id: letters, digits, '-' and '_' only")
        if not isinstance(name, str) or not name.strip() or len(name) > 80:
            raise WorkerError(f"{at}.name: required text (at most 80 characters)")
        if not isinstance(pin, str):
            raise WorkerError(f"{at}.pin: the PIN's hash is required (never the PIN itself)")
        try:
            _parse_hash(pin)
        except WorkerError as exc:
            raise WorkerError(f"{at}.{exc}") from exc
        out.append(Worker(id=wid, name=name.strip(), pin=pin))
    if len({w.id for w in out}) != len(out):
        raise WorkerError(f"{where}: worker ids must be unique")
    return tuple(out)
