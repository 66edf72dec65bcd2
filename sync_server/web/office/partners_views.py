"""The office's pages for a facility's suppliers and customers (issue 15).

Saving validates with the contract (``trace_protocol.supply``), puts each message next to its
field and saves nothing on bad input; a good list bumps the catalog version and is published on
the devices' retained config topic as the product form does.
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from sync_server.devices.catalog_edit import publish_pending, save_partners
from sync_server.devices.registry import RegistryError
from sync_server.store.db import facilities, reading
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_
from sync_server.web.office import bp
from sync_server.web.office.catalog_views import scoped_catalog
from sync_server.web.office.login import actor
from sync_server.web.office.partners_form import (
    check,
    customer_rows,
    customers_from_form,
    field_of,
    reason_id,
    rows_from_request,
    supplier_rows,
    suppliers_from_form,
)
from trace_protocol.supply import CUSTOMER_KINDS, SUPPLIER_KINDS, UNITS, SupplyError


def _stored(facility_code: str) -> dict[str, Any]:
    return scoped_catalog(facility_code)


def _other_facilities(facility_code: str, rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The kit's other facilities, which a supplier of kind ``facility`` names: those in the
    user's scope, and any a row already names (so saving keeps it)."""
    named = sorted({str(r.get("facility")) for r in rows if r.get("facility")})
    with reading(engine()) as conn:
        rows_ = conn.execute(
            select(facilities.c.code, facilities.c.name)
            .where(
                facilities.c.code != facility_code,
                or_(current_scope().facilities(facilities.c.code), facilities.c.code.in_(named)),
            )
            .order_by(facilities.c.name)
        ).all()
    return [(r[0], r[1]) for r in rows_]


@bp.route("/catalog/<facility_code>/suppliers", methods=["GET", "POST"])
@login_required()
def suppliers(facility_code: str) -> ResponseReturnValue:
    stored = _stored(facility_code)
    if request.method == "GET":
        return _page("suppliers", facility_code, supplier_rows(stored.get("suppliers", [])), {})
    items, rows = suppliers_from_form(request.form)
    return _save("suppliers", facility_code, items, rows)


@bp.route("/catalog/<facility_code>/customers", methods=["GET", "POST"])
@login_required()
def customers(facility_code: str) -> ResponseReturnValue:
    stored = _stored(facility_code)
    if request.method == "GET":
        return _page("customers", facility_code, customer_rows(stored.get("customers", [])), {})
    items, rows = customers_from_form(request.form)
    return _save("customers", facility_code, items, rows)


def _save(
    key: str, facility_code: str, items: list[dict[str, Any]], rows: list[int]
) -> ResponseReturnValue:
    try:
        check(key, items)
        save_partners(engine(), facility_code, key, items, config().public_base_url, who=actor())
    except (SupplyError, RegistryError) as exc:
        message = str(exc)
        name = field_of(message, rows)
        if not name.startswith(f"{key}-"):
            # A message about the whole list ("ids must be unique"): the row that repeats one.
            ids = [str(i.get("id", "")) for i in items]
            dup = next((n for n, v in enumerate(ids) if v in ids[:n]), 0)
            name = f"{key}-{rows[dup] if dup < len(rows) else 0}-id"
        errors = {name: (reason_id(message), message)}
        return _page(key, facility_code, rows_from_request(key, request.form), errors, 400)
    published = facility_code in publish_pending(engine(), config(), timeout_s=3.0)
    flash(N_("catalog_published") if published else N_("catalog_publish_pending"))
    return redirect(url_for(f"office.{key}", facility_code=facility_code))


def _page(
    key: str,
    facility_code: str,
    rows: list[dict[str, Any]],
    errors: dict[str, tuple[str, str]],
    status: int = 200,
) -> ResponseReturnValue:
    page = render_template(
        f"office/{key}.html",
        facility_code=facility_code,
        rows=rows,
        errors=errors,
        supplier_kinds=SUPPLIER_KINDS,
        customer_kinds=CUSTOMER_KINDS,
        units=UNITS,
        facilities=_other_facilities(facility_code, rows) if key == "suppliers" else [],
    )
    return page, status
