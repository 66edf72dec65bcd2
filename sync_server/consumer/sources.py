"""What a consumer page tells of a batch's actual raw-material sources.

Issue 15: the sources are the receipts the batch recorded using (``input_uses`` joined to
``receipts``), not the catalog's fixed "origins" text; a supplier's name shows only where the
facility's current catalog marks it public (a farmer is private unless it says so), its place
always. Its corrections are :mod:`sync_server.consumer.corrections`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from sync_server.store.db import facilities, input_uses, receipts
from trace_protocol.supply import SupplyError, parse_suppliers


@dataclass(frozen=True)
class SourceView:
    """One received lot a batch used: what, from where, when received, how much went in."""

    material: str
    material_en: str
    supplier_name: str  # "" when the supplier's name is not public
    supplier_kind: str
    place: str
    received_on: str
    receipt_lot: str
    quantity: float
    unit: str
    # Another kit facility's labelled lot this was received as: the chain goes on there.
    source_lot: str = ""
    certification: str = ""


def _public_names(conn: Connection, facility_code: str) -> dict[str, bool]:
    """Supplier id → may its name be shown, as the facility's current catalog says."""
    row = conn.execute(
        select(facilities.c.catalog).where(facilities.c.code == facility_code)
    ).first()
    raw = row[0].get("suppliers") if row and isinstance(row[0], dict) else None
    try:
        return {s.id: s.public_name for s in parse_suppliers(raw)}
    except SupplyError:
        return {}


def _place(supplier: dict[str, Any]) -> str:
    parts = (supplier.get("commune"), supplier.get("district"), supplier.get("province"))
    return ", ".join(str(p) for p in parts if p)


def _certification(supplier: dict[str, Any]) -> str:
    cert = supplier.get("certification")
    if not isinstance(cert, dict) or not cert.get("scheme"):
        return ""
    return " ".join(str(cert[k]) for k in ("scheme", "code") if cert.get(k))


def batch_sources(
    conn: Connection, dev_id: str, batch_id: str, facility_code: str
) -> list[SourceView]:
    """The receipts the batch used, one entry per receipt (its uses summed), oldest first.

    Summed here, not in SQL: PostgreSQL cannot group by the JSON snapshot columns."""
    rows = conn.execute(
        select(
            receipts.c.receipt_id,
            receipts.c.supplier_id,
            receipts.c.supplier,
            receipts.c.material,
            receipts.c.received_on,
            receipts.c.lot,
            receipts.c.source_lot,
            input_uses.c.unit,
            input_uses.c.quantity,
        )
        .select_from(input_uses.join(receipts, receipts.c.receipt_id == input_uses.c.receipt_id))
        .where(input_uses.c.dev_id == dev_id, input_uses.c.batch_id == batch_id)
        .order_by(receipts.c.received_on, receipts.c.lot, input_uses.c.seq)
    ).all()
    if not rows:
        return []
    used: dict[str, float] = {}
    first: dict[str, Any] = {}
    for r in rows:
        used[r.receipt_id] = used.get(r.receipt_id, 0.0) + float(r.quantity or 0)
        first.setdefault(r.receipt_id, r)
    public = _public_names(conn, facility_code)
    out = []
    for receipt_id, r in first.items():
        supplier = r.supplier if isinstance(r.supplier, dict) else {}
        material = r.material if isinstance(r.material, dict) else {}
        # The current catalog decides (a farmer may withdraw consent); the snapshot otherwise.
        shown = public.get(r.supplier_id, bool(supplier.get("public_name")))
        out.append(
            SourceView(
                material=str(material.get("name", "")),
                material_en=str(material.get("name_en", "")),
                supplier_name=str(supplier.get("name", "")) if shown else "",
                supplier_kind=str(supplier.get("kind", "")),
                place=_place(supplier),
                received_on=r.received_on,
                receipt_lot=r.lot,
                quantity=used[receipt_id],
                unit=r.unit,
                source_lot=r.source_lot or "",
                certification=_certification(supplier),
            )
        )
    return out
