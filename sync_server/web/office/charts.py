"""The office charts: batches opened, scans and flagged scans per Vietnam day, with a table.

``?days=`` picks the window (1-365, default 30), ``?facility=`` one facility. The counts come
from :mod:`sync_server.consumer.stats`; the chart is drawn by the vendored Chart.js from a JSON
block,
and the same numbers are an HTML table for screen readers and browsers without JavaScript.
"""

from __future__ import annotations

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server.consumer.stats import DEFAULT_DAYS, clamp_days, daily_counts
from sync_server.store.db import facilities, reading
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import engine
from sync_server.web.i18n import N_, translate
from sync_server.web.office import add_nav, bp


def parse_days(raw: str | None) -> int:
    """``?days=``: a whole number clamped to 1-365; anything else is the default."""
    try:
        return clamp_days(int(raw)) if raw else DEFAULT_DAYS
    except ValueError:
        return DEFAULT_DAYS


@bp.get("/charts")
@login_required()
def charts() -> ResponseReturnValue:
    days = parse_days(request.args.get("days"))
    facility = request.args.get("facility") or None
    scope = current_scope()
    with reading(engine()) as conn:
        choices = conn.execute(
            select(facilities.c.code, facilities.c.name)
            .where(scope.facilities(facilities.c.code))
            .order_by(facilities.c.name)
        ).all()
        if facility is not None and facility not in {c for c, _ in choices}:
            abort(404)
        counts = daily_counts(conn, days, facility, scope=scope)
    data = {
        **counts.as_json(),
        "labels": {
            "batches": translate("batches_opened"),
            "scans": translate("scans"),
            "flagged": translate("scans_flagged"),
        },
    }
    return render_template(
        "office/charts.html", counts=counts, data=data, days=days, choices=choices
    )


add_nav("office.charts", N_("charts"))
