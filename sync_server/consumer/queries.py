"""Read models for the public pages: a batch's record, a facility and its products, lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from sync_server.consumer.corrections import CorrectionView, batch_corrections
from sync_server.consumer.sources import SourceView, batch_sources
from sync_server.store.db import batches, blob_refs, devices, events, facilities
from trace_protocol import envelope as ev
from trace_protocol.catalog import CatalogError, Product, parse_product

PERIODIC = "periodic"  # surveillance snapshots: never on a public page (DESIGN.md §5)


@dataclass(frozen=True)
class FacilityView:
    """A facility as its current catalog (the server's, the authority) describes it."""

    code: str
    name: str
    commune: str
    district: str
    province: str
    products: tuple[Product, ...] = ()
    phone: str = ""  # the catalog's optional contact (trace_protocol.catalog.Facility)
    email: str = ""

    @property
    def address(self) -> str:
        return ", ".join(p for p in (self.commune, self.district, self.province) if p)

    def product(self, code: str) -> Product | None:
        return next((p for p in self.products if p.code == code), None)


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
    # Issue 15: the stage's trace code (Circular 02/2024 Art. 6: one per event), and the
    # corrections of this step ("sửa lúc … vì …").
    code: str = ""
    corrections: list[CorrectionView] = field(default_factory=list)


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
    # The facility's current catalog entry for this product: certificate, origins, stars.
    facility_now: FacilityView | None = None
    product_now: Product | None = None
    # Issue 15: the received lots it actually used, corrections of its events, and a void.
    sources: list[SourceView] = field(default_factory=list)
    corrections: list[CorrectionView] = field(default_factory=list)
    voided_at: str | None = None
    void_reason: str | None = None


def find_batch(conn: Connection, lot: str, gtin: str | None = None) -> BatchView | None:
    """The one batch that holds this lot (with this GTIN, when the URL has one).

    ``public_lot`` is unique (ingest refuses a lot that is taken, sync_server/ingest/binding.py), so
    nothing a device writes, its clock included, chooses between records.
    """
    query = select(batches).where(batches.c.public_lot == lot)
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
    facility_now = find_facility(conn, row["facility_code"])
    fixes = batch_corrections(conn, row["dev_id"], row["batch_id"])
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
            code=f"{row['lot']}-E{r.seq}",
            corrections=[c for c in fixes if c.corrects_seq == r.seq],
        )
        for r in step_rows
    ]
    return BatchView(
        dev_id=row["dev_id"],
        lot=row["lot"],
        gtin=row["gtin"],
        product=row["product"],
        # Who made it is the registry's word for the device, never the event body's.
        facility=_facility_dict(facility_now, row["facility_code"]),
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
        facility_now=facility_now,
        product_now=facility_now.product(row["product_code"]) if facility_now else None,
        sources=batch_sources(conn, row["dev_id"], row["batch_id"], row["facility_code"]),
        corrections=fixes,
        voided_at=row.get("voided_at"),
        void_reason=row.get("void_reason"),
    )


def _facility_dict(view: FacilityView | None, code: str) -> dict[str, Any]:
    if view is None:
        return {"code": code, "name": code, "commune": "", "district": "", "province": ""}
    return {
        "code": view.code,
        "name": view.name,
        "commune": view.commune,
        "district": view.district,
        "province": view.province,
    }


def _public_photos(conn: Connection, dev: str, batch_id: str) -> dict[str, tuple[str, str]]:
    """Full-photo sha256 → (public thumbnail, public image) for the batch's arrived photos.

    Only face-blurred public derivatives are ever shown; a photo whose derivatives have not
    arrived yet is left out rather than shown broken.
    """
    rows = conn.execute(
        select(
            blob_refs.c.seq, blob_refs.c.kind, blob_refs.c.sha256, blob_refs.c.received_at
        ).where(
            blob_refs.c.dev_id == dev,
            blob_refs.c.batch_id == batch_id,
            blob_refs.c.purpose != PERIODIC,
        )
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


def recent_batches(
    conn: Connection,
    limit: int = 20,
    facility_code: str | None = None,
    product_code: str | None = None,
) -> list[dict[str, Any]]:
    """The batches the server recorded last (its own clock, not the devices'), optionally of
    one facility (and one of its products); each with its facility as the registry names it."""
    query = (
        select(
            batches.c.lot,
            batches.c.gtin,
            batches.c.product_code,
            batches.c.product,
            batches.c.facility_code,
            facilities.c.name.label("facility_name"),
            batches.c.production_date,
            batches.c.status,
        )
        .select_from(batches.join(facilities, facilities.c.code == batches.c.facility_code))
        .where(batches.c.public_lot.is_not(None))
    )
    if facility_code is not None:
        query = query.where(batches.c.facility_code == facility_code)
    if product_code is not None:
        query = query.where(batches.c.product_code == product_code)
    order = (batches.c.received_at.desc(), batches.c.lot)
    rows = conn.execute(query.order_by(*order).limit(limit)).mappings()
    return [
        {
            **{k: v for k, v in r.items() if k not in ("facility_code", "facility_name")},
            "facility": {"code": r["facility_code"], "name": r["facility_name"]},
        }
        for r in rows
    ]


def find_facility(conn: Connection, code: str) -> FacilityView | None:
    row = conn.execute(select(facilities).where(facilities.c.code == code)).mappings().first()
    if row is None:
        return None
    products = []
    raw = row["catalog"].get("products", []) if isinstance(row["catalog"], dict) else []
    contact = row["catalog"].get("facility", {}) if isinstance(row["catalog"], dict) else {}
    contact = contact if isinstance(contact, dict) else {}
    for i, obj in enumerate(raw):
        try:
            products.append(parse_product(obj, f"products[{i}]"))
        except CatalogError:
            continue  # validated at import; an entry this version cannot read is left out
    return FacilityView(
        code=row["code"],
        name=row["name"],
        commune=row["commune"],
        district=row["district"],
        province=row["province"],
        products=tuple(products),
        phone=str(contact.get("phone") or ""),
        email=str(contact.get("email") or ""),
    )
