"""District scopes (issue 16): a district officer walks every office page and sees only their
district's facilities; other districts' objects are 404 and posts to them save nothing; admins see
the province. Charts, map data and EPCIS events of a session, filtered. SQLite and PostgreSQL.

Two districts: KC (huyện Thạch Hà) and CN (huyện Hương Sơn), each with a device, batches,
receipts, shipments, a scan, an alert, photos and a consumer report; a recall of a KC lot that
reaches CN (tests/unit/server/recall_chain.py), and a recall of a KC lot that does not.
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, insert, select

from ocop_cli.broker import free_port
from sync_server.accounts.users import create_api_token, create_user
from sync_server.config import ServerMqttConfig
from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.alerts import raise_alert
from sync_server.store.blobs import FileBlobStorage
from sync_server.store.db import alerts, blob_refs, consumer_reports, facilities, scans
from sync_server.store.supply_tables import recalls
from sync_server.trace.recalls import recall
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body
from tests.unit.server.office_client import PASSWORD, csrf_of, log_in, make_app, page_form
from tests.unit.server.recall_chain import (
    CN_BATCH,
    CN_RECEIPT,
    KC_BATCH,
    KC_RECEIPT,
    MARKET,
    OTHER_BATCH,
    SHOP,
    build_chain,
)
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

REPO = Path(__file__).resolve().parents[3]
KC_CATALOG = REPO / "ocop_cli" / "data" / "kc-rice.json"
CN_CATALOG = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"
THACH_HA, HUONG_SON = "huyện Thạch Hà", "huyện Hương Sơn"
KC_DEV, CN_DEV = "kc-test-1", "cn-test-1"
# Lots synced as device events (EPCIS); the recall chain's lots are written straight to tables.
KC_EVENT_LOT, CN_EVENT_LOT = "KC-NM-240310-01", "CN-MO-240310-01"
REASON = "Nghi nhiễm nấm mốc"


@dataclass(frozen=True)
class Side:
    """What one district holds: the values for its URLs, and texts only it may show."""

    district: str
    facility: str
    dev: str
    product: str
    batch_id: str
    sha256: str
    report_id: int
    alert_id: int
    texts: tuple[str, ...]

    def values(self) -> dict[str, str]:
        return {
            "facility_code": self.facility,
            "code": self.facility,
            "dev": self.dev,
            "product_code": self.product,
            "batch_id": self.batch_id,
            "sha256": self.sha256,
            "report_id": str(self.report_id),
            "alert_id": str(self.alert_id),
        }


@dataclass(frozen=True)
class Province:
    app: Flask
    engine: Engine
    kc: Side
    cn: Side
    both_recall: int  # KC_BATCH's recall: covers CN's lots too
    kc_recall: int  # OTHER_BATCH's: KC only


def _photo(storage: FileBlobStorage, data: bytes) -> str:
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    storage.append(sha, 0, data)
    assert storage.finish(sha)
    return sha


def _sync_batch(engine: Engine, dev: str, key: DeviceKey, lot: str, facility: str) -> None:
    chain = ChainBuilder(key, dev)
    body = opened_body(new_batch_id(), lot)
    if facility == "CN":
        body["product"] = {**body["product"], "code": "MO", "name": "Mật ong Cường Nga"}
        body["facility"] = {"code": "CN", "name": "HTX mật ong Cường Nga", "district": HUONG_SON}
    chain.next("batch.opened", body)
    assert ingest_chunk(engine, dev, encode_chunk(dev, chain.events)).committed == 1


@pytest.fixture
def province(engine: Engine, tmp_path: Path) -> Province:
    import_catalog(engine, KC_CATALOG, "http://x")
    import_catalog(engine, CN_CATALOG, "http://x")
    keys = {KC_DEV: DeviceKey.generate(), CN_DEV: DeviceKey.generate()}
    register_device(engine, KC_DEV, "KC", keys[KC_DEV].public_key_b64)
    register_device(engine, CN_DEV, "CN", keys[CN_DEV].public_key_b64)
    _sync_batch(engine, KC_DEV, keys[KC_DEV], KC_EVENT_LOT, "KC")
    _sync_batch(engine, CN_DEV, keys[CN_DEV], CN_EVENT_LOT, "CN")
    # A broker nobody listens on: catalog saves and recalls are published by the retry loop.
    app = make_app(engine, tmp_path, mqtt=ServerMqttConfig(port=free_port(), username=""))
    storage = FileBlobStorage(app.config["OCOP"].blob_dir)
    (tmp_path / "reports").mkdir(exist_ok=True)
    sides: dict[str, Side] = {}
    with engine.begin() as conn:
        chain = build_chain(conn)
        both = recall(conn, KC_BATCH, REASON, "admin").id
        kc_only = recall(conn, OTHER_BATCH, REASON, "admin").id
        for code, dev, product, lot, texts in (
            (
                "KC",
                KC_DEV,
                "NM",
                KC_BATCH,
                (
                    "Công ty TNHH MTV KC",
                    KC_DEV,
                    KC_RECEIPT,
                    OTHER_BATCH,
                    KC_EVENT_LOT,
                    SHOP["phone"],
                ),
            ),
            (
                "CN",
                CN_DEV,
                "MO",
                CN_BATCH,
                ("Cường Nga", CN_DEV, CN_RECEIPT, CN_BATCH, CN_EVENT_LOT, MARKET["phone"]),
            ),
        ):
            sha = _photo(storage, b"\xff\xd8\xff" + code.encode() * 40)
            for kind in ("full", "thumb"):
                conn.execute(
                    insert(blob_refs).values(
                        sha256=sha,
                        dev_id=dev,
                        kind=kind,
                        seq=99,
                        camera="cam0",
                        purpose="step",
                        batch_id=chain.batch_ids[lot],
                        received_at=time.time(),
                    )
                )
            conn.execute(
                insert(scans).values(
                    at=time.time() - 3600,
                    lot=lot,
                    serial="1",
                    gtin=None,
                    facility_code=code,
                    verdict="forged",
                    place="p" + code,
                )
            )
            report_sha = "ab" * 31 + code.lower().rjust(2, "0")[:2]
            (tmp_path / "reports" / f"{report_sha}.jpg").write_bytes(b"\xff\xd8\xff")
            report = conn.execute(
                insert(consumer_reports).values(
                    created_at=time.time(),
                    lot=lot,
                    serial="1",
                    facility_code=code,
                    verdict="forged",
                    where_bought="chợ " + code,
                    photo_sha256=report_sha,
                    photo_type="jpeg",
                    place="p" + code,
                )
            ).inserted_primary_key
            assert report is not None
            raise_alert(conn, dev, code, "silent", f"not heard from ({code})")
            alert_id = conn.execute(
                select(alerts.c.id).where(alerts.c.facility_code == code)
            ).scalar_one()
            sides[code] = Side(
                district=THACH_HA if code == "KC" else HUONG_SON,
                facility=code,
                dev=dev,
                product=product,
                batch_id=chain.batch_ids[lot],
                sha256=sha,
                report_id=int(report[0]),
                alert_id=int(alert_id),
                texts=(*texts, sha),
            )
    return Province(app, engine, sides["KC"], sides["CN"], both, kc_only)


def _login(p: Province, name: str, role: str, districts: list[str] | None) -> FlaskClient:
    create_user(p.engine, name, PASSWORD, role, districts=districts)
    client = p.app.test_client()
    assert log_in(client, name) == 302
    return client


def _officer(p: Province, side: Side) -> FlaskClient:
    return _login(p, "cb-" + side.facility.lower(), "officer", [side.district])


def _get_urls(app: Flask, values: dict[str, str]) -> list[tuple[str, bool]]:
    """Every office GET URL with ``values`` for its parameters, and whether it has any."""
    out = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/office") or "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint in ("office.login", "office.static", "office.logout"):
            continue
        url = re.sub(
            r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), values["code"]), rule.rule
        )
        out.add((url, bool(rule.arguments)))
    return sorted(out)


def _extra_urls(own: Side, other: Side, recall_id: int) -> list[str]:
    """Searches, exports and traces that the URL map alone does not reach."""
    return [
        # The box shows what was typed: no query below is a text of the other district.
        "/office/search?q=2403",
        "/office/search?q=-",
        "/office/search?q=m%E1%BA%ADt%20ong",  # "mật ong": CN's name and product
        "/office/search?q=g%E1%BA%A1o",  # "gạo": KC's product
        f"/office/search?q={own.facility}",
        f"/office/search?q={other.facility}",
        "/office/exports/batches.csv",
        "/office/exports/scans.csv",
        f"/office/exports/batches.csv?facility={other.facility}",
        "/office/charts?days=365",
        f"/office/trace?lot={CN_BATCH}",
        f"/office/trace?lot={KC_BATCH}",
        f"/office/trace/shipments.csv?lot={KC_BATCH}",
        f"/office/recalls/{recall_id}",
        f"/office/recalls/{recall_id}/call-back.csv",
        "/epcis/events",
    ]


def _assert_hidden(text: str, other: Side, url: str) -> None:
    for secret in other.texts:
        if secret in url:
            continue  # typed by the officer, and shown again in the search box
        assert secret not in text, f"{url} shows {secret!r} of the other district"


@pytest.mark.parametrize("mine", ["KC", "CN"])
def test_a_district_officer_walks_every_office_page_and_sees_only_their_district(
    province: Province, mine: str
) -> None:
    p = province
    own, other = (p.kc, p.cn) if mine == "KC" else (p.cn, p.kc)
    client = _officer(p, own)
    seen_own = False
    urls = [u for u, _ in _get_urls(p.app, {**own.values(), "recall_id": str(p.both_recall)})]
    assert "/office/" in urls and f"/office/devices/{own.dev}" in urls
    for url in urls + _extra_urls(own, other, p.both_recall):
        resp = client.get(url)
        assert resp.status_code < 500, url
        assert resp.status_code in (200, 302, 400, 403, 404), (url, resp.status_code)
        text = resp.get_data(as_text=True) if not (resp.mimetype or "").startswith("image/") else ""
        _assert_hidden(text, other, url)
        seen_own = seen_own or own.texts[0] in text
    assert seen_own
    # What each page should show of the officer's own district, it shows.
    dashboard = client.get("/office/").get_data(as_text=True)
    assert own.texts[0] in dashboard and f"/office/blobs/{own.sha256}" in dashboard
    assert client.get(f"/office/blobs/{own.sha256}").status_code == 200
    assert client.get(f"/office/reports/{own.report_id}/photo").status_code == 200
    scans_csv = client.get("/office/exports/scans.csv").get_data(as_text=True)
    assert [r["facility"] for r in csv.DictReader(io.StringIO(scans_csv.lstrip("\ufeff")))] == [
        own.facility
    ]


@pytest.mark.parametrize("mine", ["KC", "CN"])
def test_other_districts_objects_are_404_to_a_district_officer(
    province: Province, mine: str
) -> None:
    p = province
    own, other = (p.kc, p.cn) if mine == "KC" else (p.cn, p.kc)
    client = _officer(p, own)
    # The recall of OTHER_BATCH covers KC only; the recall of KC_BATCH covers both.
    hidden_recall = p.kc_recall if mine == "CN" else -1
    values = {**other.values(), "recall_id": str(hidden_recall)}
    with_args = [u for u, has in _get_urls(p.app, values) if has]
    assert f"/office/facilities/{other.facility}" in with_args
    for url in with_args:
        if url.startswith("/office/recalls/-1"):
            continue  # no recall of the CN district alone to hide from KC's officer
        assert client.get(url).status_code in (403, 404), url
    assert client.get(f"/office/charts?facility={other.facility}").status_code == 404


@pytest.mark.parametrize("mine", ["KC", "CN"])
def test_posts_to_another_districts_objects_save_nothing(province: Province, mine: str) -> None:
    p = province
    own, other = (p.kc, p.cn) if mine == "KC" else (p.cn, p.kc)
    client = _officer(p, own)
    csrf = csrf_of(client.get("/office/recalls").get_data(as_text=True))

    def versions() -> dict[str, int]:
        with p.engine.connect() as conn:
            rows = conn.execute(select(facilities.c.code, facilities.c.catalog_version)).all()
        return {str(c): int(v) for c, v in rows}

    before = versions()
    # A form as the officer's own facility's page fills it, sent to the other facility.
    form = page_form(client, f"/office/catalog/{own.facility}/{own.product}")
    posts = {
        f"/office/catalog/{other.facility}/{other.product}": form,
        f"/office/catalog/{other.facility}/new": form,
        f"/office/catalog/{other.facility}/suppliers": {"csrf": csrf},
        f"/office/catalog/{other.facility}/customers": {"csrf": csrf},
        f"/office/catalog/{other.facility}/workers": {
            "csrf": csrf,
            "worker_id": "w9",
            "name": "Người lạ",
            "pin": "482913",
        },
        f"/office/alerts/{other.alert_id}/resolve": {"csrf": csrf},
    }
    if mine == "CN":
        posts[f"/office/recalls/{p.kc_recall}/lift"] = {"csrf": csrf, "reason": "thử"}
        # KC_BATCH's recall reaches CN's lots, but the recalled lot is KC's to lift.
        posts[f"/office/recalls/{p.both_recall}/lift"] = {"csrf": csrf, "reason": "thử"}
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 404, url
    assert versions() == before
    with p.engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).select_from(alerts).where(alerts.c.resolved_at.is_(None))
            ).scalar()
            == 2
        )
        assert (
            conn.execute(
                select(func.count()).select_from(recalls).where(recalls.c.lifted_at.is_(None))
            ).scalar()
            == 2
        )
    # A recall of another district's lot is refused beside the lot field, nothing saved.
    other_lot = other.texts[3]
    resp = client.post("/office/recalls", data={"csrf": csrf, "lot": other_lot, "reason": REASON})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="err-lot"' in page
    assert "ngoài địa bàn" in page
    with p.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recalls)).scalar() == 2


def test_an_admin_and_an_unlimited_officer_see_the_province(province: Province) -> None:
    p = province
    for client in (
        _login(p, "admin1", "admin", None),
        _login(p, "cb-tinh", "officer", None),
    ):
        dashboard = client.get("/office/").get_data(as_text=True)
        assert "Công ty TNHH MTV KC" in dashboard and "Cường Nga" in dashboard
        for side in (p.kc, p.cn):
            assert client.get(f"/office/facilities/{side.facility}").status_code == 200
            assert client.get(f"/office/blobs/{side.sha256}").status_code == 200
        trace = client.get(f"/office/trace?lot={KC_BATCH}").get_data(as_text=True)
        assert CN_BATCH in trace and KC_RECEIPT in trace


def test_a_trace_across_districts_shows_the_other_districts_lots_without_details(
    province: Province,
) -> None:
    p = province
    client = _officer(p, p.cn)
    page = client.get(f"/office/trace?lot={CN_BATCH}").get_data(as_text=True)
    assert CN_RECEIPT in page and MARKET["phone"] in page
    assert "lô của huyện khác" in page
    assert KC_RECEIPT not in page and "TD-03" not in page and SHOP["phone"] not in page
    # A KC lot that reaches CN: CN's part of it; a KC lot that does not: unknown to CN.
    forward = client.get(f"/office/trace?lot={KC_BATCH}").get_data(as_text=True)
    assert CN_BATCH in forward and SHOP["phone"] not in forward
    lonely = client.get(f"/office/trace?lot={OTHER_BATCH}").get_data(as_text=True)
    assert 'id="lot-error"' in lonely and 'id="forward"' not in lonely
    assert client.get(f"/office/trace/shipments.csv?lot={OTHER_BATCH}").status_code == 404
    shipped = client.get(f"/office/trace/shipments.csv?lot={KC_BATCH}").get_data(as_text=True)
    assert MARKET["phone"] in shipped and SHOP["phone"] not in shipped


def test_recalls_show_a_district_officer_their_lots_and_shipments(province: Province) -> None:
    p = province
    cn = _officer(p, p.cn)
    listed = cn.get("/office/recalls").get_data(as_text=True)
    assert f'data-recall="{p.both_recall}"' in listed
    assert f'data-recall="{p.kc_recall}"' not in listed
    detail = cn.get(f"/office/recalls/{p.both_recall}").get_data(as_text=True)
    assert f'data-lot="{CN_BATCH}"' in detail and "lô của huyện khác" in detail
    assert 'id="lift"' not in detail  # the recalled lot is KC's: their officers lift it
    kc = _officer(p, p.kc)
    detail = kc.get(f"/office/recalls/{p.both_recall}").get_data(as_text=True)
    assert f'data-lot="{KC_BATCH}"' in detail and 'id="lift"' in detail
    rows = kc.get(f"/office/recalls/{p.both_recall}/call-back.csv").get_data(as_text=True)
    assert SHOP["phone"] in rows and MARKET["phone"] not in rows


def test_chart_numbers_and_map_points_of_a_district(province: Province) -> None:
    p = province

    def chart(client: FlaskClient) -> dict[str, list[int]]:
        page = client.get("/office/charts?days=30").get_data(as_text=True)
        found = re.search(r'<script type="application/json" id="[^"]*">(.*?)</script>', page, re.S)
        assert found, "no chart data"
        data = json.loads(found.group(1))
        return {k: data[k] for k in ("batches", "scans", "flagged")}

    def points(client: FlaskClient) -> list[str]:
        page = client.get("/office/map").get_data(as_text=True)
        found = re.search(r'<script type="application/json" id="[^"]*">(.*?)</script>', page, re.S)
        assert found, "no map data"
        return sorted(pt["code"] for pt in json.loads(found.group(1))["points"])

    admin = _login(p, "admin1", "admin", None)
    kc = _officer(p, p.kc)
    assert sum(chart(admin)["scans"]) == 2 and sum(chart(admin)["flagged"]) == 2
    assert sum(chart(kc)["scans"]) == 1 and sum(chart(kc)["flagged"]) == 1
    assert points(admin) == ["CN", "KC"]
    assert points(kc) == ["KC"]


def test_epcis_events_of_an_office_session_are_its_districts_a_token_the_province(
    province: Province,
) -> None:
    p = province
    token = create_api_token(p.engine, "bo-nn")

    def lots(client: FlaskClient, **headers: str) -> str:
        resp = client.get("/epcis/events?perPage=1000", headers=headers)
        assert resp.status_code == 200
        return resp.get_data(as_text=True)

    cn = lots(_officer(p, p.cn))
    assert CN_EVENT_LOT in cn and CN_BATCH in cn  # its batch, and the recall of its lot
    assert KC_EVENT_LOT not in cn and KC_BATCH not in cn and OTHER_BATCH not in cn
    kc = lots(_officer(p, p.kc))
    assert KC_EVENT_LOT in kc and OTHER_BATCH in kc and KC_BATCH in kc
    assert CN_EVENT_LOT not in kc and CN_BATCH not in kc
    everything = lots(p.app.test_client(), Authorization=f"Bearer {token}")
    for lot in (KC_EVENT_LOT, CN_EVENT_LOT, KC_BATCH, CN_BATCH, OTHER_BATCH):
        assert lot in everything
