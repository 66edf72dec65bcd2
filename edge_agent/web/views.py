"""Touchscreen pages: home (open batches, new batch), a batch (steps, finish, print), status."""

from __future__ import annotations

import json
import time
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from edge_agent import batches as domain
from edge_agent.agent import Agent
from edge_agent.camera.protocol import CameraError
from edge_agent.camera_service import MANUAL
from edge_agent.printing import request_print
from edge_agent.web.guard import safe_next
from edge_agent.web.i18n import current_lang, translate
from edge_agent.web.workers import current_by
from trace_protocol.catalog import Product

bp = Blueprint(
    "ui",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/ui",
)


def _agent() -> Agent:
    agent: Agent = current_app.extensions["ocop_agent"]
    return agent


def _lang() -> str:
    return current_lang(_agent().config.ui.default_language)


def sync_summary(agent: Agent) -> dict[str, Any]:
    state = agent.journal.sync_state()
    link, detail = agent.link_state()
    oldest = state.oldest_unsynced_written_at
    return {
        "head": state.head,
        "acked": state.acked,
        "backlog": state.backlog,
        "oldest_unsynced_age_s": None if oldest is None else round(time.time() - oldest, 1),
        "link": link,
        "link_detail": detail,
        "blocked": None
        if state.blocked is None
        else {"code": state.blocked.code, "seq": state.blocked.seq, "detail": state.blocked.detail},
        "clock": agent.journal.clock.state(),
    }


@bp.app_context_processor
def _inject_sync() -> dict[str, Any]:
    agent = _agent()
    return {
        "sync": sync_summary(agent),
        "camera_problems": agent.cameras.problems(),
        "camera_names": list(agent.cameras.cameras),
        "periodic_paused": agent.cameras.periodic_paused,
    }


@bp.get("/")
def home() -> str:
    db = _agent().journal.db
    rows = db.conn.execute(
        "SELECT batch_id, lot, product_name, status, opened_at FROM batches"
        " ORDER BY status = 'closed', opened_seq DESC LIMIT 30"
    ).fetchall()
    open_rows = [r for r in rows if r[3] == "open"]
    closed_rows = [r for r in rows if r[3] == "closed"][:8]
    return render_template(
        "home.html", catalog=_agent().catalog(), open_rows=open_rows, closed_rows=closed_rows
    )


@bp.post("/batches")
def open_batch() -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    try:
        if catalog is None:
            raise domain.DomainError("unknown_product")
        event = domain.open_batch(
            agent.journal,
            catalog,
            request.form.get("product", ""),
            agent.config.lot_prefix,
            by=current_by(),
        )
    except domain.DomainError as exc:
        return _error_page(exc)
    agent.written()
    return redirect(url_for("ui.batch", batch_id=event.body["batch"]), code=303)


@bp.get("/batches/<batch_id>")
def batch(batch_id: str) -> str | tuple[str, int]:
    return _render_batch(batch_id)


def _render_batch(
    batch_id: str, error: str | None = None, form: dict[str, str] | None = None, status: int = 200
) -> tuple[str, int]:
    agent = _agent()
    row = domain.get_batch(agent.journal.db, batch_id)
    if row is None:
        return _error_page(domain.DomainError("batch_not_found"))
    catalog = agent.catalog()
    product = catalog.product(row.product_code) if catalog else None
    steps = agent.journal.db.conn.execute(
        "SELECT seq, step_code, step_name, measured, note, at FROM steps"
        " WHERE batch_id = ? ORDER BY seq",
        (batch_id,),
    ).fetchall()
    jobs = agent.print_queue.jobs(batch_id)
    photos = _batch_photos(agent, batch_id)
    chosen = request.args.get("step") or (form or {}).get("step")
    step = product.step(chosen) if product and chosen else None
    return (
        render_template(
            "batch.html",
            b=row,
            product=product,
            steps=[
                (s[0], s[2], _measured(product, s[1], s[3]), s[4], s[5], photos.get(s[0], []))
                for s in steps
            ],
            other_photos=photos.get(0, []),
            jobs=jobs,
            step=step,
            error=error,
            form=form or {},
            saved=request.args.get("saved"),
            acked=agent.journal.sync_state().acked,
            here=url_for("ui.batch", batch_id=batch_id),
        ),
        status,
    )


@bp.post("/batches/<batch_id>/steps")
def record_step(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    form = request.form.to_dict()
    try:
        if catalog is None:
            raise domain.DomainError("unknown_product")
        values = {k.removeprefix("v_"): v for k, v in form.items() if k.startswith("v_")}
        domain.record_step(
            agent.journal,
            catalog,
            batch_id,
            form.get("step", ""),
            values,
            form.get("note", ""),
            # A public copy only when the worker vouched "no people in the photo" (issue 12 #8).
            photos=lambda: agent.cameras.capture_evidence(
                batch_id, no_people=form.get("no_people") == "1"
            ),
            by=current_by(),
        )
    except domain.DomainError as exc:
        return _render_batch(batch_id, _message(exc), form, 400)
    agent.written()
    return redirect(url_for("ui.batch", batch_id=batch_id, saved="step"), code=303)


@bp.post("/batches/<batch_id>/close")
def close_batch(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    try:
        if catalog is None:
            raise domain.DomainError("unknown_product")
        domain.close_batch(
            agent.journal, catalog, batch_id, request.form.get("quantity", ""), by=current_by()
        )
    except domain.DomainError as exc:
        return _render_batch(batch_id, _message(exc), request.form.to_dict(), 400)
    agent.written()
    return redirect(url_for("ui.batch", batch_id=batch_id, saved="closed"), code=303)


@bp.post("/batches/<batch_id>/labels")
def labels(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    form = request.form
    try:
        copies = int(form.get("copies", "1"))
    except ValueError:
        copies = 0
    reprint = form.get("reprint")
    try:
        request_print(
            agent.journal,
            batch_id,
            copies=copies,
            unit=form.get("kind") == "unit",
            fmt=agent.config.printer.format,
            printer=agent.config.printer.kind,
            reprint_of=int(reprint) if reprint and reprint.isdigit() else None,
            by=current_by(),
        )
    except domain.DomainError as exc:
        return _render_batch(batch_id, _message(exc), form.to_dict(), 400)
    agent.print_queue.notify()
    agent.written()
    return redirect(url_for("ui.batch", batch_id=batch_id, saved="printed"), code=303)


@bp.post("/batches/<batch_id>/snapshot")
def snapshot(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    if domain.get_batch(agent.journal.db, batch_id) is None:
        return _error_page(domain.DomainError("batch_not_found"))
    try:
        event = agent.cameras.capture(request.form.get("camera", ""), MANUAL, batch_id)
    except CameraError as exc:
        return _render_batch(batch_id, str(exc), None, 400)
    if event is None:
        return _render_batch(batch_id, translate("err_no_frame", _lang()), None, 503)
    return redirect(url_for("ui.batch", batch_id=batch_id, saved="photo"), code=303)


@bp.get("/photos/<sha256>")
def photo(sha256: str) -> BaseResponse:
    """A photo file from this device's store (the facility's own screen: originals are fine)."""
    try:
        path = _agent().cameras.store.path(sha256)
    except ValueError:
        abort(404)
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="image/jpeg", max_age=86400)


def _batch_photos(agent: Agent, batch_id: str) -> dict[int, list[str]]:
    """Thumbnails of the batch's photos by the step seq that names them (0: not a step's)."""
    with agent.journal.lock:
        conn = agent.journal.db.conn
        thumbs = dict(
            conn.execute(
                "SELECT f.photo_sha256, f.sha256 FROM photo_files f JOIN photos p"
                " ON p.sha256 = f.photo_sha256 WHERE p.batch_id = ? AND f.kind = 'thumb'"
                " AND f.evicted_at IS NULL",
                (batch_id,),
            ).fetchall()
        )
        step_bodies = conn.execute(
            "SELECT e.seq, e.body FROM events e JOIN steps s ON s.seq = e.seq WHERE s.batch_id = ?",
            (batch_id,),
        ).fetchall()
    out: dict[int, list[str]] = {}
    named: set[str] = set()
    for seq, body in step_bodies:
        shas = [sha for sha in json.loads(body).get("photos", []) if sha in thumbs]
        named.update(shas)
        out[seq] = [thumbs[sha] for sha in shas]
    out[0] = [thumb for full, thumb in thumbs.items() if full not in named]
    return out


@bp.get("/lang/<code>")
def switch_language(code: str) -> Response:
    # Only paths on this UI; pages rendered by a POST pass their GET address as ``here``.
    target = safe_next(request.args.get("next", ""), url_for("ui.home"))
    resp = make_response(redirect(target, code=303))
    if code in ("vi", "en"):
        resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax")
    return resp


@bp.get("/api/status")
def api_status() -> dict[str, Any]:
    agent = _agent()
    return {"device": agent.config.device_id, **sync_summary(agent)}


def _measured(product: Product | None, step_code: str, raw: str) -> list[str]:
    """``["Độ ẩm = 14.5 %", …]`` with the catalog's labels where it still knows the field."""
    values: dict[str, float] = json.loads(raw)
    step = product.step(step_code) if product else None
    fields = {f.key: f for f in step.fields} if step else {}
    lang = _lang()
    out = []
    for key, value in values.items():
        f = fields.get(key)
        label = f.label.get(lang) if f else key
        out.append(f"{label} = {value:g} {f.unit if f else ''}".rstrip())
    return out


def _message(exc: domain.DomainError) -> str:
    return translate(f"err_{exc.code}", _lang(), **exc.params)


def _error_page(exc: domain.DomainError) -> tuple[str, int]:
    status = 404 if exc.code == "batch_not_found" else 400
    return render_template("error.html", error=_message(exc), here=url_for("ui.home")), status
