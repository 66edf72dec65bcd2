"""Logging in and out of the office, and who the office user acting on a request is."""

from __future__ import annotations

import math
from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sync_server.accounts.users import authenticate
from sync_server.store import throttle
from sync_server.web.auth import current_user, log_in, log_out
from sync_server.web.client import client_place
from sync_server.web.context import engine
from sync_server.web.i18n import N_
from sync_server.web.office import bp


def actor() -> str:
    """The username of the office user making this request, for the audit log (views behind
    ``login_required`` always have one)."""
    user = current_user()
    if user is None:
        raise RuntimeError("no office user on this request")
    return user.username


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host): never an open redirect."""
    if target and target.startswith("/office") and not urlsplit(target).netloc:
        return target
    return url_for("office.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET":
        if current_user() is not None:
            return redirect(url_for("office.dashboard"))
        return render_template("office/login.html", error=None, next=request.args.get("next"))
    username = request.form.get("username", "").strip().lower()
    password = request.form.get("password", "")
    nxt = request.form.get("next")
    # Throttled per (username, client network) and per network, with backoff
    # (sync_server/store/throttle.py): guesses from one network slow that network down, never the
    # real user elsewhere.
    place = client_place()
    user_key = f"{username[:64]}|{place}"
    wait = max(
        throttle.wait_s(engine(), throttle.LOGIN, user_key),
        throttle.wait_s(engine(), throttle.LOGIN_NETWORK, place),
    )
    if wait > 0:
        page = render_template("office/login.html", error=N_("login_locked"), next=nxt)
        return page, 429, {"Retry-After": str(math.ceil(wait))}
    # Success and failure alike leave an audit row (the typed name, never the password).
    user = authenticate(engine(), username, password, place=place)
    if user is None:
        throttle.record_failure(engine(), throttle.LOGIN, user_key)
        throttle.record_failure(engine(), throttle.LOGIN_NETWORK, place)
        return render_template("office/login.html", error=N_("login_failed"), next=nxt), 401
    throttle.clear(engine(), throttle.LOGIN, user_key)
    log_in(user)
    return redirect(_safe_next(nxt))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    log_out()  # the audit row: sync_server/accounts/sessions.py end_session
    return redirect(url_for("office.login"))
