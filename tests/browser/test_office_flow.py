"""The office in a real browser, against a real broker, server and edge agent.

A worker types an XSS payload into a step note on the touchscreen; the batch syncs; an officer
logs in, sees the facility online, opens the batch (the payload shows as text, nothing runs),
edits a product, and sees the facility go stale once the agent stops.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import Mosquitto
from sync_server.accounts.users import create_user
from tests.integration.harness import (
    KC_CATALOG,
    Processes,
    enrol,
    make_edge,
    make_server,
    wait_until,
)
from trace_protocol.catalog import parse_catalog

pytestmark = pytest.mark.browser
PAYLOAD = '<img src=x onerror="window.__pwned=1">"><script>window.__pwned=2</script>'
PASSWORD = "văn phòng OCOP 2026"


def _state(page: Page, code: str) -> str:
    page.reload()
    return str(page.locator(f'tr[data-facility="{code}"] .state').get_attribute("data-state"))


def _watch_dialogs(page: Page, seen: list[str]) -> None:
    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)


def test_officer_follows_a_facility_from_touchscreen_to_stale(
    tmp_path: Path, browser: Browser, procs: Processes, broker: Mosquitto
) -> None:
    server = make_server(
        tmp_path, broker.port, "[office]\nstale_after_s = 4\noffline_after_s = 3600\n"
    )
    edge = make_edge(tmp_path, "kc-line-1", broker.port)
    enrol(server, edge)
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    agent.accept_catalog(parse_catalog({**obj, "version": 1, "public_base_url": server.base_url}))
    agent.close()
    server.run(procs)
    edge_proc = edge.run(procs)
    create_user(server.engine, "canbo", PASSWORD, "officer")
    dialogs: list[str] = []

    # The worker, on the touchscreen.
    touch = browser.new_page(viewport={"width": 800, "height": 480})
    _watch_dialogs(touch, dialogs)
    touch.goto(edge.url)
    touch.get_by_role("button", name="+ Gạo Ngọc Mầm").click()
    # Opening a batch asks first (issue 13).
    touch.wait_for_url("**/batches/new*")
    touch.get_by_role("button", name="Có, mở lô").click()
    touch.wait_for_url(re.compile(r".*/batches/(?!new)[^/?]+(\?.*)?$"))
    lot = touch.locator(".lot").inner_text().strip()
    touch.get_by_role("link", name="Xay xát, đánh bóng").click()
    touch.get_by_label("Ghi chú").fill(PAYLOAD)
    touch.get_by_role("button", name="Lưu: Xay xát, đánh bóng").click()
    touch.wait_for_url("**saved=step")
    assert PAYLOAD in touch.locator(".steps").inner_text()
    wait_until(lambda: edge.head() > 0 and edge.acked() == edge.head(), 30, "sync")

    # The officer: log in, the facility is online.
    office = browser.new_page(viewport={"width": 1280, "height": 800})
    _watch_dialogs(office, dialogs)
    office.goto(f"{server.base_url}/office/")
    assert "/office/login" in office.url
    office.get_by_label("Tên đăng nhập").fill("canbo")
    office.get_by_label("Mật khẩu").fill(PASSWORD)
    office.get_by_role("button", name="Đăng nhập").click()
    office.wait_for_url("**/office/")
    wait_until(lambda: _state(office, "KC") == "online", 20, "KC online")

    # Open the batch by searching its lot: the payload is plain text there.
    office.get_by_label("Tìm kiếm").fill(lot)
    office.get_by_label("Tìm kiếm").press("Enter")
    office.get_by_role("link", name=lot).click()
    office.wait_for_url("**/office/batches/**")
    assert PAYLOAD in office.locator("table.journal").inner_text()
    assert office.locator("table.journal img").count() == 0

    # The public page of the same batch: the note is private and does not appear.
    public = browser.new_page(viewport={"width": 360, "height": 640})
    _watch_dialogs(public, dialogs)
    public.goto(f"{server.base_url}/01/08936123450014/10/{lot}")
    assert "Xay xát" in public.content() and "__pwned" not in public.content()

    # Edit the product: the catalog shows the new name.
    office.goto(f"{server.base_url}/office/catalog")
    office.locator('tr[data-product="NM"]').get_by_role("link", name="Sửa").click()
    office.get_by_label("Tên sản phẩm (tiếng Việt)").fill("Gạo Ngọc Mầm thượng hạng")
    office.get_by_role("button", name="Lưu").click()
    office.wait_for_url("**/office/catalog")
    assert "Gạo Ngọc Mầm thượng hạng" in office.locator('tr[data-product="NM"]').inner_text()
    assert office.locator(".flash").is_visible()

    # The agent stops: the facility goes stale on the dashboard.
    edge_proc.terminate()
    edge_proc.wait(timeout=30)
    office.goto(f"{server.base_url}/office/")
    started = time.monotonic()
    wait_until(lambda: _state(office, "KC") == "stale", 30, "KC stale")
    assert time.monotonic() - started < 30

    for page in (touch, office, public):
        assert page.evaluate("window.__pwned") is None
    assert dialogs == []
