"""Payloads of the sync topics: event chunks, acks, status."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.protocol.builders import ChainBuilder
from trace_protocol.messages import (
    MAX_CHUNK_EVENTS,
    MAX_PAYLOAD_BYTES,
    Ack,
    AckError,
    MessageError,
    encode_chunk,
    parse_ack,
    parse_chunk,
)
from trace_protocol.signing import DeviceKey

DEV = "kc-test-1"
EVENTS = ChainBuilder(DeviceKey.generate(), DEV).run(4)


def chunk(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def test_chunk_round_trip() -> None:
    payload = encode_chunk(DEV, EVENTS)
    assert json.loads(payload)["v"] == 1
    assert json.loads(payload)["dev"] == DEV
    assert parse_chunk(payload, DEV) == EVENTS


def test_chunk_keeps_vietnamese_as_utf8() -> None:
    builder = ChainBuilder(DeviceKey.generate(), DEV)
    builder.next(body={"note": "Đóng gói hút chân không"})
    payload = encode_chunk(DEV, builder.events)
    assert "Đóng gói hút chân không".encode() in payload
    assert parse_chunk(payload, DEV)[0].body == {"note": "Đóng gói hút chân không"}


def test_parse_chunk_orders_events_by_seq() -> None:
    payload = encode_chunk(DEV, [EVENTS[2], EVENTS[0], EVENTS[3], EVENTS[1]])
    assert [e.seq for e in parse_chunk(payload, DEV)] == [1, 2, 3, 4]


def valid() -> dict[str, Any]:
    return {"v": 1, "dev": DEV, "events": [e.to_dict() for e in EVENTS]}


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xff\xfe\x00",
        b"",
        b"[]",
        b'"chunk"',
        chunk({**valid(), "v": 2}),
        chunk({**valid(), "v": "1"}),
        chunk({k: v for k, v in valid().items() if k != "v"}),
        chunk({**valid(), "dev": "kc-test-2"}),
        chunk({k: v for k, v in valid().items() if k != "dev"}),
        chunk({**valid(), "events": []}),
        chunk({**valid(), "events": {}}),
        chunk({k: v for k, v in valid().items() if k != "events"}),
        chunk({**valid(), "events": [{"v": 1}]}),
        chunk({**valid(), "events": [EVENTS[0].to_dict(), "x"]}),
        # Issue 12, finding 3: bool is an int in Python, but true is not version 1.
        chunk({**valid(), "v": True}),
        chunk({**valid(), "v": 1.0}),
        # Nested past the bound, the shape that raised RecursionError through parse_chunk.
        b'{"v":1,"dev":"kc-test-1","events":' + b"[" * 2000 + b"]" * 2000 + b"}",
        b"[" * 100_000,
        b'{"v":1,"dev":"kc-test-1","events":' + b"[" * 30 + b"]" * 30 + b"}",
        # A 5,000-digit number raises a plain ValueError in json.loads, not JSONDecodeError.
        b'{"v":1,"dev":"kc-test-1","events":[' + b"1" * 5000 + b"]}",
        b'{"v":1,"dev":"kc-test-1","events":[NaN]}',
        b'{"v":1,"dev":"kc-test-1","events":[Infinity]}',
    ],
)
def test_parse_chunk_rejects(payload: bytes) -> None:
    with pytest.raises(MessageError):
        parse_chunk(payload, DEV)


def test_parse_chunk_event_count_limit() -> None:
    one = EVENTS[0].to_dict()  # form is all parse_chunk checks, so copies are fine
    at_limit = chunk({"v": 1, "dev": DEV, "events": [one] * MAX_CHUNK_EVENTS})
    assert len(parse_chunk(at_limit, DEV)) == MAX_CHUNK_EVENTS
    over = chunk({"v": 1, "dev": DEV, "events": [one] * (MAX_CHUNK_EVENTS + 1)})
    with pytest.raises(MessageError):
        parse_chunk(over, DEV)


def test_parse_chunk_size_limit() -> None:
    payload = encode_chunk(DEV, EVENTS)
    # Trailing whitespace keeps the JSON valid, so only the size can make it fail.
    at_limit = payload + b" " * (MAX_PAYLOAD_BYTES - len(payload))
    assert len(parse_chunk(at_limit, DEV)) == 4
    with pytest.raises(MessageError, match="exceeds"):
        parse_chunk(at_limit + b" ", DEV)


def test_ack_round_trip() -> None:
    ack = Ack(upto=17)
    assert parse_ack(ack.encode()) == ack
    assert json.loads(ack.encode()) == {
        "v": 1,
        "upto": 17,
        "missing_blobs": [],
        "error": None,
        "gap": False,
        "server_time": None,
    }
    stamped = Ack(upto=17, server_time=1_764_900_000.123)
    assert parse_ack(stamped.encode()) == stamped


def test_ack_round_trip_with_error_and_blobs() -> None:
    ack = Ack(
        upto=3,
        missing_blobs=["a" * 64, "b" * 64],
        error=AckError("fork", 4, "another event was already committed at this seq"),
    )
    parsed = parse_ack(ack.encode())
    assert parsed == ack
    assert parsed.error == AckError("fork", 4, "another event was already committed at this seq")


def test_parse_ack_defaults() -> None:
    assert parse_ack(b'{"v":1,"upto":0}') == Ack(upto=0, missing_blobs=[], error=None)


@pytest.mark.parametrize(
    "obj",
    [
        {"v": 1},
        {"v": 1, "upto": -1},
        {"v": 1, "upto": True},
        {"v": 1, "upto": "3"},
        {"v": 1, "upto": 1.5},
        {"v": 2, "upto": 1},
        {"v": 1, "upto": 1, "missing_blobs": "abc"},
        {"v": 1, "upto": 1, "missing_blobs": [1]},
        {"v": 1, "upto": 1, "error": "fork"},
        {"v": 1, "upto": 1, "error": {"code": "fork", "seq": 2}},
        {"v": 1, "upto": 1, "error": {"code": "fork", "seq": "x", "detail": ""}},
        {"v": 1, "upto": 1, "error": {"code": "fork", "seq": "5", "detail": ""}},
        {"v": 1, "upto": 1, "error": {"code": "fork", "seq": True, "detail": ""}},
        {"v": 1, "upto": 1, "error": {"code": "<b>", "seq": 1, "detail": ""}},
        {"v": 1, "upto": 1, "error": {"code": "fork", "seq": 1, "detail": "x" * 501}},
        {"v": 1, "upto": 1, "error": {"code": "fork", "seq": 1, "detail": {"a": 1}}},
        {"v": 1, "upto": 1, "missing_blobs": ["../../etc/passwd"]},
        {"v": 1, "upto": 1, "missing_blobs": ["a" * 64] * 101},
        {"v": 1, "upto": 1, "gap": 1},
        {"v": 1, "upto": 2**53},
        {"v": True, "upto": 1},
        {"v": 1, "upto": 1, "server_time": True},
        {"v": 1, "upto": 1, "server_time": "1764900000"},
        {"v": 1, "upto": 1, "server_time": -5},
        {"v": 1, "upto": 1, "server_time": 1e12},
    ],
)
def test_parse_ack_rejects(obj: dict[str, Any]) -> None:
    with pytest.raises(MessageError):
        parse_ack(chunk(obj))


def test_command_round_trip_and_validation() -> None:
    from trace_protocol.messages import RESEND, Command, parse_command

    cmd = Command(RESEND, {"from": 7})
    assert parse_command(cmd.encode()) == cmd
    assert json.loads(cmd.encode()) == {"v": 1, "cmd": "resend", "from": 7}
    for bad in (
        {"v": 1},
        {"v": 1, "cmd": "resend"},
        {"v": 1, "cmd": "resend", "from": 0},
        {"v": 1, "cmd": "resend", "from": True},
        {"v": 2, "cmd": "resend", "from": 3},
        {"v": True, "cmd": "resend", "from": 3},
        {"v": 1, "cmd": "resend", "from": 3.0},
        {"v": 1, "cmd": "snapshot", "camera": "cam<script>"},
        {"v": 1, "cmd": "snapshot", "camera": ["a"]},
        {"v": 1, "cmd": "Resend!", "from": 3},
        {"v": 1, "cmd": "x", "a": {"b": 1}},
    ):
        with pytest.raises(MessageError):
            parse_command(json.dumps(bad).encode())


def test_every_parser_refuses_deep_nesting_with_a_message_error() -> None:
    from trace_protocol.messages import parse_command

    deep = b'{"v":1,"x":' + b"[" * 1500 + b"]" * 1500 + b"}"
    for parse in (parse_ack, parse_command, lambda p: parse_chunk(p, DEV)):
        with pytest.raises(MessageError, match="nested deeper"):
            parse(deep)
