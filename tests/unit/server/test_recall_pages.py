"""Recalls in the web app (issue 15): the office form (errors next to their field, nothing saved;
CSRF), the shipments to call back with CSV, lifting; the public batch page's banner, first, and
never served stale from a page cache, also another worker's. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select

from ocop_cli.broker import free_port
from sync_server.config import HttpConfig, ServerMqttConfig
from sync_server.store.supply_tables import recalls
from tests.unit.server.office_client import csrf_of, make_app, officer_client
from tests.unit.server.recall_chain import CN_BATCH, KC_BATCH, OTHER_BATCH, build_chain

REASON = "Nghi nhiễm nấm mốc"


def _app(engine: Engine, tmp_path: Path) -> Flask:
    # A broker nobody listens on: the recall is saved, the devices are told by the retry loop.
    return make_app(
        engine,
        tmp_path,
        http=HttpConfig(page_cache_s=600),
        mqtt=ServerMqttConfig(port=free_port(), username=""),
    )


@pytest.fixture
def office(engine: Engine, tmp_path: Path) -> tuple[Flask, FlaskClient]:
    with engine.begin() as conn:
        build_chain(conn)
    app = _app(engine, tmp_path)
    return app, officer_client(app, engine)


def _post(client: FlaskClient, url: str, **form: str) -> tuple[int, str]:
    token = csrf_of(client.get("/office/recalls").get_data(as_text=True))
    resp = client.post(url, data={"csrf": token, **form})
    return resp.status_code, resp.get_data(as_text=True)


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(recalls)).scalar() or 0)


def test_the_form_refuses_bad_input_next_to_its_field(
    engine: Engine, office: tuple[Flask, FlaskClient]
) -> None:
    app, client = office
    assert app.test_client().get("/office/recalls").status_code == 302  # login first
    assert client.post("/office/recalls", data={"lot": KC_BATCH, "reason": "x"}).status_code == 400
    status, page = _post(client, "/office/recalls", lot=KC_BATCH, reason="  ")
    assert status == 400
    assert re.search(r'id="err-reason"[^>]*>Hãy nhập lý do\.<', page)
    assert 'value="KC-NM-240302A01"' in page  # the officer's input comes back
    status, page = _post(client, "/office/recalls", lot="KC-NM-991231A09", reason=REASON)
    assert status == 400 and "Không có lô KC-NM-991231A09" in page and 'id="err-lot"' in page
    assert _count(engine) == 0


def test_recall_call_back_list_csv_and_lift(
    engine: Engine, office: tuple[Flask, FlaskClient]
) -> None:
    app, client = office
    public = app.test_client()
    before = public.get(f"/l/{CN_BATCH}").get_data(as_text=True)  # cached for 600 s
    assert 'id="recall"' not in before
    resp = client.post(
        "/office/recalls",
        data={
            "csrf": csrf_of(client.get("/office/recalls").get_data(as_text=True)),
            "lot": KC_BATCH,
            "reason": REASON,
        },
    )
    assert resp.status_code == 302
    detail = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Đang thu hồi" in detail and "Chợ Hương Sơn" in detail and "0987654321" in detail
    assert "Cửa hàng OCOP Hà Tĩnh" in detail
    recall_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    csv_resp = client.get(f"/office/recalls/{recall_id}/call-back.csv")
    rows = list(csv.reader(io.StringIO(csv_resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["lot", "facility", "customer_id", "customer"]
    assert {(r[0], r[3], r[4]) for r in rows[1:]} == {
        (KC_BATCH, "Cửa hàng OCOP Hà Tĩnh", "0912345678"),
        (CN_BATCH, "Chợ Hương Sơn", "0987654321"),
    }
    # The cached page gave way at once, and the banner comes first.
    page = public.get(f"/l/{CN_BATCH}").get_data(as_text=True)
    main = page.split("<main>", 1)[1].lstrip()
    assert main.startswith('<section class="recall" id="recall"'), main[:200]
    assert "SẢN PHẨM ĐANG BỊ THU HỒI" in main and REASON in main and KC_BATCH in main
    assert 'id="recall"' not in public.get(f"/l/{OTHER_BATCH}").get_data(as_text=True)

    status, page = _post(client, f"/office/recalls/{recall_id}/lift", reason="")
    assert status == 400 and 'id="err-reason"' in page
    status, _ = _post(client, f"/office/recalls/{recall_id}/lift", reason="Mẫu đạt")
    assert status == 302
    detail = client.get(f"/office/recalls/{recall_id}").get_data(as_text=True)
    assert "Đã gỡ" in detail and "officer1" in detail and "Mẫu đạt" in detail
    assert 'id="recall"' not in public.get(f"/l/{CN_BATCH}").get_data(as_text=True)


def test_another_workers_cache_gives_way_within_its_check_interval(
    engine: Engine, office: tuple[Flask, FlaskClient], tmp_path: Path
) -> None:
    _, client = office
    other = _app(engine, tmp_path)  # a second web worker: its own page cache
    other.extensions["ocop_recall_generation"].max_age_s = 0.0  # read the database every time
    reader = other.test_client()
    assert 'id="recall"' not in reader.get(f"/l/{KC_BATCH}").get_data(as_text=True)
    status, _ = _post(client, "/office/recalls", lot=KC_BATCH, reason=REASON)
    assert status == 302
    assert 'id="recall"' in reader.get(f"/l/{KC_BATCH}").get_data(as_text=True)
