"""Public pages (no login): home, a batch or unit code as opened from a label's QR, and the
product and facility pages they link to. Every label page opened is logged
(sync_server.consumer.scans)."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template, request

from sync_server.consumer.queries import BatchView, find_batch, find_facility, recent_batches
from sync_server.consumer.scan_budget import ScanBudget
from sync_server.consumer.scan_writer import ScanWriter
from sync_server.consumer.scans import BATCH, NOT_FOUND, ScanSummary, place_key, place_of, scan_row
from sync_server.consumer.unit_check import GENUINE, check_batch_code, check_unit, judge_unit
from sync_server.store.db import reading
from sync_server.trace.recalls import is_recalled
from sync_server.web.context import config as app_config
from sync_server.web.context import engine
from sync_server.web.i18n import current_lang, vn_today
from sync_server.web.page_cache import PageCache
from sync_server.web.recall_state import generation
from sync_server.web.report_views import report_form
from sync_server.web.unit_page import render_unit, unit_lot
from trace_protocol.links import check_gtin, lot_prefix, parse_lot
from trace_protocol.unit_codes import SIG_PARAM

log = logging.getLogger(__name__)

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/public",
)


@bp.get("/")
def home() -> str:
    with reading(engine()) as conn:
        batches = recent_batches(conn)
    return render_template("home.html", batches=batches)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/l/<lot>")
def batch_short(lot: str) -> tuple[str, int]:
    return _batch_page(lot, None)


@bp.get("/01/<gtin>/10/<lot>")
def batch_digital_link(gtin: str, lot: str) -> tuple[str, int]:
    try:
        gtin14 = check_gtin(gtin)
    except ValueError:
        return render_template("not_found.html", lot=lot), 404
    return _batch_page(lot, gtin14)


@bp.get("/l/<lot>/<serial>")
def unit_short(lot: str, serial: str) -> tuple[str, int]:
    return _unit_page(lot, serial, None)


@bp.get("/01/<gtin>/10/<lot>/21/<serial>")
def unit_digital_link(gtin: str, lot: str, serial: str) -> tuple[str, int]:
    try:
        gtin14 = check_gtin(gtin)
    except ValueError:
        return render_template("not_found.html", lot=lot), 404
    return _unit_page(lot, serial, gtin14)


@bp.get("/f/<facility_code>")
def facility_page(facility_code: str) -> tuple[str, int]:
    with reading(engine()) as conn:
        facility = find_facility(conn, facility_code)
        batches = recent_batches(conn, facility_code=facility_code) if facility else []
    if facility is None:
        return render_template("not_found.html", lot=None), 404
    return render_template("facility.html", f=facility, batches=batches), 200


@bp.get("/p/<facility_code>/<product_code>")
def product_page(facility_code: str, product_code: str) -> tuple[str, int]:
    with reading(engine()) as conn:
        facility = find_facility(conn, facility_code)
        product = facility.product(product_code) if facility else None
        batches = (
            recent_batches(conn, facility_code=facility_code, product_code=product_code)
            if product
            else []
        )
    if facility is None or product is None:
        return render_template("not_found.html", lot=None), 404
    return (
        render_template("product.html", f=facility, p=product, batches=batches, today=vn_today()),
        200,
    )


def _batch_page(lot: str, gtin: str | None) -> tuple[str, int]:
    cache: PageCache = current_app.extensions["ocop_page_cache"]
    found: list[BatchView | None] = []

    def render() -> tuple[str, int]:
        with reading(engine()) as conn:
            batch = find_batch(conn, lot, gtin)
            recall = is_recalled(conn, lot) if batch is not None else None
        found.append(batch)
        if batch is None:
            return render_template("not_found.html", lot=lot), 404
        return render_template(
            "batch.html", b=batch, unit=None, recall=recall, today=vn_today()
        ), 200

    # The recall generation in the key: a recall or lift anywhere shows within a second.
    key = ("batch", lot, gtin or "", current_lang(), generation())
    page, status = cache.get_or_render(key, render)
    if status == 404 and request.args.get(SIG_PARAM):
        # Not synced yet, never cached: a signed batch label gets the honest page (issue 15).
        pending = _pending_batch_page(lot, gtin, request.args[SIG_PARAM])
        if pending is not None:
            page, status = pending
            found = []
    # Every view is a scan, cached page or not: the batch's registered facility, or (a cached
    # page) the lot's prefix.
    facility = found[0].facility.get("code") if found and found[0] else lot_prefix(lot)
    _log(
        lot,
        None,
        gtin,
        facility if status == 200 else None,
        BATCH if status == 200 else NOT_FOUND,
        None,
    )
    return page, status


def _pending_batch_page(lot: str, gtin: str | None, mac: str) -> tuple[str, int] | None:
    """A genuine batch label whose batch has not synced: what the code itself tells."""
    with reading(engine()) as conn:
        verdict = check_batch_code(conn, lot, gtin, mac)
        code = verdict.facility_code if verdict else None
        facility = find_facility(conn, code) if code else None
    if verdict is None:
        return None
    parsed = parse_lot(lot)
    product = facility.product(parsed.product) if facility and parsed else None
    page = render_template(
        "batch_pending.html", unit=verdict, lot=lot, f=facility, p=product, today=vn_today()
    )
    return page, 200


def _unit_page(lot: str, serial: str, gtin: str | None) -> tuple[str, int]:
    """A unit label's page: is the code genuine, and the batch's record when it has synced."""
    mac = request.args.get(SIG_PARAM)
    entry = unit_lot(lot, gtin)
    if entry is not None:
        verdict = judge_unit(entry.facts, serial, gtin, mac)
        if verdict.outcome == GENUINE and verdict.printed:
            scans = _log(lot, serial, gtin, verdict.facility_code, verdict.outcome, verdict.device)
            return render_unit(entry, verdict, serial, scans, gtin), 200
    # Anything doubtful is judged again from what the database holds now.
    with reading(engine()) as conn:
        verdict = check_unit(conn, lot, serial, gtin, mac)
        facility_code = verdict.facility_code
        batch = find_batch(conn, lot, gtin) if verdict.state == GENUINE else None
        recall = is_recalled(conn, lot) if verdict.state == GENUINE else None
        facility = (
            batch.facility_now
            if batch is not None
            else (find_facility(conn, facility_code) if facility_code else None)
        )
    scans = _log(lot, serial, gtin, facility_code, verdict.outcome, verdict.device)
    report = report_form(verdict, scans, lot, serial, gtin, facility)
    if batch is not None:
        return render_template(
            "batch.html",
            b=batch,
            unit=verdict,
            serial=serial,
            scans=scans,
            report=report,
            recall=recall,
            today=vn_today(),
        ), 200
    # Genuine but not synced yet: an honest page, never a 404 (DESIGN.md §6).
    parsed = parse_lot(lot)
    product_code = parsed.product if parsed else ""
    return render_template(
        "unit.html",
        unit=verdict,
        lot=lot,
        serial=serial,
        scans=scans,
        f=facility if verdict.state == GENUINE else None,
        p=facility.product(product_code) if facility and verdict.state == GENUINE else None,
        report=report,
        recall=recall,
        today=vn_today(),
    ), 200


def _log(
    lot: str,
    serial: str | None,
    gtin: str | None,
    facility_code: str | None,
    verdict: str,
    device: str | None,
) -> ScanSummary | None:
    config = app_config()
    key: bytes | None = current_app.extensions.get("ocop_scan_key")
    if key is None:
        try:
            key = place_key(config.web_secret_key())
        except OSError:  # the page matters more than its scan log
            log.exception("no web secret key: scan not logged")
            return None
        current_app.extensions["ocop_scan_key"] = key
    budget: ScanBudget = current_app.extensions["ocop_scan_budget"]
    if not budget.allow(place_of(request.remote_addr, key), lot, serial):
        return None  # this network has logged this code often enough this hour
    row = scan_row(
        key,
        lot=lot,
        serial=serial,
        gtin=gtin,
        facility_code=facility_code,
        verdict=verdict,
        address=request.remote_addr,
    )
    if row is None:
        return None  # no label carries such a code: nothing worth a row
    # Written in the background with others (sync_server/consumer/scan_writer.py); a unit
    # page waits for its scan's place in the code's history, a batch page for nothing.
    writer: ScanWriter = current_app.extensions["ocop_scan_writer"]
    if serial is None:
        writer.submit(row)
        return None
    return writer.log_unit(row, device)
