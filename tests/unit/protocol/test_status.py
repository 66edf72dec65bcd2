"""The device's signed status message (issue 12, finding 7): format, signature and bounds."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from trace_protocol.canonical import canonical_json
from trace_protocol.messages import AckError, MessageError
from trace_protocol.signing import DeviceKey, b64url_decode, load_public_key
from trace_protocol.status import STATUS_CONTEXT, Status, build_status, parse_status

DEV = "kc-test-1"
KEY = DeviceKey.generate()
PUBLIC = load_public_key(KEY.public_key_b64)
EXTRA = {
    "disk_free_mb": 1234,
    "printer": "file",
    "catalog_version": 3,
    "uploads_pending": 0,
    "cameras": {"day-chuyen": {"state": "ok", "detail": "ok", "last_frame_age_s": 0.5}},
    "periodic_paused_disk_low": False,
    "photo_bytes": 23986,
}


def full() -> Status:
    return build_status(
        KEY,
        dev=DEV,
        online=True,
        at="2024-03-01T08:00:00.000+07:00",
        head=120,
        acked=100,
        backlog=20,
        oldest_unsynced_age_s=42.5,
        clock="synced",
        version="0.1.0",
        blocked=AckError("fork", 101, "another event was already committed at this seq"),
        extra=EXTRA,
    )


def test_round_trip_and_signature() -> None:
    status = full()
    parsed = parse_status(status.encode(), DEV)
    assert parsed == status
    assert parsed.verify(PUBLIC)
    assert not parsed.verify(load_public_key(DeviceKey.generate().public_key_b64))


def test_the_signature_is_over_the_documented_bytes() -> None:
    """docs/protocol.md: Ed25519 over SHA-256(context + JCS(status without sig))."""
    obj = json.loads(full().encode())
    sig = obj.pop("sig")
    digest = hashlib.sha256(STATUS_CONTEXT + canonical_json(obj)).digest()
    PUBLIC.verify(b64url_decode(sig), digest)  # raises if not


def test_minimal_status_and_the_last_will() -> None:
    will = build_status(KEY, dev=DEV, online=False, at="2024-03-01T08:00:00+07:00")
    parsed = parse_status(will.encode(), DEV)
    assert parsed.verify(PUBLIC)
    assert (parsed.head, parsed.acked, parsed.backlog, parsed.clock) == (0, 0, 0, "unsynced")


def _resigned(**changes: Any) -> bytes:
    """A status with one field changed and signed again: well signed, badly formed."""
    obj = json.loads(full().encode())
    del obj["sig"]
    obj.update(changes)
    try:
        sig = KEY.sign(hashlib.sha256(STATUS_CONTEXT + canonical_json(obj)).digest())
    except ValueError:  # not even canonicalisable (2**60): a well-formed signature will do
        sig = "A" * 86
    return json.dumps({**obj, "sig": sig}).encode()


@pytest.mark.parametrize(
    "changes",
    [
        {"v": True},
        {"v": 2},
        {"dev": "kc-test-2"},
        {"online": 1},
        {"at": "yesterday"},
        {"at": "2024-03-01T08:00:00"},
        {"head": -1},
        {"head": True},
        {"head": "120"},
        {"head": 2**60},
        {"acked": 1_000_000},  # more than its head: finding 7's forged "acked"
        {"backlog": 121},
        {"oldest_unsynced_age_s": -1},
        {"oldest_unsynced_age_s": True},
        {"clock": "atomic"},
        {"version": "<script>"},
        {"blocked": {"code": "fork"}},
        {"blocked": "fork"},
        {"extra": []},
        {"extra": {"cameras": {"cam<script>": {"state": "ok"}}}},
        {"extra": {"cameras": {"cam": {"state": "<b>"}}}},
        {"extra": {"cameras": {"cam": {"state": "ok", "html": "<b>"}}}},
        {"extra": {"cameras": {f"c{i}": {"state": "ok"} for i in range(17)}}},
        {"extra": {"disk_free_mb": -5}},
        {"extra": {"periodic_paused_disk_low": "yes"}},
        {"extra": {"Bad Key": 1}},
        {"extra": {"note": "x" * 201}},
        {"extra": {"note": {"nested": 1}}},
        {"extra": {f"k{i}": 1 for i in range(33)}},
        {"surprise": 1},
    ],
)
def test_bad_fields_are_refused_even_when_signed(changes: dict[str, Any]) -> None:
    with pytest.raises(MessageError):
        parse_status(_resigned(**changes), DEV)


def test_a_changed_field_breaks_the_signature() -> None:
    obj = json.loads(full().encode())
    obj["acked"] = 120
    parsed = parse_status(json.dumps(obj).encode(), DEV)
    assert not parsed.verify(PUBLIC)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'{"v":1,"online":true,"at":"x"}',  # the old, unsigned form
        b'{"v":1,"x":' + b"[" * 3000 + b"]" * 3000 + b"}",
        b"{" + b" " * 20_000 + b"}",
    ],
)
def test_malformed_payloads_are_a_message_error(payload: bytes) -> None:
    with pytest.raises(MessageError):
        parse_status(payload, DEV)


def test_unsigned_status_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        Status(dev=DEV, online=True, at="2024-03-01T08:00:00+07:00").encode()


def test_vietnamese_camera_names_are_fine() -> None:
    status = build_status(
        KEY,
        dev=DEV,
        online=True,
        at="2024-03-01T08:00:00+07:00",
        extra={"cameras": {"Bếp 2": {"state": "covered", "detail": "che khuất"}}},
    )
    assert parse_status(status.encode(), DEV).verify(PUBLIC)
