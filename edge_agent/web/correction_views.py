"""The "Sửa" page: new values for a recorded receipt, use, shipment, step or finished batch,
with a reason (issue 15). The original stays in the journal; pages then show "sửa lúc … vì …"."""

from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from edge_agent import corrections as domain
from edge_agent import queries
from edge_agent import supply_queries as sq
from edge_agent.batches import After, DomainError
from edge_agent.numbers import format_number
from edge_agent.web.display import unit_name
from edge_agent.web.i18n import N_, translate
from edge_agent.web.supply_context import correction_notes
from edge_agent.web.supply_views import _submit
from edge_agent.web.views import _agent, _error_page, _lang, bp
from edge_agent.web.workers import current_by
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event

# Reasons a worker picks with one tap (a typed reason wins over the picked one).
REASONS = (N_("reason_typo"), N_("reason_remeasured"), N_("reason_wrong_pick"))
RUNTIME_IDS = (
    N_("err_below_used"),
    N_("err_nothing_changed"),
    N_("err_not_correctable"),
    N_("err_record_not_found"),
    N_("kind_input.received"),
    N_("kind_input.added"),
    N_("kind_lot.shipped"),
    N_("kind_step.recorded"),
    N_("kind_batch.closed"),
)


def _fields(event: sq.RecordedEvent, product_code: str | None) -> list[dict[str, Any]]:
    """The inputs of the form: name, label, current value, input kind."""
    catalog = _agent().catalog()
    body, out = event.body, []
    for key in se.CORRECTABLE.get(event.type, ()):
        if key == "values":
            product = catalog.product(product_code or "") if catalog else None
            step = product.step(str(body.get("step", ""))) if product else None
            for f in step.fields if step else ():
                current = body.get("values", {}).get(f.key)
                out.append(
                    {
                        "name": f"v_{f.key}",
                        "label": f.label.get(_lang()),
                        "unit": unit_name(f.unit, _lang()),
                        "current": "" if current is None else format_number(current, _lang()),
                        "kind": "number",
                    }
                )
        elif key == "serials":
            serials = body.get("serials") or ["", ""]
            for name, value in zip(("serial_from", "serial_to"), serials, strict=True):
                out.append(
                    {"name": name, "label": translate(name, _lang()), "unit": "",
                     "current": str(value), "kind": "numeric"}
                )  # fmt: skip
        else:
            value = body.get(key, "")
            kind = {"quantity": "number", "note": "text", "supplier_lot": "text"}.get(key, "date")
            current = format_number(value, _lang()) if key == "quantity" and value else value
            unit = str(body.get("unit", "")) if key == "quantity" else ""
            out.append(
                {
                    "name": key,
                    "label": translate(f"field_{key}", _lang()),
                    "unit": unit_name(unit, _lang()),
                    "current": str(current or ""),
                    "kind": kind,
                }
            )
    return out


FIELD_IDS = (
    N_("field_quantity"),
    N_("field_supplier_lot"),
    N_("field_received_on"),
    N_("field_shipped_on"),
    N_("field_note"),
    N_("field_expiry_date"),
)


def render_correct(
    seq: int, error: str | None = None, errors: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    agent, lang = _agent(), _lang()
    with agent.journal.store.read() as db:
        event = sq.recorded_event(db, seq)
        batch_id = event.body.get("batch") if event else None
        batch = queries.get_batch(db, batch_id) if isinstance(batch_id, str) else None
        notes = correction_notes(db, [seq], lang).get(seq, [])
    if event is None or event.type not in se.CORRECTABLE:
        return _error_page(DomainError("record_not_found" if event is None else "not_correctable"))
    return (
        render_template(
            "correct.html",
            event=event,
            batch=batch,
            fields=_fields(event, batch.product_code if batch else None),
            reasons=[(r, translate(r, lang), "") for r in REASONS],
            notes=notes,
            form=request.form.to_dict() if request.method == "POST" else {},
            error=error,
            errors=errors or {},
            back=_back(event),
            here=url_for("ui.correct_form", seq=seq),
        ),
        status,
    )


def _back(event: sq.RecordedEvent) -> str:
    batch = event.body.get("batch")
    return url_for("ui.batch", batch_id=batch) if batch else url_for("ui.receipts")


@bp.get("/records/<int:seq>/correct")
def correct_form(seq: int) -> tuple[str, int]:
    return render_correct(seq)


@bp.post("/records/<int:seq>/correct")
def correct(seq: int) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    if catalog is None:
        return _error_page(DomainError("unknown_product"))
    f = request.form
    raw = {k: v for k, v in f.items() if k not in ("csrf_token", "form_token", "reason")}
    picked = f.get("reason_pick", "")
    reason = f.get("reason", "").strip() or (translate(picked, "vi") if picked in REASONS else "")

    def write(after: After | None) -> Event:
        return domain.correct(
            agent.journal,
            catalog,
            seq,
            raw,
            reason,
            override=f.get("override") == "1",
            by=current_by(),
            after=after,
        )

    def location(event: Event) -> str:
        with agent.journal.store.read() as db:
            target = sq.recorded_event(db, seq)
        return (_back(target) if target else url_for("ui.home")) + "?saved=corrected"

    return _submit(
        write, location, lambda general, errors: render_correct(seq, general, errors, 400)
    )
