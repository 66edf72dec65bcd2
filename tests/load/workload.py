"""What a simulated device records: a realistic day's mix of events, signed as the edge does.

Per batch (docs/deployment.md): open, 6 × (evidence photo + step), close, labels = 15 events,
plus 12 periodic photos interleaved, so 27 events per batch and 135 per 5-batch day. Photos name
random file hashes (no files are uploaded: acks then list up to 20 missing blobs, like a
device whose uploads lag). A signed event is 700-900 bytes on the wire, as in the deployment
measurement.

:class:`Journal` keeps what the edge journal would: every event's hash (for the final check)
and the JSON of the events not acknowledged yet (to send and resend).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import uuid
from collections import deque
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from trace_protocol.envelope import build_event
from trace_protocol.signing import DeviceKey

ICT = timezone(timedelta(hours=7))
PRODUCT = {
    "code": "NM",
    "name": "Gạo Ngọc Mầm",
    "name_en": "Ngọc Mầm rice",
    "gtin": "08936123450014",
    "ocop_stars": 4,
    "unit": "kg",
    "shelf_life_days": 365,
}
FACILITY = {
    "code": "KC",
    "name": "Công ty TNHH MTV KC",
    "commune": "xã Thạch Đài",
    "district": "huyện Thạch Hà",
    "province": "Hà Tĩnh",
}
STEPS = [
    ("NHAP", "Nhập lúa nguyên liệu", "Paddy intake", {"do_am": 14.2, "khoi_luong": 1200.0}),
    ("SAY", "Sấy lúa", "Drying", {"nhiet_do": 45.0}),
    ("XAT", "Xay xát", "Milling", {"ti_le": 68.5}),
    ("TACH", "Tách màu", "Colour sorting", {"loai_bo": 1.2}),
    ("DONG", "Đóng gói", "Packing", {"so_tui": 240.0}),
    ("KIEM", "Kiểm tra", "Inspection", {"dat": 1.0}),
]
# Which of the 15 batch events a periodic photo follows: 12 of them, so 27 events per batch.
PERIODIC_AFTER = frozenset(range(1, 13))


def device_key(seed: str, dev: str) -> DeviceKey:
    """The same key in the runner (which registers it) and the simulator (which signs)."""
    raw = hashlib.sha256(f"{seed}/{dev}".encode()).digest()
    return DeviceKey(Ed25519PrivateKey.from_private_bytes(raw))


def _sha() -> str:
    return os.urandom(32).hex()


class DayMix:
    """The body of each next event, cycling through batches as a working facility would."""

    def __init__(self, dev: str, rng: random.Random) -> None:
        self.dev = dev
        self.rng = rng
        self.pending: deque[tuple[str, dict[str, Any]]] = deque()
        self.batches = 0
        # Lots are unique on the server (issue 12): each simulated device gets its own code
        # space, 7 base32 characters of its id's hash (20 characters with the date and counter).
        digest = base64.b32encode(hashlib.sha256(dev.encode()).digest()).decode()
        self.lot_prefix = digest[:7]

    def next(self, now: datetime) -> tuple[str, dict[str, Any]]:
        if not self.pending:
            self._plan_batch(now)
        return self.pending.popleft()

    def _photo(self, purpose: str, batch: str | None) -> tuple[str, dict[str, Any]]:
        sha, thumb = _sha(), _sha()
        body: dict[str, Any] = {
            "camera": "day-chuyen",
            "purpose": purpose,
            "sha256": sha,
            "thumb_sha256": thumb,
            "width": 640,
            "height": 480,
        }
        if batch is not None:
            body.update(batch=batch, public_sha256=_sha(), public_thumb_sha256=_sha())
        return "snapshot.taken", body

    def _plan_batch(self, now: datetime) -> None:
        self.batches += 1
        batch = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        day = now.strftime("%y%m%d")
        out: list[tuple[str, dict[str, Any]]] = [
            (
                "batch.opened",
                {
                    "batch": batch,
                    "lot": f"{self.lot_prefix}-{day}-{self.batches:04d}",
                    "product": PRODUCT,
                    "facility": FACILITY,
                    "production_date": now.strftime("%Y-%m-%d"),
                    "catalog_version": 1,
                },
            ),
        ]
        for code, name, name_en, values in STEPS:
            photo = self._photo("evidence", batch)
            out.append(photo)
            out.append(
                (
                    "step.recorded",
                    {
                        "batch": batch,
                        "step": code,
                        "name": name,
                        "name_en": name_en,
                        "values": {
                            k: round(v * (0.9 + 0.2 * self.rng.random()), 1)
                            for k, v in values.items()
                        },
                        "units": {k: "kg" for k in values},
                        "labels": {k: k for k in values},
                        "labels_en": {k: k for k in values},
                        "note": f"lô thử tải {self.batches}",
                        "photos": [photo[1]["sha256"]],
                    },
                )
            )
        out.append(
            ("batch.closed", {"batch": batch, "quantity": 800.0, "unit": "kg", "expiry_date": None})
        )
        out.append(
            (
                "labels.printed",
                {"batch": batch, "kind": "batch", "copies": 50, "format": "pdf", "printer": "file"},
            )
        )
        for i, item in enumerate(out):
            self.pending.append(item)
            if i in PERIODIC_AFTER:
                self.pending.append(self._photo("periodic", None))


class Journal:
    """One device's events: all hashes, plus the wire JSON of those not acknowledged yet."""

    def __init__(self, dev: str, key: DeviceKey, rng: random.Random) -> None:
        self.dev = dev
        self.key = key
        self.mix = DayMix(dev, rng)
        self.hashes: list[str] = []
        self.acked = 0
        # Index i holds seq acked + 1 + i: (compact JSON of the event, time it was recorded).
        self.unacked: list[tuple[bytes, float]] = []
        self._prefix = json.dumps({"v": 1, "dev": dev})[:-1].encode() + b',"events":['

    @property
    def head(self) -> int:
        return len(self.hashes)

    def record(self, t: float) -> None:
        now = datetime.now(ICT)
        type_, body = self.mix.next(now)
        e = build_event(
            key=self.key,
            dev=self.dev,
            seq=self.head + 1,
            type=type_,
            body=body,
            prev=self.hashes[-1] if self.hashes else None,
            at=now,
            clock="synced",
        )
        self.hashes.append(e.hash)
        wire = json.dumps(e.to_dict(), ensure_ascii=False, separators=(",", ":"))
        self.unacked.append((wire.encode(), t))

    def chunk(self, first: int, last: int) -> bytes:
        """The ``events`` payload for seqs ``first..last`` (all unacknowledged)."""
        lo, hi = first - self.acked - 1, last - self.acked
        return self._prefix + b",".join(w for w, _ in self.unacked[lo:hi]) + b"]}"

    def ack(self, upto: int) -> list[float]:
        """Mark events up to ``upto`` acknowledged; returns when each of them was recorded."""
        n = upto - self.acked
        if n <= 0:
            return []
        recorded = [t for _, t in self.unacked[:n]]
        del self.unacked[:n]
        self.acked = upto
        return recorded

    def oldest_unacked(self) -> float | None:
        return self.unacked[0][1] if self.unacked else None
