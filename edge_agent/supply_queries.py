"""Read models of the supply projections (issue 15): receipts and their stock left, uses,
shipments, corrections and the event a correction names.

Like :mod:`edge_agent.queries`, each function takes a connection from ``EdgeDatabase.read()``
(or the writer inside a journal transaction) and returns plain rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database


@dataclass(frozen=True)
class ReceiptRow:
    receipt_id: str
    seq: int
    lot: str
    supplier_id: str
    supplier_name: str
    material_code: str
    material_name: str
    supplier_lot: str
    quantity: float
    unit: str
    received_on: str
    left: float  # quantity minus every use of it (negative only after an override)


@dataclass(frozen=True)
class UseRow:
    seq: int
    batch_id: str
    receipt_id: str
    lot: str
    quantity: float
    unit: str
    override: int  # 1 when the worker confirmed using more than was left
    material_name: str
    supplier_name: str


@dataclass(frozen=True)
class ShipmentRow:
    seq: int
    shipment_id: str
    batch_id: str
    lot: str
    customer_id: str
    customer_name: str
    quantity: float
    unit: str
    shipped_on: str
    serial_from: int | None
    serial_to: int | None
    note: str
    override: int  # 1 when the worker confirmed shipping more than was produced


@dataclass(frozen=True)
class CorrectionRow:
    seq: int
    target_seq: int
    target_type: str
    changes: dict[str, Any]
    reason: str
    at: str


@dataclass(frozen=True)
class RecordedEvent:
    seq: int
    id: str
    type: str
    body: dict[str, Any]


_RECEIPT = (
    "SELECT r.receipt_id, r.seq, r.lot, r.supplier_id, r.supplier_name, r.material_code,"
    " r.material_name, r.supplier_lot, r.quantity, r.unit, r.received_on,"
    " r.quantity - COALESCE((SELECT SUM(u.quantity) FROM input_uses u"
    " WHERE u.receipt_id = r.receipt_id), 0) FROM receipts r"
)


def receipt_lots(db: Database) -> set[str]:
    return {str(r[0]) for r in db.conn.execute("SELECT lot FROM receipts")}


def get_receipt(db: Database, receipt_id: str) -> ReceiptRow | None:
    row = db.conn.execute(_RECEIPT + " WHERE r.receipt_id = ?", (receipt_id,)).fetchone()
    return ReceiptRow(*row) if row else None


def receipts(db: Database, *, in_stock: bool = False, limit: int = 50) -> list[ReceiptRow]:
    """Newest first; ``in_stock``: only those with stock left (what a batch can use)."""
    rows = [ReceiptRow(*r) for r in db.conn.execute(_RECEIPT + " ORDER BY r.seq DESC").fetchall()]
    return [r for r in rows if not in_stock or r.left > 1e-9][:limit]


def stock_left(db: Database, receipt_id: str) -> float:
    receipt = get_receipt(db, receipt_id)
    return receipt.left if receipt else 0.0


def batch_input_lots(db: Database, batch_id: str) -> list[tuple[str, str]]:
    """``(receiving lot, supplier's lot)`` of every receipt used in the batch."""
    rows = db.conn.execute(
        "SELECT DISTINCT r.lot, r.supplier_lot FROM input_uses u JOIN receipts r"
        " ON r.receipt_id = u.receipt_id WHERE u.batch_id = ?",
        (batch_id,),
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def batch_uses(db: Database, batch_id: str) -> list[UseRow]:
    rows = db.conn.execute(
        "SELECT u.seq, u.batch_id, u.receipt_id, u.lot, u.quantity, u.unit, u.override,"
        " COALESCE(r.material_name, ''), COALESCE(r.supplier_name, '') FROM input_uses u"
        " LEFT JOIN receipts r ON r.receipt_id = u.receipt_id WHERE u.batch_id = ? ORDER BY u.seq",
        (batch_id,),
    ).fetchall()
    return [UseRow(*r) for r in rows]


_SHIPMENT = (
    "SELECT seq, shipment_id, batch_id, lot, customer_id, customer_name, quantity, unit,"
    " shipped_on, serial_from, serial_to, note, override FROM shipments"
)


def batch_shipments(db: Database, batch_id: str) -> list[ShipmentRow]:
    rows = db.conn.execute(_SHIPMENT + " WHERE batch_id = ? ORDER BY seq", (batch_id,)).fetchall()
    return [ShipmentRow(*r) for r in rows]


def shipped_total(db: Database, batch_id: str) -> float:
    row = db.conn.execute(
        "SELECT COALESCE(SUM(quantity), 0) FROM shipments WHERE batch_id = ?", (batch_id,)
    ).fetchone()
    return float(row[0])


def corrections(db: Database, target_seqs: list[int]) -> dict[int, list[CorrectionRow]]:
    """The corrections of each of ``target_seqs``, oldest first."""
    if not target_seqs:
        return {}
    marks = ",".join("?" for _ in target_seqs)
    rows = db.conn.execute(
        "SELECT seq, target_seq, target_type, changes, reason, at FROM corrections"
        f" WHERE target_seq IN ({marks}) ORDER BY seq",
        target_seqs,
    ).fetchall()
    out: dict[int, list[CorrectionRow]] = {}
    for r in rows:
        out.setdefault(r[1], []).append(
            CorrectionRow(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5])
        )
    return out


def closed_seq(db: Database, batch_id: str) -> int | None:
    """The seq of the batch's ``batch.closed`` event (what a correction of its output names)."""
    row = db.conn.execute(
        "SELECT closed_seq FROM batches WHERE batch_id = ?", (batch_id,)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else None


def recorded_event(db: Database, seq: int) -> RecordedEvent | None:
    row = db.conn.execute("SELECT seq, id, type, body FROM events WHERE seq = ?", (seq,)).fetchone()
    return RecordedEvent(row[0], row[1], row[2], json.loads(row[3])) if row else None


@dataclass(frozen=True)
class RecallHit:
    """A lot on this device touched by a recall: a batch (``batch_id``) or a receipt (None),
    and the recalled code that reaches it (``via``, the lot itself or one of its inputs)."""

    lot: str
    batch_id: str | None
    via: str


def recall_hits(db: Database, recalled: tuple[str, ...]) -> list[RecallHit]:
    """This device's receipts and batches that are recalled or made from a recalled lot."""
    if not recalled:
        return []
    codes = set(recalled)
    hits: list[RecallHit] = []
    for lot, supplier_lot in db.conn.execute("SELECT lot, supplier_lot FROM receipts ORDER BY seq"):
        via = lot if lot in codes else supplier_lot if supplier_lot in codes else None
        if via:
            hits.append(RecallHit(lot, None, via))
    for batch_id, lot in db.conn.execute(
        "SELECT batch_id, lot FROM batches WHERE status != 'voided' ORDER BY opened_seq"
    ):
        via = lot if lot in codes else None
        for receipt_lot, supplier_lot in batch_input_lots(db, batch_id) if via is None else ():
            if receipt_lot in codes or supplier_lot in codes:
                via = receipt_lot if receipt_lot in codes else supplier_lot
                break
        if via:
            hits.append(RecallHit(lot, batch_id, via))
    return hits
