"""Reads what the EPCIS builders need: committed events with their batch and facility, the
events corrections correct and voids withdraw, and recalls with the lots they cover
(docs/epcis.md).

:func:`load_batch_sources` gathers one batch's document: its receipts (one step back), its own
events, their corrections, and the recalls covering it. :func:`source_of` and
:func:`recall_of` turn rows into the builders' :class:`Source` and :class:`Recall`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, or_, select, tuple_

from sync_server.epcis.ids import Recall, Source
from sync_server.store.db import batches, devices, events, facilities
from sync_server.store.supply_tables import corrections, recall_lots, recalls, receipts
from trace_protocol import supply_events as se

BATCH_COLUMNS = [c.label(f"b_{c.name}") for c in batches.c]
FACILITY_COLUMNS = [c.label(f"f_{c.name}") for c in facilities.c]


def joined_events() -> Any:
    """``events`` with its device's facility and (outer) its batch, labelled ``b_``/``f_``."""
    return (
        select(events, *BATCH_COLUMNS, *FACILITY_COLUMNS)
        .join(devices, devices.c.dev_id == events.c.dev_id)
        .join(facilities, facilities.c.code == devices.c.facility_code)
        .outerjoin(
            batches,
            and_(batches.c.dev_id == events.c.dev_id, batches.c.batch_id == events.c.batch_id),
        )
    )


def split_row(r: Mapping[Any, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """``(event, batch or None, facility)`` of one :func:`joined_events` row."""
    row = {c.name: r[c.name] for c in events.c}
    batch = {c.name: r[f"b_{c.name}"] for c in batches.c} if r["b_batch_id"] else None
    facility = {c.name: r[f"f_{c.name}"] for c in facilities.c}
    return row, batch, facility


def source_of(conn: Connection, r: Mapping[Any, Any]) -> Source:
    """The :class:`Source` of one :func:`joined_events` row; a correction gets its target."""
    row, batch, facility = split_row(r)
    place = batch["facility"] if batch is not None else facility
    if row["type"] == se.BATCH_VOIDED:
        return Source(row, place, batch, declared=_voided_events(conn, row, batch))
    if row["type"] != se.RECORD_CORRECTED:
        return Source(row, place, batch)
    target_seq = _target_seq(row["body"])
    if target_seq is None:
        return Source(row, place, batch)
    found = (
        conn.execute(
            joined_events().where(events.c.dev_id == row["dev_id"], events.c.seq == target_seq)
        )
        .mappings()
        .first()
    )
    if found is None:
        return Source(row, place, batch)
    target = source_of(conn, found)
    earlier = _corrections_before(conn, str(row["dev_id"]), target_seq, int(row["seq"]))
    return Source(row, target.facility, target.batch, target=target, earlier=earlier)


def _corrections_before(conn: Connection, dev: str, target_seq: int, seq: int) -> list[Any]:
    """The usable corrections of ``dev``'s event ``target_seq`` made before ``seq``, oldest
    first (``events`` rows)."""
    found = conn.execute(
        select(events)
        .join(
            corrections,
            and_(corrections.c.dev_id == events.c.dev_id, corrections.c.seq == events.c.seq),
        )
        .where(
            corrections.c.dev_id == dev,
            corrections.c.corrects_seq == target_seq,
            corrections.c.seq < seq,
        )
        .order_by(corrections.c.seq)
    ).mappings()
    return [dict(e) for e in found if se.body_problem(se.RECORD_CORRECTED, e["body"]) is None]


def _voided_events(
    conn: Connection, row: Mapping[str, Any], batch: Mapping[str, Any] | None
) -> list[Source]:
    """The events a ``batch.voided`` withdraws: its batch's own events before it (by seq), each
    with every correction of it before the void in ``earlier`` (its current version)."""
    if batch is None:
        return []
    own = conn.execute(
        joined_events()
        .where(
            events.c.dev_id == row["dev_id"],
            events.c.batch_id == batch["batch_id"],
            events.c.seq < row["seq"],
            events.c.type.not_in((se.RECORD_CORRECTED, se.BATCH_VOIDED)),
        )
        .order_by(events.c.seq)
    ).mappings()
    rows = [split_row(r) for r in own]
    fixes: dict[int, list[dict[str, Any]]] = {}
    if rows:
        found = conn.execute(
            select(events, corrections.c.corrects_seq)
            .join(
                corrections,
                and_(corrections.c.dev_id == events.c.dev_id, corrections.c.seq == events.c.seq),
            )
            .where(
                corrections.c.dev_id == row["dev_id"],
                corrections.c.corrects_seq.in_([int(t["seq"]) for t, _, _ in rows]),
                corrections.c.seq < row["seq"],
            )
            .order_by(corrections.c.seq)
        ).mappings()
        for e in found:
            if se.body_problem(se.RECORD_CORRECTED, e["body"]) is None:
                fixes.setdefault(int(e["corrects_seq"]), []).append(
                    {c.name: e[c.name] for c in events.c}
                )
    return [
        Source(t, b["facility"] if b is not None else f, b, earlier=fixes.get(int(t["seq"]), []))
        for t, b, f in rows
    ]


def _target_seq(body: Any) -> int | None:
    target = body.get("corrects") if isinstance(body, dict) else None
    seq = target.get("seq") if isinstance(target, dict) else None
    return seq if isinstance(seq, int) and not isinstance(seq, bool) else None


def recall_of(conn: Connection, row: Mapping[Any, Any]) -> Recall:
    """A ``recalls`` row with every lot it covers: its closure (``recall_lots``) and itself
    when it is one of ours, each with its GTIN and facility where this server knows them."""
    lots = [
        str(r)
        for r in conn.execute(
            select(recall_lots.c.lot)
            .where(recall_lots.c.recall_id == row["id"])
            .order_by(recall_lots.c.lot)
        ).scalars()
    ]
    if row.get("supplier_id") is None and str(row["lot"]) not in lots:
        lots.insert(0, str(row["lot"]))
    covered: list[tuple[str, str | None, str | None]] = []
    for lot in lots:
        made = conn.execute(
            select(batches.c.gtin, batches.c.facility_code).where(batches.c.lot == lot)
        ).first()
        if made is not None:
            covered.append((lot, made.gtin or None, str(made.facility_code)))
            continue
        got = conn.execute(select(receipts.c.facility_code).where(receipts.c.lot == lot)).first()
        if got is not None:
            covered.append((lot, None, str(got.facility_code)))
    return Recall(dict(row), covered)


def recalls_covering(conn: Connection, lots: Iterable[str]) -> list[Recall]:
    """The recalls (lifted or not) whose lot or closure holds any of ``lots``, oldest first."""
    wanted = sorted(set(lots))
    if not wanted:
        return []
    closure = select(recall_lots.c.recall_id).where(recall_lots.c.lot.in_(wanted))
    rows = conn.execute(
        select(recalls)
        .where(or_(recalls.c.lot.in_(wanted), recalls.c.id.in_(closure)))
        .order_by(recalls.c.created_at, recalls.c.id)
    ).mappings()
    return [recall_of(conn, r) for r in rows]


def load_batch_sources(
    conn: Connection, lot: str, gtin: str | None = None
) -> tuple[dict[str, Any], list[Source | Recall]] | None:
    """The newest batch with this lot (and GTIN) and what its document holds, in order: the
    receipts of its inputs, its own events and their corrections (by seq), its recalls."""
    query = select(batches).where(batches.c.lot == lot).order_by(batches.c.opened_at.desc())
    if gtin is not None:
        query = query.where(batches.c.gtin == gtin)
    batch = conn.execute(query).mappings().first()
    if batch is None:
        return None
    own = list(
        conn.execute(
            joined_events()
            .where(events.c.dev_id == batch["dev_id"], events.c.batch_id == batch["batch_id"])
            .order_by(events.c.seq)
        ).mappings()
    )
    used = sorted(
        {
            str(r["body"]["lot"])
            for r in own
            if r["type"] == se.INPUT_ADDED and isinstance(r["body"], dict) and r["body"].get("lot")
        }
    )
    got = (
        list(
            conn.execute(
                joined_events()
                .join(
                    receipts,
                    and_(receipts.c.dev_id == events.c.dev_id, receipts.c.seq == events.c.seq),
                )
                .where(receipts.c.lot.in_(used))
                .order_by(events.c.at, events.c.dev_id, events.c.seq)
            ).mappings()
        )
        if used
        else []
    )
    found: list[Source | Recall] = [source_of(conn, r) for r in got]
    found += _corrections_of(conn, got)
    # The batch's own events and their corrections: one device, so in seq order.
    mine = [source_of(conn, r) for r in own] + _corrections_of(conn, own)
    found += sorted(mine, key=lambda s: int(s.row["seq"]))
    return dict(batch), [*found, *recalls_covering(conn, [lot, *used])]


def _corrections_of(conn: Connection, rows: Sequence[Mapping[Any, Any]]) -> list[Source]:
    """The corrections of ``rows`` (same device, naming their seq), oldest first."""
    keys = sorted({(str(r["dev_id"]), int(r["seq"])) for r in rows})
    if not keys:
        return []
    found = conn.execute(
        joined_events()
        .join(
            corrections,
            and_(corrections.c.dev_id == events.c.dev_id, corrections.c.seq == events.c.seq),
        )
        .where(tuple_(corrections.c.dev_id, corrections.c.corrects_seq).in_(keys))
        .order_by(events.c.dev_id, events.c.seq)
    ).mappings()
    return [source_of(conn, r) for r in found]
