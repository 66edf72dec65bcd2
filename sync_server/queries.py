"""Read models for the web pages: a batch's public record, the home page's lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from sync_server.db import batches, blob_refs, devices, events
from trace_protocol import envelope as ev


@dataclass(frozen=True)
class StepView:
    seq: int
    at: str
    clock: str
    name: str
    name_en: str
    values: dict[str, Any]
    units: dict[str, str]
    labels: dict[str, str]
    labels_en: dict[str, str]
    # (public thumbnail sha256, public full sha256) of each photo that has arrived
    photos: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class BatchView:
    dev_id: str
    lot: str
    gtin: str | None
    product: dict[str, Any]
    facility: dict[str, Any]
    production_date: str
    expiry_date: str | None
    quantity: float | None
    unit: str | None
    status: str
    opened_at: str
    closed_at: str | None
    steps: list[StepView] = field(default_factory=list)
    head_hash: str = ""
    verified: bool = False
    device_blocked: bool = False


def find_batch(conn: Connection, lot: str, gtin: str | None = None) -> BatchView | None:
    """The batch with this lot (and GTIN, when the URL has one); newest first if several."""
    query = select(batches).where(batches.c.lot == lot).order_by(batches.c.opened_at.desc())
    if gtin is not None:
        query = query.where(batches.c.gtin == gtin)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    device = conn.execute(
        select(devices.c.head_hash, devices.c.blocked_code).where(devices.c.dev_id == row["dev_id"])
    ).first()
    step_rows = conn.execute(
        select(events.c.seq, events.c.at, events.c.clock, events.c.body, events.c.hash)
        .where(
            events.c.dev_id == row["dev_id"],
            events.c.batch_id == row["batch_id"],
            events.c.type == ev.STEP_RECORDED,
        )
        .order_by(events.c.seq)
    ).all()
    photos = _public_photos(conn, row["dev_id"], row["batch_id"])
    steps = [
        StepView(
            seq=r.seq,
            at=r.at,
            clock=r.clock,
            name=str(r.body.get("name", "")),
            name_en=str(r.body.get("name_en", "")),
            values=dict(r.body.get("values", {})),
            units=dict(r.body.get("units", {})),
            labels=dict(r.body.get("labels", {})),
            labels_en=dict(r.body.get("labels_en", {})),
            photos=[photos[sha] for sha in r.body.get("photos", []) if sha in photos],
        )
        for r in step_rows
    ]
    return BatchView(
        dev_id=row["dev_id"],
        lot=row["lot"],
        gtin=row["gtin"],
        product=row["product"],
        facility=row["facility"],
        production_date=row["production_date"],
        expiry_date=row["expiry_date"],
        quantity=row["quantity"],
        unit=row["unit"],
        status=row["status"],
        opened_at=row["opened_at"],
        closed_at=row["closed_at"],
        steps=steps,
        head_hash=device[0] if device else "",
        # Every committed event passed hash, chain and signature checks at ingest (ingest.py).
        verified=True,
        device_blocked=bool(device and device[1]),
    )


def _public_photos(conn: Connection, dev: str, batch_id: str) -> dict[str, tuple[str, str]]:
    """Full-photo sha256 → (public thumbnail, public image) for the batch's arrived photos.

    Only face-blurred public derivatives are ever shown; a photo whose derivatives have not
    arrived yet is left out rather than shown broken.
    """
    rows = conn.execute(
        select(
            blob_refs.c.seq, blob_refs.c.kind, blob_refs.c.sha256, blob_refs.c.received_at
        ).where(blob_refs.c.dev_id == dev, blob_refs.c.batch_id == batch_id)
    ).all()
    by_seq: dict[int, dict[str, tuple[str, bool]]] = {}
    for seq, kind, sha, received in rows:
        by_seq.setdefault(seq, {})[kind] = (sha, received is not None)
    out: dict[str, tuple[str, str]] = {}
    for files in by_seq.values():
        full, thumb, public = files.get("full"), files.get("public_thumb"), files.get("public")
        if full and thumb and public and thumb[1] and public[1]:
            out[full[0]] = (thumb[0], public[0])
    return out


def recent_batches(conn: Connection, limit: int = 20) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            batches.c.lot,
            batches.c.gtin,
            batches.c.product,
            batches.c.facility,
            batches.c.production_date,
            batches.c.status,
        )
        .order_by(batches.c.opened_at.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]
