"""Office accounts, for admins only: list, create, disable."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sync_server.accounts.users import ROLES, AccountError, create_user, disable_user, list_users
from sync_server.store.db import reading
from sync_server.web.auth import current_user, login_required
from sync_server.web.context import engine
from sync_server.web.i18n import N_
from sync_server.web.office import add_nav, bp

add_nav("office.users", N_("users"), admin_only=True)


def _page(error: str | None = None, status: int = 200) -> ResponseReturnValue:
    with reading(engine()) as conn:
        rows = list_users(conn)
    return render_template("office/users.html", users=rows, roles=ROLES, error=error), status


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
        )
    except AccountError as exc:
        return _page(str(exc), 400)
    flash(N_("saved"))
    return redirect(url_for("office.users"))


@bp.post("/users/<username>/disable")
@login_required("admin")
def disable(username: str) -> ResponseReturnValue:
    me = current_user()
    if me is not None and me.username == username:
        return _page("you cannot disable your own account", 400)
    try:
        disable_user(engine(), username)
    except AccountError as exc:
        return _page(str(exc), 404)
    flash(N_("saved"))
    return redirect(url_for("office.users"))
