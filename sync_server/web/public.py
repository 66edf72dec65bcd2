"""Public pages (no login): the home page and a batch's page as opened from a label's QR."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from sqlalchemy import Engine

from sync_server.queries import find_batch, recent_batches
from trace_protocol.links import check_gtin

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


def _batch_page(lot: str, gtin: str | None) -> tuple[str, int]:
    with _engine().connect() as conn:
        batch = find_batch(conn, lot, gtin)
    if batch is None:
        return render_template("not_found.html", lot=lot), 404
    return render_template("batch.html", b=batch), 200
