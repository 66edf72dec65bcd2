"""Correcting a recorded receipt, use, shipment, step or finished batch (``record.corrected``).

The original event stays in the journal; the correction names it (seq, id, type), carries the
new values and the worker's reason (issue 15). A correction that would leave a receipt's stock
or a lot's shipments below zero follows the same override rule as using or shipping.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlite_utils import Database

from edge_agent import supply_queries as sq
from edge_agent.batches import After, DomainError, _put_by
from edge_agent.journal import Journal
from edge_agent.numbers import NumberError, format_number, parse_number
from edge_agent.queries import get_batch
from edge_agent.supply import EPSILON, _checked, parse_day, parse_quantity, parse_serials
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.catalog import Catalog
from trace_protocol.envelope import Event


def parse_changes(
    catalog: Catalog,
    event: sq.RecordedEvent,
    raw: dict[str, str],
    today: date,
    product_code: str | None = None,
) -> dict[str, Any]:
    """The new values the worker filled in (empty fields change nothing), parsed and checked.

    Step values come as ``v_<key>``; a serial range as ``serial_from``/``serial_to``.
    Raises DomainError with ``key`` naming the field."""
    allowed = se.CORRECTABLE.get(event.type)
    if allowed is None:
        raise DomainError("not_correctable")
    changes: dict[str, Any] = {}
    for key in allowed:
        text = raw.get(key, "").strip()
        try:
            if key == "quantity" and text:
                changes[key] = parse_quantity(text)
            elif key in ("received_on", "shipped_on") and text:
                changes[key] = parse_day(text, today)
            elif key == "expiry_date" and text:
                try:
                    changes[key] = date.fromisoformat(text).isoformat()
                except ValueError as exc:
                    raise DomainError("date_invalid") from exc
            elif key == "supplier_lot" and text:
                if len(text) > se.MAX_SUPPLIER_LOT:
                    raise DomainError("supplier_lot_too_long", max=se.MAX_SUPPLIER_LOT)
                changes[key] = text
            elif key == "note" and text:
                if len(text) > se.MAX_NOTE:
                    raise DomainError("note_too_long", max=se.MAX_NOTE)
                changes[key] = text
            elif key == "serials":
                serials = parse_serials(raw.get("serial_from", ""), raw.get("serial_to", ""))
                if serials is not None:
                    changes[key] = serials
            elif key == "values":
                values = _step_values(catalog, event, raw, product_code)
                if values:
                    changes[key] = values
        except DomainError as exc:
            raise DomainError(exc.code, **{"key": key, **exc.params}) from exc
    if not changes:
        raise DomainError("nothing_changed")
    return changes


def _step_values(
    catalog: Catalog, event: sq.RecordedEvent, raw: dict[str, str], product_code: str | None
) -> dict[str, float]:
    product = catalog.product(product_code or "")
    step = product.step(str(event.body.get("step", ""))) if product else None
    out: dict[str, float] = {}
    for f in step.fields if step else ():
        text = raw.get(f"v_{f.key}", "").strip()
        if not text:
            continue
        where = {"field": f.label.vi, "key": f"v_{f.key}"}
        try:
            value = parse_number(text)
        except NumberError as exc:
            raise DomainError(f"value_{exc.code}", **where) from exc
        if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
            raise DomainError(
                "value_out_of_range",
                **where,
                min=format_number(f.min) if f.min is not None else "…",
                max=format_number(f.max) if f.max is not None else "…",
            )
        out[f.key] = value
    return out


def _over_limit(
    db: Database, event: sq.RecordedEvent, changes: dict[str, Any]
) -> DomainError | None:
    """Why the new quantity would take a stock below zero; None when it would not."""
    new = changes.get("quantity")
    if new is None:
        return None
    old = float(event.body.get("quantity", 0))
    if event.type == se.INPUT_RECEIVED:
        receipt = sq.get_receipt(db, str(event.body["receipt"]))
        used = receipt.quantity - receipt.left if receipt else 0.0
        if new < used - EPSILON:
            return DomainError("below_used", used=float(used), unit=event.body["unit"])
    elif event.type == se.INPUT_ADDED:
        current = _current_quantity(db, event, old)
        left = sq.stock_left(db, str(event.body["receipt"])) + current
        if new > left + EPSILON:
            return DomainError("stock_exceeded", left=float(left), unit=event.body["unit"])
    elif event.type == se.LOT_SHIPPED:
        batch = get_batch(db, str(event.body["batch"]))
        current = _current_quantity(db, event, old)
        produced = (batch.quantity or 0.0) if batch else 0.0
        left = produced - sq.shipped_total(db, str(event.body["batch"])) + current
        if new > left + EPSILON:
            return DomainError("stock_exceeded", left=float(left), unit=event.body["unit"])
    elif event.type == ev.BATCH_CLOSED:
        shipped = sq.shipped_total(db, str(event.body["batch"]))
        if new < shipped - EPSILON:
            return DomainError("below_used", used=float(shipped), unit=event.body["unit"])
    return None


def _current_quantity(db: Database, event: sq.RecordedEvent, old: float) -> float:
    table = "input_uses" if event.type == se.INPUT_ADDED else "shipments"
    row = db.conn.execute(
        f"SELECT quantity FROM {table} WHERE seq = ?",
        (event.seq,),
    ).fetchone()
    return float(row[0]) if row else old


def correct(
    journal: Journal,
    catalog: Catalog,
    seq: int,
    raw: dict[str, str],
    reason: str,
    *,
    override: bool = False,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Correct the event ``seq`` of this device with the fields filled in ``raw``."""
    with journal.store.read() as db:
        event = sq.recorded_event(db, seq)
        batch_id = event.body.get("batch") if event else None
        batch = get_batch(db, batch_id) if isinstance(batch_id, str) else None
    if event is None:
        raise DomainError("record_not_found")
    if event.type not in se.CORRECTABLE:
        raise DomainError("not_correctable")
    today = journal.clock.now().date()
    changes = parse_changes(catalog, event, raw, today, batch.product_code if batch else None)
    reason = reason.strip()
    if not reason or len(reason) > se.MAX_REASON:
        raise DomainError("reason_missing", max=se.MAX_REASON, key="reason")
    body: dict[str, Any] = {
        "corrects": {"seq": event.seq, "id": event.id, "type": event.type},
        "changes": changes,
        "reason": reason,
    }
    _put_by(body, by)

    def check(db: Database) -> None:
        if isinstance(batch_id, str):
            current = get_batch(db, batch_id)
            if current is not None and current.status == "voided":
                raise DomainError("batch_voided", lot=current.lot)
        problem = _over_limit(db, event, changes)
        if problem is not None and not override:
            raise problem
        if problem is not None:
            body["override"] = True
        _checked(se.RECORD_CORRECTED, body)

    return journal.append(se.RECORD_CORRECTED, body, check=check, after=after)
