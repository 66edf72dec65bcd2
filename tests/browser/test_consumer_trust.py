"""Issue 13, consumer: the language switch keeps a code's verdict, times agree across pages in
Vietnam time, and a doubtful code tells the consumer what to do and reaches the office."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from ocop_cli.broker import wait_for_port
from sync_server.accounts.users import create_user
from sync_server.store.db import alerts, consumer_reports, scans
from tests.browser.seeded import server_with_a_closed_batch
from tests.integration.harness import Processes
from trace_protocol import envelope as ev
from trace_protocol.unit_codes import (
    build_unit_url,
    unit_mac,
)

pytestmark = pytest.mark.browser
GTIN = "08936123450014"
PASSWORD = "mat-khau-rat-dai-2026"
OFFICE = (
    '[office]\nname = "Văn phòng OCOP tỉnh Hà Tĩnh"\ncontact_phone = "0239 385 0000"\n'
    'contact_email = "ocop@hatinh.example"\n'
)


def _switch(page: Page) -> None:
    page.locator("header a.lang").click()
    page.wait_for_load_state()


def test_language_times_and_a_report(tmp_path: Path, browser: Browser, procs: Processes) -> None:
    seeded = server_with_a_closed_batch(tmp_path, 2, OFFICE)
    server, edge, label_key = seeded.server, seeded.edge, seeded.label_key
    events = seeded.events
    create_user(server.engine, "canbo", PASSWORD, "officer")
    lot = seeded.lot
    procs.start(["server", "--config", str(server.config_path), "web"], tmp_path / "web.log")
    assert wait_for_port(server.config.http.port, 30)
    base = server.base_url
    page = browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True)

    # 1. A genuine unit code stays genuine in English, and no forged scan is logged.
    unit_url = build_unit_url(base, lot, "2", unit_mac(label_key, lot, "2", GTIN), GTIN)
    page.goto(unit_url)
    assert "Mã sản phẩm chính hãng" in page.locator("#unit-verdict").inner_text()
    _switch(page)
    assert "Genuine product code" in page.locator("#unit-verdict").inner_text()
    _switch(page)
    assert "Mã sản phẩm chính hãng" in page.locator("#unit-verdict").inner_text()
    short_unit = build_unit_url(base, lot, "1", unit_mac(label_key, lot, "1", None), None)
    page.goto(short_unit)
    _switch(page)
    assert "Genuine product code" in page.locator("#unit-verdict").inner_text()
    with server.engine.connect() as conn:
        verdicts = {
            v for (v,) in conn.execute(select(scans.c.verdict).where(scans.c.serial.is_not(None)))
        }
    assert verdicts == {"genuine"}

    # Every other page type: the switch keeps the page (its heading changes language only).
    for path, vi, en in [
        (f"/01/{GTIN}/10/{lot}", "Gạo Ngọc Mầm", "Ngọc Mầm rice"),
        (f"/l/{lot}", "Gạo Ngọc Mầm", "Ngọc Mầm rice"),
        ("/p/KC/NM", "Gạo Ngọc Mầm", "Ngọc Mầm rice"),
        ("/f/KC", "Công ty TNHH MTV KC", "Công ty TNHH MTV KC"),
        ("/l/KC-NOPE", "Chưa có thông tin lô này", "No record for this lot yet"),
        ("/", "Lô sản xuất gần đây", "Recent batches"),
    ]:
        page.goto(f"{base}{path}?lang=vi")
        assert page.locator("h1").first.inner_text() == vi, path
        _switch(page)
        assert page.url.split("?")[0] == f"{base}{path}", path
        assert page.locator("h1").first.inner_text() == en, path
    page.goto(f"{base}/?lang=vi")

    # 2. Times: the step on the public batch page and the same event in the office agree, in
    # Vietnam time with the date, whatever offset the device wrote.
    step = next(e for e in events if e.type == ev.STEP_RECORDED)
    expected = (
        datetime.fromisoformat(step.at)
        .astimezone(timezone(timedelta(hours=7)))
        .strftime("%d/%m/%Y %H:%M")
    )
    page.goto(f"{base}/l/{lot}")
    public_time = page.locator(f'.step time[datetime="{step.at}"]').first.inner_text()
    assert public_time == expected
    office = browser.new_page(viewport={"width": 1280, "height": 800})
    office.goto(f"{base}/office/login")
    office.get_by_label("Tên đăng nhập").fill("canbo")
    office.get_by_label("Mật khẩu").fill(PASSWORD)
    office.get_by_role("button", name="Đăng nhập").click()
    office.wait_for_url("**/office/")
    office.goto(f"{base}/office/batches/{edge.dev}/{seeded.batch_id}")
    assert expected in office.locator(f"#e{step.seq}").inner_text()

    # 3. A forged code, scanned once: the consumer is told what it claims and whom to call,
    # and the office gets an alert.
    page.goto(build_unit_url(base, lot, "3", "A" * 16, GTIN))
    assert "có thể là hàng giả" in page.locator("#unit-verdict").inner_text()
    claims = page.locator("#report-claims").inner_text()
    assert "Gạo Ngọc Mầm" in claims and "Công ty TNHH MTV KC" in claims
    assert "0239 385 0000" in page.locator("#office-contact").inner_text()
    assert page.locator(".report-form").is_visible()
    with server.engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(alerts.c.kind))]
    assert kinds.count("doubtful_scan") == 1
    # In English the forged code is still forged (no signature to lose, but the form stays).
    _switch(page)
    assert "possibly counterfeit" in page.locator("#unit-verdict").inner_text()
    with server.engine.connect() as conn:
        kinds = [k for (k,) in conn.execute(select(alerts.c.kind))]
    assert kinds.count("doubtful_scan") == 1  # the same code: one open alert, not one a scan
    _switch(page)

    # The report, without JavaScript needed: where bought, a phone and a small photo.
    photo = tmp_path / "tem.png"
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 30, 30)).save(photo)
    page.get_by_label("Nơi mua").fill("Chợ Hà Tĩnh, quầy 12")
    page.get_by_label("Ảnh sản phẩm").set_input_files(str(photo))
    page.get_by_label("Số điện thoại").fill("0912 345 678")
    page.get_by_role("button", name="Gửi báo cáo").click()
    page.wait_for_load_state()
    assert "/report/done" in page.url, page.locator("main").inner_text()
    assert page.locator("#report-thanks").is_visible()
    with server.engine.connect() as conn:
        report = conn.execute(select(consumer_reports)).mappings().one()
    assert (report["where_bought"], report["phone"], report["verdict"]) == (
        "Chợ Hà Tĩnh, quầy 12",
        "0912 345 678",
        "forged",
    )
    assert report["photo_type"] == "png"

    office.goto(f"{base}/office/")
    alert_rows = office.locator("tr.alert-consumer_report")
    assert alert_rows.count() == 1
    assert "Chợ Hà Tĩnh, quầy 12" in alert_rows.inner_text()
    assert office.locator("tr.alert-doubtful_scan").count() == 1
    office.goto(f"{base}/office/reports")
    assert "Chợ Hà Tĩnh, quầy 12" in office.locator(f"#report-{report['id']}").inner_text()
    response = office.request.get(f"{base}/office/reports/{report['id']}/photo")
    assert response.status == 200 and response.headers["content-type"] == "image/png"
    # The photo is the office's: not served to the public.
    anonymous = page.request.get(f"{base}/office/reports/{report['id']}/photo")
    assert "/office/login" in anonymous.url
    assert not anonymous.headers["content-type"].startswith("image/")

    # A form whose token is not this server's is refused.
    refused = page.request.post(
        f"{base}/report",
        multipart={"lot": lot, "serial": "3", "gtin": GTIN, "token": "1.abc", "where": "x"},
    )
    assert refused.status == 400
