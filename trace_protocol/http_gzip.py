"""gzip for the web apps' text answers (pages, CSS, JS, JSON), as WSGI middleware.

Both web apps use it (the server and the touchscreen), and trace_protocol is the one package
both may import (STYLE.md), so it lives here: stdlib only, no Flask. Issue 13: a consumer on
slow 4G gets HTML and CSS gzipped when the phone asks for it (``Accept-Encoding: gzip``).

Only complete answers of known length are compressed: a view that streams (photo uploads and
downloads, exports) or already sets ``Content-Encoding`` passes through untouched, byte for
byte, and is never buffered. Small answers (under ``min_bytes``) are not worth the CPU. Every
compressible answer carries ``Vary: Accept-Encoding`` so that caches (nginx, the browser) keep
the two forms apart; a compressed answer's ETag gets a ``-gzip`` suffix (a strong validator
names one exact body), and the suffix is taken off again in ``If-None-Match`` so the app's own
conditional answers (Flask's static files) still work. Works after the app, so the public page
cache (sync_server/web/page_cache.py) keeps storing plain HTML.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable, Iterable
from typing import Any

StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

COMPRESSIBLE = (
    "text/",
    "application/json",
    "application/ld+json",
    "application/javascript",
    "application/xml",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)
MIN_BYTES = 500
MAX_BYTES = 8 << 20  # larger answers stream as they are rather than sit in memory
ETAG_SUFFIX = "-gzip"
_GZIP_Q0 = re.compile(r"^\s*gzip\s*;\s*q\s*=\s*0(\.0*)?\s*$", re.IGNORECASE)


def accepts_gzip(header: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (``gzip``, ``*``; not ``gzip;q=0``)."""
    for part in header.split(","):
        coding = part.split(";")[0].strip().lower()
        if coding == "gzip":
            return not _GZIP_Q0.match(part)
    return any(p.split(";")[0].strip() == "*" for p in header.split(","))


def _header(headers: list[tuple[str, str]], name: str) -> str | None:
    lname = name.lower()
    return next((v for k, v in headers if k.lower() == lname), None)


def _without(headers: list[tuple[str, str]], *names: str) -> list[tuple[str, str]]:
    lnames = {n.lower() for n in names}
    return [(k, v) for k, v in headers if k.lower() not in lnames]


def _add_vary(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    vary = _header(headers, "Vary")
    if vary is None:
        return [*headers, ("Vary", "Accept-Encoding")]
    if "accept-encoding" in vary.lower() or vary.strip() == "*":
        return headers
    return [*_without(headers, "Vary"), ("Vary", f"{vary}, Accept-Encoding")]


def _gzip_etag(etag: str) -> str:
    return etag[:-1] + ETAG_SUFFIX + '"' if etag.endswith('"') else etag


def _plain_if_none_match(value: str) -> str:
    return value.replace(ETAG_SUFFIX + '"', '"')


class GzipMiddleware:
    """Wrap a WSGI app: ``app.wsgi_app = GzipMiddleware(app.wsgi_app)``."""

    def __init__(
        self, app: WSGIApp, min_bytes: int = MIN_BYTES, max_bytes: int = MAX_BYTES, level: int = 6
    ) -> None:
        self.app = app
        self.min_bytes = min_bytes
        self.max_bytes = max_bytes
        self.level = level

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        wanted = accepts_gzip(environ.get("HTTP_ACCEPT_ENCODING", ""))
        # A client holding our gzipped body asks "still -gzip?": the app knows only plain ETags.
        stripped = wanted and ETAG_SUFFIX in environ.get("HTTP_IF_NONE_MATCH", "")
        if stripped:
            environ = {
                **environ,
                "HTTP_IF_NONE_MATCH": _plain_if_none_match(environ["HTTP_IF_NONE_MATCH"]),
            }
        held: list[Any] = []

        def hold(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            if exc_info is not None or held == ["passed"]:
                return start_response(status, headers, exc_info)
            held[:] = [status, headers]
            return self._refuse_write

        body = self.app(environ, hold)
        if not held:  # the app starts its answer lazily, inside its iterable: leave it alone
            held.append("passed")
            return body
        status, headers = held
        compress = wanted and self._worth_it(environ, status, headers)
        if not compress:
            out = _add_vary(headers) if _compressible(headers) else headers
            if stripped and status.startswith("304"):
                out = _add_vary(self._etag_to_gzip(out))
            start_response(status, out)
            return body
        try:
            plain = b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
        packed = gzip.compress(plain, self.level, mtime=0)  # same page, same bytes
        if len(packed) >= len(plain):
            start_response(status, _add_vary(headers))
            return [plain]
        out = _without(headers, "Content-Length")
        out = self._etag_to_gzip(out)
        out = _add_vary([*out, ("Content-Encoding", "gzip"), ("Content-Length", str(len(packed)))])
        start_response(status, out)
        return [packed]

    @staticmethod
    def _refuse_write(data: bytes) -> object:
        # Flask never uses the legacy write() callable; a body must come from the iterable.
        raise RuntimeError("GzipMiddleware does not support WSGI write()")

    @staticmethod
    def _etag_to_gzip(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        etag = _header(headers, "ETag")
        if etag is None:
            return headers
        return [*_without(headers, "ETag"), ("ETag", _gzip_etag(etag))]

    def _worth_it(
        self, environ: dict[str, Any], status: str, headers: list[tuple[str, str]]
    ) -> bool:
        if environ.get("REQUEST_METHOD") == "HEAD" or environ.get("HTTP_RANGE"):
            return False
        if status[:3] in ("204", "206", "304") or _header(headers, "Content-Encoding"):
            return False
        if not _compressible(headers):
            return False
        length = _header(headers, "Content-Length")
        if length is None or not length.isdigit():
            return False  # streamed: passes through without being buffered
        return self.min_bytes <= int(length) <= self.max_bytes


def _compressible(headers: list[tuple[str, str]]) -> bool:
    ctype = (_header(headers, "Content-Type") or "").lower()
    return ctype.startswith(COMPRESSIBLE) and not ctype.startswith("text/event-stream")


__all__ = ["GzipMiddleware", "accepts_gzip"]
