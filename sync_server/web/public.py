"""Public pages (no login): the home page and a batch's page as opened from a label's QR."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from sqlalchemy import Engine

from sync_server.queries import find_batch, recent_batches
from sync_server.unit_check import GENUINE, check_unit
from trace_protocol.links import check_gtin
from trace_protocol.unit_codes import SIG_PARAM

bp = Blueprint(
    "public",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/public",
)


def _engine() -> Engine:
    engine: Engine = current_app.extensions["ocop_engine"]
    return engine


@bp.get("/")
def home() -> str:
    with _engine().connect() as conn:
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


def _batch_page(lot: str, gtin: str | None) -> tuple[str, int]:
    with _engine().connect() as conn:
        batch = find_batch(conn, lot, gtin)
    if batch is None:
        return render_template("not_found.html", lot=lot), 404
    return render_template("batch.html", b=batch, unit=None), 200


def _unit_page(lot: str, serial: str, gtin: str | None) -> tuple[str, int]:
    """A unit label's page: is the code genuine, and the batch's record when it has synced."""
    mac = request.args.get(SIG_PARAM)
    with _engine().connect() as conn:
        verdict = check_unit(conn, lot, serial, gtin, mac)
        batch = find_batch(conn, lot, gtin) if verdict.state == GENUINE else None
    if batch is not None:
        return render_template("batch.html", b=batch, unit=verdict, serial=serial), 200
    # Genuine but not synced yet: an honest page, never a 404 (DESIGN.md §6).
    return render_template("unit.html", unit=verdict, lot=lot, serial=serial), 200
