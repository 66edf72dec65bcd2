"""The office's "Truy xuất" page: a lot's trace backward and forward, and its shipments as CSV."""

from __future__ import annotations

import dataclasses

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue

from sync_server.store.db import reading
from sync_server.trace.lots import trace_backward, trace_forward
from sync_server.trace.model import SHIPMENT_COLUMNS, Trace
from sync_server.trace.tree import build_tree
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import engine
from sync_server.web.i18n import N_
from sync_server.web.office import add_nav, bp
from sync_server.web.office.exports import csv_response
from sync_server.web.office.scoped import HIDDEN, reaches_scope, scoped_trace

MAX_LOT = 40  # a supplier's lot code (trace_protocol.supply_events.MAX_SUPPLIER_LOT)
MAX_SUPPLIER = 16

add_nav("office.trace", N_("trace"))
# The template names a lot's kind as t("trace_kind_" ~ kind).
KIND_IDS = (N_("trace_kind_output"), N_("trace_kind_receipt"), N_("trace_kind_supplier"))


def _query() -> tuple[str, str, dict[str, str]]:
    """The lot and supplier asked for, and a message id per field that is not usable."""
    lot = request.args.get("lot", "").strip()
    supplier = request.args.get("supplier", "").strip()
    errors: dict[str, str] = {}
    if len(lot) > MAX_LOT:
        errors["lot"] = N_("trace_lot_too_long")
    if len(supplier) > MAX_SUPPLIER:
        errors["supplier"] = N_("trace_supplier_too_long")
    if supplier and not lot:
        errors["lot"] = N_("trace_lot_missing")
    return lot, supplier, errors


def _traces(lot: str, supplier: str) -> tuple[Trace, Trace]:
    """Both traces as the user's scope shows them (sync_server/web/office/scoped.py); a lot
    that reaches none of their facilities either way is unknown to them."""
    with reading(engine()) as conn:
        codes = current_scope().codes(conn)
        back = trace_backward(conn, lot, supplier or None)
        forward = trace_forward(conn, lot, supplier or None)
    if not (reaches_scope(back, codes) or reaches_scope(forward, codes)):
        back = dataclasses.replace(back, roots=(), lots=(), edges=())
    return scoped_trace(back, codes), scoped_trace(forward, codes)


@bp.get("/trace")
@login_required()
def trace() -> ResponseReturnValue:
    lot, supplier, errors = _query()
    back: Trace | None = None
    forward: Trace | None = None
    if lot and not errors:
        back, forward = _traces(lot, supplier)
        if not back.found:
            errors["lot"] = N_("trace_unknown")
            back = forward = None
    return render_template(
        "office/trace.html",
        lot=lot,
        supplier=supplier,
        errors=errors,
        back=back,
        forward=forward,
        back_tree=build_tree(back) if back else (),
        forward_tree=build_tree(forward) if forward else (),
        hidden=HIDDEN,
    )


@bp.get("/trace/shipments.csv")
@login_required()
def trace_shipments_csv() -> ResponseReturnValue:
    lot, supplier, errors = _query()
    if not lot or errors:
        abort(400, description="lot: a lot code of 1-40 characters is needed")
    back, forward = _traces(lot, supplier)
    if not back.found:
        abort(404)
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in lot)
    return csv_response(
        f"shipments-{safe}.csv",
        (*SHIPMENT_COLUMNS, "device", "batch"),
        ([*s.cells(), s.dev_id, s.batch_id] for s in forward.shipments),
    )
