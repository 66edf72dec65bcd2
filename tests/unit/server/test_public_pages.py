"""The public pages: certificate, origins, steps and photos from the record; product and
facility pages; private fields (notes, workers, raw and periodic photos) never shown."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine

from tests.unit.server.conftest import CATALOG
from tests.unit.server.consumer import (
    GTIN,
    LOT,
    PRIVATE,
    enrol_device,
    make_app,
    sha,
    sync_batch,
    unit_path,
)

RICE = json.loads(CATALOG.read_text(encoding="utf-8"))


@pytest.fixture
def client(tmp_path: Path, engine: Engine) -> FlaskClient:
    sync_batch(engine, enrol_device(engine), steps=3, photos_per_step=2)
    return make_app(tmp_path, engine).test_client()


def test_batch_page_shows_the_record_certificate_and_origins(client: FlaskClient) -> None:
    html = client.get(f"/01/{GTIN}/10/{LOT}").text
    assert "Bản ghi đã được xác minh" in html
    assert "<h1>Gạo Ngọc Mầm</h1>" in html
    assert "★★★★☆ 4 sao OCOP" in html
    assert "Công ty TNHH MTV KC" in html and "xã Thạch Đài, huyện Thạch Hà, Hà Tĩnh" in html
    assert "Quyết định số 3598/QĐ-UBND của UBND tỉnh Hà Tĩnh, ngày 15/11/2024" in html
    assert "Còn hiệu lực đến 15/11/2027" in html and "hết hạn" not in html
    assert "<strong>Lúa Ngọc Mầm</strong>: Cánh đồng liên kết xã Thạch Đài" in html
    assert [f"Công đoạn {n}" in html for n in (1, 2, 3)] == [True] * 3
    assert html.count('loading="lazy"') == 6
    assert 'href="/p/KC/NM"' in html and 'href="/f/KC"' in html


def test_english_switch(client: FlaskClient) -> None:
    html = client.get(f"/l/{LOT}?lang=en").text
    assert '<html lang="en">' in html
    assert "<h1>Ngọc Mầm rice</h1>" in html
    assert "Valid until 15/11/2027" in html
    assert "Where the raw materials come from" in html
    assert "<strong>Ngọc Mầm paddy</strong>: Contract fields, Thạch Đài commune" in html
    assert "Step 2" in html
    # The choice is remembered for the next page.
    assert "Ngọc Mầm rice" in client.get("/p/KC/NM").text


def test_private_fields_never_reach_a_public_page(client: FlaskClient) -> None:
    raw_files = [
        sha(f"{tag}-{kind}")
        for tag in ["periodic"] + [f"s{n}p{i}" for n in range(3) for i in range(2)]
        for kind in ("full", "thumb")
    ]
    periodic_public = [sha("periodic-public"), sha("periodic-public-thumb")]
    pages = [
        "/",
        f"/01/{GTIN}/10/{LOT}",
        f"/l/{LOT}?lang=en",
        unit_path("5"),
        unit_path("11"),
        "/p/KC/NM",
        "/f/KC",
    ]
    for path in pages:
        html = client.get(path).text
        for marker in [*PRIVATE, *raw_files, *periodic_public]:
            assert marker not in html, f"{marker} leaked on {path}"
    # The face-blurred public copies are what the consumer sees.
    html = client.get(f"/l/{LOT}").text
    assert f'src="/blobs/{sha("s0p0-public-thumb")}"' in html
    assert f'href="/blobs/{sha("s2p1-public")}"' in html


def test_product_page_lists_its_batches_and_process(client: FlaskClient) -> None:
    html = client.get("/p/KC/NM").text
    assert "<h1>Gạo Ngọc Mầm</h1>" in html
    assert "3598/QĐ-UBND" in html and "Lúa Ngọc Mầm" in html
    assert "Sấy lúa" in html and "Đóng gói hút chân không" in html  # catalog's steps
    assert f'href="/01/{GTIN}/10/{LOT}"' in html
    assert 'href="/f/KC"' in html
    assert client.get("/p/KC/XX").status_code == 404
    assert client.get("/p/ZZ/NM").status_code == 404


def test_facility_page_lists_products_and_batches(client: FlaskClient) -> None:
    html = client.get("/f/KC").text
    assert "<h1>Công ty TNHH MTV KC</h1>" in html
    assert "xã Thạch Đài, huyện Thạch Hà, Hà Tĩnh" in html
    assert 'href="/p/KC/NM"' in html and "3598/QĐ-UBND" in html
    assert f"{LOT}</a>" in html
    assert client.get("/f/ZZ").status_code == 404


def test_expired_certificate_is_flagged(tmp_path: Path, engine: Engine) -> None:
    obj = copy.deepcopy(RICE)
    obj["products"][0]["certificate"].update(issued_on="2019-12-20", valid_until="2022-12-20")
    sync_batch(engine, enrol_device(engine, obj))
    client = make_app(tmp_path, engine).test_client()
    for path in (f"/l/{LOT}", "/p/KC/NM"):
        html = client.get(path).text
        assert "Giấy chứng nhận OCOP đã hết hạn ngày 20/12/2022" in html
        assert "Còn hiệu lực" not in html
    assert "The OCOP certificate expired on 20/12/2022" in client.get("/p/KC/NM?lang=en").text


def test_catalog_without_certificate_says_so(tmp_path: Path, engine: Engine) -> None:
    obj = copy.deepcopy(RICE)
    del obj["products"][0]["certificate"], obj["products"][0]["origins"]
    sync_batch(engine, enrol_device(engine, obj))
    html = make_app(tmp_path, engine).test_client().get(f"/l/{LOT}").text
    assert "Cơ sở chưa công bố giấy chứng nhận OCOP" in html
    assert "Nguồn gốc nguyên liệu" not in html


def test_genuine_code_before_sync_shows_what_the_server_knows(
    tmp_path: Path, engine: Engine
) -> None:
    enrol_device(engine)
    html = make_app(tmp_path, engine).test_client().get(unit_path("5")).text
    assert "Mã sản phẩm chính hãng" in html and "đang được đồng bộ" in html
    assert "<h1>Gạo Ngọc Mầm</h1>" in html
    assert "3598/QĐ-UBND" in html and "Lúa Ngọc Mầm" in html
    assert 'href="/f/KC"' in html and 'href="/p/KC/NM"' in html
    assert "Mã này được quét lần đầu ngày" in html
