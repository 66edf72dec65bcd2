"""Project the supply events (issue 15) into receipts, input_uses, shipments, corrections and
batches' void columns; called for each committed event in the transaction of its insert, and by
:mod:`sync_server.ingest.replay` when the journal is replayed.

Every row is a pure function of the device's own events in seq order (a correction names an
earlier event of the same device), never of another device's: arrival order across devices and
ingest workers cannot change what is projected. A row that could collide with one already there
(a receipt id or receiving lot, a shipment id) is skipped, never raised: events committed by a
server that did not know these types were never bound (docs/protocol.md, "Versions").
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from sqlalchemy import Connection, or_, select, update

from sync_server.ingest.binding import CONTINUES
from sync_server.store.alerts import raise_alert
from sync_server.store.db import batches, devices, events
from sync_server.store.supply_tables import corrections, input_uses, receipts, shipments
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.digital_link import LinkError, parse_link
from trace_protocol.envelope import Event
from trace_protocol.links import parse_lot

log = logging.getLogger(__name__)

# Raised whenever what the supply projection makes of the journal changes: a server whose
# database holds an older version replays the journal once at start (sync_server/ingest/replay.py).
PROJECTION_VERSION = 1
PROJECTED = (*se.SUPPLY_TYPES, ev.BATCH_CLOSED)
_LOT_IN_PATH = re.compile(r"/01/\d{8,14}/10/([^/?#]+)")


def source_lot(source: Any) -> str | None:
    """The kit lot a receipt was scanned from: ``source.lot``, or the lot in ``source.url`` (a
    GS1 Digital Link's AI 10 or a kit ``/l/LOT`` address); None when neither is a kit lot."""
    if not isinstance(source, dict):
        return None
    found: list[str] = []
    if isinstance(source.get("lot"), str):
        found.append(source["lot"])
    url = source.get("url")
    if isinstance(url, str):
        try:
            lot = parse_link(url).get("10")
        except LinkError:  # e.g. a unit label's ``?s=`` code, which GS1 does not define
            at = _LOT_IN_PATH.search(url)
            lot = at.group(1) if at else None
        if lot is not None:
            found.append(lot)
        elif "/l/" in url:
            found.append(url.rsplit("/l/", 1)[1].split("?", 1)[0].split("/", 1)[0])
    return next((lot for lot in found if len(lot) <= 20 and parse_lot(lot) is not None), None)


def project_supply(conn: Connection, e: Event, received_at: float | None = None) -> None:
    """Apply one committed supply event (any other type is left alone). ``received_at`` is
    given when the journal is replayed (sync_server/ingest/replay.py), None as it commits."""
    b = e.body
    if e.type == se.INPUT_RECEIVED:
        if received_at is None:
            _received(conn, e, time.time(), live=True)
        else:
            _received(conn, e, received_at)
    elif e.type == se.INPUT_ADDED:
        conn.execute(
            input_uses.insert().values(
                dev_id=e.dev,
                seq=e.seq,
                batch_id=str(b["batch"]),
                receipt_id=str(b["receipt"]),
                receipt_lot=str(b["lot"]),
                quantity=float(b["quantity"]),
                unit=str(b["unit"])[:16],
                override=bool(b.get("override", False)),
                at=e.at,
            )
        )
    elif e.type == se.LOT_SHIPPED:
        _shipped(conn, e)
    elif e.type == se.RECORD_CORRECTED:
        _corrected(conn, e)
    elif e.type == se.BATCH_VOIDED:
        conn.execute(
            update(batches)
            .where(batches.c.dev_id == e.dev, batches.c.batch_id == str(b["batch"]))
            .values(status="voided", voided_at=e.at, void_reason=str(b["reason"]))
        )


def _continued_lot_taken(conn: Connection, e: Event, receipt: str, lot: str) -> None:
    """A continued device's receipt (issue 16, docs/protocol.md "Unblocking") whose receiving
    lot another receipt holds: binding lets it through, as it does a continued batch whose lot
    is taken, so that the chain commits; it is not projected, and the office is told the same
    way (a ``lot_taken`` alert, subject = the lot). Raised as it commits, not on a replay."""
    raise_alert(
        conn,
        e.dev,
        _facility(conn, e.dev),
        "lot_taken",
        f"event {e.seq}: continued receipt {receipt[:36]} with receiving lot {lot}, which"
        " another receipt holds; not projected",
        subject=lot,
    )


def _facility(conn: Connection, dev: str) -> str:
    return str(
        conn.execute(select(devices.c.facility_code).where(devices.c.dev_id == dev)).scalar_one()
    )


def _received(conn: Connection, e: Event, received_at: float, *, live: bool = False) -> None:
    b = e.body
    receipt, lot = str(b["receipt"]), str(b["lot"])
    taken = conn.execute(
        select(receipts.c.receipt_id)
        .where(or_(receipts.c.receipt_id == receipt, receipts.c.lot == lot))
        .limit(1)
    ).first()
    if taken is not None:
        log.warning("input.received %s/%s: receipt or lot %s already projected", e.dev, e.seq, lot)
        if live and CONTINUES in b and taken[0] != receipt:
            _continued_lot_taken(conn, e, receipt, lot)
        return
    supplier, material = b["supplier"], b["material"]
    conn.execute(
        receipts.insert().values(
            receipt_id=receipt,
            dev_id=e.dev,
            seq=e.seq,
            facility_code=_facility(conn, e.dev),
            lot=lot,
            supplier_id=str(supplier["id"])[:16],
            supplier=supplier,
            material_code=str(material["code"])[:16],
            material=material,
            supplier_lot=str(b.get("supplier_lot", "")),
            source=b.get("source"),
            source_lot=source_lot(b.get("source")),
            quantity=float(b["quantity"]),
            unit=str(b["unit"])[:16],
            received_on=str(b["received_on"]),
            photo_sha256=b.get("photo"),
            at=e.at,
            received_at=received_at,
        )
    )


def _shipped(conn: Connection, e: Event) -> None:
    b = e.body
    shipment = str(b["shipment"])
    if conn.execute(
        select(shipments.c.shipment_id).where(shipments.c.shipment_id == shipment)
    ).first():
        log.warning("lot.shipped %s/%s: shipment %s already projected", e.dev, e.seq, shipment)
        return
    serials = b.get("serials")
    customer = b["customer"]
    conn.execute(
        shipments.insert().values(
            shipment_id=shipment,
            dev_id=e.dev,
            seq=e.seq,
            facility_code=_facility(conn, e.dev),
            batch_id=str(b["batch"]),
            lot=str(b["lot"]),
            customer_id=str(customer["id"])[:16],
            customer=customer,
            quantity=float(b["quantity"]),
            unit=str(b["unit"])[:16],
            serial_first=serials[0] if serials else None,
            serial_last=serials[1] if serials else None,
            shipped_on=str(b["shipped_on"]),
            note=str(b.get("note", "")),
            override=bool(b.get("override", False)),
            at=e.at,
        )
    )


def _corrected(conn: Connection, e: Event) -> None:
    """Keep the correction and set the current values of the row it names."""
    b = e.body
    target, changes = b["corrects"], dict(b["changes"])
    seq, kind = int(target["seq"]), str(target["type"])
    conn.execute(
        corrections.insert().values(
            dev_id=e.dev,
            seq=e.seq,
            corrects_seq=seq,
            corrects_id=str(target["id"]),
            corrects_type=kind,
            changes=changes,
            reason=str(b["reason"]),
            at=e.at,
        )
    )
    values: dict[str, Any] = {}
    if kind == se.INPUT_RECEIVED:
        table: Any = receipts
        values = {
            k: changes[k] for k in ("quantity", "supplier_lot", "received_on") if k in changes
        }
    elif kind == se.INPUT_ADDED:
        table = input_uses
        values = {k: changes[k] for k in ("quantity",) if k in changes}
    elif kind == se.LOT_SHIPPED:
        table = shipments
        values = {k: changes[k] for k in ("quantity", "shipped_on", "note") if k in changes}
        if "serials" in changes:
            values.update(serial_first=changes["serials"][0], serial_last=changes["serials"][1])
    elif kind == ev.BATCH_CLOSED:
        batch = conn.execute(
            select(events.c.batch_id).where(events.c.dev_id == e.dev, events.c.seq == seq)
        ).scalar()
        values = {k: changes[k] for k in ("quantity", "expiry_date") if k in changes}
        if batch is not None and values:
            conn.execute(
                update(batches)
                .where(batches.c.dev_id == e.dev, batches.c.batch_id == batch)
                .values(**values)
            )
        return
    else:  # a step's values and note: the corrections row is what pages read
        return
    if values:
        conn.execute(
            update(table).where(table.c.dev_id == e.dev, table.c.seq == seq).values(**values)
        )
