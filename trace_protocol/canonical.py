"""RFC 8785 (JCS) canonical JSON and the SHA-256 digests built on it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785

MAX_SAFE_INT = 2**53 - 1
# Within this range of magnitudes Python's repr of a float and ECMAScript's Number-to-String
# (which RFC 8785 prescribes) both print the shortest round-trip digits in plain notation.
_PLAIN_FLOAT_MIN, _PLAIN_FLOAT_MAX = 1e-4, 1e16


class _Unplain(Exception):
    """The value holds something only the full RFC 8785 serialiser gets right."""


def _plain(value: Any) -> Any:
    """A copy the C ``json`` encoder serialises exactly as RFC 8785 does, or ``_Unplain``.

    That holds for strings, booleans, None, safe integers, floats in the plain range (integral
    floats become ints: JCS prints ``1200.0`` as ``1200``), lists, and objects whose keys have
    no character beyond the BMP (there, sorting by code point equals JCS's UTF-16 order).
    """
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return value
        raise _Unplain
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) <= MAX_SAFE_INT:
                return int(value)
            raise _Unplain
        if _PLAIN_FLOAT_MIN <= abs(value) < _PLAIN_FLOAT_MAX:
            return value
        raise _Unplain
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str) or (not k.isascii() and max(k) > "\uffff"):
                raise _Unplain
            out[k] = _plain(v)
        return out
    raise _Unplain


def canonical_json(value: Any) -> bytes:
    """Serialise ``value`` as RFC 8785 canonical JSON (UTF-8 bytes).

    Values made of the usual parts (see ``_plain``) go through the C ``json`` encoder, several
    times faster: hashing every event at ingest is the server's main cost. Anything else goes
    through the ``rfc8785`` package. Both give the same bytes (a property test checks it).

    Raises ``ValueError`` for values JCS cannot represent (NaN, infinities, integers beyond
    IEEE 754 double precision, non-string keys).
    """
    try:
        plain = _plain(value)
    except _Unplain:
        pass
    else:
        try:
            text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            return text.encode("utf-8")
        except UnicodeEncodeError:
            pass  # a lone surrogate: let rfc8785 refuse it with its own message
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError) as exc:
        raise ValueError(f"not canonicalisable as RFC 8785 JSON: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
