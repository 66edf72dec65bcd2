"""The office's recalls ("Thu hồi", issue 15): recall a lot, see what it covers and whom to call
back (with CSV), lift it.

Officers and admins alike (every office account, docs/office.md). A recall or lift takes effect
at once: this worker's page cache is dropped and every other worker sees the new recall
generation within a second (sync_server/web/recall_state.py); the facilities' catalogs carry
their recalled lots and are published on the devices' retained config topic.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection

from sync_server.accounts.scopes import Scope
from sync_server.devices.catalog_edit import publish_pending
from sync_server.devices.recalled_lots import update_recalled_lots
from sync_server.store.db import reading
from sync_server.trace.lots import trace_forward
from sync_server.trace.model import SHIPMENT_COLUMNS
from sync_server.trace.recalls import (
    KIT_KINDS,
    Recall,
    RecallError,
    call_back_list,
    get_recall,
    lift,
    list_recalls,
    recall,
)
from sync_server.web.auth import current_scope, current_user, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, translate
from sync_server.web.office import add_nav, bp
from sync_server.web.office.exports import csv_response
from sync_server.web.office.scoped import foreign_lots, lots_in_scope
from sync_server.web.recall_state import recalls_changed

log = logging.getLogger(__name__)

add_nav("office.recalls", N_("recalls"))

# Ids used at run time (N_: extracted for the catalogs): form labels passed to
# _recall_field.html, a lot's kind, a RecallError's code.
RUN_TIME_IDS = (
    N_("recall_lot"),
    N_("recall_supplier"),
    N_("recall_reason"),
    N_("recall_lift_reason"),
    N_("recall_kind_output"),
    N_("recall_kind_receipt"),
    N_("recall_err_lot_missing"),
    N_("recall_err_lot_unknown"),
    N_("recall_err_already"),
    N_("recall_err_reason_missing"),
    N_("recall_err_reason_long"),
    N_("recall_err_unknown"),
    N_("recall_err_lifted"),
    N_("recall_err_out_of_scope"),
)


@bp.route("/recalls", methods=["GET", "POST"])
@login_required()
def recalls() -> ResponseReturnValue:
    # A GET may carry ?lot= (the batch page's link) to fill the form in.
    given = request.form if request.method == "POST" else request.args
    form = {k: given.get(k, "").strip() for k in ("lot", "supplier", "reason")}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            with engine().begin() as conn:
                _check_scope(conn, form["lot"], form["supplier"] or None)
                made = recall(conn, form["lot"], form["reason"], _who(), form["supplier"] or None)
        except RecallError as exc:
            errors[exc.field] = translate(f"recall_err_{exc.code}", lot=form["lot"])
        else:
            _changed(N_("recall_made"))
            return redirect(url_for("office.recall_detail", recall_id=made.id))
    with reading(engine()) as conn:
        scope = current_scope()
        rows = [v for r in list_recalls(conn) if (v := _scoped(conn, scope, r)) is not None]
    page = render_template("office/recalls.html", recalls=rows, form=form, errors=errors)
    return page, 400 if errors else 200


@bp.get("/recalls/<int:recall_id>")
@login_required()
def recall_detail(recall_id: int) -> ResponseReturnValue:
    return _detail(recall_id, {}, "")


@bp.post("/recalls/<int:recall_id>/lift")
@login_required()
def lift_recall(recall_id: int) -> ResponseReturnValue:
    reason = request.form.get("reason", "")
    if not _liftable(recall_id):
        abort(404)  # out of the user's scope, or another district's lot (theirs to lift)
    try:
        with engine().begin() as conn:
            lift(conn, recall_id, reason, _who())
    except RecallError as exc:
        if exc.code == "unknown":
            abort(404)
        return _detail(recall_id, {exc.field: translate(f"recall_err_{exc.code}")}, reason), 400
    _changed(N_("recall_lifted"))
    return redirect(url_for("office.recall_detail", recall_id=recall_id))


@bp.get("/recalls/<int:recall_id>/call-back.csv")
@login_required()
def call_back_csv(recall_id: int) -> ResponseReturnValue:
    found, shipments = _load(recall_id)
    return csv_response(
        f"recall-{found.id}-call-back.csv", SHIPMENT_COLUMNS, (s.cells() for s in shipments)
    )


def _detail(recall_id: int, errors: dict[str, str], lift_reason: str) -> str:
    found, shipments = _load(recall_id)
    return render_template(
        "office/recall.html",
        r=found,
        liftable=_liftable(recall_id),
        shipments=shipments,
        errors=errors,
        lift_reason=lift_reason,
    )


def _load(recall_id: int) -> tuple[Recall, tuple[Any, ...]]:
    """A recall as the user's scope shows it, and its shipments to call back in scope; 404 for
    one that covers no facility in scope."""
    scope = current_scope()
    with reading(engine()) as conn:
        found = get_recall(conn, recall_id)
        shown = None if found is None else _scoped(conn, scope, found)
        if found is None or shown is None:
            abort(404)
        codes = scope.codes(conn)
        shipments = [
            s
            for s in call_back_list(conn, found).shipments
            if codes is None or s.facility_code in codes
        ]
    return shown, tuple(shipments)


def _scoped(conn: Connection, scope: Scope, found: Recall) -> Recall | None:
    """The recall as a district officer sees it (docs/office.md, "District scopes"): only the
    lots it covers in their facilities, the recalled lot itself named only when it is not
    another district's; None when it covers none of their facilities."""
    if scope.province:
        return found
    mine = lots_in_scope(conn, scope, (lot for lot, _ in found.lots))
    if not mine:
        return None
    lot = found.lot
    if lot in foreign_lots(conn, scope, [lot]):
        lot = translate("scope_other_district")
    return dataclasses.replace(found, lot=lot, lots=tuple(x for x in found.lots if x[0] in mine))


def _liftable(recall_id: int) -> bool:
    scope = current_scope()
    with reading(engine()) as conn:
        found = get_recall(conn, recall_id)
        if found is None or scope.province:
            return True  # lift() says an unknown recall is unknown
        shown = _scoped(conn, scope, found)
    return shown is not None and shown.lot == found.lot


def _check_scope(conn: Connection, lot: str, supplier: str | None) -> None:
    """A district officer recalls only what reaches their facilities, and not another district's
    lot (that district's officer, or the province, recalls it)."""
    scope = current_scope()
    if scope.province or not lot.strip():
        return
    lot = lot.strip()
    reached = trace_forward(conn, lot, supplier)
    if not reached.found:
        return  # recall() says the lot is unknown
    covered = {n.lot for n in reached.lots if n.kind in KIT_KINDS}
    if lot in foreign_lots(conn, scope, [lot]) or not lots_in_scope(conn, scope, covered):
        raise RecallError("lot", "out_of_scope", f"lot {lot} is outside your districts")


def _who() -> str:
    user = current_user()
    return user.username if user else "?"


def _changed(message: str) -> None:
    """Pages, then devices: the catalogs' recalled lots, published now or by the retry loop."""
    recalls_changed()
    flash(message)
    try:
        changed = update_recalled_lots(engine(), config().public_base_url)
        published = publish_pending(engine(), config(), timeout_s=3.0)
    except Exception:  # the recall is saved; the devices are told by the minute's retry
        log.exception("recalled lots not sent to the devices yet")
        flash(N_("catalog_publish_pending"))
        return
    if any(code not in published for code in changed):
        flash(N_("catalog_publish_pending"))
