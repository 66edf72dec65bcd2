"""Catalog management in the office: list products, edit one, add one.

A saved product bumps the facility's catalog version and is published at once on the devices'
retained config topic; when the broker is unreachable the server keeps retrying (see
:func:`sync_server.devices.catalog_edit.publish_pending`) and the page says so.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sync_server.devices.catalog_edit import (
    load_catalog,
    publish_pending,
    save_product,
    store_product_photo,
)
from sync_server.devices.registry import RegistryError
from sync_server.store.db import facilities, reading
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import config, engine, storage
from sync_server.web.i18n import N_
from sync_server.web.office import add_nav, bp
from sync_server.web.office.catalog_form import (
    MANAGED_KEYS,
    FormError,
    form_from_product,
    material_rows,
    product_from_form,
)
from sync_server.web.office.login import actor
from sync_server.web.office.partners_form import field_of, reason_id
from trace_protocol.supply import UNITS

add_nav("office.catalog", N_("catalog"))


def scoped_catalog(facility_code: str) -> dict[str, Any]:
    """A facility's stored catalog; 404 for an unknown facility or one out of the user's scope
    (so an edit of it, GET or POST, shows and saves nothing)."""
    with reading(engine()) as conn:
        if not current_scope().allows(conn, facility_code):
            abort(404)
    try:
        return load_catalog(engine(), facility_code)
    except RegistryError:
        abort(404)


@bp.get("/catalog")
@login_required()
def catalog() -> ResponseReturnValue:
    with reading(engine()) as conn:
        rows = conn.execute(
            select(
                facilities.c.code,
                facilities.c.name,
                facilities.c.catalog,
                facilities.c.catalog_version,
                facilities.c.published_version,
            )
            .where(current_scope().facilities(facilities.c.code))
            .order_by(facilities.c.name)
        ).mappings()
        facs = [dict(r) for r in rows]
    return render_template("office/catalog.html", facilities=facs)


def _product(facility_code: str, product_code: str) -> dict[str, Any]:
    stored = scoped_catalog(facility_code)
    for p in stored.get("products", []):
        if p.get("code") == product_code:
            return dict(p)
    abort(404)


@bp.route("/catalog/<facility_code>/<product_code>", methods=["GET", "POST"])
@login_required()
def edit_product(facility_code: str, product_code: str) -> ResponseReturnValue:
    product = _product(facility_code, product_code)
    if request.method == "GET":
        return _form(facility_code, form_from_product(product), product_code, None)
    return _save(facility_code, product_code)


@bp.route("/catalog/<facility_code>/new", methods=["GET", "POST"])
@login_required()
def new_product(facility_code: str) -> ResponseReturnValue:
    scoped_catalog(facility_code)
    if request.method == "GET":
        blank = form_from_product({"steps": []})
        return _form(facility_code, blank, None, None)
    return _save(facility_code, None)


def _form(
    facility_code: str, values: dict[str, Any], product_code: str | None, error: str | None
) -> ResponseReturnValue:
    status = 400 if error else 200
    # Issue 15's fields get their message beside them; the others keep it at the top.
    name = field_of(error, material_rows(request.form)) if error else ""
    beside = name.startswith(("materials-", "standards", "yield_", "photo"))
    page = render_template(
        "office/product_form.html",
        facility_code=facility_code,
        product_code=product_code,
        v=values,
        error=None if beside else error,
        errors={name: (reason_id(error), error)} if beside and error else {},
        units=UNITS,
    )
    return page, status


def _save(facility_code: str, replaces: str | None) -> ResponseReturnValue:
    try:
        product = product_from_form(request.form)
        upload = request.files.get("photo_file")
        if upload is not None and upload.filename:
            data = upload.read()
            product["photo"] = store_product_photo(engine(), storage(), facility_code, data)
        save_product(
            engine(),
            facility_code,
            product,
            config().public_base_url,
            replaces=replaces,
            managed=MANAGED_KEYS,
            who=actor(),
        )
    except (FormError, RegistryError) as exc:
        # Show the officer's own input again with the reason; nothing was saved.
        values = _values_from_request()
        return _form(facility_code, values, replaces, str(exc))
    published = facility_code in publish_pending(engine(), config(), timeout_s=3.0)
    flash(N_("catalog_published") if published else N_("catalog_publish_pending"))
    return redirect(url_for("office.catalog"))


def _values_from_request() -> dict[str, Any]:
    """Re-fill the form from what was posted (so a typo does not lose the officer's work)."""
    try:
        return form_from_product(product_from_form(request.form))
    except FormError:
        flat = {k: request.form.get(k, "") for k in request.form}
        base = form_from_product({"steps": []})
        base.update({k: v for k, v in flat.items() if k in base and k != "steps"})
        return base
