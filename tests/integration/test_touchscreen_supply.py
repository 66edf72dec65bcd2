"""Issue 15 at the touchscreen, through a real ``ocop edge run``: receive raw material (typed and
by scanning a supplier's QR from a camera frame), use it in a batch with an override, ship,
correct, void, and a recall arriving in the catalog that refuses shipment."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import qrcode

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import free_port
from tests.integration.harness import EdgeEnv, Processes, make_edge
from tests.integration.touchscreen import Touchscreen
from tests.unit.edge.supply_catalog import supply_catalog_obj
from trace_protocol.catalog import parse_catalog
from trace_protocol.digital_link import build_link

pytestmark = pytest.mark.integration
SUPPLIER_LOT = "THT-0301"
NHAP = {"step": "NHAP", "v_do_am": "14,5", "v_khoi_luong": "1000", "note": ""}


def _qr_png(path: Path, text: str) -> None:
    image = qrcode.make(text).get_image().convert("RGB")
    image.save(path)


def _hidden(page: str, action: str) -> dict[str, str]:
    """The hidden fields of the POST form to ``action`` on a page a POST returned."""
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form is not None, f"no form to {action}"
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0))
    return {k: unescape(v) for k, v in fields}


def _events(edge: EdgeEnv, type_: str) -> list[dict[str, Any]]:
    rows = edge.journal_rows("SELECT body FROM events WHERE type = ? ORDER BY seq", type_)
    return [json.loads(r[0]) for r in rows]


def _import_catalog(edge: EdgeEnv, tmp: Path, obj: dict[str, Any]) -> None:
    path = tmp / f"catalog-{obj['version']}.json"
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "edge", "--config", str(edge.config_path),
         "import-config", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip


@pytest.fixture
def edge(tmp_path: Path, procs: Processes) -> EdgeEnv:
    frames = tmp_path / "frames"
    frames.mkdir()
    gtin_link = build_link("https://id.thongnhat.example.vn", "08936123450014", SUPPLIER_LOT)
    _qr_png(frames / "qr.png", gtin_link)
    camera = (
        f'[[cameras]]\nname = "cua-kho"\nuri = "folder:{frames}"\nevidence = false\n'
        "health_interval_s = 3600\n"
    )
    # No broker: the touchscreen works offline (sync simply retries).
    env = make_edge(tmp_path, "kc-supply-1", free_port(), camera)
    agent = open_agent(load_config(env.config_path), with_sync=False)
    agent.accept_catalog(parse_catalog(supply_catalog_obj(1)))
    agent.close()
    env.run(procs)
    return env


def test_receive_use_ship_correct_void_and_recall(edge: EdgeEnv, tmp_path: Path) -> None:
    s: Touchscreen = edge.touchscreen()
    home = s.get("/").text
    assert "Nhập nguyên liệu" in home

    # Bad input: the message next to its field, nothing saved.
    head = edge.head()
    bad = s.submit(
        "/receipts/new", "/receipts", {"supplier": "THT", "material": "LUA", "quantity": "0"}
    )
    assert bad.status_code == 400
    assert re.search(r'id="quantity-error">Số lượng phải là số lớn hơn 0\.<', bad.text)
    bad = s.submit("/receipts/new", "/receipts", {"material": "LUA", "quantity": "5"})
    assert 'id="supplier-error">Hãy chọn nhà cung cấp trong danh sách.<' in bad.text
    assert edge.head() == head

    # "Quét mã": the camera's frame holds the supplier's GS1 Digital Link.
    typed = {"supplier": "THT", "material": "LUA", "quantity": "1.500"}
    scanned = s.post("/receipts/scan", {**s.form("/receipts/new", "/receipts"), **typed})
    assert scanned.status_code == 200, scanned.text
    assert f'value="{SUPPLIER_LOT}"' in scanned.text and 'id="scanned"' in scanned.text
    fields = _hidden(scanned.text, "/receipts")
    assert fields["source_gtin"] == "08936123450014" and fields["source_lot"] == SUPPLIER_LOT
    saved = s.post(
        "/receipts",
        {**fields, "supplier": "THT", "material": "LUA", "supplier_lot": SUPPLIER_LOT,
         "quantity": "1.500", "day": "", "photo": "1"},
    )  # fmt: skip
    assert saved.status_code == 303, saved.text
    (receipt,) = _events(edge, "input.received")
    assert receipt["supplier_lot"] == SUPPLIER_LOT and receipt["quantity"] == 1500
    (note_photo,) = _events(edge, "snapshot.taken")  # the delivery note, its own event
    assert receipt["photo"] == note_photo["sha256"]
    assert receipt["source"]["gtin"] == "08936123450014"
    assert receipt["lot"].startswith("KC-NL-")
    assert "1.500 kg" in s.get("/receipts").text

    # Use more than is left: the confirmation page, then an override on record.
    opened = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    batch_path = opened.headers["Location"].removeprefix(edge.url)
    over = s.submit(
        f"{batch_path}/inputs",
        f"{batch_path}/inputs",
        {"receipt": receipt["receipt"], "quantity": "2000"},
    )
    assert over.status_code == 409 and "Chỉ còn 1.500 kg." in over.text
    assert _events(edge, "input.added") == []
    confirmed = s.post(f"{batch_path}/inputs", _hidden(over.text, f"{batch_path}/inputs"))
    assert confirmed.status_code == 303
    (use,) = _events(edge, "input.added")
    assert use["override"] is True and use["quantity"] == 2000
    assert "vượt mức" in s.get(batch_path).text

    assert s.submit(batch_path + "?step=NHAP", f"{batch_path}/steps", NHAP).status_code == 303
    closed = s.submit(f"{batch_path}/close", f"{batch_path}/close", {"quantity": "800"})
    assert closed.status_code == 303

    # Ship, then correct the shipment with a picked reason.
    shipped = s.submit(
        f"{batch_path}/ship",
        f"{batch_path}/shipments",
        {"customer": "OCOP1", "quantity": "100", "day": "", "note": "Giao sáng"},
    )
    assert shipped.status_code == 303, shipped.text
    (seq,) = edge.journal_rows("SELECT seq FROM events WHERE type = 'lot.shipped'")[0]
    fixed = s.submit(
        f"/records/{seq}/correct",
        f"/records/{seq}/correct",
        {"quantity": "120", "reason_pick": "reason_typo"},
    )
    assert fixed.status_code == 303, fixed.text
    (correction,) = _events(edge, "record.corrected")
    assert correction["corrects"]["seq"] == seq and correction["changes"] == {"quantity": 120}
    assert correction["reason"] == "Nhập nhầm số liệu"
    page = s.get(batch_path).text
    assert "Điểm bán OCOP Đồng Hới" in page and "120 kg" in page
    assert re.search(r"sửa lúc [0-9:]+ vì Nhập nhầm số liệu", page)
    assert _events(edge, "lot.shipped")[0]["quantity"] == 100  # the original stays

    # Void a batch opened by mistake: it asks first; nothing more goes on it.
    other = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    other_path = other.headers["Location"].removeprefix(edge.url)
    assert "Huỷ lô này?" in s.get(f"{other_path}/void").text
    voided = s.submit(f"{other_path}/void", f"{other_path}/void", {"reason": "Mở lô nhầm"})
    assert voided.status_code == 303
    assert _events(edge, "batch.voided")[0]["reason"] == "Mở lô nhầm"
    head = edge.head()
    refused = s.post(f"{other_path}/steps", NHAP)
    assert refused.status_code == 400 and "đã bị huỷ" in refused.text
    assert s.post(f"{other_path}/labels", {"copies": "1"}).status_code == 400
    assert s.post(f"{other_path}/snapshot", {"camera": "cua-kho"}).status_code == 400
    assert edge.head() == head

    # The office recalls the supplier's lot: the catalog says so; banners and a refused shipment.
    _import_catalog(edge, tmp_path, supply_catalog_obj(2, recalled=[SUPPLIER_LOT]))
    lot = edge.journal_rows("SELECT lot FROM batches WHERE status = 'closed'")[0][0]
    assert re.search(rf'id="recall-banner".*{lot}', s.get("/").text, re.S)
    assert 'id="recall-banner"' in s.get(batch_path).text
    head = edge.head()
    refused = s.submit(f"{batch_path}/ship", f"{batch_path}/shipments",
                       {"customer": "NPP", "quantity": "1"})  # fmt: skip
    assert refused.status_code == 400 and f"Lô {SUPPLIER_LOT} đang bị thu hồi" in refused.text
    assert edge.head() == head

    # English second: the same screens name everything in English.
    s.get("/lang/en")
    assert "Lots recalled or made from a recalled lot" in s.get("/").text
    receive_page = s.get("/receipts/new").text
    assert "Receive raw material" in receive_page and "Supplier&#39;s lot code" in receive_page
    assert "Customer" in s.get(f"{batch_path}/ship").text
    s.close()


def test_a_code_that_is_not_a_lot_label_is_refused_next_to_its_field(
    tmp_path: Path, procs: Processes
) -> None:
    frames = tmp_path / "frames"
    frames.mkdir()
    _qr_png(frames / "qr.png", "https://example.com/khuyen-mai")
    camera = (
        f'[[cameras]]\nname = "cua-kho"\nuri = "folder:{frames}"\nevidence = false\n'
        "health_interval_s = 3600\n"
    )
    env = make_edge(tmp_path, "kc-supply-2", free_port(), camera)
    agent = open_agent(load_config(env.config_path), with_sync=False)
    agent.accept_catalog(parse_catalog(supply_catalog_obj(1)))
    agent.close()
    env.run(procs)
    s = env.touchscreen()
    head = env.head()
    r = s.post("/receipts/scan", {**s.form("/receipts/new", "/receipts"), "quantity": "5"})
    assert r.status_code == 400
    assert 'id="supplier_lot-error">Mã này không phải nhãn lô.<' in r.text
    assert 'name="source_' not in r.text
    assert env.head() == head
    s.close()
