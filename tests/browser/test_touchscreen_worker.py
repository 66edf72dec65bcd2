"""Issue 13, the worker at the touchscreen: what a worker sees at 800x480 with no keyboard.

Every test drives Debian's Chromium against a real ``ocop edge run`` (no broker: the UI works
offline), with the rice catalog plus a step of three fields.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, ViewportSize
from playwright.sync_api import Error as PlaywrightError

from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import free_port
from tests.integration.harness import KC_CATALOG, EdgeEnv, Processes, make_edge, wait_until
from tests.integration.touchscreen import Touchscreen
from trace_protocol.catalog import parse_catalog

SCREEN: ViewportSize = {"width": 800, "height": 480}
MIN_TARGET_PX = 48
THREE = {
    "code": "KTRA",
    "name": {"vi": "Kiểm tra chất lượng", "en": "Quality check"},
    "fields": [
        {"key": "do_am", "label": {"vi": "Độ ẩm", "en": "Moisture"}, "unit": "%", "max": 30},
        {"key": "khoi_luong", "label": {"vi": "Khối lượng", "en": "Weight"}, "unit": "kg"},
        {"key": "tap_chat", "label": {"vi": "Tạp chất", "en": "Impurities"}, "unit": "%",
         "min": 0, "max": 5},
    ],
}  # fmt: skip


def _catalog() -> dict[str, object]:
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    obj["products"][0]["steps"].append(THREE)
    return {**obj, "version": 1, "public_base_url": "http://x"}


def _edge(tmp_path: Path, procs: Processes, printer: str = "") -> EdgeEnv:
    extra = f'[printer]\nurl = "{printer}"\nformat = "zpl"\n' if printer else ""
    edge = make_edge(tmp_path, "kc-line-1", free_port(), extra)
    agent = open_agent(load_config(edge.config_path), with_sync=False)
    agent.accept_catalog(parse_catalog(_catalog()))
    agent.close()
    edge.run(procs)
    return edge


@pytest.fixture
def edge(tmp_path: Path, procs: Processes) -> EdgeEnv:
    return _edge(tmp_path, procs)


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    p = browser.new_page(viewport=SCREEN)
    yield p
    p.close()


def _open(touch: Touchscreen) -> str:
    r = touch.post("/batches", {"product": "NM"})
    assert r.status_code == 303, r.text
    return str(r.headers["Location"].rsplit("/", 1)[1])


def _closed(touch: Touchscreen) -> str:
    batch = _open(touch)
    assert touch.post(f"/batches/{batch}/steps", {"step": "XAT"}).status_code == 303
    assert touch.post(f"/batches/{batch}/close", {"quantity": "10"}).status_code == 303
    return batch


def _in_view(page: Page, selector: str) -> None:
    """The element is on the 800x480 screen as it is, without scrolling."""
    assert page.evaluate("window.scrollY") == 0
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    assert box["y"] >= 0 and box["y"] + box["height"] <= SCREEN["height"], (selector, box)
    assert box["x"] >= 0 and box["x"] + box["width"] <= SCREEN["width"], (selector, box)


def _targets_are_big(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    small = []
    for el in page.locator("button, a.btn, a.tile, input:not([type=hidden])").all():
        box = el.bounding_box()
        if box and (box["height"] < MIN_TARGET_PX or box["width"] < MIN_TARGET_PX):
            small.append(el.evaluate("e => e.outerHTML.slice(0, 80)"))
    assert small == []


def _double_tap(page: Page, button: str, arrive: str) -> None:
    """Two taps 80 ms apart; the second cancels the first navigation (as in the kiosk)."""
    page.wait_for_load_state()
    page.locator(f"#{button}").wait_for()
    page.evaluate(
        f"""() => {{ const b = document.getElementById('{button}');
                    b.click(); setTimeout(() => b.click(), 80); }}"""
    )

    deadline = time.monotonic() + 15
    while True:
        try:
            page.wait_for_url(re.compile(arrive), timeout=3000)
            break
        except PlaywrightError:  # the aborted first navigation, or not there yet
            if time.monotonic() > deadline:
                raise
    page.wait_for_timeout(300)  # both submits have been answered


def _values(edge: EdgeEnv) -> list[dict[str, float]]:
    rows = edge.journal_rows("SELECT body FROM events WHERE type = 'step.recorded' ORDER BY seq")
    return [json.loads(b)["values"] for (b,) in rows]


def test_a_three_field_step_fits_and_errors_stand_by_their_field(edge: EdgeEnv, page: Page) -> None:
    batch = _open(edge.touchscreen())
    page.goto(f"{edge.url}/batches/{batch}?step=KTRA")
    _in_view(page, "#save")
    for key in ("do_am", "khoi_luong", "tap_chat"):
        _in_view(page, f"#v_{key}")
    _targets_are_big(page)

    page.locator("#v_do_am").fill("14,5")
    page.locator("#v_khoi_luong").fill("1.5")  # an English decimal point: refused, not 1.5
    page.locator("#v_tap_chat").fill("9")  # out of range
    page.locator("#save").click()
    page.wait_for_load_state()
    assert _values(edge) == []
    # The first error stands beside its field, which is marked; Save has not moved away.
    first = page.locator(".field-error").first
    assert "dấu phẩy" in first.inner_text() and "Khối lượng" in first.inner_text()
    assert page.locator("#v_khoi_luong").get_attribute("aria-invalid") == "true"
    assert page.locator(".field.invalid").count() == 2
    assert page.locator("#v_khoi_luong").get_attribute("aria-describedby") == "v_khoi_luong-error"
    assert "0–5" in page.locator("#v_tap_chat-error").inner_text()
    _in_view(page, ".field-error")
    _in_view(page, "#v_tap_chat-error")
    _in_view(page, "#save")
    # What was typed is kept.
    assert page.locator("#v_do_am").input_value() == "14,5"
    assert page.locator("#v_khoi_luong").input_value() == "1.5"
    page.locator("#v_khoi_luong").fill("1,5")
    page.locator("#v_tap_chat").fill("0,8")
    page.locator("#save").click()
    page.wait_for_url("**saved=step")
    assert _values(edge) == [{"do_am": 14.5, "khoi_luong": 1.5, "tap_chat": 0.8}]


def _tap(page: Page, keys: str) -> None:
    for k in keys:
        page.locator(f'.kp-key[data-key="{k}"]').click()


def test_keypad_entry_shows_the_value_that_is_saved(edge: EdgeEnv, page: Page) -> None:
    batch = _open(edge.touchscreen())
    page.goto(f"{edge.url}/batches/{batch}?step=NHAP")
    assert page.locator("#keypad").is_visible()
    assert page.locator("#v_do_am").get_attribute("inputmode") == "none"  # no system keyboard
    _in_view(page, "#keypad")
    _targets_are_big(page)
    preview = page.locator("#kp-preview")
    _tap(page, "14,5")  # the first field is chosen at first
    assert preview.inner_text() == "Độ ẩm — Sẽ lưu: 14,5 %"
    page.locator("#v_khoi_luong").click()
    _tap(page, "15000")
    page.locator('.kp-key[data-key="del"]').click()
    assert page.locator("#v_khoi_luong").input_value() == "1500"
    assert preview.inner_text() == "Khối lượng — Sẽ lưu: 1.500 kg"
    page.locator("#save").click()
    page.wait_for_url("**saved=step")
    assert _values(edge) == [{"do_am": 14.5, "khoi_luong": 1500.0}]
    assert "Khối lượng = 1.500 kg" in page.locator(".steps").inner_text()

    # "1.500" typed on a keyboard (or without JavaScript) is one thousand five hundred, shown
    # so before saving; "1.5" is refused by the preview and by the server alike.
    page.goto(f"{edge.url}/batches/{batch}?step=NHAP")
    page.locator("#v_do_am").fill("14")
    page.locator("#v_khoi_luong").fill("1.500")
    assert preview.inner_text() == "Khối lượng — Sẽ lưu: 1.500 kg"
    page.locator("#v_khoi_luong").fill("1.5")
    assert "dấu phẩy" in preview.inner_text()
    page.locator("#v_khoi_luong").fill("1.500")
    page.locator("#save").click()
    page.wait_for_url("**saved=step")
    assert _values(edge)[-1] == {"do_am": 14.0, "khoi_luong": 1500.0}


def test_without_javascript_the_form_and_the_number_rule_still_work(
    edge: EdgeEnv, browser: Browser
) -> None:
    batch = _open(edge.touchscreen())
    context = browser.new_context(viewport=SCREEN, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{edge.url}/batches/{batch}?step=NHAP")
    assert not page.locator("#keypad").is_visible()
    page.locator("#v_do_am").fill("14,5")
    page.locator("#v_khoi_luong").fill("1.500,5")
    page.locator("#save").click()
    page.wait_for_url("**saved=step")
    assert _values(edge) == [{"do_am": 14.5, "khoi_luong": 1500.5}]
    assert "Khối lượng = 1.500,5 kg" in page.locator(".steps").inner_text()
    context.close()


def test_opening_a_batch_asks_first(edge: EdgeEnv, page: Page) -> None:
    page.goto(edge.url)
    page.get_by_role("button", name="+ Gạo Ngọc Mầm").click()
    page.wait_for_url("**/batches/new**")
    assert "Mở lô mới?" in page.locator("h1").inner_text()
    assert edge.head() == 0
    _in_view(page, "#confirm-open")
    _targets_are_big(page)
    page.get_by_role("link", name="Huỷ").click()
    page.wait_for_url(edge.url + "/")
    assert edge.head() == 0
    page.get_by_role("button", name="+ Gạo Ngọc Mầm").click()
    page.get_by_role("button", name="Có, mở lô").click()
    page.wait_for_url(re.compile(r".*/batches/[0-9a-f-]{36}$"))
    assert edge.head() == 1
    # A double tap on the confirmation opens one batch.
    page.goto(edge.url)
    page.get_by_role("button", name="+ Gạo Ngọc Mầm").click()
    _double_tap(page, "confirm-open", r"/batches/[0-9a-f-]{36}$")
    assert edge.head() == 2


def test_recorded_steps_look_done_with_time_and_count(edge: EdgeEnv, page: Page) -> None:
    touch = edge.touchscreen()
    batch = _open(touch)
    for _ in range(2):
        assert touch.post(f"/batches/{batch}/steps", {"step": "XAT"}).status_code == 303
    page.goto(f"{edge.url}/batches/{batch}")
    now = datetime.now(UTC) + timedelta(hours=7)
    xat, nhap = page.locator("#step-XAT"), page.locator("#step-NHAP")
    text = xat.inner_text()
    assert text.startswith("✓") and "2 lần" in text, text
    hhmm = re.search(r"\b(\d\d):(\d\d)\b", text)
    assert hhmm, text
    assert abs(int(hhmm[1]) * 60 + int(hhmm[2]) - (now.hour * 60 + now.minute)) % 1440 <= 1
    assert "✓" not in nhap.inner_text() and "Chưa ghi" in nhap.inner_text()
    done_bg = xat.evaluate("e => getComputedStyle(e).backgroundColor")
    assert done_bg != nhap.evaluate("e => getComputedStyle(e).backgroundColor")
    _in_view(page, "#step-XAT")
    _targets_are_big(page)


def test_a_double_tap_on_print_queues_one_job_and_a_reprint_asks(edge: EdgeEnv, page: Page) -> None:
    touch = edge.touchscreen()
    batch = _closed(touch)
    page.goto(f"{edge.url}/batches/{batch}")
    page.locator("#copies").fill("3")
    _double_tap(page, "print-button", "saved=printed")
    assert edge.journal_rows("SELECT COUNT(*) FROM print_jobs")[0][0] == 1
    assert edge.journal_rows("SELECT COUNT(*) FROM events WHERE type = 'labels.printed'") == [(1,)]
    # Over plain HTTP too: the same rendered form posted twice at once acts once.
    form = touch.form(f"/batches/{batch}", f"/batches/{batch}/labels")
    answers: list[str] = []

    def submit() -> None:
        r = touch.post(f"/batches/{batch}/labels", {**form, "copies": "2"})
        answers.append(r.headers.get("Location", str(r.status_code)))

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(answers)) == 1 and "saved=printed" in answers[0]
    assert edge.journal_rows("SELECT COUNT(*) FROM print_jobs")[0][0] == 2

    page.goto(f"{edge.url}/batches/{batch}")
    wait_until(lambda: "Đã in xong" in page.locator("#print-status").inner_text(), 20, "done")
    page.locator("#print-status a.reprint").first.click()
    page.wait_for_url("**/reprint/**")
    assert "In lại nhãn?" in page.locator("h1").inner_text()
    assert edge.journal_rows("SELECT COUNT(*) FROM print_jobs")[0][0] == 2
    page.get_by_role("button", name="Có, in lại").click()
    page.wait_for_url("**saved=printed**")
    assert edge.journal_rows("SELECT COUNT(*) FROM print_jobs")[0][0] == 3


class _SlowPrinter:
    """A raw TCP (9100) printer that is switched on when the test says so."""

    def __init__(self) -> None:
        self.port = free_port()
        self.received = 0
        self._sock: socket.socket | None = None

    def switch_on(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        assert self._sock is not None
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(65536):
                    self.received += len(data)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


def test_print_progress_shows_near_the_button_and_updates_live(
    tmp_path: Path, procs: Processes, browser: Browser
) -> None:
    printer = _SlowPrinter()
    edge = _edge(tmp_path, procs, f"tcp://127.0.0.1:{printer.port}?timeout=2")
    batch = _closed(edge.touchscreen())
    page = browser.new_page(viewport=SCREEN)
    try:
        page.goto(f"{edge.url}/batches/{batch}")
        page.locator("#unit-labels").check()
        page.locator("#print-button").click()
        page.wait_for_url("**saved=printed**")
        status = page.locator("#print-status")
        # The printer is off: the page says so, right under the button, and not "printed".
        wait_until(lambda: "Chờ máy in" in status.inner_text(), 15, "waiting shown")
        assert "Đã in xong" not in status.inner_text()
        page.evaluate("window.scrollTo(0, 0)")
        _in_view(page, "#print-button")
        _in_view(page, "#print-status .job")
        page.evaluate("window.notReloaded = true")
        printer.switch_on()
        wait_until(lambda: "Đã in xong" in status.inner_text(), 40, "done shown without reload")
        assert page.evaluate("window.notReloaded") is True
        assert printer.received > 0
        _targets_are_big(page)
        box = page.locator("#unit-labels").bounding_box()
        assert box and box["width"] >= MIN_TARGET_PX and box["height"] >= MIN_TARGET_PX
    finally:
        page.close()
        printer.close()


def test_without_javascript_print_progress_has_a_refresh(
    tmp_path: Path, procs: Processes, browser: Browser
) -> None:
    edge = _edge(tmp_path, procs, f"tcp://127.0.0.1:{free_port()}?timeout=2")
    batch = _closed(edge.touchscreen())
    context = browser.new_context(viewport=SCREEN, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{edge.url}/batches/{batch}")
    page.locator("#print-button").click()
    page.wait_for_url("**saved=printed**")
    assert page.locator("#print-status .job").count() == 1
    assert page.locator("meta[http-equiv]").count() == 0
    refresh = page.locator("#print-status a.refresh")
    assert refresh.is_visible()
    refresh.click()
    page.wait_for_load_state()
    assert page.locator("#print-status .job").count() == 1
    context.close()


def test_english_mode_names_everything_in_english(edge: EdgeEnv, page: Page) -> None:
    touch = edge.touchscreen()
    closed = _closed(touch)
    batch = _open(touch)
    assert touch.post(f"/batches/{batch}/steps", {"step": "XAT"}).status_code == 303
    page.goto(edge.url)
    page.get_by_role("link", name="English").click()
    catalog = _catalog()
    product = catalog["products"][0]  # type: ignore[index]
    vi_names = [product["name"]["vi"]] + [s["name"]["vi"] for s in product["steps"]]
    vi_names += [f["label"]["vi"] for s in product["steps"] for f in s["fields"]]
    pages = ["/", f"/batches/{batch}", f"/batches/{closed}", f"/batches/{batch}?step=KTRA"]
    for path in pages:
        page.goto(edge.url + path)
        text = page.locator("main").inner_text()
        assert [n for n in vi_names if n in text] == [], path
        assert not re.search(r"\d{4}-\d\d-\d\d", text), path
    page.goto(edge.url + "/")
    assert "Ngọc Mầm rice" in page.locator(".tile.closed").first.inner_text()
    assert re.search(r"\d\d/\d\d/\d{4}", page.locator(".tile.closed").first.inner_text())
    page.goto(f"{edge.url}/batches/{closed}")
    assert re.search(r"Best before \d\d/\d\d/\d{4}", page.locator("main").inner_text())
