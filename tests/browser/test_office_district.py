"""Issue 16 acceptance, "a district officer sees only their district", in a real browser against
a real `ocop server run` and Mosquitto: an admin creates the officer on the accounts page with one
district ticked, the officer logs in through the login page, and the dashboard, map, search and
fleet list show only that district's facilities; a direct URL to another district's facility,
device, batch or catalog is 404. The admin still sees the province.

The demo catalogs: KC in huyện Thạch Hà; CN and HS in huyện Hương Sơn. KC and CN each have a
device, a synced batch and an open alert."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import Engine

from ocop_cli.broker import Mosquitto
from sync_server.accounts.users import create_user
from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.alerts import raise_alert
from tests.integration.harness import REPO, Processes, make_server
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.browser
ADMIN_PASSWORD = "quản trị OCOP 2026"
OFFICER_PASSWORD = "cán bộ Hương Sơn 2026"
HUONG_SON = "huyện Hương Sơn"
KC_NAME, CN_NAME, HS_NAME = (
    "Công ty TNHH MTV KC",
    "HTX mật ong Cường Nga",
    "Công ty CP Nông nghiệp Hương Sơn",
)
KC_LOT, CN_LOT = "KC-NM-260310-01", "CN-MO-260310-01"


def _sync_batch(engine: Engine, dev: str, facility: str, lot: str) -> str:
    """A device of ``facility`` with one synced batch.opened and an open camera alert."""
    key = DeviceKey.generate()
    register_device(engine, dev, facility, key.public_key_b64, who="test")
    chain = ChainBuilder(key, dev)
    batch = new_batch_id()
    body = opened_body(batch, lot)
    if facility == "CN":
        body["product"] = {**body["product"], "code": "MO", "name": "Mật ong Cường Nga"}
        body["facility"] = {"code": "CN", "name": CN_NAME, "district": HUONG_SON}
    chain.next("batch.opened", body)
    assert ingest_chunk(engine, dev, encode_chunk(dev, chain.events)).committed == 1
    with engine.begin() as conn:
        raise_alert(conn, dev, facility, "camera", f"camera of {dev} covered")
    return batch


def _log_in(page: Page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/office/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(f"{base}/office/")


def _main(page: Page) -> str:
    return page.locator("main").inner_text()


def test_a_district_officer_sees_only_their_district(
    tmp_path: Path, browser: Browser, procs: Processes, broker: Mosquitto
) -> None:
    server = make_server(tmp_path, broker.port)  # imports KC's catalog
    base = server.base_url
    for name in ("cuong-nga-honey.json", "huong-son-antler.json"):
        import_catalog(server.engine, REPO / "ocop_cli" / "data" / name, base)
    kc_batch = _sync_batch(server.engine, "kc-line-1", "KC", KC_LOT)
    cn_batch = _sync_batch(server.engine, "cn-line-1", "CN", CN_LOT)
    create_user(server.engine, "admin", ADMIN_PASSWORD, "admin")
    server.run(procs)

    # The admin creates the officer with one district ticked.
    admin = browser.new_context().new_page()
    _log_in(admin, base, "admin", ADMIN_PASSWORD)
    admin.goto(f"{base}/office/users")
    add = admin.locator("form", has=admin.locator("input[name=username]"))
    add.locator("input[name=username]").fill("huongson")
    add.locator("input[name=password]").fill(OFFICER_PASSWORD)
    add.get_by_label(HUONG_SON).check()
    assert not add.get_by_label("huyện Thạch Hà").is_checked()
    add.locator("button[type=submit]").click()
    row = admin.locator("tr[data-user=huongson]")
    assert row.locator("td.districts").inner_text() == HUONG_SON
    assert "officer" in row.inner_text()

    # The officer, in a browser of their own, through the login page.
    officer = browser.new_context().new_page()
    _log_in(officer, base, "huongson", OFFICER_PASSWORD)

    # Dashboard: facilities, alerts and counts of Hương Sơn only.
    rows = officer.locator("table.facilities tr[data-facility]")
    assert sorted(r.get_attribute("data-facility") or "" for r in rows.all()) == ["CN", "HS"]
    dashboard = _main(officer)
    assert "cn-line-1" in dashboard  # CN's alert
    for other in (KC_NAME, "kc-line-1", "camera of kc-line-1"):
        assert other not in dashboard, other

    # Map: their two dots, no third; nothing of KC in the page's table either.
    officer.goto(f"{base}/office/map")
    markers = officer.locator("path.fac-marker")
    markers.first.wait_for()
    assert sorted(m.get_attribute("data-facility") or "" for m in markers.all()) == ["CN", "HS"]
    assert KC_NAME not in officer.content()  # nor in the map's JSON

    # Search, through the box in the header: "Công ty" names KC and HS; the officer gets HS.
    officer.fill("header input[name=q]", "Công ty")
    officer.press("header input[name=q]", "Enter")
    officer.wait_for_url("**/office/search?q=*")
    found = _main(officer)
    assert HS_NAME in found and KC_NAME not in found
    officer.goto(f"{base}/office/search?q={KC_LOT}")
    assert officer.locator("main table.batches").count() == 0  # "no results"
    assert KC_NAME not in _main(officer)
    officer.goto(f"{base}/office/search?q={CN_LOT}")
    assert officer.locator("main table.batches a", has_text=CN_LOT).count() == 1

    # The fleet list: their facilities only.
    officer.goto(f"{base}/office/fleet")
    fleet = _main(officer)
    assert CN_NAME in fleet and HS_NAME in fleet and KC_NAME not in fleet

    # Direct URLs to another district's objects are 404; their own answer.
    for path in (
        "/office/facilities/KC",
        "/office/facilities/KC/edit",
        "/office/devices/kc-line-1",
        f"/office/batches/kc-line-1/{kc_batch}",
        "/office/catalog/KC/workers",
        "/office/charts?facility=KC",
    ):
        response = officer.goto(f"{base}{path}")
        assert response is not None and response.status == 404, path
        assert KC_NAME not in officer.content(), path
    for path in (
        "/office/facilities/CN",
        "/office/facilities/HS",
        "/office/devices/cn-line-1",
        f"/office/batches/cn-line-1/{cn_batch}",
    ):
        response = officer.goto(f"{base}{path}")
        assert response is not None and response.status == 200, path

    # The admin sees the province.
    admin.goto(f"{base}/office/")
    rows = admin.locator("table.facilities tr[data-facility]")
    assert sorted(r.get_attribute("data-facility") or "" for r in rows.all()) == ["CN", "HS", "KC"]
    response = admin.goto(f"{base}/office/facilities/KC")
    assert response is not None and response.status == 200
