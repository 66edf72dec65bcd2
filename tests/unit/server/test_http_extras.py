"""The server's /favicon.ico and gzip (issue 13): pages, CSS and the cached public batch page
are gzipped when asked, never otherwise; photo downloads stream past untouched."""

from __future__ import annotations

import gzip
from pathlib import Path

from sqlalchemy import Engine

from tests.unit.server.consumer import GTIN, LOT, enrol_device, make_app, sync_batch

GZ = {"Accept-Encoding": "gzip, deflate, br"}


def test_favicon_is_an_image_browsers_may_cache(tmp_path: Path, engine: Engine) -> None:
    client = make_app(tmp_path, engine).test_client()
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert (r.mimetype or "").startswith("image/")
    assert r.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert r.cache_control.max_age is not None and r.cache_control.max_age >= 86400


def test_pages_and_css_are_gzipped_only_when_asked(tmp_path: Path, engine: Engine) -> None:
    sync_batch(engine, enrol_device(engine))
    client = make_app(tmp_path, engine, page_cache_s=60).test_client()
    for path in ("/", f"/01/{GTIN}/10/{LOT}", "/static/public/public.css"):
        plain = client.get(path)
        assert plain.status_code == 200, path
        assert "Content-Encoding" not in plain.headers
        assert "Accept-Encoding" in plain.headers["Vary"]
        packed = client.get(path, headers=GZ)
        assert packed.headers["Content-Encoding"] == "gzip", path
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
        assert gzip.decompress(packed.data) == plain.data, path
    # The page cache serves the same page again, gzipped the same way.
    again = client.get(f"/01/{GTIN}/10/{LOT}", headers=GZ)
    assert gzip.decompress(again.data) == client.get(f"/01/{GTIN}/10/{LOT}").data


def test_a_refused_gzip_and_tiny_answers_stay_plain(tmp_path: Path, engine: Engine) -> None:
    client = make_app(tmp_path, engine).test_client()
    assert (
        "Content-Encoding" not in client.get("/", headers={"Accept-Encoding": "gzip;q=0"}).headers
    )
    tiny = client.get("/healthz", headers=GZ)
    assert "Content-Encoding" not in tiny.headers and tiny.json == {"status": "ok"}


def test_static_etags_name_the_gzipped_body(tmp_path: Path, engine: Engine) -> None:
    client = make_app(tmp_path, engine).test_client()
    plain = client.get("/static/public/public.css")
    packed = client.get("/static/public/public.css", headers=GZ)
    assert packed.headers["ETag"] != plain.headers["ETag"]
    assert packed.headers["ETag"].endswith('-gzip"')
    again = client.get(
        "/static/public/public.css", headers={**GZ, "If-None-Match": packed.headers["ETag"]}
    )
    assert again.status_code == 304 and again.headers["ETag"] == packed.headers["ETag"]
    plain_again = client.get(
        "/static/public/public.css", headers={"If-None-Match": plain.headers["ETag"]}
    )
    assert plain_again.status_code == 304
