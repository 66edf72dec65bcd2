"""The facility form's position map in a real browser (issue 16: "position (click on the map or
type coordinates)"): a click on the map fills the latitude and longitude fields and places the
pin, the saved facility has that position, and the edit page shows the pin there again. No tile
server and a strict CSP, as in an office with no internet: the click works on the plain map."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from ocop_cli.broker import free_port, wait_for_port
from sync_server.accounts.users import create_user
from sync_server.store.db import facilities
from tests.browser.test_office_map_charts import _watch
from tests.integration.harness import Processes, make_server

pytestmark = pytest.mark.browser
PASSWORD = "mật-khẩu-văn-phòng-02"
KC = (18.3716, 105.8453)  # the demo catalog's KC, the one other facility on the map
PIN = "img.leaflet-marker-icon.pick-pin"  # (its shadow carries the class too)


def _centre(page: Page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _fields(page: Page) -> tuple[float, float]:
    return float(page.input_value("input[name=lat]")), float(page.input_value("input[name=lon]"))


def test_a_click_on_the_form_map_sets_the_position(
    tmp_path: Path, browser: Browser, procs: Processes
) -> None:
    server = make_server(tmp_path, free_port())
    create_user(server.engine, "officer1", PASSWORD, "officer")
    procs.start(["server", "--config", str(server.config_path), "web"], tmp_path / "web.log")
    assert wait_for_port(server.config.http.port, 30)

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    seen = _watch(page)
    page.goto(f"{server.base_url}/office/fleet/new")
    page.wait_for_url("**/office/login**")
    page.fill("input[name=username]", "officer1")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/office/fleet/new")

    page.fill("input[name=code]", "TH")
    page.fill("input[name=name]", "Cơ sở chế biến Thạch Hà")
    page.fill("input[name=district]", "huyện Thạch Hà")
    assert page.locator("#position-map").is_visible()
    assert page.locator(".leaflet-tile").count() == 0  # no tile server: a plain background
    assert page.input_value("input[name=lat]") == ""
    assert page.locator(PIN).count() == 0

    # A click on the grey dot of KC (dots let clicks through to the map) lands on KC's place.
    page.locator("path.pick-other").wait_for()
    page.locator("#position-map").scroll_into_view_if_needed()
    x, y = _centre(page, "path.pick-other")
    page.mouse.click(x, y)
    lat, lon = _fields(page)
    assert lat == pytest.approx(KC[0], abs=0.002) and lon == pytest.approx(KC[1], abs=0.002)
    assert page.locator(PIN).count() == 1

    # A second click, up and to the right on the plain map: north-east of KC, the pin follows.
    page.mouse.click(x + 120, y - 80)
    lat, lon = _fields(page)
    assert lat > KC[0] + 0.01 and lon > KC[1] + 0.01
    pin = _centre(page, PIN)
    assert abs(pin[0] - (x + 120)) < 3  # the pin's foot is its anchor: compare only x

    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url("**/office/facilities/TH")
    with server.engine.connect() as conn:
        saved = conn.execute(
            select(facilities.c.latitude, facilities.c.longitude).where(facilities.c.code == "TH")
        ).one()
    assert (saved.latitude, saved.longitude) == (lat, lon)

    # The edit page centres on the saved position with the pin on it; typing moves the pin.
    page.goto(f"{server.base_url}/office/facilities/TH/edit")
    page.locator(PIN).wait_for()
    assert _fields(page) == (lat, lon)
    before = _centre(page, PIN)
    map_box = page.locator("#position-map").bounding_box()
    assert map_box is not None
    assert abs(before[0] - (map_box["x"] + map_box["width"] / 2)) < 3
    page.fill("input[name=lon]", f"{lon - 0.01:.6f}".replace(".", ","))  # a decimal comma too
    assert _centre(page, PIN)[0] < before[0] - 10

    assert seen["errors"] == []
    assert {u.split("/")[2] for u in seen["requests"]} == {server.base_url.split("/")[2]}
