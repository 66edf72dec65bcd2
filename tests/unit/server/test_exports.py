"""Office CSV exports: login required, filters, a BOM for Excel, no formulas, every row once."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert

from sync_server.accounts.users import create_user
from sync_server.config import ServerConfig
from sync_server.devices.registry import import_catalog
from sync_server.store.db import batches, scans
from sync_server.web import create_app
from sync_server.web.i18n import VN_TZ
from sync_server.web.office import exports
from tests.unit.server.conftest import CATALOG

PASSWORD = "mật-khẩu-đủ-dài"


def _batch(n: int, **over: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "dev_id": "kc-1",
        "batch_id": f"b{n:04d}",
        "lot": f"KC-NM-2403{n % 28 + 1:02d}-{n:02d}"[:20],
        "gtin": "08936123450014",
        "facility_code": "KC",
        "product_code": "NM",
        "product": {"code": "NM", "name": "Gạo Ngọc Mầm"},
        "facility": {"code": "KC", "name": "Công ty TNHH MTV KC"},
        "production_date": f"2024-03-{n % 28 + 1:02d}",
        "opened_at": f"2024-03-{n % 28 + 1:02d}T08:00:00+07:00",
        "status": "closed",
        "closed_at": f"2024-03-{n % 28 + 1:02d}T17:00:00+07:00",
        "quantity": 25.0,
        "unit": "kg",
        "expiry_date": "2025-03-01",
    }
    return {**row, **over}


def _vn(day: str, hour: int) -> float:
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00").replace(tzinfo=VN_TZ).timestamp()


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> FlaskClient:
    import_catalog(engine, CATALOG, "http://t.test")
    with engine.begin() as conn:
        conn.execute(
            insert(batches),
            [
                _batch(1),
                _batch(2, facility_code="HT", facility={"code": "HT", "name": "HTX Hương Trà"}),
                _batch(
                    3,
                    lot="=HYPERLINK(1)",
                    product={"name": "+SUM(A1)"},
                    gtin=None,
                    status="open",
                    closed_at=None,
                    quantity=None,
                ),
                _batch(4, product={"name": "@cmd"}, unit="\tkg", quantity=-1.5),
            ],
        )
        conn.execute(
            insert(scans),
            [
                {
                    "at": _vn("2024-03-05", 23),  # 16:00 UTC: a Vietnam day is not a UTC day
                    "lot": "KC-NM-240302-01",
                    "serial": "7",
                    "gtin": "08936123450014",
                    "facility_code": "KC",
                    "verdict": "genuine",
                    "place": "abc123",
                },
                {
                    "at": _vn("2024-03-06", 0),
                    "lot": "-2+3",
                    "serial": None,
                    "gtin": None,
                    "facility_code": None,
                    "verdict": "unknown",
                    "place": "=1+1",
                },
            ],
        )
    config = ServerConfig(data_dir=tmp_path, public_base_url="http://t.test")
    return create_app(config, engine).test_client()


def _login(client: FlaskClient, engine: Engine) -> None:
    create_user(engine, "lan", PASSWORD, "officer")
    page = client.get("/office/login").get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    resp = client.post(
        "/office/login", data={"csrf": match.group(1), "username": "lan", "password": PASSWORD}
    )
    assert resp.status_code == 302


def _rows(client: FlaskClient, url: str) -> list[dict[str, str]]:
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.mimetype == "text/csv"
    assert resp.is_streamed
    assert "attachment" in resp.headers["Content-Disposition"]
    raw = resp.get_data()
    assert raw.startswith("\ufeff".encode())  # the BOM Excel needs for UTF-8
    text = raw.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.mark.parametrize(
    "url", ["/office/exports", "/office/exports/batches.csv", "/office/exports/scans.csv"]
)
def test_anonymous_goes_to_login(client: FlaskClient, url: str) -> None:
    resp = client.get(url)
    assert resp.status_code == 302
    assert "/office/login" in resp.headers["Location"]


def test_the_page_links_the_exports_and_the_epcis_api(client: FlaskClient, engine: Engine) -> None:
    _login(client, engine)
    html = client.get("/office/exports").get_data(as_text=True)
    assert 'action="/office/exports/batches.csv"' in html
    assert 'action="/office/exports/scans.csv"' in html
    assert 'href="/epcis/events"' in html
    assert 'href="/office/exports"' in html  # in the header
    assert "Xuất dữ liệu" in html
    assert "Exports" in client.get("/office/exports?lang=en").get_data(as_text=True)


def test_batches_csv_content_and_filters(client: FlaskClient, engine: Engine) -> None:
    _login(client, engine)
    rows = _rows(client, "/office/exports/batches.csv")
    assert list(rows[0]) == list(exports.BATCH_COLUMNS)
    assert [r["production_date"] for r in rows] == [
        "2024-03-02",
        "2024-03-03",
        "2024-03-04",
        "2024-03-05",
    ]
    first = rows[0]
    assert first["product"] == "Gạo Ngọc Mầm"  # Vietnamese survives
    assert first["facility"] == "Công ty TNHH MTV KC"
    assert (first["quantity"], first["unit"], first["gtin"]) == ("25.0", "kg", "08936123450014")
    assert (first["device"], first["status"]) == ("kc-1", "closed")
    assert [
        r["facility_code"] for r in _rows(client, "/office/exports/batches.csv?facility=HT")
    ] == ["HT"]
    dated = _rows(client, "/office/exports/batches.csv?from=2024-03-03&to=2024-03-04")
    assert [r["production_date"] for r in dated] == ["2024-03-03", "2024-03-04"]
    assert client.get("/office/exports/batches.csv?from=03/03/2024").status_code == 400


def test_no_cell_is_a_formula(client: FlaskClient, engine: Engine) -> None:
    _login(client, engine)
    batch_rows = _rows(client, "/office/exports/batches.csv")
    odd = batch_rows[2]
    assert (odd["lot"], odd["product"], odd["gtin"], odd["quantity"]) == (
        "'=HYPERLINK(1)",
        "'+SUM(A1)",
        "",
        "",
    )
    assert (batch_rows[3]["product"], batch_rows[3]["unit"]) == ("'@cmd", "'\tkg")
    assert batch_rows[3]["quantity"] == "-1.5"  # a number is data, not a formula
    scan_rows = _rows(client, "/office/exports/scans.csv")
    assert (scan_rows[1]["lot"], scan_rows[1]["place"]) == ("'-2+3", "'=1+1")
    for row in batch_rows + scan_rows:
        for key, value in row.items():
            if key != "quantity":
                assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (key, value)


def test_scans_csv_content_and_vietnam_days(client: FlaskClient, engine: Engine) -> None:
    _login(client, engine)
    rows = _rows(client, "/office/exports/scans.csv")
    assert list(rows[0]) == list(exports.SCAN_COLUMNS)
    assert rows[0] == {
        "time": "2024-03-05T23:00:00+07:00",
        "lot": "KC-NM-240302-01",
        "serial": "7",
        "gtin": "08936123450014",
        "verdict": "genuine",
        "place": "abc123",
        "facility": "KC",
    }
    only_5th = _rows(client, "/office/exports/scans.csv?from=2024-03-05&to=2024-03-05")
    assert [r["time"] for r in only_5th] == ["2024-03-05T23:00:00+07:00"]
    only_6th = _rows(client, "/office/exports/scans.csv?from=2024-03-06")
    assert [r["time"] for r in only_6th] == ["2024-03-06T00:00:00+07:00"]
    assert _rows(client, "/office/exports/scans.csv?facility=KC")[0]["facility"] == "KC"
    assert len(_rows(client, "/office/exports/scans.csv?facility=KC")) == 1
    assert client.get("/office/exports/scans.csv?to=tomorrow").status_code == 400


def test_many_rows_stream_in_chunks_each_once(
    client: FlaskClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "CHUNK", 3)
    with engine.begin() as conn:
        conn.execute(
            insert(batches),
            [_batch(n, opened_at="2024-03-10T08:00:00+07:00") for n in range(10, 30)],
        )
    _login(client, engine)
    rows = _rows(client, "/office/exports/batches.csv")
    keys = [r["lot"] for r in rows]
    assert len(keys) == 24 and len(set(keys)) == 24
