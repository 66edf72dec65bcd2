"""Payloads of the sync topics: event chunks, acks and status (DESIGN.md §4)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from trace_protocol import PROTOCOL_VERSION
from trace_protocol.envelope import EnvelopeError, Event, parse_event

MAX_PAYLOAD_BYTES = 1_048_576
MAX_CHUNK_EVENTS = 500


class MessageError(ValueError):
    """A payload that does not follow the protocol; the message says why."""


def _load(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        obj = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"payload is not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise MessageError("payload must be a JSON object")
    if obj.get("v") != PROTOCOL_VERSION:
        raise MessageError(f"unsupported protocol version {obj.get('v')!r}")
    return obj


def _dump(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def encode_chunk(dev: str, events: list[Event]) -> bytes:
    return _dump({"v": PROTOCOL_VERSION, "dev": dev, "events": [e.to_dict() for e in events]})


def parse_chunk(payload: bytes, topic_dev: str) -> list[Event]:
    """Parse an ``events`` payload sent on ``topic_dev``'s topic; events come back seq-ordered."""
    obj = _load(payload)
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
        raise MessageError(f"malformed event: {exc}") from exc
    parsed.sort(key=lambda e: e.seq)
    return parsed


@dataclass(frozen=True)
class AckError:
    """The server refused the event at ``seq``: quarantined, and sync is blocked there."""

    code: str
    seq: int
    detail: str


@dataclass(frozen=True)
class Ack:
    """``upto`` is the highest contiguous seq the server has committed for the device."""

    upto: int
    missing_blobs: list[str] = field(default_factory=list)
    error: AckError | None = None
    # True when the server dropped events beyond ``upto+1`` (they arrived before their
    # predecessors, e.g. through another ingest worker): resend from ``upto+1`` now.
    gap: bool = False

    def encode(self) -> bytes:
        return _dump({"v": PROTOCOL_VERSION, **asdict(self)})


def parse_ack(payload: bytes) -> Ack:
    obj = _load(payload)
    upto = obj.get("upto")
    if not isinstance(upto, int) or isinstance(upto, bool) or upto < 0:
        raise MessageError("ack.upto must be an integer >= 0")
    blobs = obj.get("missing_blobs", [])
    if not isinstance(blobs, list) or not all(isinstance(b, str) for b in blobs):
        raise MessageError("ack.missing_blobs must be a list of strings")
    err = obj.get("error")
    error = None
    if err is not None:
        if not isinstance(err, dict):
            raise MessageError("ack.error must be an object")
        try:
            error = AckError(code=str(err["code"]), seq=int(err["seq"]), detail=str(err["detail"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise MessageError(f"malformed ack.error: {exc}") from exc
    gap = obj.get("gap", False)
    if not isinstance(gap, bool):
        raise MessageError("ack.gap must be a boolean")
    return Ack(upto=upto, missing_blobs=blobs, error=error, gap=gap)


@dataclass(frozen=True)
class Status:
    """What a device says about itself on its retained status topic."""

    online: bool
    at: str
    head: int = 0
    acked: int = 0
    backlog: int = 0
    oldest_unsynced_age_s: float | None = None
    clock: str = "unsynced"
    version: str = ""
    blocked: AckError | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        return _dump({"v": PROTOCOL_VERSION, **asdict(self)})


def parse_status(payload: bytes) -> Status:
    obj = _load(payload)
    try:
        blocked = obj.get("blocked")
        return Status(
            online=bool(obj["online"]),
            at=str(obj["at"]),
            head=int(obj.get("head", 0)),
            acked=int(obj.get("acked", 0)),
            backlog=int(obj.get("backlog", 0)),
            oldest_unsynced_age_s=(
                None
                if obj.get("oldest_unsynced_age_s") is None
                else float(obj["oldest_unsynced_age_s"])
            ),
            clock=str(obj.get("clock", "unsynced")),
            version=str(obj.get("version", "")),
            blocked=None if not blocked else AckError(**blocked),
            extra=dict(obj.get("extra", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise MessageError(f"malformed status: {exc}") from exc


RESEND = "resend"
SNAPSHOT = "snapshot"
_COMMAND_ARGS: dict[str, tuple[str, ...]] = {RESEND: ("from",)}


@dataclass(frozen=True)
class Command:
    """A request from the server on the ``cmd`` topic, e.g. ``resend`` from a seq."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    def encode(self) -> bytes:
        return _dump({"v": PROTOCOL_VERSION, "cmd": self.name, **self.args})


def parse_command(payload: bytes) -> Command:
    obj = _load(payload)
    name = obj.get("cmd")
    if not isinstance(name, str) or not name:
        raise MessageError("cmd must name a command")
    args = {k: v for k, v in obj.items() if k not in ("v", "cmd")}
    for key in _COMMAND_ARGS.get(name, ()):
        value = args.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise MessageError(f"cmd {name}: {key} must be an integer >= 1")
    if name == SNAPSHOT and not isinstance(args.get("camera"), str):
        raise MessageError("cmd snapshot: camera must name a camera")
    return Command(name, args)
