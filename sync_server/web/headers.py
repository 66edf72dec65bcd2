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


_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)
_PUBLIC = (("Content-Security-Policy", PUBLIC_CSP), *_ALWAYS)


def install_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(resp: Response) -> Response:
        # One pass over the answer's headers instead of a search per header (issue 17: four
        # setdefault calls were a tenth of a cached batch page's time); a view's own win.
        wanted = _ALWAYS if request.path.startswith("/office") else _PUBLIC
        present = {key.lower() for key, _ in resp.headers.items()}
        resp.headers.extend([(k, v) for k, v in wanted if k.lower() not in present])
        return resp
