"""The signed, hash-chained event envelope of DESIGN.md §3: build, parse and hash one event."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trace_protocol import PROTOCOL_VERSION
from trace_protocol.canonical import canonical_json, sha256_hex
from trace_protocol.signing import DeviceKey

CLOCK_STATES = ("synced", "unsynced")
_TYPE_RE = re.compile(r"^[a-z][a-z_]*(\.[a-z][a-z_]*)+\Z")
DEVICE_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}\Z")
_HASH_RE = re.compile(r"^[0-9a-f]{64}\Z")
_FIELDS = ("v", "dev", "seq", "id", "type", "at", "clock", "body", "prev", "hash", "sig")

# Event types the kit writes today (DESIGN.md §3); receivers accept any well-formed type so the
# vocabulary can grow without a protocol version bump.
BATCH_OPENED = "batch.opened"
INPUT_ADDED = "input.added"
STEP_RECORDED = "step.recorded"
SNAPSHOT_TAKEN = "snapshot.taken"
BATCH_CLOSED = "batch.closed"
LABELS_PRINTED = "labels.printed"
RECORD_CORRECTED = "record.corrected"


class EnvelopeError(ValueError):
    """An event that is not a well-formed envelope; the message says which rule it breaks."""


@dataclass(frozen=True)
class Event:
    """One journal event, exactly as signed by its device."""

    v: int
    dev: str
    seq: int
    id: str
    type: str
    at: str
    clock: str
    body: dict[str, Any]
    prev: str | None
    hash: str
    sig: str

    def unsigned(self) -> dict[str, Any]:
        """The envelope without ``hash`` and ``sig``: what the hash covers."""
        return {
            "v": self.v,
            "dev": self.dev,
            "seq": self.seq,
            "id": self.id,
            "type": self.type,
            "at": self.at,
            "clock": self.clock,
            "body": self.body,
            "prev": self.prev,
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.unsigned(), "hash": self.hash, "sig": self.sig}

    def computed_hash(self) -> str:
        """SHA-256 of the canonical unsigned envelope, worked out once per object: an Event is
        never changed once built (``dataclasses.replace`` makes a new one, without it). The
        server works it out before its write transaction (sync_server/ingest/commit.py)."""
        known: str | None = self.__dict__.get("_computed_hash")
        if known is None:
            known = compute_hash(self.unsigned())
            object.__setattr__(self, "_computed_hash", known)  # not a field: eq/repr ignore it
        return known


def compute_hash(unsigned: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of an envelope without ``hash``/``sig``."""
    return sha256_hex(canonical_json(unsigned))


def build_event(
    *,
    key: DeviceKey,
    dev: str,
    seq: int,
    type: str,
    body: dict[str, Any],
    prev: str | None,
    at: datetime,
    clock: str,
    event_id: str | None = None,
) -> Event:
    """Build and sign the event that follows ``prev`` in a device's journal."""
    if at.tzinfo is None:
        raise EnvelopeError("event time must carry a UTC offset")
    unsigned: dict[str, Any] = {
        "v": PROTOCOL_VERSION,
        "dev": dev,
        "seq": seq,
        "id": event_id or str(uuid.uuid4()),
        "type": type,
        "at": at.isoformat(timespec="milliseconds"),
        "clock": clock,
        "body": body,
        "prev": prev,
    }
    _check_unsigned(unsigned)
    digest = compute_hash(unsigned)
    return Event(**unsigned, hash=digest, sig=key.sign(bytes.fromhex(digest)))


def parse_event(obj: Any) -> Event:
    """Check the shape of a received envelope; raises :class:`EnvelopeError` with the reason.

    This checks form only. Whether the hash, link and signature hold is :mod:`chain`'s job.
    """
    if not isinstance(obj, dict):
        raise EnvelopeError("event must be a JSON object")
    missing = [f for f in _FIELDS if f not in obj]
    if missing:
        raise EnvelopeError(f"event lacks field(s): {', '.join(missing)}")
    extra = sorted(set(obj) - set(_FIELDS))
    if extra:
        raise EnvelopeError(f"event has unknown field(s): {', '.join(extra)}")
    unsigned = {f: obj[f] for f in _FIELDS[:-2]}
    _check_unsigned(unsigned)
    if not isinstance(obj["hash"], str) or not _HASH_RE.match(obj["hash"]):
        raise EnvelopeError("hash must be 64 lower-case hex digits")
    if not isinstance(obj["sig"], str) or not 80 <= len(obj["sig"]) <= 90:
        raise EnvelopeError("sig must be a base64url Ed25519 signature")
    return Event(**unsigned, hash=obj["hash"], sig=obj["sig"])


_MAX_SAFE_INT = 2**53 - 1


def _check_jcs_values(value: Any, where: str) -> None:
    """Reject what RFC 8785 cannot hash: NaN/infinity and integers beyond IEEE 754 precision."""
    if isinstance(value, dict):
        for k, v in value.items():
            _check_jcs_values(v, f"{where}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_jcs_values(v, f"{where}[{i}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise EnvelopeError(f"{where} is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _MAX_SAFE_INT:
        raise EnvelopeError(f"{where} is an integer beyond 2**53")


def _check_unsigned(u: dict[str, Any]) -> None:
    if u["v"] != PROTOCOL_VERSION or isinstance(u["v"], bool):
        raise EnvelopeError(f"unsupported protocol version {u['v']!r}")
    if not isinstance(u["dev"], str) or not DEVICE_ID_RE.match(u["dev"]):
        raise EnvelopeError("dev must be a device id (a-z, 0-9, '-')")
    if not isinstance(u["seq"], int) or isinstance(u["seq"], bool) or u["seq"] < 1:
        raise EnvelopeError("seq must be an integer >= 1")
    if u["seq"] > 2**53 - 1:
        raise EnvelopeError("seq is out of range")
    if not isinstance(u["id"], str):
        raise EnvelopeError("id must be a UUID string")
    try:
        uuid.UUID(u["id"])
    except ValueError as exc:
        raise EnvelopeError("id must be a UUID string") from exc
    if not isinstance(u["type"], str) or len(u["type"]) > 64 or not _TYPE_RE.match(u["type"]):
        raise EnvelopeError("type must look like 'noun.verbed'")
    if not isinstance(u["at"], str):
        raise EnvelopeError("at must be an ISO 8601 time with offset")
    try:
        at = datetime.fromisoformat(u["at"])
    except ValueError as exc:
        raise EnvelopeError("at must be an ISO 8601 time with offset") from exc
    if at.tzinfo is None:
        raise EnvelopeError("at must carry a UTC offset")
    if u["clock"] not in CLOCK_STATES:
        raise EnvelopeError(f"clock must be one of {', '.join(CLOCK_STATES)}")
    if not isinstance(u["body"], dict):
        raise EnvelopeError("body must be a JSON object")
    _check_jcs_values(u["body"], "body")
    prev = u["prev"]
    if u["seq"] == 1 and prev is not None:
        raise EnvelopeError("the first event of a journal has prev null")
    if u["seq"] > 1 and (not isinstance(prev, str) or not _HASH_RE.match(prev)):
        raise EnvelopeError("prev must be the previous event's hash")
