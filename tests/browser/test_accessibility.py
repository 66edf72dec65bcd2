"""axe-core audits every page of the three web UIs in a real browser: no violation allowed.

The touchscreen at 800x480, the consumer pages at 360x640, the office on a desktop screen
(issue 13, "Everyone: accessibility"). axe is vendored under tests/browser/vendor/ (test-only;
docs/testing.md says how to update it) and injected with Playwright. The public pages' CSP
forbids every script, so the audit context alone bypasses CSP; the pages are otherwise served
exactly as a phone gets them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import free_port, wait_for_port
from sync_server.accounts.users import create_user
from tests.browser.seeded import server_with_a_closed_batch
from tests.integration.harness import (
    KC_CATALOG,
    EdgeEnv,
    Processes,
    ServerEnv,
    make_edge,
)
from trace_protocol.catalog import parse_catalog
from trace_protocol.unit_codes import (
    batch_mac,
    build_signed_batch_url,
    build_unit_url,
    unit_mac,
)
from trace_protocol.workers import hash_pin

pytestmark = pytest.mark.browser
VENDOR = Path(__file__).resolve().parent / "vendor"
AXE = VENDOR / "axe.min.js"
# npm's axe-core@4.14.1 (npm pack axe-core@4.14.1): update both lines together (docs/testing.md).
AXE_VERSION = "4.14.1"
AXE_SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
GTIN = "08936123450014"
PASSWORD = "văn phòng OCOP 2026"
WORKERS = [{"id": "lan", "name": "Nguyễn Thị Lan", "pin": hash_pin("2468")}]
TOUCH = {"width": 800, "height": 480}
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1280, "height": 800}


def test_the_vendored_axe_is_the_recorded_release() -> None:
    body = AXE.read_bytes()
    assert hashlib.sha256(body).hexdigest() == AXE_SHA256
    assert body.startswith(f"/*! axe v{AXE_VERSION}".encode())
    assert "Mozilla Public License" in (VENDOR / "axe-core.LICENSE").read_text(encoding="utf-8")


def _violations(page: Page) -> list[str]:
    """axe's violations on the page as loaded, one readable line per rule."""
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}})", RULES
    )
    found = []
    for v in results["violations"]:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"]]
        summary = v["nodes"][0].get("failureSummary", "").replace("\n", " ")
        found.append(f"{page.url}: {v['id']} ({v['impact']}) on {targets}: {summary}")
    return found


class Auditor:
    """Opens pages in one CSP-bypassing context and gathers every violation before failing."""

    def __init__(self, browser: Browser, viewport: dict[str, int], **kw: Any) -> None:
        self.context: BrowserContext = browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            bypass_csp=True,
            **kw,
        )
        self.page = self.context.new_page()
        self.found: list[str] = []
        self.audited: list[str] = []

    def audit(self, url: str | None = None, status: int = 200) -> Page:
        if url is not None:
            resp = self.page.goto(url)
            assert resp is not None and resp.status == status, (url, resp and resp.status)
        self.audited.append(self.page.url)
        self.found.extend(_violations(self.page))
        return self.page

    def check(self) -> None:
        self.context.close()
        assert not self.found, "axe violations:\n" + "\n".join(self.found)


def _touch_edge(tmp_path: Path) -> tuple[EdgeEnv, str, str]:
    """A touchscreen with PINs, one open batch (a step recorded) and one finished batch.

    The batches are made in-process so the audit reaches every page by its URL, however the
    worker's way there changes (confirmations, keypads)."""
    edge = make_edge(tmp_path, "kc-line-9", free_port())
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    obj = {**json.loads(KC_CATALOG.read_text(encoding="utf-8")), "workers": WORKERS}
    catalog = parse_catalog({**obj, "version": 1, "public_base_url": "http://x"})
    agent.accept_catalog(catalog)
    opened = batches.open_batch(agent.journal, catalog, "NM", "")
    batches.record_step(agent.journal, catalog, opened.body["batch"], "XAT", {}, "ghi chú")
    closed = batches.open_batch(agent.journal, catalog, "NM", "")
    batches.record_step(agent.journal, catalog, closed.body["batch"], "XAT", {}, "")
    batches.close_batch(agent.journal, catalog, closed.body["batch"], "25")
    agent.close()
    return edge, opened.body["batch"], closed.body["batch"]


def test_every_touchscreen_page_passes_axe(
    tmp_path: Path, browser: Browser, procs: Processes
) -> None:
    edge, open_id, closed_id = _touch_edge(tmp_path)
    edge.run(procs)
    a = Auditor(browser, TOUCH)
    a.audit(edge.url + "/login")  # the worker list
    page = a.audit(edge.url + "/login?w=lan")  # the PIN pad
    for digit in "1111":
        page.locator(f'.key[data-key="{digit}"]').click()
    page.locator("#pinpad [type=submit]").click()
    a.audit()  # the pad with its "wrong PIN" error
    for digit in "2468":
        page.locator(f'.key[data-key="{digit}"]').click()
    page.locator("#pinpad [type=submit]").click()
    page.wait_for_url(edge.url + "/")
    a.audit()  # home: open and finished batches, products
    page.locator("button[name=product]").first.click()
    page.wait_for_load_state()
    a.audit()  # what one tap on a product shows (a confirmation, or the new batch)
    batch = f"{edge.url}/batches/{open_id}"
    a.audit(batch)  # the open batch
    page = a.audit(batch + "?step=NHAP")  # the step form
    page.locator("input[name=v_do_am]").fill("31")  # out of range
    page.locator("input[name=v_khoi_luong]").fill("1200")
    page.locator("form:has(input[name=v_do_am]) [type=submit]").click()
    page.wait_for_load_state()
    a.audit()  # the step form with its error
    a.audit(f"{edge.url}/batches/{closed_id}")  # finished: the label form
    a.audit(edge.url + "/batches/no-such-batch", status=404)  # the error page
    a.audit(edge.url + "/lang/en?next=/")  # English
    a.audit(f"{batch}?step=NHAP")  # English step form
    a.check()


def _server_with_a_batch(tmp_path: Path) -> tuple[ServerEnv, EdgeEnv, str, bytes]:
    """A server knowing one closed KC batch with three steps and unit labels."""
    seeded = server_with_a_closed_batch(tmp_path, 3)
    return seeded.server, seeded.edge, seeded.lot, seeded.label_key


def _start_web(server: ServerEnv, procs: Processes, tmp_path: Path) -> None:
    procs.start(["server", "--config", str(server.config_path), "web"], tmp_path / "web.log")
    assert wait_for_port(server.config.http.port, 30)


def test_every_public_page_passes_axe(tmp_path: Path, browser: Browser, procs: Processes) -> None:
    server, _, lot, label_key = _server_with_a_batch(tmp_path)
    _start_web(server, procs, tmp_path)
    base = server.base_url
    a = Auditor(browser, PHONE, is_mobile=True)
    a.audit(base + "/")
    a.audit(f"{base}/l/{lot}")
    a.audit(f"{base}/01/{GTIN}/10/{lot}")
    a.audit(f"{base}/01/{GTIN}/10/{lot}?lang=en")
    mac = unit_mac(label_key, lot, "2", GTIN)
    genuine = build_unit_url(base, lot, "2", mac, GTIN)
    a.audit(genuine)  # genuine, first scan
    a.audit(genuine)  # genuine, scanned before
    forged = build_unit_url(base, lot, "3", "A" * len(mac), GTIN)
    a.audit(forged)
    a.audit(f"{base}/p/KC/NM")
    a.audit(f"{base}/f/KC")
    a.audit(f"{base}/l/NOPE-0000", status=404)
    # A signed batch label of a batch that has not synced (issue 15): the honest page.
    pending = lot[:-2] + "09"
    a.audit(build_signed_batch_url(base, pending, batch_mac(label_key, pending, GTIN), GTIN))
    a.check()


def test_every_office_page_passes_axe(tmp_path: Path, browser: Browser, procs: Processes) -> None:
    server, edge, lot, _ = _server_with_a_batch(tmp_path)
    create_user(server.engine, "quantri", PASSWORD, "admin")
    (batch_id,) = edge.journal_rows("SELECT batch_id FROM batches LIMIT 1")[0]
    _start_web(server, procs, tmp_path)
    office = server.base_url + "/office"
    a = Auditor(browser, DESKTOP)
    page = a.audit(office + "/login")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill("wrong password")
    page.get_by_role("button", name="Đăng nhập").click()
    a.audit()  # the login error
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/office/")
    a.audit()  # the dashboard
    for path in (
        "/facilities/KC",
        f"/devices/{edge.dev}",
        f"/batches/{edge.dev}/{batch_id}",
        f"/search?q={lot}",
        "/search?q=nothing-like-this",
        "/catalog",
        "/catalog/KC/NM",
        "/catalog/KC/new",
        "/catalog/KC/workers",
        "/catalog/KC/suppliers",
        "/catalog/KC/customers",
        "/users",
        "/exports",
        "/map",
        "/charts",
        "/?lang=en",
    ):
        a.audit(office + path)
    a.check()
