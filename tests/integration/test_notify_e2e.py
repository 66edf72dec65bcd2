"""Issue 16 acceptance, e-mail: with real processes (``ocop server run``, an edge agent, Mosquitto)
and a real SMTP server (aiosmtpd, STARTTLS and login, the password from the environment), a
camera covered, an agent gone silent and a forged code scanned on the public page each mail the
officers who subscribed on the office page, within their districts, once, though two ingest
processes run the notification loop."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import update

from ocop_cli.broker import Mosquitto, free_port
from sync_server.accounts.users import create_user
from sync_server.devices.registry import import_catalog
from sync_server.store.db import users
from tests.integration.harness import (
    REPO,
    Processes,
    ServerEnv,
    enrol,
    enrol_with_token,
    make_edge,
    make_server,
    wait_until,
)
from tests.smtp_server import PASSWORD, MailServer, Received
from tests.unit.camera import scenes
from tests.unit.server.office_client import PASSWORD as OFFICE_PASSWORD
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import build_unit_url

pytestmark = pytest.mark.integration
HONEY = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"
THACH_HA, HUONG_SON = "huyện Thạch Hà", "huyện Hương Sơn"


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[MailServer]:
    server = MailServer(tls_dir=tmp_path / "smtp-tls").start()
    yield server
    server.stop()


class Officer:
    """A browser session on the office: login, then forms with their CSRF token."""

    def __init__(self, server: ServerEnv, name: str, districts: list[str] | None) -> None:
        create_user(server.engine, name, OFFICE_PASSWORD, "officer")
        self.address = f"{name}@example.test"
        with server.engine.begin() as conn:
            conn.execute(
                update(users)
                .where(users.c.username == name)
                .values(email=self.address, districts=districts)
            )
        self.base = server.base_url
        self.s = requests.Session()
        r = self.s.post(
            f"{self.base}/office/login",
            data={
                "username": name,
                "password": OFFICE_PASSWORD,
                "csrf": self._csrf("/office/login"),
            },
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code == 302, r.text

    def _csrf(self, path: str) -> str:
        page = self.s.get(f"{self.base}{path}", timeout=10).text
        found = re.search(r'name="csrf" value="([^"]+)"', page)
        assert found, page
        return found.group(1)

    def subscribe(self, target: str, kinds: list[str], mode: str = "immediate") -> None:
        data = {"csrf": self._csrf("/office/notifications"), "target": target, "mode": mode}
        r = self.s.post(
            f"{self.base}/office/notifications",
            data={**data, "kind": kinds},
            allow_redirects=False,
            timeout=10,
        )
        assert r.status_code == 302, r.text

    def dashboard(self) -> str:
        return self.s.get(f"{self.base}/office/", timeout=10).text


def _kinds(mails: list[Received]) -> list[str]:
    found = []
    for m in mails:
        what = re.search(r"^What: (.+)$", m.body, re.MULTILINE)
        assert what, m.body
        found.append(what.group(1))
    return sorted(found)


def test_covered_camera_silent_agent_and_forged_code_mail_the_right_officers_once(
    tmp_path: Path,
    broker_factory: Callable[..., Mosquitto],
    procs: Processes,
    mail: MailServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mqtt_port = free_port()
    broker_factory(port=mqtt_port)
    server = make_server(
        tmp_path,
        mqtt_port,
        extra_toml=mail.toml()
        + "[notify]\ninterval_s = 0.5\n"
        + "[office]\nstale_after_s = 2\noffline_after_s = 5\n",
    )
    import_catalog(server.engine, HONEY, server.base_url)  # Cường Nga, huyện Hương Sơn
    enrol_with_token(server, "cn-hive-1", DeviceKey.generate(), facility="CN")
    video = scenes.write_video(tmp_path / "covered.avi", scenes.covered_frames())
    camera = f'[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\nhealth_interval_s = 0.5\n'
    edge = make_edge(tmp_path, "kc-line-1", mqtt_port, camera)
    enrol(server, edge)
    monkeypatch.setenv("OCOP_SMTP_PASSWORD", PASSWORD)  # the server process inherits it
    server.run(procs)
    # A second ingest process: both run the notify thread; each mail must still go once.
    procs.start(["server", "--config", str(server.config_path), "ingest"], server.dir / "log2")

    thach_ha = Officer(server, "thachha", [THACH_HA])
    huong_son = Officer(server, "huongson", [HUONG_SON])
    chief = Officer(server, "chief", None)
    thach_ha.subscribe("province", [])  # everything in their district, at once
    huong_son.subscribe("province", [])
    chief.subscribe("facility:KC", ["camera"])
    # A digest subscriber is mailed nothing before the day's digest hour has passed since.
    Officer(server, "daily", None).subscribe("province", [], mode="digest")

    # The camera is covered: the agent's status says so, the office gets a 'camera' alert.
    agent = edge.run(procs)
    wait_until(lambda: len(mail.to(thach_ha.address)) >= 1, 60, "the camera mail")
    wait_until(lambda: len(mail.to(chief.address)) >= 1, 30, "the chief's camera mail")
    # The agent stops; past office.offline_after_s the dashboard's sweep raises 'silent'.
    agent.terminate()
    agent.wait(timeout=15)
    wait_until(
        lambda: thach_ha.dashboard() and len(mail.to(thach_ha.address)) >= 2,
        60,
        "the silent mail",
    )
    # A forged code of Cường Nga's scanned on the public page: 'doubtful_scan' for Hương Sơn.
    forged = build_unit_url(server.base_url, "CN-MO-261122-01", "77", "B" * 12, None)
    page = requests.get(forged, timeout=10)
    assert page.status_code == 200 and "có thể là hàng giả" in page.text
    wait_until(lambda: len(mail.to(huong_son.address)) >= 1, 30, "the forged-code mail")

    time.sleep(3)  # several more rounds of the notify thread: nothing is sent twice
    to_thach_ha = mail.to(thach_ha.address)
    assert _kinds(to_thach_ha) == ["Camera problem", "Silent facility"]
    assert all("kc-line-1" in m.body and "huyện Thạch Hà" in m.body for m in to_thach_ha)
    camera_mail = next(m for m in to_thach_ha if "Camera problem" in m.body)
    assert "day-chuyen" in camera_mail.body
    assert f"{server.base_url}/office/devices/kc-line-1" in camera_mail.body
    (scan,) = mail.to(huong_son.address)
    assert _kinds([scan]) == ["Forged or unprinted code"]
    assert (
        "CN-MO-261122-01/77" in scan.body and f"{server.base_url}/office/facilities/CN" in scan.body
    )
    assert _kinds(mail.to(chief.address)) == ["Camera problem"]
    assert mail.to("daily@example.test") == []
    # Every mail went through STARTTLS with the login (the server refuses anything else).
    assert len(mail.mails) == 4
    office = thach_ha.s.get(f"{server.base_url}/office/notifications", timeout=10).text
    assert 'data-outbox-sent="2"' in office and 'data-outbox-failing="0"' in office
