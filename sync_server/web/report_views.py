"""The consumer's "report this product" form on a doubtful unit code's page, and what it sends.

The form works without JavaScript (multipart POST, then a 303 to a thank-you page). Its
protection, limits and storage are in sync_server/consumer/reports.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sync_server.consumer.queries import FacilityView
from sync_server.consumer.reports import (
    MAX_PHOTO_BYTES,
    MAX_WHERE,
    REPORT,
    Photo,
    ReportError,
    check_photo,
    clean_phone,
    form_token,
    save_report,
    token_ok,
)
from sync_server.consumer.scans import MAX_CODE, ScanSummary, place_key, place_of
from sync_server.consumer.unit_check import FORGED, NEVER_PRINTED, UnitVerdict, check_unit
from sync_server.store.db import reading
from sync_server.store.throttle import record_failure, wait_s
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, current_lang
from trace_protocol.catalog import Product
from trace_protocol.links import check_gtin, parse_lot
from trace_protocol.unit_codes import SIG_PARAM

# Templates come from the public blueprint's folder (the same base page).
bp = Blueprint("report", __name__)


@dataclass(frozen=True)
class ReportForm:
    """What the doubtful-code section shows: the claimed product and producer, whom to call,
    and the form's hidden fields."""

    lot: str
    serial: str
    gtin: str | None
    mac: str
    token: str
    facility: FacilityView | None
    product: Product | None


def report_form(
    verdict: UnitVerdict,
    scans: ScanSummary | None,
    lot: str,
    serial: str,
    gtin: str | None,
    facility: FacilityView | None,
) -> ReportForm | None:
    """The section for a forged, never-printed or suspiciously often scanned code; else None."""
    doubtful = verdict.outcome in (FORGED, NEVER_PRINTED) or bool(scans and scans.suspicious)
    if not doubtful or len(lot) > MAX_CODE or len(serial) > MAX_CODE:
        return None
    parsed = parse_lot(lot)
    product = facility.product(parsed.product) if facility and parsed else None
    return ReportForm(
        lot=lot,
        serial=serial,
        gtin=gtin,
        mac=request.args.get(SIG_PARAM, "")[:64],
        token=form_token(config().web_secret_key(), lot, serial),
        facility=facility,
        product=product,
    )


def _failed(key: str, status: int, back: str | None) -> ResponseReturnValue:
    return render_template("report_done.html", error=key, back=back), status


@bp.post("/report")
def report() -> ResponseReturnValue:
    form = request.form
    lot, serial = form.get("lot", ""), form.get("serial", "")
    mac, token = form.get("s", "")[:64], form.get("token", "")
    gtin_text = form.get("gtin", "")
    if not lot or not serial or len(lot) > MAX_CODE or len(serial) > MAX_CODE:
        return _failed(N_("report_expired"), 400, None)
    try:
        gtin = check_gtin(gtin_text) if gtin_text else None
    except ValueError:
        return _failed(N_("report_expired"), 400, None)
    code_path = (
        url_for("public.unit_digital_link", gtin=gtin, lot=lot, serial=serial)
        if gtin
        else url_for("public.unit_short", lot=lot, serial=serial)
    )
    back = f"{code_path}?{SIG_PARAM}={mac}" if mac else code_path
    secret = config().web_secret_key()
    if not token_ok(secret, token, lot, serial):
        return _failed(N_("report_expired"), 400, back)
    place = place_of(request.remote_addr, place_key(secret))
    if wait_s(engine(), REPORT, place) > 0:
        return _failed(N_("report_too_many"), 429, back)
    where = " ".join(form.get("where", "").split())
    if not where:
        return _failed(N_("report_where_required"), 400, back)
    try:
        phone = clean_phone(form.get("phone", ""))
        photo: Photo | None = None
        upload = request.files.get("photo")
        if upload is not None and upload.filename:
            data = upload.stream.read(MAX_PHOTO_BYTES + 1)
            photo = check_photo(data) if data else None
    except ReportError as exc:
        return _failed(exc.key, 400, back)
    with reading(engine()) as conn:
        verdict = check_unit(conn, lot, serial, gtin, mac or None)
    save_report(
        engine(),
        config().data_dir / "reports",
        lot=lot,
        serial=serial,
        gtin=gtin,
        facility_code=verdict.facility_code,
        verdict=verdict.outcome,
        where_bought=where[:MAX_WHERE],
        phone=phone,
        photo=photo,
        place=place,
    )
    record_failure(engine(), REPORT, place)  # counts this network's reports (not a failure)
    return redirect(url_for("report.report_done", lang=current_lang()), 303)


@bp.get("/report/done")
def report_done() -> ResponseReturnValue:
    return render_template("report_done.html", error=None, back=None)


@bp.app_context_processor
def _office_contact() -> dict[str, object]:
    return {"office_contact": lambda: config().office}
