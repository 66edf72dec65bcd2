"""Server-side projection: the batches table, derived from committed events only, and the
supply tables through sync_server/ingest/supply_projection.py."""

from __future__ import annotations

import time

from sqlalchemy import Connection, select, update

from sync_server.ingest.supply_projection import project_supply
from sync_server.store.blobs import SHA256_RE
from sync_server.store.db import batches, blob_refs, devices
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event

_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    ev.BATCH_OPENED: {"batch": str, "lot": str, "product": dict, "production_date": str},
    ev.STEP_RECORDED: {"batch": str, "step": str, "name": str, "values": dict},
    ev.BATCH_CLOSED: {"batch": str, "quantity": (int, float), "unit": str},
    ev.LABELS_PRINTED: {"batch": str, "copies": int},
    ev.SNAPSHOT_TAKEN: {"sha256": str, "thumb_sha256": str, "camera": str, "purpose": str},
}
_BLOB_KINDS = (
    ("sha256", "full"),
    ("thumb_sha256", "thumb"),
    ("public_sha256", "public"),
    ("public_thumb_sha256", "public_thumb"),
)


def body_problem(e: Event) -> str | None:
    """Why this (authentic) event's body cannot be projected, or None when it can."""
    if e.type in se.SUPPLY_TYPES:
        return se.body_problem(e.type, e.body)
    for key, kind in _REQUIRED.get(e.type, {}).items():
        if not isinstance(e.body.get(key), kind) or isinstance(e.body.get(key), bool):
            return f"{e.type} body needs {key!r}"
    if e.type == ev.SNAPSHOT_TAKEN:
        for key, _ in _BLOB_KINDS:
            value = e.body.get(key)
            if value is not None and not (isinstance(value, str) and SHA256_RE.match(value)):
                return f"{e.type} body: {key} is not a sha256"
    return None


def project(conn: Connection, e: Event) -> None:
    """Apply one committed event; called in the same transaction as its insert."""
    b = e.body
    if e.type == ev.BATCH_OPENED:
        product = b.get("product", {})
        # The registry, not the body, says whose batch it is (sync_server/ingest/binding.py has
        # already
        # refused a body that names another facility or a lot that is taken).
        registered = conn.execute(
            select(devices.c.facility_code).where(devices.c.dev_id == e.dev)
        ).scalar_one()
        conn.execute(
            batches.insert().values(
                dev_id=e.dev,
                batch_id=str(b["batch"]),
                lot=str(b["lot"]),
                public_lot=str(b["lot"]),
                received_at=time.time(),
                gtin=product.get("gtin"),
                facility_code=registered,
                product_code=str(product.get("code", "")),
                product=product,
                facility=b.get("facility", {}),
                production_date=str(b.get("production_date", "")),
                opened_at=e.at,
                status="open",
            )
        )
    elif e.type == ev.SNAPSHOT_TAKEN:
        _snapshot_taken(conn, e)
    elif e.type == ev.BATCH_CLOSED:
        conn.execute(
            update(batches)
            .where(batches.c.dev_id == e.dev, batches.c.batch_id == str(b["batch"]))
            .values(
                status="closed",
                closed_at=e.at,
                quantity=b.get("quantity"),
                unit=b.get("unit"),
                expiry_date=b.get("expiry_date"),
            )
        )
    elif e.type in se.SUPPLY_TYPES:
        project_supply(conn, e)


def _snapshot_taken(conn: Connection, e: Event) -> None:
    """Remember every photo file the event names, so acks can list the ones still missing."""
    b = e.body
    batch = b.get("batch") if isinstance(b.get("batch"), str) else None
    for key, kind in _BLOB_KINDS:
        sha = b.get(key)
        if not isinstance(sha, str):
            continue
        known = conn.execute(
            select(blob_refs.c.sha256).where(
                blob_refs.c.dev_id == e.dev, blob_refs.c.sha256 == sha, blob_refs.c.kind == kind
            )
        ).first()
        if known is None:
            conn.execute(
                blob_refs.insert().values(
                    sha256=sha,
                    dev_id=e.dev,
                    kind=kind,
                    seq=e.seq,
                    camera=str(b["camera"]),
                    purpose=str(b["purpose"]),
                    batch_id=batch,
                )
            )
