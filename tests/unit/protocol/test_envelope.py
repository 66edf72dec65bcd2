"""The signed event envelope: build, hash, serialise and parse (form only)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from trace_protocol.envelope import EnvelopeError, Event, build_event, parse_event
from trace_protocol.signing import DeviceKey, load_public_key, verify_signature

KEY = DeviceKey.generate()
PUB = load_public_key(KEY.public_key_b64)
ICT = timezone(timedelta(hours=7))
AT = datetime(2024, 3, 1, 8, 0, tzinfo=ICT)
EVENT_ID = "0b7e8c1e-9c55-4c1b-8f4e-3f1a2b3c4d5e"
PREV = "ab" * 32


def make(seq: int = 2, prev: str | None = PREV, body: dict[str, Any] | None = None) -> Event:
    return build_event(
        key=KEY,
        dev="kc-test-1",
        seq=seq,
        type="step.recorded",
        body={"batch": "b1", "note": "Sấy lúa"} if body is None else body,
        prev=prev,
        at=AT,
        clock="synced",
        event_id=EVENT_ID,
    )


def test_hash_is_sha256_of_hand_written_canonical_envelope() -> None:
    key = DeviceKey(Ed25519PrivateKey.from_private_bytes(bytes(32)))
    event = build_event(
        key=key,
        dev="kc-test-1",
        seq=1,
        type="batch.opened",
        body={"b": 1, "a": "ạ"},
        prev=None,
        at=AT,
        clock="unsynced",
        event_id=EVENT_ID,
    )
    canonical = (
        '{"at":"2024-03-01T08:00:00.000+07:00","body":{"a":"ạ","b":1},"clock":"unsynced",'
        '"dev":"kc-test-1","id":"0b7e8c1e-9c55-4c1b-8f4e-3f1a2b3c4d5e","prev":null,"seq":1,'
        '"type":"batch.opened","v":1}'
    )
    assert event.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert event.computed_hash() == event.hash
    assert event.at == "2024-03-01T08:00:00.000+07:00"
    assert verify_signature(
        load_public_key(key.public_key_b64), bytes.fromhex(event.hash), event.sig
    )


def test_signature_covers_the_hash_bytes() -> None:
    event = make()
    assert verify_signature(PUB, bytes.fromhex(event.hash), event.sig)
    assert not verify_signature(PUB, event.hash.encode(), event.sig)


def test_build_generates_distinct_uuid_ids() -> None:
    a = build_event(
        key=KEY, dev="kc-1", seq=1, type="a.b", body={}, prev=None, at=AT, clock="synced"
    )
    b = build_event(
        key=KEY, dev="kc-1", seq=1, type="a.b", body={}, prev=None, at=AT, clock="synced"
    )
    assert a.id != b.id
    assert a.hash != b.hash


def test_build_rejects_naive_time() -> None:
    with pytest.raises(EnvelopeError):
        build_event(
            key=KEY,
            dev="kc-1",
            seq=1,
            type="a.b",
            body={},
            prev=None,
            at=datetime(2024, 3, 1, 8, 0),
            clock="synced",
        )


def test_build_rejects_what_parse_rejects() -> None:
    with pytest.raises(EnvelopeError):
        make(seq=1, prev=PREV)
    with pytest.raises(EnvelopeError):
        build_event(key=KEY, dev="KC", seq=1, type="a.b", body={}, prev=None, at=AT, clock="synced")


def test_hash_changes_with_any_field() -> None:
    base = make()
    assert make(body={"batch": "b2", "note": "Sấy lúa"}).hash != base.hash
    assert make(seq=3).hash != base.hash
    assert make(prev="cd" * 32).hash != base.hash


def test_a_replaced_event_is_hashed_afresh_not_from_the_original() -> None:
    """The content hash is kept on the event once worked out; a tampered copy made with
    dataclasses.replace must not inherit it (the server would accept its forged body)."""
    base = make()
    assert base.computed_hash() == base.hash
    forged = dataclasses.replace(base, body={"batch": "b1", "note": "giả"})
    assert forged.computed_hash() != base.hash
    assert forged == dataclasses.replace(base, body={"batch": "b1", "note": "giả"})  # eq: fields


texts = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["Gạo Ngọc Mầm", "Nhập lúa nguyên liệu", "Độ ẩm", "xã Thạch Đài", "°C"]
)
leaves = st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | texts
bodies = st.dictionaries(
    texts,
    st.recursive(
        leaves,
        lambda c: st.lists(c, max_size=3) | st.dictionaries(texts, c, max_size=3),
        max_leaves=10,
    ),
    max_size=5,
)


@settings(max_examples=50)
@given(body=bodies, seq=st.integers(1, 2**40), clock=st.sampled_from(["synced", "unsynced"]))
def test_build_to_dict_parse_round_trip(body: dict[str, Any], seq: int, clock: str) -> None:
    event = build_event(
        key=KEY,
        dev="kc-test-1",
        seq=seq,
        type="step.recorded",
        body=body,
        prev=None if seq == 1 else PREV,
        at=AT,
        clock=clock,
    )
    assert parse_event(event.to_dict()) == event
    wire = json.loads(json.dumps(event.to_dict(), ensure_ascii=False))
    parsed = parse_event(wire)
    assert parsed == event
    assert parsed.computed_hash() == event.hash
    assert verify_signature(PUB, bytes.fromhex(parsed.hash), parsed.sig)


def test_to_dict_has_exactly_the_envelope_fields() -> None:
    d = make().to_dict()
    assert set(d) == {"v", "dev", "seq", "id", "type", "at", "clock", "body", "prev", "hash", "sig"}
    assert d["v"] == 1
    assert set(make().unsigned()) == set(d) - {"hash", "sig"}


Mutation = Callable[[dict[str, Any]], None]


def _set(field: str, value: Any) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        d[field] = value

    return mutate


def _drop(field: str) -> Mutation:
    def mutate(d: dict[str, Any]) -> None:
        del d[field]

    return mutate


BAD: dict[str, Mutation] = {
    **{
        f"missing {f}": _drop(f)
        for f in ("v", "dev", "seq", "id", "type", "at", "clock", "body", "prev", "hash", "sig")
    },
    "extra field": _set("extra", 1),
    "v=2": _set("v", 2),
    "v=True": _set("v", True),
    "v='1'": _set("v", "1"),
    "dev upper case": _set("dev", "KC-1"),
    "dev one char": _set("dev", "k"),
    "dev leading dash": _set("dev", "-kc"),
    "dev underscore": _set("dev", "kc_1"),
    "dev too long": _set("dev", "k" * 64),
    "dev trailing newline": _set("dev", "kc-test-1\n"),
    "dev not str": _set("dev", 7),
    "seq 0": _set("seq", 0),
    "seq negative": _set("seq", -3),
    "seq bool": _set("seq", True),
    "seq float": _set("seq", 2.0),
    "seq string": _set("seq", "2"),
    "seq beyond 2**53": _set("seq", 2**53),
    "bad uuid": _set("id", "not-a-uuid"),
    "uuid not str": _set("id", 12345),
    "type upper case": _set("type", "Step.Recorded"),
    "type without dot": _set("type", "step"),
    "type trailing dot": _set("type", "step."),
    "type with digit": _set("type", "step.recorded2"),
    "type too long": _set("type", "a." + "b" * 63),
    "type not str": _set("type", 5),
    "time without offset": _set("at", "2024-03-01T08:00:00.000"),
    "time not a time": _set("at", "hôm qua"),
    "time not str": _set("at", 1709254800),
    "clock ntp": _set("clock", "ntp"),
    "clock none": _set("clock", None),
    "body list": _set("body", []),
    "body string": _set("body", "{}"),
    "seq>1 with null prev": _set("prev", None),
    "prev not a hash": _set("prev", "ab" * 31),
    "prev upper case": _set("prev", "AB" * 32),
    "hash short": _set("hash", "a" * 63),
    "hash upper case": _set("hash", "A" * 64),
    "hash non-hex": _set("hash", "g" * 64),
    "hash null": _set("hash", None),
    "sig short": _set("sig", "abc"),
    "sig not str": _set("sig", 0),
}


@pytest.mark.parametrize("mutation", list(BAD.values()), ids=list(BAD))
def test_parse_event_rejects(mutation: Mutation) -> None:
    d = make().to_dict()
    parse_event(dict(d))  # the unmutated event is fine
    mutation(d)
    with pytest.raises(EnvelopeError):
        parse_event(d)


def test_parse_event_rejects_first_event_with_prev() -> None:
    d = make(seq=1, prev=None).to_dict()
    parse_event(dict(d))
    d["prev"] = PREV
    with pytest.raises(EnvelopeError, match="prev"):
        parse_event(d)


@pytest.mark.parametrize("obj", [None, [], "event", 1])
def test_parse_event_rejects_non_objects(obj: Any) -> None:
    with pytest.raises(EnvelopeError):
        parse_event(obj)


def test_parse_event_names_the_missing_and_extra_fields() -> None:
    d = make().to_dict()
    del d["clock"]
    with pytest.raises(EnvelopeError, match="clock"):
        parse_event(d)
    d = {**make().to_dict(), "zzz": 1}
    with pytest.raises(EnvelopeError, match="zzz"):
        parse_event(d)


def test_parse_event_accepts_other_offsets_and_utc() -> None:
    d = make().to_dict()
    for at in (
        "2024-03-01T01:00:00.000+00:00",
        "2024-03-01T01:00:00Z",
        "2024-02-29T20:00:00-05:00",
    ):
        d["at"] = at
        assert parse_event(d).at == at


def test_parse_event_does_not_check_hash_content() -> None:
    # Form only: whether the hash matches is chain.verify_run's job.
    d = make().to_dict()
    d["body"] = {"tampered": True}
    event = parse_event(d)
    assert event.computed_hash() != event.hash


def test_body_that_cannot_be_canonicalised_is_a_form_error() -> None:
    # A chunk arrives through json.loads, which accepts NaN; such an envelope has no hash.
    d = make().to_dict()
    for bad in ({"x": float("nan")}, {"x": 2**53 + 1}):
        d["body"] = bad
        try:
            parse_event(d)
        except EnvelopeError:
            continue
        raise AssertionError(f"parse_event accepted body {bad!r}")
