"""The public batch page stays light for 3G phones: HTML + CSS + JS under 60 KB before photos,
measured as the bytes a browser receives over HTTP."""

from __future__ import annotations

import re
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from werkzeug.serving import make_server

from tests.unit.server.consumer import GTIN, LOT, enrol_device, make_app, sync_batch, unit_path

BUDGET = 60_000
ASSET_RE = re.compile(r'<(?:link[^>]*rel="stylesheet"[^>]*href|script[^>]*src)="([^"]+)"')


@pytest.fixture
def base_url(tmp_path: Path, engine: Engine) -> Iterator[str]:
    sync_batch(engine, enrol_device(engine), steps=6, photos_per_step=2)
    server = make_server("127.0.0.1", 0, make_app(tmp_path, engine), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.status == 200, url
        body: bytes = resp.read()
        return body


@pytest.mark.parametrize("path", [f"/01/{GTIN}/10/{LOT}", unit_path("5"), f"/l/{LOT}?lang=en"])
def test_batch_page_with_six_steps_and_twelve_photos_is_under_budget(
    base_url: str, path: str
) -> None:
    html = fetch(base_url + path)
    text = html.decode()
    assert text.count('<li class="step">') == 6
    assert text.count('loading="lazy"') == 12  # the photos are on the page, loaded lazily
    assets = ASSET_RE.findall(text)
    assert assets, "the page links its stylesheet"
    total = len(html) + sum(len(fetch(base_url + a)) for a in assets)
    assert total < BUDGET, f"{path}: {total} bytes of HTML+CSS+JS"
