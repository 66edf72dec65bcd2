"""trace_protocol.http_gzip: what is compressed, and what streams past untouched."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from trace_protocol.http_gzip import GzipMiddleware, accepts_gzip

PAGE = ("<p>Gạo Ngọc Mầm</p>" * 100).encode()


@pytest.mark.parametrize(
    ("header", "ok"),
    [("gzip", True), ("gzip, br", True), ("br;q=1, gzip;q=0.5", True), ("*", True),
     ("gzip;q=0", False), ("gzip; q=0.0", False), ("br", False), ("", False), ("identity", False)],
)  # fmt: skip
def test_accept_encoding(header: str, ok: bool) -> None:
    assert accepts_gzip(header) is ok


def _call(app: Any, **environ: str) -> tuple[str, dict[str, str], bytes, Iterable[bytes]]:
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)
        return None

    body = GzipMiddleware(app)({"REQUEST_METHOD": "GET", **environ}, start_response)
    return seen["status"], seen["headers"], b"".join(body), body


def _app(ctype: str, body: bytes, length: bool = True) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        headers = [("Content-Type", ctype), ("ETag", '"v1"')]
        if length:
            headers.append(("Content-Length", str(len(body))))
        start_response("200 OK", headers)
        return [body]

    return app


def test_a_page_is_gzipped_with_its_own_etag() -> None:
    _, headers, body, _ = _call(_app("text/html; charset=utf-8", PAGE), HTTP_ACCEPT_ENCODING="gzip")
    assert headers["Content-Encoding"] == "gzip" and headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == PAGE and headers["Content-Length"] == str(len(body))
    assert headers["ETag"] == '"v1-gzip"'


def test_photos_and_streams_pass_through_unbuffered() -> None:
    _, headers, body, _ = _call(_app("image/jpeg", PAGE), HTTP_ACCEPT_ENCODING="gzip")
    assert body == PAGE and "Content-Encoding" not in headers and "Vary" not in headers
    pulled: list[int] = []

    def stream() -> Iterator[bytes]:
        for i in range(3):
            pulled.append(i)
            yield PAGE

    def streaming(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/csv")])
        return stream()

    _, headers, body, _ = _call(streaming, HTTP_ACCEPT_ENCODING="gzip")
    assert body == PAGE * 3 and "Content-Encoding" not in headers


def test_head_and_range_requests_are_left_alone() -> None:
    app = _app("text/css", PAGE)
    _, headers, _, _ = _call(app, REQUEST_METHOD="HEAD", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in headers and headers["Vary"] == "Accept-Encoding"
    _, headers, _, _ = _call(app, HTTP_RANGE="bytes=0-9", HTTP_ACCEPT_ENCODING="gzip")
    assert "Content-Encoding" not in headers
