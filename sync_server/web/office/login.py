"""Logging in and out of the office."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from sync_server.accounts import authenticate
from sync_server.web.auth import current_user, log_in, log_out
from sync_server.web.context import engine
from sync_server.web.office import bp

# Failed logins per username in this process: after MAX_FAILURES within WINDOW_S the name is
# refused for the rest of the window (slows password guessing; several workers each count).
MAX_FAILURES = 5
WINDOW_S = 900.0
_failures: dict[str, list[float]] = {}
_lock = threading.Lock()


def _too_many(username: str, now: float) -> bool:
    with _lock:
        recent = [t for t in _failures.get(username, []) if now - t < WINDOW_S]
        _failures[username] = recent
        return len(recent) >= MAX_FAILURES


def _failed(username: str, now: float) -> None:
    with _lock:
        _failures.setdefault(username, []).append(now)
        if len(_failures) > 10_000:  # bounded: forget the oldest names
            for name in list(_failures)[:5_000]:
                del _failures[name]


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
    now = time.time()
    if _too_many(username, now):
        return render_template("office/login.html", error="login_locked", next=nxt), 429
    user = authenticate(engine(), username, password)
    if user is None:
        _failed(username, now)
        return render_template("office/login.html", error="login_failed", next=nxt), 401
    log_in(user)
    return redirect(_safe_next(nxt))


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    log_out()
    return redirect(url_for("office.login"))
