"""The office's list of consumer reports (issue 13) and their photos, which are never public."""

from __future__ import annotations

from flask import abort, render_template, send_file
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server.consumer.reports import photo_path
from sync_server.store.db import consumer_reports, reading
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_
from sync_server.web.office import add_nav, bp

SHOWN = 200


@bp.get("/reports")
@login_required()
def reports() -> ResponseReturnValue:
    with reading(engine()) as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(consumer_reports)
                .where(current_scope().facilities(consumer_reports.c.facility_code))
                .order_by(consumer_reports.c.id.desc())
                .limit(SHOWN)
            ).mappings()
        ]
    return render_template("office/reports.html", reports=rows)


@bp.get("/reports/<int:report_id>/photo")
@login_required()
def report_photo(report_id: int) -> ResponseReturnValue:
    with reading(engine()) as conn:
        row = conn.execute(
            select(consumer_reports.c.photo_sha256, consumer_reports.c.photo_type).where(
                consumer_reports.c.id == report_id,
                current_scope().facilities(consumer_reports.c.facility_code),
            )
        ).first()
    if row is None or row.photo_sha256 is None:
        abort(404)
    path = photo_path(config().data_dir / "reports", row.photo_sha256, row.photo_type)
    if not path.exists():
        abort(404)
    return send_file(path, mimetype=f"image/{row.photo_type}", max_age=0)


add_nav("office.reports", N_("consumer_reports"))
