"""Office accounts, for admins only: list, create, disable, and set an officer's districts and
e-mail address (issue 16). Every change leaves an audit row naming the admin."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sync_server.accounts.users import (
    ROLES,
    AccountError,
    create_user,
    disable_user,
    known_districts,
    list_users,
    set_user,
)
from sync_server.store.db import reading
from sync_server.web.auth import login_required
from sync_server.web.context import engine
from sync_server.web.i18n import N_
from sync_server.web.office import add_nav, bp
from sync_server.web.office.login import actor

add_nav("office.users", N_("users"), admin_only=True)


def _page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    with reading(engine()) as conn:
        rows = list_users(conn)
        districts = known_districts(conn)
    page = render_template(
        "office/users.html", users=rows, roles=ROLES, districts=districts, error=error
    )
    return page, status


@bp.get("/users")
@login_required("admin")
def users() -> ResponseReturnValue:
    return _page()


@bp.post("/users")
@login_required("admin")
def add_user() -> ResponseReturnValue:
    try:
        create_user(
            engine(),
            request.form.get("username", "").strip().lower(),
            request.form.get("password", ""),
            request.form.get("role", ""),
            districts=request.form.getlist("district"),
            email=request.form.get("email", ""),
            by=actor(),
        )
    except AccountError as exc:
        return _page(str(exc), 400)
    flash(N_("saved"))
    return redirect(url_for("office.users"))


@bp.post("/users/<username>/edit")
@login_required("admin")
def edit_user(username: str) -> ResponseReturnValue:
    """An officer's districts (none ticked: the whole province) and e-mail address; they take
    effect on the officer's next request, without ending their sessions."""
    try:
        set_user(
            engine(),
            username,
            districts=request.form.getlist("district"),
            email=request.form.get("email", ""),
            by=actor(),
        )
    except AccountError as exc:
        return _page(str(exc), 404 if str(exc).startswith("no user") else 400)
    flash(N_("saved"))
    return redirect(url_for("office.users"))


@bp.post("/users/<username>/disable")
@login_required("admin")
def disable(username: str) -> ResponseReturnValue:
    if actor() == username:
        return _page("you cannot disable your own account", 400)
    try:
        disable_user(engine(), username, by=actor())
    except AccountError as exc:
        return _page(str(exc), 404)
    flash(N_("saved"))
    return redirect(url_for("office.users"))
