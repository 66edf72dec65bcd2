"""The office map and charts pages: map data, escaping, no CDN, the charts table and its bounds."""

from __future__ import annotations

import hashlib
import html
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, update

from sync_server.accounts.users import create_user
from sync_server.config import OfficeConfig, ServerConfig, load_config
from sync_server.devices.liveness import FacilityLiveness
from sync_server.devices.registry import import_catalog, register_device
from sync_server.service import open_server_engine
from sync_server.store.db import devices
from sync_server.web import create_app
from sync_server.web.office.charts import parse_days
from sync_server.web.office.map_views import STATE_COLOURS, build_map_data

REPO = Path(__file__).resolve().parents[3]
DATA = REPO / "ocop_cli" / "data"
OFFICE = REPO / "sync_server" / "web" / "office"
VENDOR = OFFICE / "static" / "vendor"
EVIL = "</script><img src=x onerror=alert(1)>"
PASSWORD = "correct horse battery"


def catalog(code: str, name: str, lat: float | None, lon: float | None) -> dict[str, Any]:
    obj = json.loads((DATA / "kc-rice.json").read_text(encoding="utf-8"))
    facility = {**obj["facility"], "code": code, "name": name}
    facility.pop("lat", None)
    facility.pop("lon", None)
    if lat is not None:
        facility.update(lat=lat, lon=lon)
    return {**obj, "facility": facility}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerConfig, Engine]]:
    path = tmp_path / "server.toml"
    path.write_text(f'data_dir = "{tmp_path}"\n', encoding="utf-8")
    config = load_config(path)
    engine = open_server_engine(config)
    for f in sorted(DATA.glob("*.json")):
        import_catalog(engine, f, config.public_base_url)
    import_catalog(engine, catalog("XS", EVIL, 18.30, 105.90), config.public_base_url)
    import_catalog(engine, catalog("NL", "Cơ sở chưa định vị", None, None), config.public_base_url)
    create_user(engine, "officer1", PASSWORD, "officer")
    yield config, engine
    engine.dispose()


@pytest.fixture
def app(server: tuple[ServerConfig, Engine]) -> Flask:
    return create_app(*server)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    page = c.get("/office/login").get_data(as_text=True)
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token
    resp = c.post(
        "/office/login",
        data={"username": "officer1", "password": PASSWORD, "csrf": token.group(1)},
    )
    assert resp.status_code == 302
    return c


def json_block(page: str, block_id: str) -> Any:
    m = re.search(rf'<script type="application/json" id="{block_id}">(.*?)</script>', page, re.S)
    assert m, f"no #{block_id} block"
    return json.loads(m.group(1))


def fac(code: str, state: str, lat: float | None, lon: float | None) -> FacilityLiveness:
    return FacilityLiveness(code, code.lower(), "xã A", "", "Hà Tĩnh", lat, lon, state, ())


def test_map_data_colours_points_by_state_and_leaves_out_missing_coordinates() -> None:
    facs = [
        fac("A", "online", 18.3, 105.8),
        fac("B", "blocked", 18.4, 105.7),
        fac("C", "stale", None, None),
        fac("D", "offline", 95.0, 105.0),  # not a place on Earth
    ]
    data = build_map_data(facs, OfficeConfig(), lambda c: f"/office/facilities/{c}", str.upper)
    assert data["tiles"] is None
    assert [(p["code"], p["state"], p["colour"]) for p in data["points"]] == [
        ("A", "online", STATE_COLOURS["online"]),
        ("B", "blocked", STATE_COLOURS["blocked"]),
    ]
    a = data["points"][0]
    assert (a["lat"], a["lon"], a["url"], a["address"]) == (
        18.3,
        105.8,
        "/office/facilities/A",
        "xã A, Hà Tĩnh",
    )
    assert a["state_label"] == "STATE_ONLINE"
    assert [i["state"] for i in data["legend"]] == ["online", "stale", "offline", "blocked"]


def test_map_data_names_the_tile_server_only_when_one_is_set() -> None:
    office = OfficeConfig(
        tile_url="https://tiles.hatinh.example/{z}/{x}/{y}.png", tile_attribution="© Sở TN&MT"
    )
    data = build_map_data([], office, str, str)
    assert data["tiles"] == {
        "url": "https://tiles.hatinh.example/{z}/{x}/{y}.png",
        "attribution": "© Sở TN&MT",
    }


def test_map_page_shows_states_and_coordinates(
    client: FlaskClient, server: tuple[ServerConfig, Engine]
) -> None:
    _, engine = server
    register_device(engine, "kc-line-1", "KC", "A" * 43 + "=")
    register_device(engine, "cn-line-1", "CN", "B" * 43 + "=")
    with engine.begin() as conn:
        conn.execute(
            update(devices).where(devices.c.dev_id == "kc-line-1").values(last_heard=time.time())
        )
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == "cn-line-1")
            .values(last_heard=time.time(), blocked_code="gap")
        )
    resp = client.get("/office/map")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    data = json_block(page, "map-data")
    points = {p["code"]: p for p in data["points"]}
    assert set(points) == {"KC", "CN", "HS", "XS"}
    assert (points["KC"]["state"], points["CN"]["state"], points["HS"]["state"]) == (
        "online",
        "blocked",
        "offline",
    )
    assert (points["KC"]["lat"], points["KC"]["lon"]) == (18.3716, 105.8453)
    assert points["KC"]["url"] == "/office/facilities/KC"
    assert data["tiles"] is None
    # The facility without coordinates is listed under the map, and every one in the table.
    assert re.search(r'<ul class="unlocated">\s*<li data-facility="NL">', page)
    assert page.count('<tr data-facility="') == 5
    # No inline code: only the JSON block and the two vendored/package scripts.
    scripts = re.findall(r"<script([^>]*)>", page)
    assert sorted(scripts) == sorted(
        [
            ' type="application/json" id="map-data"',
            ' src="/office/static/vendor/leaflet/leaflet.js"',
            ' src="/office/static/office-map.js"',
        ]
    )


def test_a_hostile_facility_name_cannot_break_out_of_the_json_block(
    client: FlaskClient,
) -> None:
    page = client.get("/office/map").get_data(as_text=True)
    assert EVIL not in page
    assert "<img" not in page
    names = {p["code"]: p["name"] for p in json_block(page, "map-data")["points"]}
    assert names["XS"] == EVIL
    assert html.escape(EVIL, quote=False) in page  # the table shows it as text


def test_charts_table_covers_the_requested_days(client: FlaskClient) -> None:
    page = client.get("/office/charts?days=7").get_data(as_text=True)
    assert page.count("<tr data-day=") == 7
    data = json_block(page, "chart-data")
    assert len(data["days"]) == 7
    assert data["batches"] == data["scans"] == data["flagged"] == [0] * 7
    assert data["facility"] is None
    assert 'id="chart-batches"' in page and 'id="chart-scans"' in page
    assert "UTC+7" in page


def test_charts_for_one_facility_and_an_unknown_one(client: FlaskClient) -> None:
    page = client.get("/office/charts?facility=CN").get_data(as_text=True)
    assert json_block(page, "chart-data")["facility"] == "CN"
    assert '<option value="CN" selected>' in page
    assert client.get("/office/charts?facility=NOPE").status_code == 404


@pytest.mark.parametrize(
    ("raw", "days"),
    [(None, 30), ("", 30), ("abc", 30), ("1.5", 30), ("0", 1), ("-3", 1), ("400", 365), ("90", 90)],
)
def test_days_parameter_is_bounded(raw: str | None, days: int) -> None:
    assert parse_days(raw) == days


def test_both_pages_need_a_login_and_are_in_the_header(app: Flask, client: FlaskClient) -> None:
    anonymous = app.test_client()
    for path in ("/office/map", "/office/charts"):
        resp = anonymous.get(path)
        assert resp.status_code == 302
        assert "/office/login" in resp.headers["Location"]
    page = client.get("/office/?lang=en").get_data(as_text=True)
    assert '<a href="/office/map">Map</a>' in page
    assert '<a href="/office/charts">Charts</a>' in page


def test_pages_load_nothing_from_other_hosts() -> None:
    for name in ("map.html", "charts.html"):
        text = (OFFICE / "templates" / "office" / name).read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["'](https?:)?//""", text), name
    for name in ("office-map.js", "office-charts.js"):
        text = (OFFICE / "static" / name).read_text(encoding="utf-8")
        assert "http" not in text, name


def test_vendored_files_match_the_checksums_in_their_readme() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    listed = dict(
        (path, digest) for digest, path in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)
    )
    on_disk = {
        p.relative_to(VENDOR).as_posix()
        for p in VENDOR.rglob("*")
        if p.is_file() and p.name != "README.md"
    }
    assert set(listed) == on_disk
    for path, digest in listed.items():
        assert hashlib.sha256((VENDOR / path).read_bytes()).hexdigest() == digest, path
