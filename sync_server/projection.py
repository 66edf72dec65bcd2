"""Server-side projection: the batches table, derived from committed events only."""

from __future__ import annotations

from sqlalchemy import Connection, update

from sync_server.db import batches
from trace_protocol import envelope as ev
from trace_protocol.envelope import Event

_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    ev.BATCH_OPENED: {"batch": str, "lot": str, "product": dict, "production_date": str},
    ev.STEP_RECORDED: {"batch": str, "step": str, "name": str, "values": dict},
    ev.BATCH_CLOSED: {"batch": str, "quantity": (int, float), "unit": str},
    ev.LABELS_PRINTED: {"batch": str, "copies": int},
}


def body_problem(e: Event) -> str | None:
    """Why this (authentic) event's body cannot be projected, or None when it can."""
    for key, kind in _REQUIRED.get(e.type, {}).items():
        if not isinstance(e.body.get(key), kind) or isinstance(e.body.get(key), bool):
            return f"{e.type} body needs {key!r}"
    return None


def project(conn: Connection, e: Event) -> None:
    """Apply one committed event; called in the same transaction as its insert."""
    b = e.body
    if e.type == ev.BATCH_OPENED:
        product = b.get("product", {})
        conn.execute(
            batches.insert().values(
                dev_id=e.dev,
                batch_id=str(b["batch"]),
                lot=str(b["lot"]),
                gtin=product.get("gtin"),
                facility_code=str(b.get("facility", {}).get("code", "")),
                product_code=str(product.get("code", "")),
                product=product,
                facility=b.get("facility", {}),
                production_date=str(b.get("production_date", "")),
                opened_at=e.at,
                status="open",
            )
        )
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
