"""The supply check (issue 15): after the faults, the server's supply projections must be what
each agent's journal says, and a replay of the server's journal (``ocop server reproject``) must
give them again.

From the journals alone, per device: every receipt (by id) with its lot and current quantity,
every use (by seq) and shipment (by id) with its current quantity, every correction, every voided
batch and every closed batch's current quantity; "current" = after the journal's corrections.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from sync_server.ingest.replay import reproject
from sync_server.store.db import batches, reading
from sync_server.store.supply_tables import corrections, input_uses, receipts, shipments
from tests.faults.checker import Row

Expected = dict[str, dict[Any, Any]]


def expected_from(journals: dict[str, list[Row]]) -> Expected:
    """What the supply tables must hold, computed from the agents' journals."""
    out: Expected = {k: {} for k in ("receipts", "uses", "shipments", "corrections", "batches")}
    for dev, rows in journals.items():
        where: dict[int, tuple[str, Any]] = {}  # seq -> (table, key) a correction updates
        for r in rows:
            b: dict[str, Any] = dict(r.body)
            if r.type == "input.received":
                out["receipts"][b["receipt"]] = (dev, r.seq, b["lot"], float(b["quantity"]))
                where[r.seq] = ("receipts", b["receipt"])
            elif r.type == "input.added":
                out["uses"][(dev, r.seq)] = (b["batch"], b["lot"], float(b["quantity"]))
                where[r.seq] = ("uses", (dev, r.seq))
            elif r.type == "lot.shipped":
                out["shipments"][b["shipment"]] = (dev, b["lot"], float(b["quantity"]))
                where[r.seq] = ("shipments", b["shipment"])
            elif r.type == "batch.closed":
                out["batches"][(dev, b["batch"])] = ("closed", float(b["quantity"]))
                where[r.seq] = ("batches", (dev, b["batch"]))
            elif r.type == "batch.voided":
                out["batches"][(dev, b["batch"])] = ("voided", None)
            elif r.type == "record.corrected":
                seq = int(b["corrects"]["seq"])
                out["corrections"][(dev, r.seq)] = seq
                quantity = b["changes"].get("quantity")
                if quantity is not None and seq in where:
                    table, key = where[seq]
                    row = out[table][key]
                    out[table][key] = (*row[:-1], float(quantity))
    return out


def projected(engine: Engine, devs: list[str]) -> Expected:
    """The same shape, read from the server's tables."""
    with reading(engine) as conn:
        rec = conn.execute(
            select(
                receipts.c.receipt_id,
                receipts.c.dev_id,
                receipts.c.seq,
                receipts.c.lot,
                receipts.c.quantity,
            ).where(receipts.c.dev_id.in_(devs))
        ).all()
        uses = conn.execute(
            select(
                input_uses.c.dev_id,
                input_uses.c.seq,
                input_uses.c.batch_id,
                input_uses.c.receipt_lot,
                input_uses.c.quantity,
            ).where(input_uses.c.dev_id.in_(devs))
        ).all()
        ships = conn.execute(
            select(
                shipments.c.shipment_id, shipments.c.dev_id, shipments.c.lot, shipments.c.quantity
            ).where(shipments.c.dev_id.in_(devs))
        ).all()
        fixes = conn.execute(
            select(corrections.c.dev_id, corrections.c.seq, corrections.c.corrects_seq).where(
                corrections.c.dev_id.in_(devs)
            )
        ).all()
        done = conn.execute(
            select(
                batches.c.dev_id, batches.c.batch_id, batches.c.status, batches.c.quantity
            ).where(batches.c.dev_id.in_(devs), batches.c.status.in_(("closed", "voided")))
        ).all()
    return {
        "receipts": {r[0]: (r[1], r[2], r[3], float(r[4])) for r in rec},
        "uses": {(r[0], r[1]): (r[2], r[3], float(r[4])) for r in uses},
        "shipments": {r[0]: (r[1], r[2], float(r[3])) for r in ships},
        "corrections": {(r[0], r[1]): r[2] for r in fixes},
        "batches": {(r[0], r[1]): (r[2], float(r[3]) if r[2] == "closed" else None) for r in done},
    }


def check_supply(
    engine: Engine, journals: dict[str, list[Row]]
) -> tuple[dict[str, int], list[str]]:
    """Counts of what the journals hold, and every mismatch (empty when all is well): journal
    vs server, and server vs a replay of its own journal."""
    want = expected_from(journals)
    devs = sorted(journals)
    got = projected(engine, devs)
    problems = [
        f"{table}: {key} journal {want[table].get(key)} server {got[table].get(key)}"
        for table in want
        for key in sorted(set(want[table]) | set(got[table]), key=str)
        if want[table].get(key) != got[table].get(key)
    ]
    reproject(engine)
    if projected(engine, devs) != got:
        problems.append("a replay of the server's journal gives other supply tables")
    return {table: len(rows) for table, rows in want.items()}, problems
