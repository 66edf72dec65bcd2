"""Touchscreen pages: home, opening a batch, a batch with its step and finishing forms, status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
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
from edge_agent import queries, supply_queries
from edge_agent.agent import Agent
from edge_agent.batches import After
from edge_agent.camera.errors import CameraError
from edge_agent.camera_service import MANUAL
from edge_agent.numbers import format_number
from edge_agent.web.display import product_name, quantity, short_time, unit_name, vn_date
from edge_agent.web.guard import safe_next
from edge_agent.web.i18n import current_lang, translate
from edge_agent.web.once import AlreadyDone, done_before, remember, submitted_token
from edge_agent.web.photos import batch_photos
from edge_agent.web.supply_context import batch_supply, correction_notes
from edge_agent.web.workers import current_by
from trace_protocol.catalog import Catalog, Product
from trace_protocol.envelope import Event

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
    agent = _agent()
    catalog, lang = agent.catalog(), _lang()
    with agent.journal.store.read() as db:
        rows = queries.recent_batches(db, 30)
    tiles = [
        {
            "id": r.batch_id,
            "lot": r.lot,
            "name": product_name(catalog, r.product_code, r.product_name, lang),
            "status": r.status,
            "date": vn_date(r.production_date, lang),
            "quantity": quantity(r.quantity, r.unit, lang) if r.quantity is not None else None,
        }
        for r in rows
    ]
    return render_template(
        "home.html",
        catalog=catalog,
        open_rows=[tile for tile in tiles if tile["status"] == "open"],
        closed_rows=[tile for tile in tiles if tile["status"] == "closed"][:8],
    )


@bp.get("/batches/new")
def confirm_open() -> str | tuple[str, int]:
    """A batch is opened only after the worker confirms (issue 13: one tap opened one)."""
    agent = _agent()
    catalog = agent.catalog()
    product = catalog.product(request.args.get("product", "")) if catalog else None
    if product is None:
        return _error_page(domain.DomainError("unknown_product"))
    today = agent.journal.clock.now().date().isoformat()
    return render_template("confirm_open.html", product=product, today=vn_date(today, _lang()))


@bp.post("/batches")
def open_batch() -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    try:
        if catalog is None:
            raise domain.DomainError("unknown_product")
        return once(
            lambda after: domain.open_batch(
                agent.journal,
                catalog,
                request.form.get("product", ""),
                agent.config.lot_prefix,
                by=current_by(),
                after=after,
            ),
            lambda event: url_for("ui.batch", batch_id=event.body["batch"]),
        )
    except domain.DomainError as exc:
        return _error_page(exc)


def once(write: Callable[[After | None], Event], location: Callable[[Event], str]) -> BaseResponse:
    """Carry out a form's write once per rendered form (``edge_agent.web.once``) and go to the
    page it leads to; a repeated submit goes to the first one's page and writes nothing."""
    agent = _agent()
    token = submitted_token()
    first = done_before(agent.journal, token)
    if first is not None:
        return redirect(first, code=303)
    try:
        event = write(remember(token, location))
    except AlreadyDone as exc:
        return redirect(exc.location, code=303)
    agent.written()
    return redirect(location(event), code=303)


@bp.get("/batches/<batch_id>")
def batch(batch_id: str) -> str | tuple[str, int]:
    return render_batch(batch_id)


def render_batch(
    batch_id: str,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    page: str = "",
) -> tuple[str, int]:
    """The batch page; with ``?step=`` its step form, ``page="close"`` the finishing form."""
    agent = _agent()
    with agent.journal.store.read() as db:  # one snapshot: the steps, photos and jobs agree
        row = queries.get_batch(db, batch_id)
        steps = queries.batch_steps(db, batch_id)
        photos = batch_photos(db, batch_id)
        jobs = queries.print_jobs(db, batch_id)
        acked = agent.journal.sync_state().acked
        catalog, lang = agent.catalog(), _lang()
        # issue 15: inputs, shipments, the recall reaching the batch, "sửa lúc … vì …"
        supply = batch_supply(db, batch_id, catalog.recalled_lots if catalog else (), lang)
        closed_seq = supply_queries.closed_seq(db, batch_id)
        recorded = [s.seq for s in steps] + [closed_seq or 0]
        recorded += [x["seq"] for x in supply["uses"] + supply["shipments"]]
        fixes = correction_notes(db, recorded, lang)
    if row is None:
        return _error_page(domain.DomainError("batch_not_found"))
    product = catalog.product(row.product_code) if catalog else None
    done: dict[str, dict[str, Any]] = {}
    for s in steps:
        entry = done.setdefault(s.step_code, {"count": 0})
        entry.update(count=entry["count"] + 1, at=short_time(s.at, lang=lang))
    chosen = request.args.get("step") or (form or {}).get("step")
    step = product.step(chosen) if product and chosen and row.status == "open" else None
    template = "batch.html"
    if step is not None:
        template = "step.html"
    elif page == "close" and row.status == "open":
        template = "close.html"
    return (
        render_template(
            template,
            b=row,
            product=product,
            name=product_name(catalog, row.product_code, row.product_name, lang),
            steps=[
                (
                    s.seq,
                    _step_name(product, s.step_code, s.step_name, lang),
                    _measured(product, s.step_code, s.measured),
                    s.note,
                    short_time(s.at, lang=lang),
                    photos.get(s.seq, []),
                )
                for s in steps
            ],
            done=done,
            other_photos=photos.get(0, []),
            jobs=jobs,
            step=step,
            error=error,
            errors=errors or {},
            form=form or {},
            saved=request.args.get("saved"),
            acked=acked,
            supply=supply,
            closed_seq=closed_seq,
            fixes=fixes,
            here=url_for("ui.batch", batch_id=batch_id, step=step.code if step else None),
        ),
        status,
    )


@bp.post("/batches/<batch_id>/steps")
def record_step(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    form = request.form.to_dict()
    values = {k.removeprefix("v_"): v for k, v in form.items() if k.startswith("v_")}
    try:
        if catalog is None:
            raise domain.DomainError("unknown_product")
        return once(
            lambda after: domain.record_step(
                agent.journal,
                catalog,
                batch_id,
                form.get("step", ""),
                values,
                form.get("note", ""),
                # A public copy only when the worker vouched "no people in the photo" (issue 12).
                photos=lambda: agent.cameras.capture_evidence(
                    batch_id, no_people=form.get("no_people") == "1"
                ),
                by=current_by(),
                after=after,
            ),
            lambda _: url_for("ui.batch", batch_id=batch_id, saved="step"),
        )
    except domain.DomainError as exc:
        errors = _field_messages(catalog, batch_id, form.get("step", ""), values)
        if exc.code == "note_too_long":
            errors["note"] = _message(exc)
        return render_batch(batch_id, None if errors else _message(exc), form, 400, errors)


@bp.get("/batches/<batch_id>/close")
def close_form(batch_id: str) -> str | tuple[str, int]:
    return render_batch(batch_id, page="close")


@bp.post("/batches/<batch_id>/close")
def close_batch(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    catalog = agent.catalog()
    try:
        if catalog is None:
            raise domain.DomainError("unknown_product")
        return once(
            lambda after: domain.close_batch(
                agent.journal,
                catalog,
                batch_id,
                request.form.get("quantity", ""),
                by=current_by(),
                after=after,
            ),
            lambda _: url_for("ui.batch", batch_id=batch_id, saved="closed"),
        )
    except domain.DomainError as exc:
        form = request.form.to_dict()
        if exc.code.startswith("quantity_"):
            errors = {"quantity": _message(exc)}
            return render_batch(batch_id, None, form, 400, errors, page="close")
        return render_batch(batch_id, _message(exc), form, 400, page="close")


@bp.post("/batches/<batch_id>/snapshot")
def snapshot(batch_id: str) -> BaseResponse | tuple[str, int]:
    agent = _agent()
    with agent.journal.store.read() as db:
        found = queries.get_batch(db, batch_id)
    if found is None:
        return _error_page(domain.DomainError("batch_not_found"))
    if found.status == "voided":  # issue 15: nothing more is recorded on a voided batch
        error = _message(domain.DomainError("batch_voided", lot=found.lot))
        return render_batch(batch_id, error, None, 400)
    try:
        event = agent.cameras.capture(request.form.get("camera", ""), MANUAL, batch_id)
    except CameraError as exc:
        return render_batch(batch_id, str(exc), None, 400)
    if event is None:
        return render_batch(batch_id, translate("err_no_frame", _lang()), None, 503)
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
        out.append(f"{label} = {quantity(value, f.unit if f else '', lang)}")
    return out


def _step_name(product: Product | None, code: str, kept: str, lang: str) -> str:
    step = product.step(code) if product else None
    return step.name.get(lang) if step else kept


def _field_messages(
    catalog: Catalog | None, batch_id: str, step_code: str, values: dict[str, str]
) -> dict[str, str]:
    """Each invalid field's message, in the screen's language, by the input's name."""
    with _agent().journal.store.read() as db:
        row = queries.get_batch(db, batch_id)
    product = catalog.product(row.product_code) if catalog and row else None
    step = product.step(step_code) if product else None
    if product is None or step is None:
        return {}
    labels = {f.key: f.label.get(_lang()) for f in step.fields}
    return {
        f"v_{key}": _message(domain.DomainError(exc.code, **{**exc.params, "field": labels[key]}))
        for key, exc in domain.field_errors(product, step_code, values).items()
    }


def _message(exc: domain.DomainError) -> str:
    """``exc`` in the page's language: a quantity (a float: ``left``, ``used``) written as the
    page writes numbers, a supply unit (the journal's code, ``cai``) by its name."""
    lang = _lang()
    params = {k: v for k, v in exc.params.items() if k != "key"}
    for k, v in params.items():
        if isinstance(v, float):
            params[k] = format_number(v, lang)
    if isinstance(params.get("unit"), str):
        params["unit"] = unit_name(params["unit"], lang)
    return translate(f"err_{exc.code}", lang, **params)


def _error_page(exc: domain.DomainError) -> tuple[str, int]:
    status = 404 if exc.code == "batch_not_found" else 400
    return render_template("error.html", error=_message(exc), here=url_for("ui.home")), status
