"""The device's signed status message (``ocop/v1/dev/{dev}/status``, DESIGN.md §4).

Issue 12, finding 7: a status forged with only a broker password (``acked: 1000000``, a camera
called ``cam<script>``) raised office alerts and made the server send commands. So a status is
signed by the device key like its events, and every field is bounded:

- the signed bytes are SHA-256(``STATUS_CONTEXT`` + JCS(status without ``sig``)), and ``sig``
  is the base64url Ed25519 signature of those 32 bytes. The context prefix keeps a status
  signature from ever being taken for an event's (an event signs the bare SHA-256 of its JCS);
- the status names its device (``dev``, which must be its topic's) and its time (``at``);
- every key is required and no other top-level key is allowed: fields that grow go in
  ``extra``, whose known keys are checked for type and range and whose other keys may hold
  only short scalars.

docs/protocol.md ("status") is the reference for the format.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from trace_protocol import PROTOCOL_VERSION
from trace_protocol.canonical import canonical_json
from trace_protocol.envelope import CLOCK_STATES
from trace_protocol.messages import (
    CAMERA_NAME_RE,
    CODE_RE,
    AckError,
    MessageError,
    check_int,
    check_str,
    dump,
    load_object,
    parse_ack_error,
)
from trace_protocol.signing import DeviceKey, verify_signature

STATUS_CONTEXT = b"ocop/v1/status\n"
MAX_STATUS_BYTES = 16_384
MAX_AGE_S = 10 * 366 * 86_400  # an "oldest unsynced" age beyond ten years is nonsense
MAX_EXTRA_KEYS = 32
MAX_CAMERAS = 16
MAX_SCALAR_CHARS = 200
_FIELDS = (
    "v",
    "dev",
    "online",
    "at",
    "head",
    "acked",
    "backlog",
    "oldest_unsynced_age_s",
    "clock",
    "version",
    "blocked",
    "extra",
    "sig",
)
_VERSION_RE = re.compile(r"^[0-9A-Za-z.+_-]{0,32}\Z")
_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}\Z")
_SIG_RE = re.compile(r"^[A-Za-z0-9_-]{86}\Z")
_CAMERA_KEYS = {"state", "detail", "last_frame_age_s"}


@dataclass(frozen=True)
class Status:
    """What a device says about itself on its retained status topic, signed by its key."""

    dev: str
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
    sig: str = ""

    def unsigned(self) -> dict[str, Any]:
        """The status without ``sig``: what the signature covers."""
        out = {"v": PROTOCOL_VERSION, **asdict(self)}
        del out["sig"]
        return out

    def digest(self) -> bytes:
        return hashlib.sha256(STATUS_CONTEXT + canonical_json(self.unsigned())).digest()

    def signed(self, key: DeviceKey) -> Status:
        return replace(self, sig=key.sign(self.digest()))

    def verify(self, public_key: Ed25519PublicKey) -> bool:
        return bool(self.sig) and verify_signature(public_key, self.digest(), self.sig)

    def encode(self) -> bytes:
        if not self.sig:
            raise ValueError("a status is sent signed: call signed(key) first")
        return dump({**self.unsigned(), "sig": self.sig})


def build_status(key: DeviceKey, **fields: Any) -> Status:
    """A signed status; raises :class:`MessageError` if the device would send a bad one."""
    status = Status(**fields).signed(key)
    parse_status(status.encode(), status.dev)  # the server would drop it: fail here, loudly
    return status


def _number(value: Any, name: str, *, low: float = 0) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MessageError(f"{name} must be a number")
    if not math.isfinite(value) or not low <= value <= MAX_AGE_S:
        raise MessageError(f"{name} is out of range")
    return float(value)


def _scalar(value: Any, name: str) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        check_int(value, name, low=-(2**53 - 1))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MessageError(f"{name} must be finite")
    else:
        check_str(value, name, max_chars=MAX_SCALAR_CHARS)


def _cameras(value: Any) -> None:
    if not isinstance(value, dict) or len(value) > MAX_CAMERAS:
        raise MessageError(f"extra.cameras must be an object of at most {MAX_CAMERAS} cameras")
    for name, cam in value.items():
        check_str(name, "camera name", max_chars=32, pattern=CAMERA_NAME_RE)
        if not isinstance(cam, dict) or "state" not in cam or not set(cam) <= _CAMERA_KEYS:
            raise MessageError("extra.cameras: each camera is {state, detail, last_frame_age_s}")
        check_str(cam["state"], "camera state", max_chars=16, pattern=CODE_RE)
        check_str(cam.get("detail", ""), "camera detail", max_chars=MAX_SCALAR_CHARS)
        # Wall-clock ages: a clock set back makes one briefly negative, which is no lie.
        _number(cam.get("last_frame_age_s"), "camera last_frame_age_s", low=-MAX_AGE_S)


_EXTRA_INTS = ("disk_free_mb", "uploads_pending", "photo_bytes")


def _extra(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict) or len(value) > MAX_EXTRA_KEYS:
        raise MessageError(f"extra must be an object of at most {MAX_EXTRA_KEYS} keys")
    for key, item in value.items():
        check_str(key, "extra key", max_chars=40, pattern=_KEY_RE)
        if key == "cameras":
            _cameras(item)
        elif key in _EXTRA_INTS:
            check_int(item, f"extra.{key}")
        elif key == "catalog_version":
            if item is not None:
                check_int(item, "extra.catalog_version", low=1)
        elif key == "periodic_paused_disk_low":
            if not isinstance(item, bool):
                raise MessageError("extra.periodic_paused_disk_low must be a boolean")
        else:
            _scalar(item, f"extra.{key}")
    return value


def parse_status(payload: bytes, topic_dev: str) -> Status:
    """Check a status payload's form; :meth:`Status.verify` then checks its signature."""
    obj = load_object(payload, MAX_STATUS_BYTES)
    if set(obj) != set(_FIELDS):
        missing = sorted(set(_FIELDS) - set(obj))
        unknown = sorted(set(obj) - set(_FIELDS))[:5]
        raise MessageError(f"status fields: missing {missing}, unknown {unknown}")
    if obj["dev"] != topic_dev:
        raise MessageError("status names a device other than its topic's")
    if not isinstance(obj["online"], bool):
        raise MessageError("status.online must be a boolean")
    at = check_str(obj["at"], "status.at", max_chars=40)
    try:
        if datetime.fromisoformat(at).tzinfo is None:
            raise ValueError
    except ValueError:
        raise MessageError("status.at must be an ISO 8601 time with offset") from None
    head = check_int(obj["head"], "status.head")
    acked = check_int(obj["acked"], "status.acked", high=head)
    backlog = check_int(obj["backlog"], "status.backlog", high=head)
    if obj["clock"] not in CLOCK_STATES:
        raise MessageError(f"status.clock must be one of {', '.join(CLOCK_STATES)}")
    sig = obj["sig"]
    if not isinstance(sig, str) or not _SIG_RE.match(sig):
        raise MessageError("status.sig must be a base64url Ed25519 signature")
    return Status(
        dev=topic_dev,
        online=obj["online"],
        at=at,
        head=head,
        acked=acked,
        backlog=backlog,
        oldest_unsynced_age_s=_number(obj["oldest_unsynced_age_s"], "status.oldest_unsynced_age_s"),
        clock=obj["clock"],
        version=check_str(obj["version"], "status.version", max_chars=32, pattern=_VERSION_RE),
        blocked=parse_ack_error(obj["blocked"], "status.blocked"),
        extra=_extra(obj["extra"]),
        sig=sig,
    )
