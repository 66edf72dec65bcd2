"""Issue 12, finding 1: a device of facility CN takes over facility KC's public lot page.

Real processes: Mosquitto with per-device logins and ACLs, `ocop server run`, KC agents
(`ocop edge run`) enrolled with `ocop edge enroll` and worked through their touchscreen forms.
The attacker is a CN device with its own broker password and signing key, publishing on its own
topic: everything the broker and the signature checks allow.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion

from ocop_cli.broker import Mosquitto
from sync_server.devices.enrolment import create_device
from sync_server.devices.registry import import_catalog
from tests.integration.harness import (
    REPO,
    EdgeEnv,
    Processes,
    enrol_with_token,
    make_edge,
    wait_until,
)
from tests.security.kit import SecuredKit, start_secured_kit
from trace_protocol import envelope as ev
from trace_protocol import topics
from trace_protocol.envelope import Event, build_event
from trace_protocol.messages import Ack, encode_chunk, parse_ack
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration

CN_CATALOG = REPO / "ocop_cli" / "data" / "cuong-nga-honey.json"
FAKE = "Mật ong giả mạo"
GTIN = "08936123450014"  # Gạo Ngọc Mầm in ocop_cli/data/kc-rice.json
_TOKEN_RE = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _post_form(edge: EdgeEnv, path: str, data: dict[str, str]) -> requests.Response:
    """A worker's tap on the touchscreen: the page's form token (when it has one) and Origin."""
    session = requests.Session()
    page = session.get(edge.url + "/", timeout=5).text
    found = _TOKEN_RE.search(page)
    token = (found.group(1) or found.group(2)) if found else None
    r = session.post(
        edge.url + path,
        data={**data, "csrf_token": token} if token else data,
        headers={"Origin": edge.url},
        allow_redirects=False,
        timeout=5,
    )
    assert r.status_code == 303, r.text[:500]
    return r


def _enrolled_agent(kit: SecuredKit, tmp: Path, dev: str, procs: Processes) -> EdgeEnv:
    """`ocop server add-device`'s token, traded by `ocop edge enroll` over HTTP; agent started."""
    edge = make_edge(tmp, dev, kit.broker.port)
    token = create_device(kit.server.engine, dev, "KC", ttl_hours=1)
    enroll = ["enroll", "--server", kit.server.base_url, "--facility", "KC", "--token", token]
    subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "edge", "--config", str(edge.config_path), *enroll],
        check=True,
        capture_output=True,
        timeout=60,
    )
    kit.sync_broker()
    edge.run(procs)
    return edge


def _record_batch(kit: SecuredKit, edge: EdgeEnv) -> tuple[str, str]:
    """Open a rice batch and record a step through the touchscreen; wait until it has synced."""
    _post_form(edge, "/batches", {"product": "NM"})
    batch, lot = edge.journal_rows("SELECT batch_id, lot FROM batches ORDER BY opened_seq DESC")[0]
    _post_form(edge, f"/batches/{batch}/steps", {"step": "XAT"})
    head = edge.head()
    wait_until(lambda: edge.acked() >= head, 30, f"{edge.dev}'s batch to sync")
    return str(batch), str(lot)


class Attacker:
    """A device with its own broker login and key, publishing signed events on its own topic."""

    def __init__(self, kit: SecuredKit, dev: str, facility: str) -> None:
        self.dev = dev
        self.key = DeviceKey.generate()
        password = enrol_with_token(kit.server, dev, self.key, facility)
        kit.sync_broker()
        self.acks: list[Ack] = []
        self.events: list[Event] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-{dev}")
        self.client.username_pw_set(dev, password)
        self.client.on_message = lambda c, u, m: self.acks.append(parse_ack(bytes(m.payload)))
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", kit.broker.port)
        self.client.loop_start()
        self.client.subscribe(topics.build_topic(dev, topics.ACK), qos=1)
        assert subscribed.wait(5)

    def event(self, type: str, body: dict[str, Any]) -> Event:
        e = build_event(
            key=self.key,
            dev=self.dev,
            seq=len(self.events) + 1,
            type=type,
            body=body,
            prev=self.events[-1].hash if self.events else None,
            # A clock far ahead: the newest "opened_at" used to win the lot.
            at=datetime(2099, 1, 1, tzinfo=timezone(timedelta(hours=7)))
            + timedelta(minutes=len(self.events)),
            clock="synced",
        )
        self.events.append(e)
        return e

    def send(self, events: list[Event]) -> Ack:
        """Publish like an agent: resend until an ack answers."""
        topic = topics.build_topic(self.dev, topics.EVENTS)
        self.acks.clear()

        def attempt() -> Ack | None:
            if not self.acks:
                self.client.publish(topic, encode_chunk(self.dev, events), qos=1)
            return self.acks[-1] if self.acks else None

        ack: Ack = wait_until(attempt, 20, f"an ack for {self.dev}")
        return ack

    def take_over(self, lot: str, facility: dict[str, str]) -> Ack:
        """batch.opened with the victim's lot, then a step and batch.closed of that batch."""
        batch = str(uuid.uuid4())
        opened = {
            "batch": batch,
            "lot": lot,
            "product": {"code": "NM", "name": FAKE, "gtin": GTIN, "ocop_stars": 5},
            "facility": facility,
            "production_date": "2099-01-01",
        }
        step = {"batch": batch, "step": "XAT", "name": FAKE, "values": {}}
        closed = {"batch": batch, "quantity": 1.0, "unit": "kg"}
        return self.send(
            [
                self.event(ev.BATCH_OPENED, opened),
                self.event(ev.STEP_RECORDED, step),
                self.event(ev.BATCH_CLOSED, closed),
            ]
        )

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _page(kit: SecuredKit, path: str) -> str:
    r = requests.get(kit.server.base_url + path, timeout=10)
    assert r.status_code == 200, (path, r.status_code)
    return r.text


def _assert_real_batch_shown(kit: SecuredKit, lot: str) -> None:
    for path in (f"/l/{lot}", f"/01/{GTIN}/10/{lot}"):
        page = _page(kit, path)
        assert "Gạo Ngọc Mầm" in page, path
        assert FAKE not in page, path
        assert "Công ty TNHH MTV KC" in page, path


def _alerted(kit: SecuredKit, dev: str, kind: str) -> bool:
    sql = "SELECT COUNT(*) FROM alerts WHERE dev_id = ? AND kind = ?"
    return int(kit.server.scalar(sql, dev, kind)) == 1


@pytest.fixture
def kit(tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes) -> SecuredKit:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    import_catalog(kit.server.engine, CN_CATALOG, kit.server.base_url)
    return kit


def test_a_device_of_another_facility_cannot_take_over_a_lot_page(
    tmp_path: Path, kit: SecuredKit, procs: Processes
) -> None:
    kc = _enrolled_agent(kit, tmp_path, "kc-line-1", procs)
    _, lot = _record_batch(kit, kc)
    _assert_real_batch_shown(kit, lot)

    attacker = Attacker(kit, "cn-line-1", "CN")
    try:
        kc_facility = {"code": "KC", "name": "Công ty TNHH MTV KC"}
        ack = attacker.take_over(lot, kc_facility)
    finally:
        attacker.close()
    assert ack.upto == 0
    assert ack.error is not None and (ack.error.code, ack.error.seq) == ("wrong_facility", 1)
    assert kit.server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = 'cn-line-1'") == 0
    assert kit.server.scalar("SELECT code FROM quarantine WHERE dev_id = 'cn-line-1'") == (
        "wrong_facility"
    )
    assert _alerted(kit, "cn-line-1", "wrong_facility")
    _assert_real_batch_shown(kit, lot)


def test_a_device_naming_its_own_facility_cannot_take_another_facilitys_next_lot(
    tmp_path: Path, kit: SecuredKit, procs: Processes
) -> None:
    """Squatting: the CN device claims KC's lot before KC's agent opens it (honest facility)."""
    kc = _enrolled_agent(kit, tmp_path, "kc-line-1", procs)
    attacker = Attacker(kit, "cn-line-1", "CN")
    today = datetime.now(timezone(timedelta(hours=7)))
    squatted = f"KC-NM-{today:%y%m%d}A01"  # what kc-line-1 (lot letter A) mints next
    try:
        ack = attacker.take_over(squatted, {"code": "CN", "name": "HTX mật ong Cường Nga"})
    finally:
        attacker.close()
    assert ack.error is not None and ack.error.code == "wrong_facility"
    _, lot = _record_batch(kit, kc)
    assert lot == squatted  # the real batch got its lot and synced: the agent is not blocked
    assert kc.status()["blocked"] is None
    _assert_real_batch_shown(kit, lot)


def test_a_lot_another_device_already_opened_is_quarantined(
    tmp_path: Path, kit: SecuredKit, procs: Processes
) -> None:
    kc = _enrolled_agent(kit, tmp_path, "kc-line-1", procs)
    _, lot = _record_batch(kit, kc)
    # Another device of the same facility, with the real lot, facility and product.
    attacker = Attacker(kit, "kc-line-9", "KC")
    try:
        ack = attacker.take_over(lot, {"code": "KC", "name": "Công ty TNHH MTV KC"})
    finally:
        attacker.close()
    assert ack.error is not None and (ack.error.code, ack.error.seq) == ("lot_taken", 1)
    assert kit.server.scalar("SELECT code FROM quarantine WHERE dev_id = 'kc-line-9'") == (
        "lot_taken"
    )
    assert _alerted(kit, "kc-line-9", "lot_taken")
    assert kit.server.scalar("SELECT COUNT(*) FROM batches WHERE lot = ?", lot) == 1
    _assert_real_batch_shown(kit, lot)


def test_two_agents_of_one_facility_mint_distinct_lots_on_the_same_day(
    tmp_path: Path, kit: SecuredKit, procs: Processes
) -> None:
    line1 = _enrolled_agent(kit, tmp_path, "kc-line-1", procs)
    line2 = _enrolled_agent(kit, tmp_path, "kc-line-2", procs)
    _, lot1 = _record_batch(kit, line1)
    _, lot2 = _record_batch(kit, line2)
    assert lot1 != lot2
    assert len(lot1) <= 20 and len(lot2) <= 20
    assert kit.server.scalar("SELECT COUNT(*) FROM quarantine") == 0
    for edge, lot in ((line1, lot1), (line2, lot2)):
        assert edge.status()["blocked"] is None
        assert kit.server.scalar("SELECT dev_id FROM batches WHERE lot = ?", lot) == edge.dev
        _assert_real_batch_shown(kit, lot)
