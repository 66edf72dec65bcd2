"""Recalls of lots (issue 15): record one with the lots it covers, lift it, and tell a page
whether a lot is under an active recall.

The ``recalls`` row is the audit trail: who recalled, when and why, and (lifting being its own
recorded action) who lifted it, when and why. ``recall_lots`` keeps the forward closure of the
recalled lot (output and receiving lots) for the office's lists and the devices' catalogs.
:func:`is_recalled` looks the other way, through the lot's backward closure, so a batch that used
a recalled receipt after the recall was made is recalled too.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sync_server.accounts.audit import record
from sync_server.store.supply_tables import recall_lots, recalls
from sync_server.trace.lots import trace_backward, trace_forward
from sync_server.trace.model import OUTPUT, RECEIPT, SUPPLIER, Trace

# The kinds of trace node a recall covers (a supplier's own lot is the root, never stored).
KIT_KINDS = (OUTPUT, RECEIPT)
MAX_REASON = 500


class RecallError(ValueError):
    """A recall or lift that cannot be done: ``field`` is the form field, ``code`` the reason
    (the office shows ``recall_err_<code>``), the message says it in English for the CLI."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True)
class Recall:
    id: int
    lot: str
    supplier_id: str | None
    reason: str
    created_by: str
    created_at: float
    lifted_at: float | None
    lifted_by: str | None
    lift_reason: str | None
    lots: tuple[tuple[str, str], ...]  # (lot, kind) covered, sorted

    @property
    def active(self) -> bool:
        return self.lifted_at is None


@dataclass(frozen=True)
class RecallInfo:
    """What a consumer page says about a recalled lot: why, since when, and through which lot
    of its history (``via``: the lot itself, or an input it was made from)."""

    recall_id: int
    lot: str
    reason: str
    created_at: float
    via: str


def recall(
    conn: Connection,
    lot: str,
    reason: str,
    by: str,
    supplier_id: str | None = None,
    now: float | None = None,
) -> Recall:
    """Recall ``lot`` (an output lot, a receiving lot, or a supplier's lot code, narrowed to one
    supplier by ``supplier_id``) and every lot derived from it. Raises :class:`RecallError`
    with nothing saved when the lot is unknown, already under an active recall, or the reason
    is missing."""
    lot, reason, supplier = lot.strip(), reason.strip(), (supplier_id or "").strip() or None
    if not lot:
        raise RecallError("lot", "lot_missing", "a lot code is needed")
    if not reason:
        raise RecallError("reason", "reason_missing", "a reason is needed")
    if len(reason) > MAX_REASON:
        raise RecallError("reason", "reason_long", f"the reason is over {MAX_REASON} characters")
    trace = trace_forward(conn, lot, supplier)
    if not trace.found:
        raise RecallError("lot", "lot_unknown", f"no lot {lot} on this server")
    same = conn.execute(
        select(recalls.c.id).where(
            recalls.c.lot == lot,
            recalls.c.lifted_at.is_(None),
            recalls.c.supplier_id.is_(None)
            if supplier is None
            else recalls.c.supplier_id == supplier,
        )
    ).first()
    if same is not None:
        raise RecallError("lot", "already", f"lot {lot} is already under recall #{same[0]}")
    result = conn.execute(
        insert(recalls).values(
            lot=lot,
            supplier_id=supplier,
            reason=reason,
            created_by=by,
            created_at=time.time() if now is None else now,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    recall_id = int(key[0])
    _store_lots(conn, recall_id, _covered(trace))
    found = get_recall(conn, recall_id)
    assert found is not None
    record(
        conn,
        by,
        "recall",
        lot,
        after={"recall": recall_id, "supplier": supplier, "lots": len(found.lots)},
        detail=reason,
        now=now,
    )
    return found


def lift(
    conn: Connection, recall_id: int, reason: str, by: str, now: float | None = None
) -> Recall:
    """Lift an active recall, recording who, when and why; the recall row stays."""
    reason = reason.strip()
    if not reason:
        raise RecallError("reason", "reason_missing", "a reason is needed")
    if len(reason) > MAX_REASON:
        raise RecallError("reason", "reason_long", f"the reason is over {MAX_REASON} characters")
    found = get_recall(conn, recall_id)
    if found is None:
        raise RecallError("recall", "unknown", f"no recall #{recall_id}")
    if not found.active:
        raise RecallError("recall", "lifted", f"recall #{recall_id} is already lifted")
    conn.execute(
        update(recalls)
        .where(recalls.c.id == recall_id, recalls.c.lifted_at.is_(None))
        .values(lifted_at=time.time() if now is None else now, lifted_by=by, lift_reason=reason)
    )
    lifted = get_recall(conn, recall_id)
    assert lifted is not None
    record(
        conn,
        by,
        "recall.lift",
        found.lot,
        before={"recall": recall_id, "active": True},
        after={"recall": recall_id, "active": False},
        detail=reason,
        now=now,
    )
    return lifted


def get_recall(conn: Connection, recall_id: int) -> Recall | None:
    found = list_recalls(conn, ids=[recall_id])
    return found[0] if found else None


def list_recalls(
    conn: Connection, active_only: bool = False, ids: Iterable[int] | None = None
) -> list[Recall]:
    """Recalls, newest first, each with the lots it covers."""
    query = select(recalls).order_by(recalls.c.id.desc())
    if active_only:
        query = query.where(recalls.c.lifted_at.is_(None))
    if ids is not None:
        query = query.where(recalls.c.id.in_(list(ids)))
    rows = conn.execute(query).mappings().all()
    lots: dict[int, list[tuple[str, str]]] = {int(r["id"]): [] for r in rows}
    if lots:
        for rid, lot, kind in conn.execute(
            select(recall_lots.c.recall_id, recall_lots.c.lot, recall_lots.c.kind).where(
                recall_lots.c.recall_id.in_(list(lots))
            )
        ):
            lots[int(rid)].append((lot, kind))
    return [
        Recall(
            id=int(r["id"]),
            lot=r["lot"],
            supplier_id=r["supplier_id"],
            reason=r["reason"],
            created_by=r["created_by"],
            created_at=float(r["created_at"]),
            lifted_at=r["lifted_at"],
            lifted_by=r["lifted_by"],
            lift_reason=r["lift_reason"],
            lots=tuple(sorted(lots[int(r["id"])])),
        )
        for r in rows
    ]


def is_recalled(conn: Connection, lot: str) -> RecallInfo | None:
    """The active recall ``lot`` is under, or None: when the lot, or anything in its backward
    closure, is an active recall's root or among the lots it covers."""
    active = conn.execute(
        select(
            recalls.c.id,
            recalls.c.lot,
            recalls.c.supplier_id,
            recalls.c.reason,
            recalls.c.created_at,
        )
        .where(recalls.c.lifted_at.is_(None))
        .order_by(recalls.c.id)
    ).all()
    if not active:
        return None  # the common case: one query on a small table
    by_id = {int(r.id): r for r in active}

    def info(recall_id: int, via: str) -> RecallInfo:
        r = by_id[recall_id]
        return RecallInfo(recall_id, r.lot, r.reason, float(r.created_at), via)

    direct = _covering(conn, [lot], by_id)
    if direct is not None:
        return info(direct[0], direct[1])
    for r in active:
        if r.supplier_id is None and r.lot == lot:
            return info(int(r.id), lot)
    trace = trace_backward(conn, lot)
    history = _kit_lots(trace) - {lot}
    if history:
        hit = _covering(conn, sorted(history), by_id)
        if hit is not None:
            return info(hit[0], hit[1])
    for r in active:
        if r.supplier_id is None and r.lot in history:
            return info(int(r.id), r.lot)
    # A supplier's lot code as the root: the supplier lots in the history.
    for n in trace.lots_of(SUPPLIER):
        for r in active:
            if r.lot == n.lot and r.supplier_id in (None, n.supplier_id):
                return info(int(r.id), n.key)
    return None


def recall_generation(conn: Connection) -> str:
    """Changes whenever a recall is made or lifted: page caches put it in their keys, so every
    web worker stops serving pages rendered before (docs/consumer-pages.md)."""
    row = conn.execute(select(func.count(recalls.c.id), func.count(recalls.c.lifted_at))).one()
    return f"{int(row[0])}.{int(row[1])}"


def grow_recalls(conn: Connection) -> int:
    """Add to each active recall the lots derived from it since it was made (new uses of a
    recalled receipt synced later); returns how many lots were added."""
    added = 0
    for r in list_recalls(conn, active_only=True):
        have = set(r.lots)
        new = [x for x in _covered(trace_forward(conn, r.lot, r.supplier_id)) if x not in have]
        _store_lots(conn, r.id, new)
        added += len(new)
    return added


def call_back_list(conn: Connection, found: Recall) -> Trace:
    """The recall's forward trace as it is now: its ``shipments`` are the ones to call back."""
    return trace_forward(conn, found.lot, found.supplier_id)


def _covered(trace: Trace) -> list[tuple[str, str]]:
    covered = {(n.lot, n.kind) for n in trace.lots if n.kind in KIT_KINDS}
    return sorted(covered)


def _store_lots(conn: Connection, recall_id: int, covered: list[tuple[str, str]]) -> None:
    """Add lots to a recall; a lot it already has is left alone (two ingest workers' minute
    loops may grow the same recall at once)."""
    if not covered:
        return
    rows = [{"recall_id": recall_id, "lot": lot, "kind": kind} for lot, kind in covered]
    if conn.dialect.name == "postgresql":
        conn.execute(postgresql.insert(recall_lots).on_conflict_do_nothing(), rows)
    else:
        conn.execute(sqlite.insert(recall_lots).on_conflict_do_nothing(), rows)


def _kit_lots(trace: Trace) -> set[str]:
    return {n.lot for n in trace.lots if n.kind in KIT_KINDS}


def _covering(
    conn: Connection, lots: list[str], by_id: Mapping[int, object]
) -> tuple[int, str] | None:
    """The oldest active recall covering one of ``lots``, with that lot."""
    row = conn.execute(
        select(recall_lots.c.recall_id, recall_lots.c.lot)
        .where(recall_lots.c.lot.in_(lots), recall_lots.c.recall_id.in_(list(by_id)))
        .order_by(recall_lots.c.recall_id)
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))
