"""Issue 15's acceptance drill with real processes (Mosquitto, ``ocop server run``, two ``ocop
edge run`` agents, headless Chromium): two facilities (KC rice and Cường Nga honey) receive the
same packaging supplier's lot, one typed, one scanned from its camera's frame; each uses it,
closes and ships to its own customer; the office recalls the supplier's lot through its form.
Both batches' consumer and unit pages open with the banner, both touchscreens show the recall
and refuse shipment, the call-back list (page and CSV) names both customers. Then a worker
corrects a receipt's quantity and a step's value and voids a batch: the public and office pages
tell it."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import qrcode
from playwright.sync_api import Browser, Page
from sqlalchemy import update

from edge_agent.lot_letter import store_lot_index
from edge_agent.store import open_db
from ocop_cli.broker import Mosquitto
from sync_server.devices.config_publisher import publish_configs
from sync_server.devices.registry import assign_lot_index, import_catalog, register_device
from sync_server.store.db import devices
from tests.integration.harness import (
    REPO,
    EdgeEnv,
    Processes,
    ServerEnv,
    make_edge,
    make_server,
    wait_until,
)
from tests.integration.touchscreen import Touchscreen
from trace_protocol.digital_link import build_link
from trace_protocol.unit_codes import (
    build_unit_url,
    encode_label_key,
    load_or_create_label_key,
    unit_mac,
)

pytestmark = pytest.mark.browser
PASSWORD = "mat-khau-rat-dai-2026"
SUPPLIER = {
    "id": "BB-VINH",
    "name": "Công ty bao bì thực phẩm Vinh",
    "kind": "company",
    "commune": "phường Hưng Dũng",
    "province": "Nghệ An",
    "public_name": True,
}
MATERIAL = {"code": "TUI", "name": {"vi": "Túi đóng gói", "en": "Packaging bags"}, "unit": "cai"}
SUPPLIER_LOT = "BB-2611-07"
REASON = "Túi nhiễm bẩn (lô bao bì BB-2611-07)"
KC_GTIN = "08936123450014"


def _catalog(name: str) -> dict[str, Any]:
    """A facility's demo catalog with the packaging supplier and its bags as a material."""
    obj: dict[str, Any] = json.loads(
        (REPO / "ocop_cli" / "data" / f"{name}.json").read_text(encoding="utf-8")
    )
    obj = copy.deepcopy(obj)
    obj["suppliers"] = [*obj["suppliers"], SUPPLIER]
    product = obj["products"][0]
    product["materials"] = [*product.get("materials", []), MATERIAL]
    return obj


def _enrol(server: ServerEnv, edge: EdgeEnv, facility: str) -> None:
    """Register the device for ``facility`` with a lot letter and its unit-label key."""
    register_device(server.engine, edge.dev, facility, edge.key.public_key_b64)
    with server.engine.begin() as conn:
        index = assign_lot_index(conn, edge.dev)
        key = load_or_create_label_key(edge.dir / "data" / "label-key")
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == edge.dev)
            .values(label_key=encode_label_key(key))
        )
    db = open_db(edge.journal)
    try:
        store_lot_index(db, index)
    finally:
        db.conn.close()


def _qr_frames(tmp: Path) -> str:
    frames = tmp / "frames"
    frames.mkdir()
    link = build_link("https://id.baobivinh.example.vn", "08930000000019", SUPPLIER_LOT)
    qrcode.make(link).get_image().convert("RGB").save(frames / "qr.png")
    return (
        f'[[cameras]]\nname = "cua-kho"\nuri = "folder:{frames}"\nevidence = false\n'
        "health_interval_s = 3600\n"
    )


def _hidden(page: str, action: str) -> dict[str, str]:
    form = re.search(rf'<form method="post" action="{re.escape(action)}".*?</form>', page, re.S)
    assert form is not None, f"no form to {action}"
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form[0]))


def _receive(edge: EdgeEnv, s: Touchscreen, scan: bool) -> str:
    """Receive 500 bags of the supplier's lot; returns the receipt's id."""
    data = {"supplier": "BB-VINH", "material": "TUI", "quantity": "500"}
    if scan:
        r = s.post("/receipts/scan", {**s.form("/receipts/new", "/receipts"), **data})
        assert r.status_code == 200 and f'value="{SUPPLIER_LOT}"' in r.text, r.text
        r = s.post("/receipts", {**_hidden(r.text, "/receipts"), **data,
                                 "supplier_lot": SUPPLIER_LOT, "day": ""})  # fmt: skip
    else:
        r = s.submit("/receipts/new", "/receipts", {**data, "supplier_lot": SUPPLIER_LOT})
    assert r.status_code == 303, r.text
    (row,) = edge.journal_rows("SELECT receipt_id FROM receipts")
    received = edge.journal_rows("SELECT body FROM events WHERE type = 'input.received'")
    assert json.loads(received[0][0])["supplier_lot"] == SUPPLIER_LOT
    return str(row[0])


def _make_and_ship(s: Touchscreen, edge: EdgeEnv, product: str, receipt: str, to: str) -> str:
    """Open a batch, use 200 bags, close it and ship part of it; returns its path."""
    r = s.submit(f"/batches/new?product={product}", "/batches", {"product": product})
    assert r.status_code == 303, r.text
    batch = r.headers["Location"].removeprefix(edge.url)
    assert s.post(f"{batch}/inputs", {"receipt": receipt, "quantity": "200"}).status_code == 303
    step = {"NM": "XAT", "MO": "LOC"}[product]  # steps without measured fields
    assert s.post(f"{batch}/steps", {"step": step}).status_code == 303
    r = s.post(f"{batch}/close", {"quantity": "300"})
    assert r.status_code == 303, r.text
    r = s.post(f"{batch}/shipments", {"customer": to, "quantity": "50"})
    assert r.status_code == 303, r.text
    return batch


def _synced(server: ServerEnv, edge: EdgeEnv) -> None:
    head = edge.head()
    wait_until(lambda: edge.acked() == head, 60, f"{edge.dev}'s events acked")
    assert server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = ?", edge.dev) == head


def _office(browser: Browser, server: ServerEnv) -> Page:
    from sync_server.accounts.users import create_user

    create_user(server.engine, "canbo", PASSWORD, "officer")
    office = browser.new_page(viewport={"width": 1280, "height": 800})
    office.goto(f"{server.base_url}/office/login")
    office.get_by_label("Tên đăng nhập").fill("canbo")
    office.get_by_label("Mật khẩu").fill(PASSWORD)
    office.get_by_role("button", name="Đăng nhập").click()
    office.wait_for_url("**/office/")
    return office


def _banner_first(page: Page, url: str) -> None:
    """The page opens with the recall banner (bounded: the page cache follows recalls)."""
    wait_until(
        lambda: page.goto(url) is not None and page.locator("#recall").count() == 1,
        10,
        f"the recall banner on {url}",
    )
    assert page.locator("main > *").first.get_attribute("id") == "recall", url
    assert REASON in page.locator("#recall").inner_text()


def _setup(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> tuple[ServerEnv, EdgeEnv, EdgeEnv]:
    server = make_server(tmp_path, broker.port)
    import_catalog(server.engine, _catalog("kc-rice"), server.base_url)
    import_catalog(server.engine, _catalog("cuong-nga-honey"), server.base_url)
    kc = make_edge(tmp_path, "kc-line-1", broker.port)
    cn = make_edge(tmp_path, "cn-line-1", broker.port, _qr_frames(tmp_path))
    _enrol(server, kc, "KC")
    _enrol(server, cn, "CN")
    server.run(procs)
    publish_configs(server.engine, server.config)
    for edge in (kc, cn):
        edge.run(procs)
        wait_until(
            _page_has(edge.touchscreen(), "/receipts/new", str(SUPPLIER["name"])),
            30,
            f"{edge.dev}'s catalog with the packaging supplier",
        )
    return server, kc, cn


def _page_has(s: Touchscreen, path: str, text: str) -> Callable[[], bool]:
    return lambda: text in s.get(path).text


def _lot(edge: EdgeEnv, batch: str) -> str:
    batch_id = batch.rsplit("/", 1)[-1]
    (row,) = edge.journal_rows("SELECT lot FROM batches WHERE batch_id = ?", batch_id)
    return str(row[0])


def test_recall_drill_two_facilities_one_supplier_lot(
    tmp_path: Path, browser: Browser, procs: Processes, broker: Mosquitto
) -> None:
    server, kc, cn = _setup(tmp_path, broker, procs)
    kc_s, cn_s = kc.touchscreen(), cn.touchscreen()
    kc_batch = _make_and_ship(kc_s, kc, "NM", _receive(kc, kc_s, scan=False), "NPP-VINH")
    cn_batch = _make_and_ship(cn_s, cn, "MO", _receive(cn, cn_s, scan=True), "HS")
    kc_lot, cn_lot = _lot(kc, kc_batch), _lot(cn, cn_batch)
    for edge in (kc, cn):
        _synced(server, edge)
    base = server.base_url
    consumer = browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True)
    consumer.goto(f"{base}/01/{KC_GTIN}/10/{kc_lot}")
    assert consumer.locator("#recall").count() == 0  # cached before the recall, too

    office = _office(browser, server)
    office.goto(f"{base}/office/recalls")
    office.locator('input[name="lot"]').fill(SUPPLIER_LOT)
    office.locator('input[name="supplier"]').fill("BB-VINH")
    office.locator('textarea[name="reason"]').fill(REASON)
    office.get_by_role("button", name="Thu hồi lô này").click()
    office.wait_for_url(re.compile(r".*/office/recalls/\d+$"))
    recall_url = office.url
    for lot in (kc_lot, cn_lot):
        assert office.locator(f'li[data-lot="{lot}"]').count() == 1
    call_back = office.locator("table.call-back").inner_text()
    assert "Nhà phân phối nông sản Vinh" in call_back
    assert "Công ty CP Nông nghiệp Hương Sơn" in call_back
    csv = office.request.get(f"{recall_url}/call-back.csv")
    assert csv.status == 200
    text = csv.text()
    assert "Nhà phân phối nông sản Vinh" in text and "Công ty CP Nông nghiệp Hương Sơn" in text

    kc_key = load_or_create_label_key(kc.dir / "data" / "label-key")
    cn_key = load_or_create_label_key(cn.dir / "data" / "label-key")
    for url in (
        f"{base}/01/{KC_GTIN}/10/{kc_lot}",
        f"{base}/l/{kc_lot}",
        f"{base}/l/{cn_lot}",
        build_unit_url(base, kc_lot, "1", unit_mac(kc_key, kc_lot, "1", KC_GTIN), KC_GTIN),
        build_unit_url(base, cn_lot, "1", unit_mac(cn_key, cn_lot, "1", None), None),
    ):
        _banner_first(consumer, url)

    for edge, s, batch, lot, to in (
        (kc, kc_s, kc_batch, kc_lot, "OCOP-HT"),
        (cn, cn_s, cn_batch, cn_lot, "OCOP-HT"),
    ):
        wait_until(
            _page_has(s, "/", 'id="recall-banner"'), 30, f"the recall on {edge.dev}'s home page"
        )
        assert lot in s.get("/").text.split('id="recall-banner"', 1)[1].split("</div>", 1)[0]
        head = edge.head()
        refused = s.post(f"{batch}/shipments", {"customer": to, "quantity": "5"})
        assert refused.status_code == 400, refused.text
        assert re.search(r"Lô [\w-]+ đang bị thu hồi: không được dùng hoặc xuất", refused.text)
        assert edge.head() == head
    kc_s.close()
    cn_s.close()


def _seq(edge: EdgeEnv, type_: str) -> int:
    rows = edge.journal_rows("SELECT seq FROM events WHERE type = ? ORDER BY seq", type_)
    return int(rows[-1][0])


def test_corrections_and_a_void_on_the_public_and_office_pages(
    tmp_path: Path, browser: Browser, procs: Processes, broker: Mosquitto
) -> None:
    server, kc, _ = _setup(tmp_path, broker, procs)
    s = kc.touchscreen()
    receipt = _receive(kc, s, scan=False)
    fix = {"quantity": "480", "reason": "Đếm lại số túi"}
    r = s.post(f"/records/{_seq(kc, 'input.received')}/correct", fix)
    assert r.status_code == 303, r.text
    r = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    batch = r.headers["Location"].removeprefix(kc.url)
    assert s.post(f"{batch}/inputs", {"receipt": receipt, "quantity": "200"}).status_code == 303
    nhap = {"step": "NHAP", "v_do_am": "14,5", "v_khoi_luong": "1000", "note": ""}
    assert s.post(f"{batch}/steps", nhap).status_code == 303
    step_fix = {"v_do_am": "13,8", "v_khoi_luong": "1000", "reason": "Đọc nhầm máy đo ẩm"}
    r = s.post(f"/records/{_seq(kc, 'step.recorded')}/correct", step_fix)
    assert r.status_code == 303, r.text
    assert s.post(f"{batch}/close", {"quantity": "300"}).status_code == 303
    r = s.submit("/batches/new?product=NM", "/batches", {"product": "NM"})
    other = r.headers["Location"].removeprefix(kc.url)
    assert s.post(f"{other}/void", {"reason": "Mở lô nhầm"}).status_code == 303
    s.close()
    _synced(server, kc)
    lot, voided = _lot(kc, batch), _lot(kc, other)
    base = server.base_url

    # The consumer's batch page: the value as recorded, and its correction beside it.
    page = browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True)
    page.goto(f"{base}/01/{KC_GTIN}/10/{lot}")
    fixed = page.locator("p.fix").inner_text()
    # Only what changed (the weight was resent unchanged), labelled, before → after.
    assert re.search(
        r"Sửa lúc \d\d/\d\d/\d{4} \d\d:\d\d vì Đọc nhầm máy đo ẩm: Độ ẩm 14,5 % → 13,8 %$", fixed
    ), fixed
    assert "Khối lượng" not in fixed and "do_am" not in fixed
    assert "Độ ẩm: 14,5 %" in page.locator("main").inner_text()
    page.goto(f"{base}/l/{voided}")
    assert re.search(r"Lô này đã bị hủy lúc .+: Mở lô nhầm", page.locator("#voided").inner_text())
    assert "đang sản xuất" not in page.locator("main").inner_text()

    # The office: the correction in the batch's journal; the receipt's current quantity.
    office = _office(browser, server)
    office.goto(f"{base}/office/batches/{kc.dev}/{batch.rsplit('/', 1)[-1]}")
    row = office.locator("table.journal tr", has_text="record.corrected")
    assert row.count() == 1
    assert "Đọc nhầm máy đo ẩm" in row.inner_text()
    changes = row.locator("table.changes tr").all_inner_texts()
    assert [re.split(r"\s*\t\s*", c.strip()) for c in changes[1:]] == [
        ["Độ ẩm", "14,5 %", "13,8 %"]
    ]
    (received,) = kc.journal_rows("SELECT lot FROM receipts")[0]
    office.goto(f"{base}/office/trace?lot={received}")
    assert f"Lô nhập {received} · Túi đóng gói · 480 cái" in office.locator("main").inner_text()
