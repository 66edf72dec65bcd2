"""The touchscreen's small HTTP extras: ``/favicon.ico`` and gzip for text answers (issue 13)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, send_file
from flask.typing import ResponseReturnValue

from trace_protocol.http_gzip import GzipMiddleware

ICON = Path(__file__).resolve().parent / "static" / "favicon.ico"
ICON_MAX_AGE_S = 7 * 86400


def install_http_extras(app: Flask) -> None:
    """Browsers ask every site for /favicon.ico: answer with the kit's icon, cacheable for a
    week, instead of a 404 page. Text answers are gzipped for clients that ask for it; photo
    uploads and downloads stream past untouched (trace_protocol/http_gzip.py)."""

    @app.get("/favicon.ico")
    def favicon() -> ResponseReturnValue:
        return send_file(ICON, mimetype="image/x-icon", max_age=ICON_MAX_AGE_S)

    app.wsgi_app = GzipMiddleware(app.wsgi_app)  # type: ignore[method-assign]
