"""Payloads of the sync topics: event chunks, acks and commands (DESIGN.md §4); shared checks.

Every parser here takes bytes from the network and either returns a fully checked value or
raises :class:`MessageError`; nothing else escapes (issue 12, finding 3). Sizes and nesting are
bounded before a field is looked at (:mod:`trace_protocol.bounded_json`), and every field is
checked for its exact type: ``"v": true`` is not version 1, although ``True == 1`` in Python.
The device's status message has its own module, :mod:`trace_protocol.status`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from trace_protocol import PROTOCOL_VERSION
from trace_protocol.bounded_json import JSONBoundsError, loads_bounded
from trace_protocol.canonical import MAX_SAFE_INT
from trace_protocol.envelope import DEVICE_ID_RE, EnvelopeError, Event, parse_event

MAX_PAYLOAD_BYTES = 1_048_576  # an events chunk
MAX_ACK_BYTES = 65_536
MAX_COMMAND_BYTES = 4_096
MAX_CHUNK_EVENTS = 500
MAX_MISSING_BLOBS = 100
MAX_DETAIL_CHARS = 500
CODE_RE = re.compile(r"^[a-z][a-z_]{0,31}\Z")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")


class MessageError(ValueError):
    """A payload that does not follow the protocol; the message says why."""


def load_object(payload: bytes, max_bytes: int) -> dict[str, Any]:
    """Decode a payload within bounds: a JSON object whose ``v`` is exactly the integer 1."""
    try:
        obj = loads_bounded(payload, max_bytes=max_bytes)
    except JSONBoundsError as exc:
        raise MessageError(str(exc)) from None
    if not isinstance(obj, dict):
        raise MessageError("payload must be a JSON object")
    v = obj.get("v")
    if type(v) is not int or v != PROTOCOL_VERSION:
        raise MessageError(f"unsupported protocol version {str(v)[:20]!r}")
    return obj


def check_int(value: Any, name: str, *, low: int = 0, high: int = MAX_SAFE_INT) -> int:
    """``value`` as an int in ``[low, high]``; bools, floats and strings are refused."""
    if type(value) is not int or not low <= value <= high:
        raise MessageError(f"{name} must be an integer in [{low}, {high}]")
    return value


def check_str(
    value: Any, name: str, *, max_chars: int, pattern: re.Pattern[str] | None = None
) -> str:
    if not isinstance(value, str) or len(value) > max_chars:
        raise MessageError(f"{name} must be a string of at most {max_chars} characters")
    if pattern is not None and not pattern.match(value):
        raise MessageError(f"{name} has characters it may not have")
    return value


def dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_chunk(dev: str, events: list[Event]) -> bytes:
    return dump({"v": PROTOCOL_VERSION, "dev": dev, "events": [e.to_dict() for e in events]})


def parse_chunk(payload: bytes, topic_dev: str) -> list[Event]:
    """Parse an ``events`` payload sent on ``topic_dev``'s topic; events come back seq-ordered."""
    obj = load_object(payload, MAX_PAYLOAD_BYTES)
    if obj.get("dev") != topic_dev:
        raise MessageError("chunk names a device other than its topic's")
    events = obj.get("events")
    if not isinstance(events, list) or not events:
        raise MessageError("chunk must carry a non-empty list of events")
    if len(events) > MAX_CHUNK_EVENTS:
        raise MessageError(f"chunk carries more than {MAX_CHUNK_EVENTS} events")
    try:
        parsed = [parse_event(e) for e in events]
    except EnvelopeError as exc:
        raise MessageError(f"malformed event: {str(exc)[:300]}") from exc
    parsed.sort(key=lambda e: e.seq)
    return parsed


@dataclass(frozen=True)
class AckError:
    """The server refused the event at ``seq``: quarantined, and sync is blocked there."""

    code: str
    seq: int
    detail: str


def parse_ack_error(value: Any, name: str) -> AckError | None:
    """An ``{code, seq, detail}`` object (acks, and the device's status), or None."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) != {"code", "seq", "detail"}:
        raise MessageError(f"{name} must be an object with code, seq and detail")
    return AckError(
        code=check_str(value["code"], f"{name}.code", max_chars=32, pattern=CODE_RE),
        seq=check_int(value["seq"], f"{name}.seq"),
        detail=check_str(value["detail"], f"{name}.detail", max_chars=MAX_DETAIL_CHARS),
    )


@dataclass(frozen=True)
class Ack:
    """``upto`` is the highest contiguous seq the server has committed for the device."""

    upto: int
    missing_blobs: list[str] = field(default_factory=list)
    error: AckError | None = None
    # True when the server dropped events beyond ``upto+1`` (they arrived before their
    # predecessors, e.g. through another ingest worker): resend from ``upto+1`` now.
    gap: bool = False
    # The server's wall clock (Unix seconds) when it sent the ack, or None. A device whose clock
    # agrees with it knows its own time is right even where no NTP client runs (issue 13).
    server_time: float | None = None

    def encode(self) -> bytes:
        return dump({"v": PROTOCOL_VERSION, **asdict(self)})


def parse_ack(payload: bytes) -> Ack:
    """Acks come from the server; fields a newer server adds are ignored, known ones checked."""
    obj = load_object(payload, MAX_ACK_BYTES)
    upto = check_int(obj.get("upto"), "ack.upto")
    blobs = obj.get("missing_blobs", [])
    if (
        not isinstance(blobs, list)
        or len(blobs) > MAX_MISSING_BLOBS
        or not all(isinstance(b, str) and _SHA256_RE.match(b) for b in blobs)
    ):
        raise MessageError("ack.missing_blobs must be a list of SHA-256 hex digests")
    error = parse_ack_error(obj.get("error"), "ack.error")
    gap = obj.get("gap", False)
    if not isinstance(gap, bool):
        raise MessageError("ack.gap must be a boolean")
    server_time = obj.get("server_time")
    if server_time is not None and (
        isinstance(server_time, bool)
        or not isinstance(server_time, int | float)
        or not 0 < server_time < 1e11
    ):
        raise MessageError("ack.server_time must be Unix seconds")
    return Ack(
        upto=upto,
        missing_blobs=blobs,
        error=error,
        gap=gap,
        server_time=None if server_time is None else float(server_time),
    )


RESEND = "resend"
SNAPSHOT = "snapshot"
# Issue 16: the office decided that this blocked device continues under a new identity
# (docs/protocol.md, "Unblocking"): ``dev`` the new id, ``token`` its one-time enrolment token.
CONTINUE = "continue"
# Issue 16: the office rotates this device's broker password (its old one is believed stolen):
# ``token`` is a one-time enrolment token for the same id that only this device's key can use.
REKEY = "rekey"
# A camera name as it may appear on the wire (status, snapshot command): letters of any script,
# digits, space, '_', '.', '-'; no markup, no control characters.
CAMERA_NAME_RE = re.compile(r"^\w[\w .-]{0,31}\Z")
_ARG_RE = re.compile(r"^[a-z][a-z_]{0,31}\Z")
MAX_COMMAND_ARGS = 8


@dataclass(frozen=True)
class Command:
    """A request from the server on the ``cmd`` topic, e.g. ``resend`` from a seq."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        return dump({"v": PROTOCOL_VERSION, "cmd": self.name, **self.args})


def parse_command(payload: bytes) -> Command:
    obj = load_object(payload, MAX_COMMAND_BYTES)
    name = check_str(obj.get("cmd"), "cmd", max_chars=32, pattern=CODE_RE)
    args = {k: v for k, v in obj.items() if k not in ("v", "cmd")}
    if len(args) > MAX_COMMAND_ARGS or not all(_ARG_RE.match(k) for k in args):
        raise MessageError(f"cmd {name}: too many arguments or a malformed argument name")
    if any(isinstance(v, dict | list) for v in args.values()):
        raise MessageError(f"cmd {name}: arguments must be plain values")
    if name == RESEND:
        check_int(args.get("from"), f"cmd {name}: from", low=1)
    if name == SNAPSHOT:
        check_str(args.get("camera"), f"cmd {name}: camera", max_chars=32, pattern=CAMERA_NAME_RE)
    if name == CONTINUE:
        check_str(args.get("dev"), f"cmd {name}: dev", max_chars=63, pattern=DEVICE_ID_RE)
        check_str(args.get("token"), f"cmd {name}: token", max_chars=200)
    if name == REKEY:
        check_str(args.get("token"), f"cmd {name}: token", max_chars=200)
    return Command(name, args)
