"""The office edits a facility's suppliers and customers and a product's raw materials,
standards, expected yield and photo (issue 15): through the forms with their CSRF token, a bad
value gets its message next to its field and saves nothing, a good one bumps the catalog."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from sync_server.devices.catalog_edit import load_catalog
from sync_server.devices.registry import import_catalog
from tests.unit.server.conftest import REPO
from tests.unit.server.office_client import (
    csrf_of,
    make_app,
    officer_client,
    page_form,
    product_form,
)
from trace_protocol.catalog import Catalog, parse_catalog

JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"


def _catalog(engine: Engine) -> Catalog:
    return parse_catalog({"public_base_url": "http://x", **load_catalog(engine, "KC")})


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    import_catalog(engine, REPO / "ocop_cli" / "data" / "cuong-nga-honey.json", "http://x")
    return make_app(engine, tmp_path)


@pytest.fixture
def client(app: Flask, engine: Engine) -> FlaskClient:
    return officer_client(app, engine)


def test_the_catalog_page_links_suppliers_and_customers(client: FlaskClient) -> None:
    html = client.get("/office/catalog").get_data(as_text=True)
    assert "/office/catalog/KC/suppliers" in html and "/office/catalog/KC/customers" in html


def test_adding_a_supplier_saves_it_and_bumps_the_catalog(
    client: FlaskClient, engine: Engine
) -> None:
    before = load_catalog(engine, "KC")
    form = page_form(client, "/office/catalog/KC/suppliers")
    assert form["suppliers-0-id"] == "THT-DH" and form["suppliers-0-kind"] == "group"
    assert form["suppliers-0-public_name"] == "1" and "suppliers-2-public_name" not in form
    row = len(before["suppliers"])  # the first empty row
    form.update(
        {
            f"suppliers-{row}-id": "HTX-CN",
            f"suppliers-{row}-name": "HTX mật ong Cường Nga",
            f"suppliers-{row}-kind": "facility",
            f"suppliers-{row}-facility": "CN",
            f"suppliers-{row}-commune": "xã Quang Diệm",
            f"suppliers-{row}-cert_scheme": "VietGAP",
            f"suppliers-{row}-cert_code": "VG-01",
            f"suppliers-{row}-cert_valid_until": "2028-01-31",
            f"suppliers-{row}-public_name": "1",
        }
    )
    resp = client.post("/office/catalog/KC/suppliers", data=form)
    assert resp.status_code == 302
    after = load_catalog(engine, "KC")
    assert after["version"] == before["version"] + 1
    catalog = parse_catalog({"public_base_url": "http://x", **after})
    added = catalog.supplier("HTX-CN")
    assert added is not None and added.facility == "CN" and added.public_name
    assert added.certification is not None and added.certification.valid_until == "2028-01-31"
    farmer = catalog.supplier("ND-HOA")
    assert farmer is not None and not farmer.public_name  # an unchecked box stays private
    assert after["products"] == before["products"]  # nothing else touched


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("name", "", "Cần nhập chữ"),
        ("id", "có dấu cách", "Mã gồm"),
        ("cert_valid_until", "31/01/2028", "Ngày phải"),
        ("kind", "alien", "Giá trị phải chọn"),
    ],
)
def test_a_bad_supplier_is_refused_next_to_its_field(
    client: FlaskClient, engine: Engine, field: str, value: str, reason: str
) -> None:
    before = load_catalog(engine, "KC")
    form = page_form(client, "/office/catalog/KC/suppliers")
    form.update({"suppliers-1-name": "Tên sửa chưa lưu", "suppliers-1-cert_scheme": "VietGAP"})
    form[f"suppliers-1-{field}"] = value
    resp = client.post("/office/catalog/KC/suppliers", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert f'id="err-suppliers-1-{field}"' in html and reason in html
    assert 'aria-describedby="err-suppliers-1-' + field + '"' in html
    if field != "name":
        assert 'value="Tên sửa chưa lưu"' in html  # the officer's typing is kept
    assert load_catalog(engine, "KC") == before


def test_a_facility_supplier_must_name_its_facility(client: FlaskClient, engine: Engine) -> None:
    before = load_catalog(engine, "KC")
    form = page_form(client, "/office/catalog/KC/suppliers")
    form.update(
        {"suppliers-3-id": "X1", "suppliers-3-name": "Cơ sở", "suppliers-3-kind": "facility"}
    )
    resp = client.post("/office/catalog/KC/suppliers", data=form)
    assert resp.status_code == 400 and 'id="err-suppliers-3-facility"' in resp.get_data(True)
    assert load_catalog(engine, "KC") == before


def test_customers_are_edited_and_a_duplicate_id_refused(
    client: FlaskClient, engine: Engine
) -> None:
    form = page_form(client, "/office/catalog/KC/customers")
    assert form["customers-0-id"] == "OCOP-HT" and form["customers-0-kind"] == "shop"
    form.update(
        {
            "customers-2-id": "CHO-TD",
            "customers-2-name": "Chợ Thạch Đài",
            "customers-2-kind": "market",
            "customers-2-phone": "0900 000 009",
        }
    )
    assert client.post("/office/catalog/KC/customers", data=form).status_code == 302
    market = _catalog(engine).customer("CHO-TD")
    assert market is not None and market.kind == "market" and market.phone == "0900 000 009"

    before = load_catalog(engine, "KC")
    form = page_form(client, "/office/catalog/KC/customers")
    form.update({"customers-3-id": "OCOP-HT", "customers-3-name": "Trùng mã"})
    resp = client.post("/office/catalog/KC/customers", data=form)
    assert resp.status_code == 400 and "Mỗi mã chỉ dùng một lần" in resp.get_data(True)
    assert load_catalog(engine, "KC") == before


def test_forms_need_the_csrf_token(client: FlaskClient, engine: Engine) -> None:
    before = load_catalog(engine, "KC")
    form = page_form(client, "/office/catalog/KC/customers")
    form["csrf"] = "wrong"
    assert client.post("/office/catalog/KC/customers", data=form).status_code == 400
    assert load_catalog(engine, "KC") == before


def test_a_products_materials_standards_and_yield_are_edited(
    client: FlaskClient, engine: Engine
) -> None:
    form = product_form(client)
    assert form["materials-0-code"] == "LUA" and form["materials-0-unit"] == "kg"
    assert form["yield_min"] == "0.55" and "TCVN 11888:2017" in form["standards"]
    form.update(
        {
            "materials-1-code": "TRAU",
            "materials-1-name_vi": "Trấu đốt lò",
            "materials-1-name_en": "Husk fuel",
            "materials-1-unit": "tan",
            "standards": "TCVN 11888:2017\nHACCP\n",
            "yield_min": "0,6",
            "yield_max": "0.72",
        }
    )
    assert client.post("/office/catalog/KC/NM", data=form).status_code == 302
    nm = _catalog(engine).product("NM")
    assert nm is not None
    assert [(m.code, m.unit) for m in nm.materials] == [("LUA", "kg"), ("TRAU", "tan")]
    assert nm.standards == ("TCVN 11888:2017", "HACCP")
    assert nm.expected_yield is not None and (nm.expected_yield.min, nm.expected_yield.max) == (
        0.6,
        0.72,
    )


def test_a_bad_yield_is_refused_next_to_its_field(client: FlaskClient, engine: Engine) -> None:
    before = load_catalog(engine, "KC")
    form = product_form(client)
    form.update({"yield_min": "0.9", "yield_max": "0.5"})
    resp = client.post("/office/catalog/KC/NM", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="err-yield_max"' in html
    assert "Mức tối đa không được nhỏ hơn mức tối thiểu" in html
    assert load_catalog(engine, "KC") == before
    form.update({"yield_min": "abc", "yield_max": ""})
    resp = client.post("/office/catalog/KC/NM", data=form)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="err-yield_min"' in html and "Cần một số dương" in html
    assert load_catalog(engine, "KC") == before


def test_a_product_photo_is_uploaded_stored_and_shown_to_consumers(
    client: FlaskClient, engine: Engine, app: Flask
) -> None:
    form = product_form(client)
    data = {**form, "photo_file": (io.BytesIO(JPEG), "gao.jpg")}
    resp = client.post("/office/catalog/KC/NM", data=data, content_type="multipart/form-data")
    assert resp.status_code == 302
    sha = hashlib.sha256(JPEG).hexdigest()
    assert load_catalog(engine, "KC")["products"][0]["photo"] == sha
    public = app.test_client().get(f"/blobs/{sha}")
    assert public.status_code == 200 and public.data == JPEG
    assert product_form(client)["photo"] == sha  # kept on the next edit
    html = app.test_client().get("/p/KC/NM").get_data(as_text=True)
    assert f'<img class="product-photo" src="/blobs/{sha}"' in html
    assert "TCVN 11888:2017 (gạo trắng)" in html

    before = load_catalog(engine, "KC")
    bad = {**product_form(client), "photo_file": (io.BytesIO(b"GIF89a..."), "x.gif")}
    resp = client.post("/office/catalog/KC/NM", data=bad, content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="err-photo"' in html and "JPEG" in html
    assert load_catalog(engine, "KC") == before


def test_the_supplier_page_offers_the_kits_other_facilities(client: FlaskClient) -> None:
    html = client.get("/office/catalog/KC/suppliers").get_data(as_text=True)
    assert '<option value="CN">' in html and csrf_of(html)
