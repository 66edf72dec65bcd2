"""Facilities and devices from the office (issue 16): every form through the Flask test client
with its CSRF token; a bad value gets a clear message and saves nothing; each action writes its
audit row; district officers act only in their districts; commands are recorded and a photo
taken on command completes its command."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from firmware_config.bundle_zip import zip_bundle
from sync_server.accounts.users import create_user
from sync_server.config import OfficeConfig
from sync_server.devices.broker_auth import write_broker_auth
from sync_server.devices.enrolment import EnrolmentError, enrol
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import audit_log, device_commands, devices, facilities
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import PASSWORD, csrf_of, log_in, make_app, officer_client
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key

NEW = {
    "code": "hs",
    "name": "HTX Hương Sơn",
    "commune": "xã Sơn Kim 1",
    "district": "huyện Hương Sơn",
    "province": "Hà Tĩnh",
    "lat": "18,4567",
    "lon": "105.3012",
    "phone": "0239 3875 123",
}


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    return make_app(engine, tmp_path, public_base_url="http://ocop.test")


@pytest.fixture
def bundle_app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    from sync_server.config import ServerConfig
    from sync_server.web import create_app

    config = ServerConfig(data_dir=tmp_path, public_base_url="http://ocop.test")
    return create_app(config, engine, sd_bundle=zip_bundle)


@pytest.fixture
def client(app: Flask, engine: Engine) -> FlaskClient:
    return officer_client(app, engine)


def _post(client: FlaskClient, path: str, data: dict[str, str], page: str = "") -> Any:
    token = csrf_of(client.get(page or "/office/fleet").get_data(as_text=True))
    return client.post(path, data={**data, "csrf": token})


def _audit(engine: Engine, action: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(audit_log).where(audit_log.c.action == action)).mappings())


def _facility(engine: Engine, code: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(facilities).where(facilities.c.code == code)).mappings().first()


def _add_product(engine: Engine, code: str) -> None:
    """The first product, as the catalog editor would save it."""
    from sync_server.devices.catalog_edit import save_product

    save_product(
        engine,
        code,
        {
            "code": "MO",
            "name": {"vi": "Mật ong", "en": "Honey"},
            "ocop_stars": 3,
            "steps": [{"code": "LOC", "name": {"vi": "Lọc", "en": "Filter"}}],
        },
        "http://ocop.test",
    )


def test_create_a_facility_then_edit_it(client: FlaskClient, engine: Engine) -> None:
    form = client.get("/office/fleet/new").get_data(as_text=True)
    assert 'name="csrf"' in form and 'name="lat"' in form
    resp = _post(client, "/office/fleet/new", NEW)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/office/facilities/HS")
    row = _facility(engine, "HS")
    assert row["name"] == "HTX Hương Sơn" and row["district"] == "huyện Hương Sơn"
    assert (row["latitude"], row["longitude"], row["phone"]) == (18.4567, 105.3012, "0239 3875 123")
    assert row["catalog"]["products"] == [] and row["catalog"]["facility"]["lat"] == 18.4567
    (created,) = _audit(engine, "facility.create")
    assert created["username"] == "officer1" and created["after"]["code"] == "HS"

    page = client.get("/office/facilities/HS").get_data(as_text=True)
    assert "0239 3875 123" in page and "/office/catalog/HS/new" in page
    assert "/office/facilities/HS/devices/new" in page

    edit = client.get("/office/facilities/HS/edit").get_data(as_text=True)
    assert 'value="18.4567"' in edit and 'value="HTX Hương Sơn"' in edit
    resp = _post(client, "/office/facilities/HS/edit", {**NEW, "phone": "0912 345 678"})
    assert resp.status_code == 302
    assert _facility(engine, "HS")["phone"] == "0912 345 678"
    (edited,) = _audit(engine, "facility.edit")
    assert edited["before"] == {"phone": "0239 3875 123"}
    assert edited["after"] == {"phone": "0912 345 678"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("code", "H S!", "Mã cơ sở"),
        ("name", "", "Tên cơ sở"),
        ("district", "", "huyện"),
        ("lat", "91", "-90"),
        ("lon", "", "cả vĩ độ và kinh độ"),
        ("phone", "gọi tôi", "Số điện thoại"),
    ],
)
def test_a_bad_facility_form_says_why_and_saves_nothing(
    client: FlaskClient, engine: Engine, field: str, value: str, message: str
) -> None:
    resp = _post(client, "/office/fleet/new", {**NEW, field: value})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert message in html and 'role="alert"' in html
    assert 'value="HTX Hương Sơn"' in html or field == "name"  # the officer's input is kept
    assert _facility(engine, "HS") is None and not _audit(engine, "facility.create")


def test_an_existing_code_is_refused(client: FlaskClient, engine: Engine) -> None:
    resp = _post(client, "/office/fleet/new", {**NEW, "code": "KC"})
    assert resp.status_code == 400 and "KC" in resp.get_data(as_text=True)
    assert _facility(engine, "KC")["name"] != NEW["name"]


def test_a_district_officer_creates_only_in_their_district(app: Flask, engine: Engine) -> None:
    create_user(engine, "thachha", PASSWORD, "officer", districts=["huyện Thạch Hà"], by="test")
    client = app.test_client()
    assert log_in(client, "thachha") == 302
    resp = _post(client, "/office/fleet/new", NEW)
    assert resp.status_code == 400
    assert "huyện Hương Sơn" in resp.get_data(as_text=True) and _facility(engine, "HS") is None
    ok = _post(client, "/office/fleet/new", {**NEW, "district": "huyện Thạch Hà"})
    assert ok.status_code == 302
    # Nor move one of theirs out of their districts.
    moved = _post(client, "/office/facilities/HS/edit", {**NEW, "district": "huyện Hương Sơn"})
    assert moved.status_code == 400 and _facility(engine, "HS")["district"] == "huyện Thạch Hà"
    # Another district's facility is not theirs to edit, register devices for or disable.
    with engine.begin() as conn:
        conn.execute(update(facilities).values(district="huyện Hương Sơn"))
    assert client.get("/office/facilities/HS/edit").status_code == 404
    assert client.get("/office/facilities/KC/edit").status_code == 404
    assert client.get("/office/facilities/KC/devices/new").status_code == 404
    assert _post(client, "/office/facilities/KC/disable", {"reason": "x"}).status_code == 404
    assert _post(client, f"/office/devices/{DEV}/revoke", {"reason": "x"}).status_code == 404
    assert "KC" not in client.get("/office/fleet").get_data(as_text=True).split("<main>")[1]


def _picker(html: str) -> dict[str, Any]:
    """The facility form's position map data (office-position.js reads it)."""
    found = re.search(
        r'<script type="application/json" id="position-map-data">(.*?)</script>', html
    )
    assert found, "the form has no position map"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_the_position_map_shows_the_other_facilities_in_scope(
    app: Flask, client: FlaskClient, engine: Engine
) -> None:
    form = client.get("/office/fleet/new").get_data(as_text=True)
    # Progressive enhancement: the map is hidden until its script runs; the fields stay.
    assert 'id="position-pick"' in form and "hidden>" in form.split('id="position-pick"')[1]
    assert "office-position.js" in form and "<script>" not in form  # no inline code (CSP)
    picker = _picker(form)
    assert picker["tiles"] is None
    assert picker["others"] == [
        {"code": "KC", "name": "Công ty TNHH MTV KC", "lat": 18.3716, "lon": 105.8453}
    ]
    assert _post(client, "/office/fleet/new", NEW).status_code == 302
    edit = _picker(client.get("/office/facilities/HS/edit").get_data(as_text=True))
    assert [o["code"] for o in edit["others"]] == ["KC"]  # not itself
    kc = _picker(client.get("/office/facilities/KC/edit").get_data(as_text=True))
    assert [o["code"] for o in kc["others"]] == ["HS"]

    # A district officer's map shows only their district's facilities.
    create_user(engine, "huongson", PASSWORD, "officer", districts=["huyện Hương Sơn"], by="test")
    theirs = app.test_client()
    assert log_in(theirs, "huongson") == 302
    page = theirs.get("/office/fleet/new").get_data(as_text=True)
    assert [o["code"] for o in _picker(page)["others"]] == ["HS"]
    assert "Công ty TNHH MTV KC" not in page


def test_the_position_map_uses_the_configured_tiles(engine: Engine, tmp_path: Path) -> None:
    tiles = "https://tiles.example.org/{z}/{x}/{y}.png"
    office = OfficeConfig(tile_url=tiles, tile_attribution="© OSM")
    app = make_app(engine, tmp_path, office=office)
    client = officer_client(app, engine)
    picker = _picker(client.get("/office/fleet/new").get_data(as_text=True))
    assert picker == {"tiles": {"url": tiles, "attribution": "© OSM"}, "others": []}


def _register(client: FlaskClient, code: str, dev: str, name: str = "") -> Any:
    return _post(
        client,
        f"/office/facilities/{code}/devices/new",
        {"dev": dev, "name": name},
        f"/office/facilities/{code}/devices/new",
    )


def _token(html: str) -> str:
    start = html.index('id="enrol-token">') + len('id="enrol-token">')
    return html[start : html.index("<", start)]


def test_register_a_device_shows_token_qr_and_sheet(
    bundle_app: Flask, engine: Engine, tmp_path: Path
) -> None:
    client = officer_client(bundle_app, engine)
    _post(client, "/office/fleet/new", NEW)
    # No product yet: a device would get an empty catalog.
    refused = _register(client, "HS", "hs-1")
    assert refused.status_code == 400 and "sản phẩm" in refused.get_data(as_text=True)
    _add_product(engine, "HS")
    bad = _register(client, "HS", "HS 1!")
    assert bad.status_code == 400 and "Mã thiết bị" in bad.get_data(as_text=True)
    taken = _register(client, "HS", DEV)
    assert taken.status_code == 400 and DEV in taken.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.execute(select(devices).where(devices.c.dev_id == "hs-1")).first() is None

    resp = _register(client, "HS", "hs-1", "Máy chiết 1")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    token = _token(html)
    command = f"ocop edge enroll --server http://ocop.test --facility HS --token={token}"
    assert command in html and "<svg" in html and "@media print" in html
    assert "Hướng dẫn cài đặt" in html  # the sheet, in Vietnamese
    (registered,) = _audit(engine, "device.register")
    assert registered["username"] == "officer1" and registered["facility_code"] == "HS"
    with engine.connect() as conn:
        assert token not in str(list(conn.execute(select(audit_log)).mappings()))
        assert conn.execute(select(devices.c.name).where(devices.c.dev_id == "hs-1")).scalar() == (
            "Máy chiết 1"
        )

    # The SD-card bundle, with the token given back by the sheet's form.
    zipped = _post(client, "/office/devices/hs-1/bundle.zip", {"token": token}, "/office/fleet")
    assert zipped.status_code == 200 and zipped.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(zipped.data)) as zf:
        assert zf.read("ocop/enrol-token").decode().strip() == token
        assert b'device_id = "hs-1"' in zf.read("ocop/files/etc/ocop/edge.toml")
    wrong = _post(client, "/office/devices/hs-1/bundle.zip", {"token": "x" * 22})
    assert wrong.status_code == 400 and wrong.mimetype == "text/html"

    # The device page: waiting for enrolment, a new token on demand (the old one stops).
    page = client.get("/office/devices/hs-1").get_data(as_text=True)
    assert 'data-enrolment="waiting"' in page and "Máy chiết 1" in page
    again = _post(client, "/office/devices/hs-1/token", {}, "/office/devices/hs-1")
    assert _token(again.get_data(as_text=True)) != token
    stale = _post(client, "/office/devices/hs-1/bundle.zip", {"token": token})
    assert stale.status_code == 400
    assert len(_audit(engine, "device.token")) == 1


def test_no_bundle_maker_no_download(client: FlaskClient, engine: Engine) -> None:
    _post(client, "/office/fleet/new", NEW)
    _add_product(engine, "HS")
    html = _register(client, "HS", "hs-1").get_data(as_text=True)
    assert "bundle.zip" not in html
    assert (
        _post(client, "/office/devices/hs-1/bundle.zip", {"token": _token(html)}).status_code == 404
    )


def _enrol(engine: Engine, dev: str, facility: str, token: str) -> None:
    key = DeviceKey.generate()
    label = encode_label_key(b"k" * 32)
    proof = key.sign(proof_message(dev, facility, token, key.public_key_b64, label))
    enrol(engine, enrol_request(dev, facility, token, key.public_key_b64, label, proof), "http://x")


def test_disable_refuses_enrolment_and_drops_broker_logins(
    client: FlaskClient, engine: Engine, tmp_path: Path
) -> None:
    _post(client, "/office/fleet/new", NEW)
    _add_product(engine, "HS")
    token_1 = _token(_register(client, "HS", "hs-1").get_data(as_text=True))
    token_2 = _token(_register(client, "HS", "hs-2").get_data(as_text=True))
    _enrol(engine, "hs-1", "HS", token_1)
    auth = tmp_path / "auth"
    write_broker_auth(engine, auth)
    assert "hs-1:" in (auth / "passwd").read_text()

    no_reason = _post(
        client, "/office/facilities/HS/disable", {"reason": " "}, "/office/facilities/HS"
    )
    assert no_reason.status_code == 400 and _facility(engine, "HS")["disabled_at"] is None
    resp = _post(
        client, "/office/facilities/HS/disable", {"reason": "Giải thể"}, "/office/facilities/HS"
    )
    assert resp.status_code == 302 and _facility(engine, "HS")["disabled_reason"] == "Giải thể"
    (disabled,) = _audit(engine, "facility.disable")
    assert disabled["detail"] == "Giải thể" and disabled["after"] == {"disabled": True}
    write_broker_auth(engine, auth)
    assert "hs-1:" not in (auth / "passwd").read_text()
    with pytest.raises(EnrolmentError) as refused:
        _enrol(engine, "hs-2", "HS", token_2)
    assert refused.value.code == "facility_disabled"
    page = client.get("/office/facilities/HS").get_data(as_text=True)
    assert "Giải thể" in page and "data-disabled" in page
    assert _register(client, "HS", "hs-3").status_code == 400

    assert (
        _post(client, "/office/facilities/HS/enable", {}, "/office/facilities/HS").status_code
        == 302
    )
    assert _facility(engine, "HS")["disabled_at"] is None and _audit(engine, "facility.enable")
    write_broker_auth(engine, auth)
    assert "hs-1:" in (auth / "passwd").read_text()


def test_rename_and_revoke(client: FlaskClient, engine: Engine, tmp_path: Path) -> None:
    page = f"/office/devices/{DEV}"
    assert _post(client, f"{page}/rename", {"name": "x" * 61}, page).status_code == 400
    assert _post(client, f"{page}/rename", {"name": "Máy sấy 2"}, page).status_code == 302
    assert "Máy sấy 2" in client.get(page).get_data(as_text=True)
    (renamed,) = _audit(engine, "device.rename")
    assert renamed["before"] == {"name": None} and renamed["after"] == {"name": "Máy sấy 2"}

    assert _post(client, f"{page}/revoke", {"reason": ""}, page).status_code == 400
    with engine.connect() as conn:
        assert (
            conn.execute(select(devices.c.revoked_at).where(devices.c.dev_id == DEV)).scalar()
            is None
        )
    assert _post(client, f"{page}/revoke", {"reason": "Pi bị mất"}, page).status_code == 302
    (revoked,) = _audit(engine, "device.revoke")
    assert revoked["username"] == "officer1" and revoked["detail"] == "Pi bị mất"
    html = client.get(page).get_data(as_text=True)
    assert 'data-enrolment="revoked"' in html and "/revoke" not in html


def _set_cameras(engine: Engine, *names: str) -> None:
    status = {
        "extra": {
            "cameras": {n: {"state": "ok", "detail": "ok", "last_frame_age_s": 1} for n in names}
        }
    }
    with engine.begin() as conn:
        conn.execute(update(devices).where(devices.c.dev_id == DEV).values(status=status))


def test_commands_are_recorded_and_a_photo_completes_a_snapshot(
    client: FlaskClient, engine: Engine, key: DeviceKey, chain: ChainBuilder
) -> None:
    page = f"/office/devices/{DEV}"
    _set_cameras(engine, "day-chuyen")
    html = client.get(page).get_data(as_text=True)
    assert 'data-camera="day-chuyen"' in html
    unknown = _post(client, f"{page}/snapshot", {"camera": "kho"}, page)
    assert unknown.status_code == 400 and "kho" in unknown.get_data(as_text=True)
    bad_seq = _post(client, f"{page}/resend", {"from": "0"}, page)
    assert bad_seq.status_code == 400
    with engine.connect() as conn:
        assert conn.execute(select(device_commands)).first() is None

    # No broker listens in this test: the command is recorded, and the page says not sent.
    assert _post(client, f"{page}/snapshot", {"camera": "day-chuyen"}, page).status_code == 302
    assert _post(client, f"{page}/resend", {"from": "3"}, page).status_code == 302
    with engine.connect() as conn:
        rows = list(conn.execute(select(device_commands).order_by(device_commands.c.id)).mappings())
    assert [(r["kind"], r["params"], r["sent_at"]) for r in rows] == [
        ("snapshot", {"camera": "day-chuyen"}, None),
        ("resend", {"from": 3}, None),
    ]
    assert "error" in rows[0]["result"]
    assert [a["after"] for a in _audit(engine, "command.snapshot")] == [{"camera": "day-chuyen"}]
    assert _audit(engine, "command.resend")
    assert "Chưa gửi được" in client.get(page).get_data(as_text=True)

    # As if the broker had taken it: the device's photo on command completes it.
    with engine.begin() as conn:
        conn.execute(update(device_commands).values(sent_at=1.0, result=None))
    shot = chain.next(
        "snapshot.taken",
        {
            "sha256": "a" * 64,
            "thumb_sha256": "b" * 64,
            "camera": "day-chuyen",
            "purpose": "command",
        },
    )
    ingest_chunk(engine, DEV, encode_chunk(DEV, [shot]))
    with engine.connect() as conn:
        done = (
            conn.execute(select(device_commands).where(device_commands.c.kind == "snapshot"))
            .mappings()
            .one()
        )
    assert done["done_at"] is not None and done["result"] == {"seq": 1, "sha256": "a" * 64}
    assert 'data-done="yes"' in client.get(page).get_data(as_text=True)
