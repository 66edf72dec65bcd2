"""Issue 12, finding 5: the touchscreen refuses cross-site writes and foreign hosts, stays
on-site, frames nothing, and (with PINs in the catalog) records who did each event.

Every test runs a real ``ocop edge run`` (no broker needed: the UI works offline).
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from playwright.sync_api import Browser, Page

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import free_port
from tests.integration.harness import KC_CATALOG, EdgeEnv, Processes, make_edge
from tests.integration.touchscreen import Touchscreen
from trace_protocol.catalog import parse_catalog
from trace_protocol.workers import hash_pin

EVIL = "https://evil.example"
WORKERS = [
    {"id": "lan", "name": "Nguyễn Thị Lan", "pin": hash_pin("2468")},
    {"id": "hung", "name": "Trần Văn Hùng", "pin": hash_pin("135790")},
]
MIN_TARGET_PX = 48


def _edge(tmp_path: Path, procs: Processes, workers: list[dict[str, str]] | None = None) -> EdgeEnv:
    edge = make_edge(tmp_path, "kc-line-1", free_port())
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    if workers:
        obj["workers"] = workers
    agent.accept_catalog(parse_catalog({**obj, "version": 1, "public_base_url": "http://x"}))
    agent.close()
    edge.run(procs)
    return edge


@pytest.fixture
def edge(tmp_path: Path, procs: Processes) -> EdgeEnv:
    return _edge(tmp_path, procs)


def _batch(touch: Touchscreen) -> str:
    r = touch.post("/batches", {"product": "NM"})
    assert r.status_code == 303, r.text
    return r.headers["Location"].rsplit("/", 1)[1]


def _closed_batch(touch: Touchscreen) -> str:
    batch = _batch(touch)
    assert touch.post(f"/batches/{batch}/steps", {"step": "XAT"}).status_code == 303
    assert touch.post(f"/batches/{batch}/close", {"quantity": "10"}).status_code == 303
    return batch


def test_cross_site_writes_are_refused_and_nothing_is_journaled(edge: EdgeEnv) -> None:
    touch = edge.touchscreen()
    open_batch, closed_batch = _batch(touch), _closed_batch(touch)
    head = edge.head()
    token = touch.token()
    writes = [
        ("/batches", {"product": "NM"}),
        (f"/batches/{open_batch}/steps", {"step": "XAT", "note": "giả mạo"}),
        (f"/batches/{open_batch}/close", {"quantity": "5"}),
        (f"/batches/{closed_batch}/labels", {"copies": "3"}),
    ]
    for path, form in writes:
        attempts = {
            # A page on another site posting the form, even knowing a token (it cannot).
            "foreign Origin": ({**form, "csrf_token": token}, {"Origin": EVIL}, touch.session),
            "foreign Referer": (
                {**form, "csrf_token": token},
                {"Referer": EVIL + "/"},
                touch.session,
            ),
            "cross-site fetch": (
                {**form, "csrf_token": token},
                {"Sec-Fetch-Site": "cross-site"},
                touch.session,
            ),
            "Origin null": ({**form, "csrf_token": token}, {"Origin": "null"}, touch.session),
            # DNS rebinding: evil.example resolves to 127.0.0.1, the browser sends its name.
            "foreign Host": (
                {**form, "csrf_token": token},
                {"Host": "evil.example:8080", "Origin": "http://evil.example:8080"},
                touch.session,
            ),
            "no token": (form, {"Origin": edge.url}, touch.session),
            "wrong token": ({**form, "csrf_token": "x" * 43}, {"Origin": edge.url}, touch.session),
            # The form's token without the session cookie it belongs to.
            "token without its session": (
                {**form, "csrf_token": token},
                {"Origin": edge.url},
                requests.Session(),
            ),
        }
        for what, (data, headers, session) in attempts.items():
            r = session.post(
                edge.url + path, data=data, headers=headers, allow_redirects=False, timeout=5
            )
            assert r.status_code in (400, 403), f"{what} {path}: {r.status_code}"
    assert edge.head() == head, "a refused request wrote to the journal"
    assert len(edge.journal_rows("SELECT 1 FROM print_jobs")) == 0
    # The same forms from the screen itself still work.
    assert touch.post(f"/batches/{open_batch}/steps", {"step": "XAT"}).status_code == 303
    assert edge.head() == head + 1


def test_a_foreign_host_name_gets_nothing(edge: EdgeEnv) -> None:
    for path in ("/", "/api/status", "/static/ui/touch.css"):
        r = requests.get(edge.url + path, headers={"Host": "evil.example"}, timeout=5)
        assert r.status_code == 400, path
        assert "kc-line-1" not in r.text
    for host in ("127.0.0.1", f"127.0.0.1:{edge.ui_port}", "localhost", "LOCALHOST."):
        r = requests.get(edge.url + "/api/status", headers={"Host": host}, timeout=5)
        assert r.status_code == 200, host


def _browser_location(base: str, location: str) -> str:
    """Where a browser goes: it drops tabs and newlines and reads ``\\`` as ``/`` (WHATWG URL)."""
    cleaned = "".join(c for c in location if c not in "\t\r\n").replace("\\", "/")
    return urljoin(base + "/", cleaned)


@pytest.mark.parametrize(
    "next_",
    [
        "/%09/evil.example",
        "/%0a/evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "%5C%5Cevil.example",
        "https://evil.example",
        "https:evil.example",
        "/%2F/evil.example/",
        " //evil.example",
        "javascript:alert(1)",
    ],
)
def test_language_switch_never_redirects_off_site(edge: EdgeEnv, next_: str) -> None:
    r = requests.get(f"{edge.url}/lang/en?next={next_}", allow_redirects=False, timeout=5)
    assert r.status_code == 303
    target = _browser_location(edge.url, r.headers["Location"])
    assert urlsplit(target).netloc == urlsplit(edge.url).netloc, target


def test_language_switch_keeps_a_local_page(edge: EdgeEnv) -> None:
    r = requests.get(f"{edge.url}/lang/en?next=/batches/x%3Fstep%3DXAT", allow_redirects=False)
    assert r.headers["Location"] == "/batches/x?step=XAT"


def test_pages_cannot_be_framed_and_run_only_their_own_scripts(edge: EdgeEnv) -> None:
    touch = edge.touchscreen()
    batch = _batch(touch)
    for path in ("/", f"/batches/{batch}", "/no-such-page"):
        r = touch.get(path)
        csp = r.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "form-action 'self'" in csp
        assert r.headers.get("X-Frame-Options") == "DENY"
        assert r.headers.get("X-Content-Type-Options") == "nosniff"
    assert touch.get("/").headers.get("Cache-Control") == "no-store"


# -- browser: the worker's view at 800x480 ---------------------------------------------------


def _fits_the_screen(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    small = []
    for el in page.locator("button, a.btn, a.tile, input:not([type=hidden])").all():
        box = el.bounding_box()
        if box and box["height"] < MIN_TARGET_PX:
            small.append(el.evaluate("e => e.outerHTML.slice(0, 80)"))
    assert small == []


def _open_and_record(page: Page) -> None:
    page.get_by_role("button", name="+ Gạo Ngọc Mầm").click()
    page.get_by_role("button", name="Có, mở lô").click()  # a batch opens only when confirmed
    page.wait_for_url("**/batches/*")
    page.get_by_role("link", name="Nhập lúa nguyên liệu").click()
    page.get_by_label("Độ ẩm").fill("14,5")
    page.get_by_label("Khối lượng").fill("1200")
    page.get_by_role("button", name="Lưu: Nhập lúa nguyên liệu").click()
    page.wait_for_url("**saved=step")
    assert page.get_by_role("status").inner_text() == "Đã lưu"
    _fits_the_screen(page)


def test_a_worker_still_opens_a_batch_and_records_a_step_at_800x480(
    edge: EdgeEnv, browser: Browser
) -> None:
    page = browser.new_page(viewport={"width": 800, "height": 480})
    page.goto(edge.url)
    _open_and_record(page)
    bodies = [json.loads(b) for (b,) in edge.journal_rows("SELECT body FROM events ORDER BY seq")]
    assert len(bodies) == 2 and all("by" not in b for b in bodies)  # no PINs: as before
    page.close()


def _tap_pin(page: Page, pin: str) -> None:
    for digit in pin:
        page.locator(f'.key[data-key="{digit}"]').click()


def test_with_pins_a_worker_signs_in_on_the_pad_and_each_event_records_by(
    tmp_path: Path, procs: Processes, browser: Browser
) -> None:
    edge = _edge(tmp_path, procs, WORKERS)
    page = browser.new_page(viewport={"width": 800, "height": 480})
    page.goto(edge.url)
    page.wait_for_url("**/login**")
    assert "Ai đang làm việc?" in page.content()
    assert requests.get(edge.url + "/", allow_redirects=False).status_code == 303
    page.get_by_role("link", name="Nguyễn Thị Lan").click()
    _fits_the_screen(page)
    _tap_pin(page, "1111")
    page.get_by_role("button", name="Vào").click()
    assert "Sai mã PIN" in page.get_by_role("alert").inner_text()
    _tap_pin(page, "2469")
    page.locator('.key[data-key="del"]').click()
    _tap_pin(page, "8")
    assert page.locator("#pin").input_value() == "2468"
    page.get_by_role("button", name="Vào").click()
    page.wait_for_url(edge.url + "/")
    assert "Lan · Đổi người" in page.locator("#worker").inner_text()
    _open_and_record(page)
    bodies = [json.loads(b) for (b,) in edge.journal_rows("SELECT body FROM events ORDER BY seq")]
    assert [b.get("by") for b in bodies] == [{"id": "lan", "name": "Nguyễn Thị Lan"}] * 2

    # Switch worker: the next events are Hùng's.
    page.locator("#worker").click()
    page.wait_for_url("**/login**")
    page.get_by_role("link", name="Trần Văn Hùng").click()
    _tap_pin(page, "135790")
    page.get_by_role("button", name="Vào").click()
    page.wait_for_url(edge.url + "/")
    page.get_by_role("link", name="Gạo Ngọc Mầm").first.click()
    page.get_by_role("link", name="Sấy lúa").click()
    page.get_by_label("Nhiệt độ sấy").fill("45")
    page.get_by_role("button", name="Lưu: Sấy lúa").click()
    page.wait_for_url("**saved=step")
    last = json.loads(edge.journal_rows("SELECT body FROM events ORDER BY seq DESC")[0][0])
    assert last["by"] == {"id": "hung", "name": "Trần Văn Hùng"}
    page.close()


def test_with_pins_a_write_without_a_signed_in_worker_is_refused(
    tmp_path: Path, procs: Processes
) -> None:
    edge = _edge(tmp_path, procs, WORKERS)
    touch = edge.touchscreen()
    r = touch.post("/batches", {"product": "NM"})
    assert r.status_code == 303 and "/login" in r.headers["Location"]
    assert edge.head() == 0
    assert touch.login("lan", "0000").status_code == 401
    assert touch.login("lan", "2468").status_code == 303
    _batch(touch)
    by = json.loads(edge.journal_rows("SELECT body FROM events")[0][0])["by"]
    assert by == {"id": "lan", "name": "Nguyễn Thị Lan"}
