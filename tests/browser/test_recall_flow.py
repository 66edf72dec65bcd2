"""Issue 15, recall: an officer recalls a lot from its batch page in the office; with real
processes (two web workers, each with its own page cache primed beforehand, and a Mosquitto),
the batch page and a unit code page of that lot open with the red banner on both workers within
seconds, the device's retained config topic carries the lot in ``recalled_lots``, and lifting
the recall takes both away again."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion
from playwright.sync_api import Browser, Page

from ocop_cli.broker import Mosquitto, free_port, wait_for_port
from sync_server.accounts.users import create_user
from tests.browser.seeded import server_with_a_closed_batch
from tests.integration.harness import Processes
from trace_protocol import topics
from trace_protocol.unit_codes import build_unit_url, unit_mac

pytestmark = pytest.mark.browser
GTIN = "08936123450014"
PASSWORD = "mat-khau-rat-dai-2026"
REASON = "Nghi nhiễm nấm mốc (mẫu kiểm nghiệm 04/12)"
TITLE = "SẢN PHẨM ĐANG BỊ THU HỒI"


class ConfigTopic:
    """Every payload on one device's retained config topic, as a device would receive it."""

    def __init__(self, port: int, dev: str) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        topic = topics.build_topic(dev, topics.CONFIG)
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        with self.lock:
            self.payloads.append(json.loads(m.payload))

    def wait_for(
        self, check: Callable[[dict[str, Any]], bool], timeout_s: float = 10.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                found = [p for p in self.payloads if check(p)]
            if found:
                return found[-1]
            time.sleep(0.1)
        raise AssertionError(f"no such config on the topic: {self.payloads[-1:]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _first_in_main(page: Page) -> str:
    return str(page.locator("main > *").first.get_attribute("id") or "")


def _shows_banner(page: Page, url: str, want: bool, timeout_s: float = 5.0) -> None:
    """Reload ``url`` until the banner is (or is no longer) there: within seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        page.goto(url)
        has = page.locator("#recall").count() == 1
        if has == want or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert has == want, f"{url}: banner {'missing' if want else 'still shown'}"
    if want:
        assert _first_in_main(page) == "recall", f"{url}: the banner is not first"
        text = page.locator("#recall").inner_text()
        assert TITLE in text and REASON in text, text


def _pin_toml(path: Path, mqtt_port: int) -> None:
    """The seeded server's file, with the test's broker and a long page cache: a page cached
    before the recall would outlive the test if the cache ignored recalls."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"\[mqtt\]\nport = \d+", f"[mqtt]\nport = {mqtt_port}", text)
    text = re.sub(r"(\[http\]\nport = \d+\n)", r"\1page_cache_s = 600\n", text)
    path.write_text(text, encoding="utf-8")


def test_recall_and_lift_through_the_office(
    tmp_path: Path, browser: Browser, procs: Processes, broker: Mosquitto
) -> None:
    seeded = server_with_a_closed_batch(tmp_path, 1)
    server, lot = seeded.server, seeded.lot
    _pin_toml(server.config_path, broker.port)
    create_user(server.engine, "canbo", PASSWORD, "officer")
    first, second = server.config.http.port, free_port()
    config = str(server.config_path)
    procs.start(["server", "--config", config, "web"], tmp_path / "web1.log")
    procs.start(["server", "--config", config, "web", "--port", str(second)], tmp_path / "w2.log")
    assert wait_for_port(first, 30) and wait_for_port(second, 30)
    workers = [f"http://127.0.0.1:{first}", f"http://127.0.0.1:{second}"]
    serial = "2"
    mac = unit_mac(seeded.label_key, lot, serial, GTIN)
    pages = [f"/l/{lot}", f"/01/{GTIN}/10/{lot}"]
    # Each worker caches the batch pages before the recall.
    for base in workers:
        for path in pages:
            resp = requests.get(base + path, timeout=10)
            assert resp.status_code == 200 and 'id="recall"' not in resp.text
    topic = ConfigTopic(broker.port, seeded.edge.dev)
    try:
        consumer = browser.new_page(viewport={"width": 360, "height": 640}, is_mobile=True)
        office = browser.new_page(viewport={"width": 1280, "height": 800})
        office.goto(f"{workers[0]}/office/login")
        office.get_by_label("Tên đăng nhập").fill("canbo")
        office.get_by_label("Mật khẩu").fill(PASSWORD)
        office.get_by_role("button", name="Đăng nhập").click()
        office.wait_for_url("**/office/")

        # 1. An empty reason is refused next to its field, nothing recalled.
        office.goto(f"{workers[0]}/office/recalls?lot={lot}")
        office.locator('textarea[name="reason"]').fill("   ")
        office.get_by_role("button", name="Thu hồi lô này").click()
        assert office.locator("#err-reason").is_visible()
        assert office.locator("tr[data-recall]").count() == 0

        # 2. Recall from the batch's office page.
        office.goto(f"{workers[0]}/office/batches/{seeded.edge.dev}/{seeded.batch_id}")
        form = office.locator("#recall-batch")
        form.locator('textarea[name="reason"]').fill(REASON)
        form.get_by_role("button", name="Thu hồi lô này").click()
        office.wait_for_url(re.compile(r".*/office/recalls/\d+$"))
        assert "Đang thu hồi" in office.locator("#recall-status").inner_text()
        assert office.locator(f'li[data-lot="{lot}"]').count() == 1

        # 3. Both workers' batch pages and a unit code page: the banner, first.
        for base in workers:
            for path in pages:
                _shows_banner(consumer, base + path, want=True)
            _shows_banner(consumer, build_unit_url(base, lot, serial, mac, GTIN), want=True)
        consumer.goto(f"{workers[1]}/l/{lot}?lang=en")
        assert "PRODUCT RECALL" in consumer.locator("#recall").inner_text()
        consumer.goto(f"{workers[1]}/l/{lot}?lang=vi")

        # 4. The device's retained config carries the lot.
        recalled = topic.wait_for(lambda p: lot in p.get("recalled_lots", []))
        version = int(recalled["version"])

        # 5. Lift it: the banner leaves every page, the lot leaves the catalog.
        office.locator('#lift textarea[name="reason"]').fill("Kết quả kiểm nghiệm đạt")
        office.get_by_role("button", name="Gỡ thu hồi").click()
        office.wait_for_url(re.compile(r".*/office/recalls/\d+$"))
        assert "Đã gỡ" in office.locator("#recall-status").inner_text()
        for base in workers:
            for path in pages:
                _shows_banner(consumer, base + path, want=False)
            _shows_banner(consumer, build_unit_url(base, lot, serial, mac, GTIN), want=False)
        after = topic.wait_for(lambda p: int(p["version"]) > version)
        assert lot not in after.get("recalled_lots", [])
    finally:
        topic.close()
