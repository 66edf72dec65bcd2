"""The office dashboard: facilities by liveness, open alerts, latest camera pictures."""

from __future__ import annotations

import time

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, and_, func, select

from sync_server.accounts.audit import audit_resolved
from sync_server.accounts.scopes import PROVINCE, Scope
from sync_server.devices.liveness import STATES, FacilityLiveness, facility_states, sweep_silent
from sync_server.store.alerts import open_alerts, resolve_alert
from sync_server.store.blobs import SHA256_RE
from sync_server.store.db import alerts, blob_refs, reading
from sync_server.web.auth import current_scope, current_user, login_required
from sync_server.web.context import config, engine, storage
from sync_server.web.i18n import N_
from sync_server.web.office import bp
from sync_server.web.office.scoped import blob_allowed, device_clause


def latest_thumbnails(
    conn: Connection, limit: int = 12, scope: Scope = PROVINCE
) -> list[dict[str, object]]:
    """The newest arrived thumbnail of each (device, camera) in scope, newest first."""
    newest = (
        select(blob_refs.c.dev_id, blob_refs.c.camera, func.max(blob_refs.c.seq).label("seq"))
        .where(
            blob_refs.c.kind == "thumb",
            blob_refs.c.received_at.is_not(None),
            device_clause(scope, blob_refs.c.dev_id),
        )
        .group_by(blob_refs.c.dev_id, blob_refs.c.camera)
        .subquery()
    )
    rows = conn.execute(
        select(
            blob_refs.c.dev_id,
            blob_refs.c.camera,
            blob_refs.c.sha256,
            blob_refs.c.received_at,
            blob_refs.c.purpose,
        )
        .join(
            newest,
            and_(
                blob_refs.c.dev_id == newest.c.dev_id,
                blob_refs.c.camera == newest.c.camera,
                blob_refs.c.seq == newest.c.seq,
            ),
        )
        .where(blob_refs.c.kind == "thumb")
        .order_by(blob_refs.c.received_at.desc())
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def in_scope(facs: list[FacilityLiveness], codes: frozenset[str] | None) -> list[FacilityLiveness]:
    """The facilities of ``codes`` (None: all of them)."""
    return facs if codes is None else [f for f in facs if f.code in codes]


@bp.get("/")
@login_required()
def dashboard() -> ResponseReturnValue:
    with engine().begin() as conn:
        sweep_silent(conn, config().office)
    scope = current_scope()
    with reading(engine()) as conn:
        codes = scope.codes(conn)
        facs = in_scope(facility_states(conn, config().office), codes)
        open_now = [a for a in open_alerts(conn) if codes is None or a["facility_code"] in codes]
        thumbs = latest_thumbnails(conn, scope=scope)
    counts = {s: sum(1 for f in facs if f.state == s) for s in STATES}
    return render_template(
        "office/dashboard.html",
        facilities=facs,
        counts=counts,
        alerts=open_now,
        thumbs=thumbs,
        now=time.time(),
    )


@bp.post("/alerts/<int:alert_id>/resolve")
@login_required()
def resolve(alert_id: int) -> ResponseReturnValue:
    user = current_user()
    assert user is not None
    with engine().begin() as conn:
        code = conn.execute(select(alerts.c.facility_code).where(alerts.c.id == alert_id)).first()
        if code is None or not current_scope().allows(conn, code[0]):
            abort(404)
        if resolve_alert(conn, alert_id, user.username):
            audit_resolved(conn, alert_id, user.username)
    flash(N_("saved"))
    target = request.form.get("back", "")
    return redirect(target if target.startswith("/office") else url_for("office.dashboard"))


@bp.get("/blobs/<sha256>")
@login_required()
def blob(sha256: str) -> ResponseReturnValue:
    """Any photo file (private ones too) of a facility in the user's scope."""
    if not SHA256_RE.match(sha256) or not storage().has(sha256):
        abort(404)
    scope = current_scope()
    if not scope.province:
        with reading(engine()) as conn:
            if not blob_allowed(conn, scope, sha256):
                abort(404)
    resp = send_file(storage().open(sha256), mimetype="image/jpeg", max_age=86400)
    resp.headers["Cache-Control"] = "private, max-age=86400"
    return resp
