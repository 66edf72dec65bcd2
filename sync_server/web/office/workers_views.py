"""The office's list of a facility's workers and their touchscreen PINs (issue 12).

An officer types a worker's PIN once; only its salted hash is kept and sent to the devices on
the retained config topic. Names are private: office pages only, never public ones.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sync_server.devices.catalog_edit import (
    publish_pending,
    remove_worker,
    save_worker,
)
from sync_server.devices.registry import RegistryError
from sync_server.web.auth import login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_
from sync_server.web.office import bp
from sync_server.web.office.catalog_views import scoped_catalog
from sync_server.web.office.login import actor


def _stored(facility_code: str) -> dict[str, Any]:
    return scoped_catalog(facility_code)


@bp.route("/catalog/<facility_code>/workers", methods=["GET", "POST"])
@login_required()
def workers(facility_code: str) -> ResponseReturnValue:
    stored = _stored(facility_code)
    error = None
    if request.method == "POST":
        try:
            save_worker(
                engine(),
                facility_code,
                request.form.get("worker_id", "").strip(),
                request.form.get("name", ""),
                request.form.get("pin", ""),
                config().public_base_url,
                who=actor(),
            )
        except RegistryError as exc:
            error = str(exc)
        else:
            return _published(facility_code)
    listed = [
        {"id": w.get("id"), "name": w.get("name")} for w in stored.get("workers", [])
    ]  # never the hashes
    page = render_template(
        "office/workers.html",
        facility_code=facility_code,
        facility_name=stored.get("facility", {}).get("name", facility_code),
        workers=listed,
        error=error,
        form={k: request.form.get(k, "") for k in ("worker_id", "name")},
    )
    return page, 400 if error else 200


@bp.post("/catalog/<facility_code>/workers/<worker_id>/remove")
@login_required()
def remove_worker_view(facility_code: str, worker_id: str) -> ResponseReturnValue:
    _stored(facility_code)
    try:
        remove_worker(engine(), facility_code, worker_id, config().public_base_url, who=actor())
    except RegistryError:
        abort(400)
    return _published(facility_code)


def _published(facility_code: str) -> ResponseReturnValue:
    published = facility_code in publish_pending(engine(), config(), timeout_s=3.0)
    flash(N_("catalog_published") if published else N_("catalog_publish_pending"))
    return redirect(url_for("office.workers", facility_code=facility_code))
