"""What a worker can do to a batch: open it, record steps, close it, note printed labels.

Each command checks its rules inside the journal transaction and appends one event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from edge_agent.journal import Journal
from edge_agent.lot_letter import load_lot_index
from edge_agent.numbers import NumberError, format_number, parse_number
from edge_agent.queries import BatchRow, get_batch
from trace_protocol import envelope as ev
from trace_protocol.catalog import Catalog, Product
from trace_protocol.envelope import Event
from trace_protocol.links import build_lot

MAX_NOTE = 500
# Extra work in an event's own transaction (the touchscreen remembers a form's token there).
After = Callable[[Database, Event], object]


class DomainError(Exception):
    """A worker's request that breaks a rule; ``code`` is translated by the UI."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code, params)
        self.code = code
        self.params = params


def _put_by(body: dict[str, Any], by: dict[str, str] | None) -> None:
    """Record who did it (the signed-in worker, issue 12) when the facility uses PINs."""
    if by is not None:
        body["by"] = dict(by)


def _require_open(db: Database, batch_id: str) -> BatchRow:
    batch = get_batch(db, batch_id)
    if batch is None:
        raise DomainError("batch_not_found")
    if batch.status == "voided":  # issue 15: nothing more is recorded on a voided batch
        raise DomainError("batch_voided", lot=batch.lot)
    if batch.status != "open":
        raise DomainError("batch_closed", lot=batch.lot)
    return batch


def open_batch(
    journal: Journal,
    catalog: Catalog,
    product_code: str,
    lot_prefix: str,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    product = catalog.product(product_code)
    if product is None:
        raise DomainError("unknown_product")
    today = journal.clock.now().date()
    prefix = lot_prefix or catalog.facility.code
    holder: dict[str, Any] = {}

    def check(db: Database) -> None:
        # The counter is derived from the journal's own batches, inside the write transaction,
        # so two taps at once still get distinct lots; the device's lot letter (given at
        # enrolment) keeps them apart from the facility's other devices' (issue 12).
        index = load_lot_index(db)
        taken = {
            r[0]
            for r in db.conn.execute(
                "SELECT lot FROM batches WHERE production_date = ?", (today.isoformat(),)
            )
        }
        try:
            counter = 1
            while (lot := build_lot(prefix, product.code, today, counter, index)) in taken:
                counter += 1
        except ValueError as exc:
            raise DomainError("lot_unavailable", reason=str(exc)) from exc
        holder["lot"] = lot
        holder["body"]["lot"] = lot

    holder["body"] = {
        "batch": str(uuid.uuid4()),
        "lot": "",
        "product": _product_snapshot(product),
        "facility": {
            "code": catalog.facility.code,
            "name": catalog.facility.name,
            "commune": catalog.facility.commune,
            "district": catalog.facility.district,
            "province": catalog.facility.province,
        },
        "production_date": today.isoformat(),
        "catalog_version": catalog.version,
    }
    _put_by(holder["body"], by)
    return journal.append(ev.BATCH_OPENED, holder["body"], check=check, after=after)


def _product_snapshot(product: Product) -> dict[str, Any]:
    return {
        "code": product.code,
        "name": product.name.vi,
        "name_en": product.name.en,
        "gtin": product.gtin,
        "ocop_stars": product.ocop_stars,
        "unit": product.unit,
        "shelf_life_days": product.shelf_life_days,
    }


def parse_measured(product: Product, step_code: str, raw: dict[str, str]) -> dict[str, float]:
    """Turn the form's text inputs into numbers, checking each against its field's range.

    Numbers follow :mod:`edge_agent.numbers` (decimal comma; "1.500" is 1500). The first
    invalid field raises; :func:`field_errors` lists them all for the form.
    """
    step = product.step(step_code)
    if step is None:
        raise DomainError("unknown_step")
    errors = field_errors(product, step_code, raw)
    if errors:
        raise next(iter(errors.values()))
    return {f.key: parse_number(raw[f.key]) for f in step.fields}


def field_errors(product: Product, step_code: str, raw: dict[str, str]) -> dict[str, DomainError]:
    """Each measured field's problem, by field key, in the catalog's order (empty: all fine).

    Every error carries ``key`` (the field) so that the form can put it next to its input."""
    step = product.step(step_code)
    out: dict[str, DomainError] = {}
    for f in step.fields if step else ():
        where = {"field": f.label.vi, "key": f.key}
        text = raw.get(f.key, "").strip()
        if not text:
            out[f.key] = DomainError("value_missing", **where)
            continue
        try:
            value = parse_number(text)
        except NumberError as exc:
            out[f.key] = DomainError(f"value_{exc.code}", **where)
            continue
        if (f.min is not None and value < f.min) or (f.max is not None and value > f.max):
            out[f.key] = DomainError(
                "value_out_of_range", **where, min=_num(f.min), max=_num(f.max)
            )
    return out


def _num(value: float | None) -> str:
    return "…" if value is None else format_number(value)


def record_step(
    journal: Journal,
    catalog: Catalog,
    batch_id: str,
    step_code: str,
    raw_values: dict[str, str],
    note: str,
    photos: Callable[[], list[str]] | None = None,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Check and record a step. ``photos`` is called once the input is valid (it takes the
    evidence photos, each its own ``snapshot.taken`` event); their hashes go into the step."""
    with journal.store.read() as db:
        batch = get_batch(db, batch_id)
    if batch is None:
        raise DomainError("batch_not_found")
    product = catalog.product(batch.product_code)
    if product is None:
        raise DomainError("unknown_product")
    values = parse_measured(product, step_code, raw_values)
    step = product.step(step_code)
    assert step is not None
    if len(note) > MAX_NOTE:
        raise DomainError("note_too_long", max=MAX_NOTE)
    with journal.store.read() as db:
        _require_open(db, batch_id)  # no photos for a step that cannot be saved
    photo_refs = photos() if photos is not None else []
    body = {
        "batch": batch_id,
        "step": step.code,
        "name": step.name.vi,
        "name_en": step.name.en,
        "values": values,
        "units": {f.key: f.unit for f in step.fields},
        "labels": {f.key: f.label.vi for f in step.fields},
        "labels_en": {f.key: f.label.en for f in step.fields},
        "note": note.strip(),
        "photos": photo_refs,
    }
    _put_by(body, by)
    return journal.append(
        ev.STEP_RECORDED, body, check=lambda db: _require_open(db, batch_id), after=after
    )


def close_batch(
    journal: Journal,
    catalog: Catalog,
    batch_id: str,
    quantity_text: str,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    with journal.store.read() as db:
        batch = get_batch(db, batch_id)
    if batch is None:
        raise DomainError("batch_not_found")
    try:
        quantity = parse_number(quantity_text)
    except NumberError as exc:
        code = "quantity_use_comma" if exc.code == "use_comma" else "quantity_invalid"
        raise DomainError(code) from exc
    if quantity <= 0:
        raise DomainError("quantity_invalid")
    product = catalog.product(batch.product_code)
    unit = product.unit if product else "kg"
    shelf = product.shelf_life_days if product else 0
    produced = date.fromisoformat(batch.production_date)
    expiry = (produced + timedelta(days=shelf)).isoformat() if shelf else None

    def check(db: Database) -> None:
        _require_open(db, batch_id)
        steps = db.conn.execute(
            "SELECT COUNT(*) FROM steps WHERE batch_id = ?", (batch_id,)
        ).fetchone()[0]
        if steps == 0:
            raise DomainError("no_steps")

    body = {"batch": batch_id, "quantity": quantity, "unit": unit, "expiry_date": expiry}
    _put_by(body, by)
    return journal.append(ev.BATCH_CLOSED, body, check=check, after=after)


def issue_labels(
    journal: Journal,
    batch_id: str,
    *,
    copies: int,
    unit: bool,
    fmt: str,
    printer: str,
    reprint_of: int | None = None,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Record a print run (``labels.printed``) and queue its job in the same transaction.

    Unit serials are minted here, offline: the next numbers of the lot's own counter, derived
    from the runs already in the journal. A reprint names the run it repeats and carries the
    same serials, so reprints are on record and never mint new codes.
    """
    body: dict[str, Any] = {
        "batch": batch_id,
        "kind": "unit" if unit else "batch",
        "copies": copies,
        "format": fmt,
        "printer": printer,
    }
    _put_by(body, by)

    def check(db: Database) -> None:
        batch = get_batch(db, batch_id)
        if batch is None:
            raise DomainError("batch_not_found")
        if batch.status == "voided":
            raise DomainError("batch_voided", lot=batch.lot)
        if batch.status != "closed":
            raise DomainError("batch_not_closed")
        if reprint_of is not None:
            row = db.conn.execute(
                "SELECT kind, copies, serial_from, serial_to FROM label_runs"
                " WHERE seq = ? AND batch_id = ?",
                (reprint_of, batch_id),
            ).fetchone()
            if row is None:
                raise DomainError("reprint_unknown")
            body.update(kind=row[0], copies=row[1], reprint_of=reprint_of)
            if row[2] is not None:
                body.update(serial_from=row[2], serial_to=row[3])
        elif unit:
            last = db.conn.execute(
                "SELECT MAX(serial_to) FROM label_runs WHERE batch_id = ?", (batch_id,)
            ).fetchone()[0]
            body.update(serial_from=(last or 0) + 1, serial_to=(last or 0) + copies)

    def queue(db: Database, event: Event) -> None:
        db.conn.execute(
            "INSERT INTO print_jobs (seq, batch_id, kind, copies, serial_from, format, printer,"
            " state) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued')",
            (
                event.seq,
                batch_id,
                event.body["kind"],
                event.body["copies"],
                event.body.get("serial_from"),
                fmt,
                printer,
            ),
        )
        if after is not None:
            after(db, event)

    return journal.append(ev.LABELS_PRINTED, body, check=check, after=queue)
