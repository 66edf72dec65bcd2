"""Security headers on every answer of the web app outside the office (issue 12, finding 9).

Public pages load only their own stylesheet and photos: no scripts, no inline styles, no
frames, nothing from other sites. No page may be framed (clickjacking), browsers must not guess
content types, and a label URL (which carries a unit code's signature) never leaves the site in
a Referer header. The office blueprint sets its own policy (scripts from this server, map tiles
from ``office.tile_url``: sync_server/web/office/__init__.py); a view's own headers always win.
"""

from __future__ import annotations

from flask import Flask, Response, request

PUBLIC_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def install_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(resp: Response) -> Response:
        if not request.path.startswith("/office"):
            resp.headers.setdefault("Content-Security-Policy", PUBLIC_CSP)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp
