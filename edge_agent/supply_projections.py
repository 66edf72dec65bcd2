"""Projections of the supply events (issue 15): receipts, uses, shipments, corrections, voids.

A correction is applied to the row of the event it corrects (the current values); the
correction itself is kept in ``corrections`` so that screens can say "sửa lúc … vì …".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event


def _touch(db: Database, batch_id: str, seq: int) -> None:
    db.conn.execute("UPDATE batches SET last_seq = ? WHERE batch_id = ?", (seq, batch_id))


def _received(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "INSERT INTO receipts (receipt_id, seq, lot, supplier_id, supplier_name, material_code,"
        " material_name, supplier_lot, quantity, unit, received_on, photo, source, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            b["receipt"],
            e.seq,
            b["lot"],
            b["supplier"]["id"],
            b["supplier"]["name"],
            b["material"]["code"],
            b["material"]["name"],
            b.get("supplier_lot", ""),
            b["quantity"],
            b["unit"],
            b["received_on"],
            b.get("photo"),
            json.dumps(b["source"], ensure_ascii=False) if b.get("source") else None,
            e.at,
        ),
    )


def _added(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "INSERT INTO input_uses (seq, batch_id, receipt_id, lot, quantity, unit, override, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.seq,
            b["batch"],
            b["receipt"],
            b["lot"],
            b["quantity"],
            b["unit"],
            int(bool(b.get("override"))),
            e.at,
        ),
    )
    _touch(db, b["batch"], e.seq)


def _shipped(db: Database, e: Event) -> None:
    b = e.body
    serials = b.get("serials") or [None, None]
    db.conn.execute(
        "INSERT INTO shipments (seq, shipment_id, batch_id, lot, customer_id, customer_name,"
        " quantity, unit, shipped_on, serial_from, serial_to, note, override, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            e.seq,
            b["shipment"],
            b["batch"],
            b["lot"],
            b["customer"]["id"],
            b["customer"]["name"],
            b["quantity"],
            b["unit"],
            b["shipped_on"],
            serials[0],
            serials[1],
            b.get("note", ""),
            int(bool(b.get("override"))),
            e.at,
        ),
    )
    _touch(db, b["batch"], e.seq)


# Corrected event type -> (table, key column, {field in changes: column}).
_TARGETS: dict[str, tuple[str, str, dict[str, str]]] = {
    se.INPUT_RECEIVED: (
        "receipts",
        "seq",
        {"quantity": "quantity", "supplier_lot": "supplier_lot", "received_on": "received_on"},
    ),
    se.INPUT_ADDED: ("input_uses", "seq", {"quantity": "quantity"}),
    se.LOT_SHIPPED: (
        "shipments",
        "seq",
        {"quantity": "quantity", "shipped_on": "shipped_on", "note": "note"},
    ),
    ev.STEP_RECORDED: ("steps", "seq", {"note": "note"}),
    ev.BATCH_CLOSED: (
        "batches",
        "closed_seq",
        {"quantity": "quantity", "expiry_date": "expiry_date"},
    ),
}


def _corrected(db: Database, e: Event) -> None:
    b = e.body
    target, changes = b["corrects"], b["changes"]
    db.conn.execute(
        "INSERT INTO corrections (seq, target_seq, target_type, changes, reason, override, at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            e.seq,
            target["seq"],
            target["type"],
            json.dumps(changes, ensure_ascii=False),
            b["reason"],
            int(bool(b.get("override"))),
            e.at,
        ),
    )
    table, key, columns = _TARGETS[target["type"]]
    sets: dict[str, Any] = {columns[k]: v for k, v in changes.items() if k in columns}
    if "serials" in changes:
        sets.update(serial_from=changes["serials"][0], serial_to=changes["serials"][1])
    if "values" in changes:
        row = db.conn.execute(
            "SELECT measured FROM steps WHERE seq = ?", (target["seq"],)
        ).fetchone()
        if row is not None:
            sets["measured"] = json.dumps(
                {**json.loads(row[0]), **changes["values"]}, ensure_ascii=False
            )
    if sets:
        assignments = ", ".join(f"{column} = ?" for column in sets)
        db.conn.execute(
            f"UPDATE {table} SET {assignments} WHERE {key} = ?",
            (*sets.values(), target["seq"]),
        )


def _voided(db: Database, e: Event) -> None:
    b = e.body
    db.conn.execute(
        "UPDATE batches SET status = 'voided', voided_seq = ?, void_reason = ?, last_seq = ?"
        " WHERE batch_id = ?",
        (e.seq, b["reason"], e.seq, b["batch"]),
    )


HANDLERS: dict[str, Callable[[Database, Event], None]] = {
    se.INPUT_RECEIVED: _received,
    se.INPUT_ADDED: _added,
    se.LOT_SHIPPED: _shipped,
    se.RECORD_CORRECTED: _corrected,
    se.BATCH_VOIDED: _voided,
}
