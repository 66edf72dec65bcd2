"""The office sees, on the device page, what arrived on a device's topics but was not its own
(issue 12, findings 2, 3, 7, 9): counters and the latest samples, escaped."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from sync_server.ingest.commit import ingest_chunk
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import make_app, officer_client

XSS = '<script>alert("x")</script>'


def test_device_page_shows_rejected_traffic_escaped(
    engine: Engine, device: str, tmp_path: Path
) -> None:
    for _ in range(3):
        ingest_chunk(engine, DEV, f'{{"v":2,"x":"{XSS}"}}'.encode())
    client = officer_client(make_app(engine, tmp_path), engine)
    for lang, label in (("vi", "Dữ liệu hỏng"), ("en", "Malformed payloads")):
        client.set_cookie("lang", lang)
        html = client.get(f"/office/devices/{DEV}").get_data(as_text=True)
        assert 'data-rejected="malformed"' in html
        assert label in html
        assert XSS not in html and "&lt;script&gt;" in html
        assert "forged_traffic" in html  # the alert, listed on the same page
