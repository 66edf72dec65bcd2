"""Touchscreen pages of issue 15: receive raw material, use it in a batch, ship, void a batch.

Every write goes through :mod:`edge_agent.supply` once per rendered form (``views.once``). Bad
input re-renders the form with its message next to the field and saves nothing; using or
shipping more than is left shows a confirmation page whose "save anyway" records an override.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edge_agent import queries
from edge_agent import supply as domain
from edge_agent import supply_queries as sq
from edge_agent.batches import After, DomainError
from edge_agent.camera_service import MANUAL
from edge_agent.numbers import format_number
from edge_agent.web.display import quantity, unit_name
from edge_agent.web.i18n import N_
from edge_agent.web.supply_context import correction_notes
from edge_agent.web.views import _agent, _error_page, _lang, _message, bp, once
from edge_agent.web.workers import current_by
from trace_protocol.envelope import Event
from trace_protocol.supply import Supplier

# Error ids built at run time from DomainError codes (``err_`` + code).
RUNTIME_IDS = (
    N_("err_amount_invalid"),
    N_("err_amount_use_comma"),
    N_("err_batch_voided"),
    N_("err_body_invalid"),
    N_("err_date_in_future"),
    N_("err_date_invalid"),
    N_("err_lot_recalled"),
    N_("err_reason_missing"),
    N_("err_serials_invalid"),
    N_("err_stock_exceeded"),
    N_("err_supplier_lot_too_long"),
    N_("err_unit_invalid"),
    N_("err_unknown_customer"),
    N_("err_unknown_material"),
    N_("err_unknown_receipt"),
    N_("err_unknown_supplier"),
    N_("status_voided"),
)
# Which input each error belongs next to (issue 13: a message beside its field).
FIELD_OF = {
    "unknown_supplier": "supplier",
    "unknown_material": "material",
    "supplier_lot_too_long": "supplier_lot",
    "amount_invalid": "quantity",
    "amount_use_comma": "quantity",
    "unit_invalid": "unit",
    "date_invalid": "day",
    "date_in_future": "day",
    "unknown_customer": "customer",
    "serials_invalid": "serial_from",
    "note_too_long": "note",
    "reason_missing": "reason",
    "unknown_receipt": "receipt",
}
OVERRIDABLE = ("stock_exceeded", "below_used")


def _form_errors(exc: DomainError) -> tuple[str | None, dict[str, str]]:
    """``(general message, {field: message})`` for a refused form."""
    field = exc.params.get("key") or FIELD_OF.get(exc.code)
    if field:
        return None, {str(field): _message(exc)}
    return _message(exc), {}


def _submit(
    write: Callable[[After | None], Event],
    location: Callable[[Event], str],
    retry: Callable[[str | None, dict[str, str]], tuple[str, int]],
) -> BaseResponse | tuple[str, int]:
    """Write once; on a refusal, the override confirmation or the form again with its errors."""
    try:
        return once(write, location)
    except DomainError as exc:
        if exc.code in OVERRIDABLE and request.form.get("override") != "1":
            return (
                render_template(
                    "confirm_override.html",
                    message=_message(exc),
                    action=request.path,
                    fields={
                        k: v
                        for k, v in request.form.items()
                        if k not in ("csrf_token", "form_token", "override")
                    },
                    back=request.referrer or url_for("ui.home"),
                ),
                409,
            )
        general, errors = _form_errors(exc)
        return retry(general, errors)


def _today() -> str:
    return _agent().journal.clock.now().date().isoformat()


# --- receive ---------------------------------------------------------------------------


@bp.get("/receipts")
def receipts() -> str:
    agent, lang = _agent(), _lang()
    with agent.journal.store.read() as db:
        rows = sq.receipts(db, limit=50)
        notes = correction_notes(db, [r.seq for r in rows], lang)
    return render_template(
        "receipts.html",
        rows=rows,
        notes=notes,
        saved=request.args.get("saved"),
    )


def _place(s: Supplier) -> str:
    return ", ".join(p for p in (s.commune, s.district, s.province) if p)


def render_receive(
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    form: dict[str, str] | None = None,
    scanned: bool = False,
) -> tuple[str, int]:
    agent, lang = _agent(), _lang()
    catalog = agent.catalog()
    if form is None:
        form = request.form.to_dict() if request.method == "POST" else {}
    return (
        render_template(
            "receive.html",
            supplier_options=[(s.id, s.name, _place(s)) for s in catalog.suppliers]
            if catalog
            else [],
            material_options=[
                (m.code, m.name_en or m.name if lang == "en" else m.name, unit_name(m.unit, lang))
                for m in domain.materials(catalog)
            ]
            if catalog
            else [],
            form=form,
            scanned=scanned,
            error=error,
            errors=errors or {},
            today=_today(),
            here=url_for("ui.receive_form"),
        ),
        status,
    )


@bp.get("/receipts/new")
def receive_form() -> tuple[str, int]:
    return render_receive()


@bp.post("/receipts")
def receive() -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    f = request.form
    if catalog is None:
        return _error_page(DomainError("unknown_product"))
    source = {k.removeprefix("source_"): v for k, v in f.items() if k.startswith("source_") and v}

    def write(after: After | None) -> Event:
        photo = None
        if f.get("photo") == "1" and agent.cameras.cameras:
            # checked first, so a refused receipt takes no photo
            domain.parse_quantity(f.get("quantity", ""))
            shot = agent.cameras.capture(next(iter(agent.cameras.cameras)), MANUAL, None)
            photo = str(shot.body["sha256"]) if shot is not None else None
        return domain.receive(
            agent.journal,
            catalog,
            agent.config.lot_prefix,
            supplier_id=f.get("supplier", ""),
            material_code=f.get("material", ""),
            supplier_lot=f.get("supplier_lot", ""),
            quantity_text=f.get("quantity", ""),
            received_on=f.get("day", ""),
            photo=photo,
            source=source or None,
            by=current_by(),
            after=after,
        )

    return _submit(
        write,
        lambda e: url_for("ui.receipts", saved=e.body["lot"]),
        lambda general, errors: render_receive(general, errors, 400),
    )


# --- use in a batch --------------------------------------------------------------------


def render_use(
    batch_id: str,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    agent, lang = _agent(), _lang()
    with agent.journal.store.read() as db:
        batch = queries.get_batch(db, batch_id)
        stock = sq.receipts(db, in_stock=True)
    if batch is None:
        return _error_page(DomainError("batch_not_found"))
    return (
        render_template(
            "use_input.html",
            b=batch,
            stock=stock,
            stock_options=[
                (
                    r.receipt_id,
                    f"{r.material_name} · {r.lot}",
                    f"{r.supplier_name} · {quantity(r.left, r.unit, lang)}",
                )
                for r in stock
            ],
            form=request.form.to_dict() if request.method == "POST" else {},
            error=error,
            errors=errors or {},
            here=url_for("ui.use_form", batch_id=batch_id),
        ),
        status,
    )


@bp.get("/batches/<batch_id>/inputs")
def use_form(batch_id: str) -> tuple[str, int]:
    return render_use(batch_id)


@bp.post("/batches/<batch_id>/inputs")
def use_input(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    if catalog is None:
        return _error_page(DomainError("unknown_product"))
    f = request.form
    return _submit(
        lambda after: domain.use_input(
            agent.journal,
            catalog,
            batch_id,
            f.get("receipt", ""),
            f.get("quantity", ""),
            override=f.get("override") == "1",
            by=current_by(),
            after=after,
        ),
        lambda _: url_for("ui.batch", batch_id=batch_id, saved="input"),
        lambda general, errors: render_use(batch_id, general, errors, 400),
    )


# --- ship a finished lot ---------------------------------------------------------------


def render_ship(
    batch_id: str,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    agent, lang = _agent(), _lang()
    catalog = agent.catalog()
    with agent.journal.store.read() as db:
        batch = queries.get_batch(db, batch_id)
        shipped = sq.shipped_total(db, batch_id)
    if batch is None:
        return _error_page(DomainError("batch_not_found"))
    return (
        render_template(
            "ship.html",
            b=batch,
            customer_options=[(c.id, c.name, c.address) for c in catalog.customers]
            if catalog
            else [],
            left=format_number(max((batch.quantity or 0) - shipped, 0), lang),
            form=request.form.to_dict() if request.method == "POST" else {},
            error=error,
            errors=errors or {},
            today=_today(),
            here=url_for("ui.ship_form", batch_id=batch_id),
        ),
        status,
    )


@bp.get("/batches/<batch_id>/ship")
def ship_form(batch_id: str) -> tuple[str, int]:
    return render_ship(batch_id)


@bp.post("/batches/<batch_id>/shipments")
def ship(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    if catalog is None:
        return _error_page(DomainError("unknown_product"))
    f = request.form
    return _submit(
        lambda after: domain.ship(
            agent.journal,
            catalog,
            batch_id,
            customer_id=f.get("customer", ""),
            quantity_text=f.get("quantity", ""),
            serial_from=f.get("serial_from", ""),
            serial_to=f.get("serial_to", ""),
            shipped_on=f.get("day", ""),
            note=f.get("note", ""),
            override=f.get("override") == "1",
            by=current_by(),
            after=after,
        ),
        lambda _: url_for("ui.batch", batch_id=batch_id, saved="shipped"),
        lambda general, errors: render_ship(batch_id, general, errors, 400),
    )


# --- void a batch opened by mistake ----------------------------------------------------


@bp.get("/batches/<batch_id>/void")
def void_form(batch_id: str) -> str | tuple[str, int]:
    with _agent().journal.store.read() as db:
        batch = queries.get_batch(db, batch_id)
    if batch is None:
        return _error_page(DomainError("batch_not_found"))
    return render_template("confirm_void.html", b=batch, error=None)


@bp.post("/batches/<batch_id>/void")
def void(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    try:
        return once(
            lambda after: domain.void_batch(
                agent.journal,
                batch_id,
                request.form.get("reason", ""),
                by=current_by(),
                after=after,
            ),
            lambda _: url_for("ui.home", saved="voided"),
        )
    except DomainError as exc:
        if exc.code == "batch_not_found":
            return _error_page(exc)
        with agent.journal.store.read() as db:
            batch = queries.get_batch(db, batch_id)
        return render_template("confirm_void.html", b=batch, error=_message(exc)), 400
