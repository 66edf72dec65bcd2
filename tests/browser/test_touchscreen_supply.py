"""Issue 15 at the touchscreen in Chromium at 800x480 against a real ``ocop edge run``: receive by
tapping tiles and the keypad, use with the override page, ship, correct, void; big targets."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import free_port
from tests.integration.harness import EdgeEnv, Processes, make_edge
from tests.unit.edge.supply_catalog import supply_catalog_obj
from trace_protocol.catalog import parse_catalog

SCREEN: ViewportSize = {"width": 800, "height": 480}
MIN_TARGET_PX = 48


@pytest.fixture
def edge(tmp_path: Path, procs: Processes) -> EdgeEnv:
    env = make_edge(tmp_path, "kc-line-2", free_port())
    agent = open_agent(load_config(env.config_path), with_sync=False)
    agent.accept_catalog(parse_catalog(supply_catalog_obj(1)))
    agent.close()
    env.run(procs)
    return env


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    p = browser.new_page(viewport=SCREEN)
    yield p
    p.close()


def _targets_are_big(page: Page) -> None:
    """Buttons, links, tiles (a radio or checkbox is tapped through its big label) and fields."""
    small = []
    selector = (
        "button:visible, a.btn, a.tile, label.tile, input:not([type=hidden]):not([type=radio])"
    )
    for el in page.locator(selector).all():
        box = el.bounding_box()
        if box and (box["height"] < MIN_TARGET_PX or box["width"] < MIN_TARGET_PX):
            small.append(el.evaluate("e => e.outerHTML.slice(0, 80)"))
    assert small == []


def _tap(page: Page, keys: str) -> None:
    for k in keys:
        page.locator(f'.kp-key[data-key="{k}"]').click()


def _events(edge: EdgeEnv, type_: str) -> list[dict[str, Any]]:
    rows = edge.journal_rows("SELECT body FROM events WHERE type = ? ORDER BY seq", type_)
    return [json.loads(r[0]) for r in rows]


def test_receive_use_with_override_ship_and_correct_by_taps(edge: EdgeEnv, page: Page) -> None:
    page.goto(edge.url)
    page.locator("#receive").click()
    page.wait_for_url("**/receipts/new")
    _targets_are_big(page)
    # Nothing picked, nothing typed: each message by its own field, nothing saved.
    page.locator("#save").click()
    page.wait_for_load_state()
    assert "Hãy chọn nhà cung cấp" in page.locator("#supplier-error").inner_text()
    assert _events(edge, "input.received") == []
    page.locator("label.tile", has_text="Tổ hợp tác lúa Thống Nhất").click()
    page.locator("label.tile", has_text="Lúa Ngọc Mầm").click()
    page.locator("#quantity").click()
    _tap(page, "1500")
    page.locator("#save").click()
    page.wait_for_url(re.compile(r"/receipts\?saved="))
    (receipt,) = _events(edge, "input.received")
    assert receipt["quantity"] == 1500 and receipt["supplier"]["id"] == "THT"
    assert receipt["lot"] in page.locator("#saved").inner_text()

    page.goto(edge.url)
    page.locator("button.tile.new").first.click()
    page.locator("#confirm-open").click()
    page.wait_for_url(re.compile(r"/batches/[0-9a-f-]+$"))
    batch_url = page.url
    page.locator("#use-input").click()
    _targets_are_big(page)
    page.locator("label.tile", has_text=receipt["lot"]).click()
    page.locator("#quantity").click()
    _tap(page, "1600")
    page.locator("#save").click()
    page.wait_for_load_state()
    assert "Chỉ còn 1.500 kg" in page.locator("#override-message").inner_text()
    _targets_are_big(page)
    assert _events(edge, "input.added") == []
    page.locator("#confirm-override").click()
    page.wait_for_url("**saved=input")
    assert _events(edge, "input.added")[0]["override"] is True
    assert "vượt mức" in page.locator("ol.inputs").inner_text()

    # Void asks first; Huỷ (cancel) leaves the batch open.
    page.locator("#void").click()
    assert "Huỷ lô này?" in page.locator("h1").inner_text()
    _targets_are_big(page)
    page.go_back()
    assert _events(edge, "batch.voided") == []

    page.goto(batch_url + "?step=NHAP")
    page.locator("#v_do_am").fill("14,5")
    page.locator("#v_khoi_luong").fill("1600")
    page.locator("#save").click()
    page.wait_for_url("**saved=step")
    page.locator("#finish").click()
    page.locator("#quantity").fill("900")
    page.locator("#save").click()
    page.wait_for_url("**saved=closed")

    page.locator("#ship").click()
    _targets_are_big(page)
    page.locator("label.tile", has_text="Nhà phân phối Miền Trung").click()
    page.locator("#quantity").click()
    _tap(page, "300")
    page.locator("#save").click()
    page.wait_for_url("**saved=shipped")
    assert "Nhà phân phối Miền Trung" in page.locator("ol.shipments").inner_text()

    page.locator("ol.shipments a.btn", has_text="Sửa").click()
    _targets_are_big(page)
    page.locator("#quantity").click()
    _tap(page, "250")
    page.locator("label.tile", has_text="Cân/đo lại").click()
    page.locator("#save").click()
    page.wait_for_url("**saved=corrected")
    shipments = page.locator("ol.shipments").inner_text()
    assert "250 kg" in shipments and re.search(r"sửa lúc [0-9:]+ vì Cân/đo lại", shipments)
    (fix,) = _events(edge, "record.corrected")
    assert fix["changes"] == {"quantity": 250} and fix["reason"] == "Cân/đo lại"


def test_void_a_batch_opened_by_mistake(edge: EdgeEnv, page: Page) -> None:
    page.goto(edge.url)
    page.locator("button.tile.new").first.click()
    page.locator("#confirm-open").click()
    page.wait_for_url(re.compile(r"/batches/[0-9a-f-]+$"))
    lot = page.locator(".lot").first.inner_text()
    page.locator("#void").click()
    page.locator("label.tile", has_text="Chọn nhầm sản phẩm").click()
    page.locator("#confirm-void").click()
    page.wait_for_url("**saved=voided")
    assert lot not in page.locator("main").inner_text()  # gone from the home page's lists
    (voided,) = _events(edge, "batch.voided")
    assert voided["reason"] == "Chọn nhầm sản phẩm"
