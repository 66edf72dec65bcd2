"""Issue 16 acceptance, facilities and devices: an officer in a real browser creates a facility,
adds its first product, registers a device and reads its one-time token off the page; a real
edge agent enrols with that token through a broker that refuses anonymous clients and shows
online; "take a photo now" brings the agent's photo onto the device page; revoking it makes
the broker refuse the agent. Every action is in the audit log."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Browser, Page

from ocop_cli.broker import Mosquitto
from sync_server.accounts.users import create_user
from sync_server.devices.broker_auth import write_broker_auth
from tests.integration.harness import Processes, make_edge, make_server, wait_until

pytestmark = pytest.mark.browser
PASSWORD = "văn phòng OCOP 2026"


def _video(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 5, (320, 240))
    rng = np.random.default_rng(16)
    for _ in range(10):
        writer.write(rng.integers(40, 200, (240, 320, 3), dtype=np.uint8))
    writer.release()
    return path


def _count(page: Page, selector: str) -> int:
    page.reload()
    return page.locator(selector).count()


def _state(page: Page) -> str:
    page.reload()
    return str(page.locator("h1 .state").get_attribute("data-state"))


def test_facility_device_enrol_photo_revoke_in_the_browser(
    tmp_path: Path,
    browser: Browser,
    procs: Processes,
    broker_factory: Callable[..., Mosquitto],
) -> None:
    auth_dir = tmp_path / "auth"
    first = make_server(tmp_path, 0)
    write_broker_auth(first.engine, auth_dir)
    first.engine.dispose()
    broker = broker_factory(auth_dir=auth_dir)
    server = make_server(
        tmp_path,
        broker.server_port,
        f'[broker]\nauth_dir = "{auth_dir}"\nreload_command = "{broker.reload_command}"\n'
        "[office]\nstale_after_s = 30\noffline_after_s = 3600\n",
    )
    server.run(procs)
    create_user(server.engine, "canbo", PASSWORD, "officer")

    page = browser.new_page()
    page.goto(f"{server.base_url}/office/login")
    page.fill("input[name=username]", "canbo")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/office/**")

    # A new facility, typed coordinates with a decimal comma.
    page.goto(f"{server.base_url}/office/fleet")
    page.get_by_role("link", name="Thêm cơ sở").click()
    page.fill("input[name=code]", "HS")
    page.fill("input[name=name]", "HTX Mật ong Hương Sơn")
    page.fill("input[name=commune]", "xã Sơn Kim 1")
    page.fill("input[name=district]", "huyện Hương Sơn")
    page.fill("input[name=province]", "Hà Tĩnh")
    page.fill("input[name=lat]", "18,4567")
    page.fill("input[name=lon]", "105,3012")
    page.fill("input[name=phone]", "0239 3875 123")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url("**/office/facilities/HS")
    assert "0239 3875 123" in page.content()

    # Its first product, in the catalog editor the facility page links to.
    page.get_by_role("link", name="Thêm sản phẩm").click()
    page.wait_for_url("**/office/catalog/HS/new")
    page.fill("input[name=code]", "MO")
    page.fill("input[name=name_vi]", "Mật ong hoa rừng")
    page.fill("input[name=ocop_stars]", "3")
    page.fill("input[name=shelf_life_days]", "365")
    page.fill("input[name='steps-0-code']", "LOC")
    page.fill("input[name='steps-0-name_vi']", "Lọc mật")
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_url("**/office/catalog")

    # Register a device: the token is on the page, once, beside its QR and the sheet.
    page.goto(f"{server.base_url}/office/facilities/HS")
    page.get_by_role("link", name="Đăng ký thiết bị").click()
    page.fill("input[name=dev]", "hs-1")
    page.fill("input[name=name]", "Máy lọc mật")
    page.get_by_role("button", name="Đăng ký thiết bị").click()
    token = page.locator("#enrol-token").inner_text().strip()
    command = page.locator("#enrol-command").inner_text().strip()
    assert command == (f"ocop edge enroll --server {server.base_url} --facility HS --token={token}")
    assert page.locator(".qr svg").count() == 1
    with page.expect_download() as download:
        page.get_by_role("button", name="Tải gói thẻ nhớ (zip)").click()
    assert download.value.suggested_filename == "ocop-hs-1.zip"

    # The Pi: a real agent with a file camera enrols with the token read from the page.
    camera = f'[[cameras]]\nname = "day-chuyen"\nuri = "file:{_video(tmp_path / "line.avi")}"\n'
    edge = make_edge(tmp_path, "hs-1", broker.port, camera + "[upload]\nbandwidth_kbps = 0\n")
    enrolled = subprocess.run(
        [
            sys.executable,
            "-m",
            "ocop_cli.main",
            "edge",
            "--config",
            str(edge.config_path),
            *command.split()[2:],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert enrolled.returncode == 0, enrolled.stderr
    edge.run(procs)
    page.goto(f"{server.base_url}/office/devices/hs-1")
    wait_until(lambda: _state(page) == "online", 30, "the device page to say online")
    assert page.locator("[data-enrolment=enrolled]").count() == 1

    # "Take a photo now": the agent's photo appears on the device page once uploaded.
    wait_until(
        lambda: _count(page, '[data-camera="day-chuyen"]') == 1,
        30,
        "the device to report its camera",
    )
    page.locator('[data-camera="day-chuyen"]').click()
    page.wait_for_url("**/office/devices/hs-1")
    assert "Đã gửi lệnh tới thiết bị." in page.content()
    wait_until(
        lambda: _count(page, "img.command-photo") == 1,
        60,
        "the commanded photo on the device page",
    )
    photo = page.locator("img.command-photo")
    assert photo.evaluate("img => img.complete && img.naturalWidth > 0")

    # Revoke: the broker refuses the agent, and the agent says so.
    page.locator("summary", has_text="Thu hồi thiết bị").click()
    page.fill("input[name=reason]", "Pi bị mất")
    page.get_by_role("button", name="Thu hồi thiết bị").click()
    page.wait_for_url("**/office/devices/hs-1")
    assert page.locator("[data-enrolment=revoked]").count() == 1
    wait_until(lambda: edge.status()["link"] == "refused", 30, "the broker to refuse the agent")

    actions = [
        r[0]
        for r in server.engine.connect().exec_driver_sql(
            "SELECT action FROM audit_log WHERE username = 'canbo' ORDER BY id"
        )
    ]
    for action in (
        "facility.create",
        "device.register",
        "command.snapshot",
        "device.revoke",
    ):
        assert action in actions, actions
    assert re.search(r"product|catalog", " ".join(actions)), actions
