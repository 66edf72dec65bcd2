"""Office sessions and CSRF: who is logged in, and that every form came from our own page.

Sessions are Flask's signed cookies holding a random session id (whose hash the server keeps in
``office_sessions``: logging out deletes it, sync_server/accounts/sessions.py), the username and the
account's ``session_epoch``; a password change or a disabled account bumps the epoch and ends
every older session. Each session carries a random CSRF token that every state-changing request
must echo back.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import Flask, Request, abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.typing import ResponseReturnValue

from sync_server.accounts.scopes import Scope, scope_of
from sync_server.accounts.sessions import end_session, session_username, start_session
from sync_server.accounts.users import User, check_api_token, load_user
from sync_server.config import ServerConfig
from sync_server.store.db import reading
from sync_server.web.context import config as app_config
from sync_server.web.context import engine as app_engine

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"
# Device-facing APIs authenticate by signature, not by cookie: CSRF does not apply to them.
# The consumer's report form has no session: it carries its own signed form token, bound to
# the code and the time (sync_server/consumer/reports.py).
_CSRF_EXEMPT_PREFIXES = ("/api/", "/report")


def csrf_token() -> str:
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def current_user() -> User | None:
    if "ocop_user" not in g:
        g.ocop_user = _load_session_user()
    user: User | None = g.ocop_user
    return user


def current_scope() -> Scope:
    """What part of the province the logged-in office user may see (issue 16): their districts,
    or the whole province for admins and unlimited officers. Every office query filters by it."""
    return scope_of(current_user())


def _load_session_user() -> User | None:
    sid, name, epoch = session.get("sid"), session.get("user"), session.get("epoch")
    if not isinstance(sid, str) or not isinstance(name, str) or not isinstance(epoch, int):
        return None
    with reading(app_engine()) as conn:
        if session_username(conn, sid) != name:
            return None  # logged out (or expired) on the server, whatever the cookie says
        return load_user(conn, name, epoch)


def log_in(user: User) -> None:
    session.clear()  # a fresh session (and CSRF token) after login: no session fixation
    session.permanent = True
    lifetime = app_config().office.session_hours * 3600
    session["sid"] = start_session(app_engine(), user.username, lifetime)
    session["user"] = user.username
    session["epoch"] = user.session_epoch
    csrf_token()


def log_out() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        end_session(app_engine(), sid)
    session.clear()


def login_required(role: str | None = None) -> Callable[[F], F]:
    """Office views: anonymous visitors go to the login page; a wrong role gets 403."""

    def wrap(view: F) -> F:
        @functools.wraps(view)
        def inner(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = current_user()
            if user is None:
                return redirect(url_for("office.login", next=request.full_path.rstrip("?")))
            if role is not None and user.role != role:
                abort(403)
            return view(*args, **kwargs)

        return cast(F, inner)

    return wrap


def api_client() -> str | None:
    """The caller of a machine API: ``token:<name>`` for a bearer token, or the office user."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        name = check_api_token(app_engine(), header.removeprefix("Bearer ").strip())
        return f"token:{name}" if name else None
    user = current_user()
    return f"user:{user.username}" if user else None


def _check_csrf() -> ResponseReturnValue | None:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if request.path.startswith(_CSRF_EXEMPT_PREFIXES):
        return None
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get(CSRF_FIELD)
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        abort(400, description="csrf")
    return None


class _CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, without building the signer for a request that brings
    no session cookie (every consumer page: issue 17, it was a tenth of a cached batch page's
    time). Such a request gets the empty session Flask itself would give it."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)


def install_auth(app: Flask, config: ServerConfig) -> None:
    app.secret_key = config.web_secret_key()
    app.session_interface = _CookieSessions()
    app.config.update(
        SESSION_COOKIE_NAME="ocop_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.office.session_hours),
    )
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
