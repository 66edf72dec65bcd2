"""The office map and charts in a real browser, with no internet: nothing but the local server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route
from sqlalchemy import insert

from ocop_cli.broker import free_port, wait_for_port
from sync_server.accounts.users import create_user
from sync_server.devices.registry import import_catalog
from sync_server.store.db import scans
from tests.integration.harness import REPO, Processes, make_server

pytestmark = pytest.mark.browser
PASSWORD = "mật-khẩu-văn-phòng-01"
# What a strict office deployment could send: no inline script or style, nothing off-site.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'"
)


def _with_csp(route: Route) -> None:
    response = route.fetch(max_redirects=0)  # let the browser follow redirects itself
    headers = {**response.headers, "content-security-policy": CSP}
    route.fulfill(response=response, headers=headers)


def _watch(page: Page) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {"requests": [], "errors": []}
    page.on("request", lambda r: seen["requests"].append(r.url))
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.route("**/*", _with_csp)
    return seen


def _catalog(code: str, name: str) -> dict[str, Any]:
    obj = json.loads((REPO / "ocop_cli" / "data" / "kc-rice.json").read_text(encoding="utf-8"))
    facility = {k: v for k, v in obj["facility"].items() if k not in ("lat", "lon")}
    return {**obj, "facility": {**facility, "code": code, "name": name}}


def test_officer_sees_the_map_and_charts_without_internet(
    tmp_path: Path, browser: Browser, procs: Processes
) -> None:
    server = make_server(tmp_path, free_port())
    base = server.base_url
    for name in ("cuong-nga-honey.json", "huong-son-antler.json"):
        import_catalog(server.engine, REPO / "ocop_cli" / "data" / name, base)
    import_catalog(server.engine, _catalog("NL", "Cơ sở chưa định vị"), base)
    create_user(server.engine, "officer1", PASSWORD, "officer")
    with server.engine.begin() as conn:
        for verdict in ("genuine", "genuine", "forged"):
            conn.execute(
                insert(scans).values(
                    at=time.time(), lot="KC-NM-261122-01", serial="1", facility_code="KC",
                    verdict=verdict, place="p",
                )
            )  # fmt: skip
    procs.start(["server", "--config", str(server.config_path), "web"], tmp_path / "web.log")
    assert wait_for_port(server.config.http.port, 30)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    seen = _watch(page)
    page.goto(f"{base}/office/map")
    page.wait_for_url("**/office/login**")
    page.fill("input[name=username]", "officer1")
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/office/map")

    # Three demo facilities carry coordinates in Hà Tĩnh; the fourth is listed under the map.
    markers = page.locator("path.fac-marker")
    markers.first.wait_for()
    assert markers.count() == 3
    assert sorted(m.get_attribute("data-facility") or "" for m in markers.all()) == [
        "CN",
        "HS",
        "KC",
    ]
    assert page.locator("path.fac-offline").count() == 3  # no device has ever been heard from
    assert page.locator("#map").is_visible()
    assert page.locator(".leaflet-tile").count() == 0  # no tile server configured
    assert page.locator("ul.unlocated [data-facility=NL]").is_visible()
    page.locator("path.fac-marker[data-facility=KC]").click()
    link = page.locator(".leaflet-popup-content a")
    assert link.get_attribute("href") == "/office/facilities/KC"

    page.get_by_role("link", name="Biểu đồ").click()
    page.wait_for_url("**/office/charts")
    page.locator("#chart-scans[data-drawn='1']").wait_for()
    for canvas in ("#chart-batches", "#chart-scans"):
        painted = page.evaluate(
            """id => {
                const c = document.querySelector(id);
                const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < px.length; i += 4) if (px[i] > 0) n++;
                return n;
            }""",
            canvas,
        )
        assert painted > 500, canvas  # axes, labels and bars were drawn
    today = page.locator("table.daily tbody tr").first
    assert today.locator("td").all_inner_texts() == ["0", "3", "1"]

    hosts = {urlsplit(u).netloc for u in seen["requests"] if not u.startswith("data:")}
    assert hosts == {urlsplit(base).netloc}, seen["requests"]
    assert seen["errors"] == []
    # The strict CSP really was in force: an inline script added now does not run.
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.inlineRan = true'; document.head.appendChild(s); }"
    )
    assert page.evaluate("() => window.inlineRan === undefined")
