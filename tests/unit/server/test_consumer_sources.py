"""What a consumer page tells of a batch under Circular 02/2024 (issue 15): its actual raw-material
sources from the receipts it used (a farmer's name only where the catalog makes it public),
each stage's trace code, the standards applied, corrections shown honestly, a void said
plainly; still light and without JavaScript."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert, select, update

from sync_server.store.db import batches, events, facilities
from sync_server.store.supply_tables import corrections, input_uses, receipts
from tests.unit.server.consumer import DEV, GTIN, LOT, enrol_device, make_app, sync_batch
from trace_protocol import envelope as ev

GROUP = {
    "id": "THT-DH",
    "name": "Tổ hợp tác lúa Ngọc Mầm thôn Đông Hà",
    "kind": "group",
    "commune": "xã Thạch Đài",
    "district": "huyện Thạch Hà",
    "province": "Hà Tĩnh",
    "certification": {"scheme": "VietGAP", "code": "VG-DEMO-0117", "valid_until": "2027-06-30"},
    "public_name": True,
}
# The snapshot says public, but the current catalog (kc-rice.json) says this farmer is private.
FARMER = {
    "id": "ND-HOA",
    "name": "Hộ ông Nguyễn Văn Hòa",
    "kind": "farmer",
    "commune": "xã Thạch Đài",
    "public_name": True,
}
PADDY = {"code": "LUA", "name": "Lúa Ngọc Mầm", "name_en": "Ngọc Mầm paddy", "unit": "kg"}


def _receipt(
    n: int, supplier: dict[str, Any], lot: str, day: str, **extra: object
) -> dict[str, Any]:
    return {
        "receipt_id": f"00000000-0000-4000-8000-00000000000{n}",
        "dev_id": DEV,
        "seq": 100 + n,
        "facility_code": "KC",
        "lot": lot,
        "supplier_id": supplier["id"],
        "supplier": supplier,
        "material_code": "LUA",
        "material": PADDY,
        "supplier_lot": f"TD-0{n}",
        "quantity": 800.0,
        "unit": "kg",
        "received_on": day,
        "at": f"{day}T07:00:00+07:00",
        "received_at": time.time(),
        "source_lot": None,  # every row names every column (one executemany)
        **extra,
    }


def _use(batch: str, n: int, seq: int, quantity: float) -> dict[str, Any]:
    return {
        "dev_id": DEV,
        "seq": seq,
        "batch_id": batch,
        "receipt_id": f"00000000-0000-4000-8000-00000000000{n}",
        "receipt_lot": f"KC-NL-26112{n}A01",
        "quantity": quantity,
        "unit": "kg",
        "override": False,
        "at": "2026-11-22T08:00:00+07:00",
    }


def _seqs(engine: Engine, batch: str, type_: str) -> list[int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(events.c.seq).where(events.c.batch_id == batch, events.c.type == type_)
        ).all()
    return [r[0] for r in rows]


@pytest.fixture
def batch(engine: Engine) -> str:
    return sync_batch(engine, enrol_device(engine), steps=2, photos_per_step=1)


@pytest.fixture
def client(tmp_path: Path, engine: Engine, batch: str) -> FlaskClient:
    return make_app(tmp_path, engine).test_client()


def _record_inputs(engine: Engine, batch: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(receipts),
            [
                _receipt(1, GROUP, "KC-NL-261121A01", "2026-11-21"),
                _receipt(2, FARMER, "KC-NL-261122A01", "2026-11-22"),
                # Another kit facility's labelled lot, received by scanning its label.
                _receipt(3, GROUP, "KC-NL-261123A01", "2026-11-23", source_lot="CN-MO-261101-01"),
            ],
        )
        conn.execute(
            insert(input_uses),
            [
                _use(batch, 1, 201, 500.0),
                _use(batch, 1, 202, 100.0),
                _use(batch, 2, 203, 300.0),
                _use(batch, 3, 204, 5.0),
            ],
        )


def test_the_batchs_actual_sources_replace_the_catalog_origins(
    client: FlaskClient, engine: Engine, batch: str
) -> None:
    before = client.get(f"/01/{GTIN}/10/{LOT}").text
    assert "Cánh đồng liên kết xã Thạch Đài" in before  # no recorded inputs: the catalog text
    assert 'id="sources"' not in before
    _record_inputs(engine, batch)
    html = client.get(f"/l/{LOT}?v=2").text  # another URL form: a fresh render
    assert 'id="sources"' in html and "Cánh đồng liên kết xã Thạch Đài" not in html
    sources = html.split('id="sources"', 1)[1].split("</section>", 1)[0]
    assert "Tổ hợp tác lúa Ngọc Mầm thôn Đông Hà" in sources and "VietGAP VG-DEMO-0117" in sources
    assert "xã Thạch Đài, huyện Thạch Hà, Hà Tĩnh" in sources
    assert "Nhận ngày 21/11/2026" in sources and "đã dùng 600 kg" in sources  # two uses summed
    # The farmer is private in the current catalog: the place, never the name.
    assert "Nguyễn Văn Hòa" not in html and "Nông dân, xã Thạch Đài" in sources
    assert 'href="/l/CN-MO-261101-01"' in sources


def test_stages_carry_trace_codes_and_the_standards_applied(
    client: FlaskClient, engine: Engine, batch: str
) -> None:
    html = client.get(f"/01/{GTIN}/10/{LOT}").text
    for seq in _seqs(engine, batch, ev.STEP_RECORDED):
        assert f"Mã truy xuất: {LOT}-E{seq}" in html
    assert "Tiêu chuẩn áp dụng" in html and "TCVN 11888:2017 (gạo trắng)" in html
    assert "<script" not in html


def test_corrections_are_shown_honestly(client: FlaskClient, engine: Engine, batch: str) -> None:
    step = _seqs(engine, batch, ev.STEP_RECORDED)[0]
    close = _seqs(engine, batch, ev.BATCH_CLOSED)[0]
    with engine.begin() as conn:
        conn.execute(
            insert(corrections),
            [
                {
                    "dev_id": DEV,
                    "seq": 300,
                    "corrects_seq": step,
                    "corrects_id": "x",
                    "corrects_type": ev.STEP_RECORDED,
                    "changes": {"values": {"nhiet_do": 43}},
                    "reason": "nhập nhầm nhiệt độ",
                    "at": "2026-11-22T10:15:00+07:00",
                },
                {
                    "dev_id": DEV,
                    "seq": 301,
                    "corrects_seq": close,
                    "corrects_id": "y",
                    "corrects_type": ev.BATCH_CLOSED,
                    "changes": {"quantity": 118.5},
                    "reason": "cân lại",
                    "at": "2026-11-22T11:00:00+07:00",
                },
            ],
        )
    html = client.get(f"/l/{LOT}").text
    # What changed, labelled, before → after (tests/unit/server/test_correction_display.py).
    assert "Sửa lúc 22/11/2026 10:15 vì nhập nhầm nhiệt độ: Nhiệt độ sấy 40 °C → 43 °C" in html
    assert "Sửa lúc 22/11/2026 11:00 vì cân lại: Sản lượng lô 120 kg → 118,5 kg" in html
    english = client.get(f"/l/{LOT}?lang=en").text
    assert "Corrected at" in english and "because cân lại" in english


def test_a_voided_batch_says_so(client: FlaskClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(batches)
            .where(batches.c.lot == LOT)
            .values(voided_at="2026-11-22T12:00:00+07:00", void_reason="mở nhầm lô")
        )
    html = client.get(f"/l/{LOT}").text
    assert 'id="voided"' in html and "Lô này đã bị hủy" in html and "mở nhầm lô" in html


def test_the_page_stays_light_with_sources_and_corrections(
    client: FlaskClient, engine: Engine, batch: str
) -> None:
    _record_inputs(engine, batch)
    html = client.get(f"/01/{GTIN}/10/{LOT}").text
    assert len(html.encode()) < 60_000


def test_the_product_photo_from_the_catalog_is_on_the_batch_page(
    client: FlaskClient, engine: Engine
) -> None:
    photo = "ab" * 32
    with engine.begin() as conn:
        catalog = conn.execute(select(facilities.c.catalog).where(facilities.c.code == "KC")).one()[
            0
        ]
        catalog["products"][0]["photo"] = photo
        conn.execute(update(facilities).where(facilities.c.code == "KC").values(catalog=catalog))
    html = client.get(f"/01/{GTIN}/10/{LOT}").text
    assert f'<img class="product-photo" src="/blobs/{photo}"' in html
