"""Touchscreen request guards: Host allow-list, same-origin writes, CSRF tokens, safe headers.

The UI listens on the Pi; any web page the kiosk browser (or a phone on the facility's Wi-Fi)
opens could otherwise post forms to it, or read it after DNS rebinding (issue 12, finding 5).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import socket
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, Response, render_template, request, session
from werkzeug.wrappers import Response as BaseResponse

from edge_agent.config import UiConfig

log = logging.getLogger(__name__)

SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSP = (
    "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
WILDCARD_BINDS = ("", "0.0.0.0", "::")


def allowed_hosts(config: UiConfig, hostname: str | None = None) -> frozenset[str]:
    """Names the UI answers to: loopback, this device's hostname (and its mDNS ``.local``),
    ``ui.host`` when it is a concrete address, and ``ui.allowed_hosts``."""
    name = (hostname if hostname is not None else socket.gethostname()).lower()
    names = {"localhost", "127.0.0.1", "::1"}
    if name:
        names.update((name, f"{name}.local"))
    if config.host not in WILDCARD_BINDS:
        names.add(config.host.lower())
    names.update(h.lower().rstrip(".") for h in config.allowed_hosts)
    return frozenset(names)


def host_name(host: str) -> str:
    """The ``Host`` header without its port (``[::1]:8080`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def safe_next(target: str, fallback: str) -> str:
    """``target`` if it is a path on this UI, else ``fallback``.

    Browsers drop tabs and newlines from URLs and read ``\\`` as ``/``, so ``/\\t/evil.example``
    and ``/\\evil.example`` are the protocol-relative ``//evil.example``: refuse them all.
    """
    if not target or any(c in target for c in "\\") or any(ord(c) < 33 for c in target):
        return fallback
    if not target.startswith("/") or target.startswith("//"):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return fallback
    return target


def load_or_create_secret(path: Path) -> bytes:
    """The session signing key, kept (0600) so that open forms survive a restart."""
    try:
        secret = path.read_bytes()
        if len(secret) >= 32:
            return secret
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    os.replace(tmp, path)
    return secret


def csrf_token() -> str:
    """This browser session's token, put into every form (``{{ csrf_token() }}``)."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def _same_origin(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == request.host.lower()


def write_refusal() -> str | None:
    """Why this state-changing request must not run, or None when it may."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return f"Sec-Fetch-Site {site}"
    origin = request.headers.get("Origin")
    if origin is not None:
        if not _same_origin(origin):
            return f"Origin {origin[:80]}"
    else:
        referer = request.headers.get("Referer")
        if referer is not None and not _same_origin(referer):
            return f"Referer {referer[:80]}"
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent.encode(), expected.encode()):
        return "missing or wrong CSRF token"
    return None


def _refuse(status: int, key: str, why: str) -> tuple[str, int]:
    log.warning("touchscreen refused %s %s: %s", request.method, request.path, why)
    return render_template("refused.html", message_key=key), status


def install_guard(app: Flask, config: UiConfig, secret: bytes, hosts: Iterable[str]) -> None:
    app.secret_key = secret
    app.config.update(
        SESSION_COOKIE_NAME="ocop_touch",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=64 * 1024,  # the largest form is a step: a few numbers and a note
    )
    app.extensions["ocop_allowed_hosts"] = frozenset(hosts)
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _check() -> tuple[str, int] | Response | None:
        if host_name(request.host) not in app.extensions["ocop_allowed_hosts"]:
            # Plain text: a rebinding page must learn nothing about this device.
            log.warning("touchscreen refused Host %r", request.host[:80])
            return Response("unknown host name\n", 400, mimetype="text/plain")
        if request.method not in SAFE_METHODS:
            why = write_refusal()
            if why is not None:
                return _refuse(403, "refused_write", why)
        return None

    @app.after_request
    def _headers(resp: Response | BaseResponse) -> Response | BaseResponse:
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html":
            # Pages carry the session's CSRF token and the worker's name: never cached.
            resp.headers["Cache-Control"] = "no-store"
        return resp
