"""Issue #2 acceptance: bad signatures and chain breaks are quarantined; the agent shows it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, enrol, make_edge, make_server, wait_until
from tests.integration.prefill import prefill
from trace_protocol import topics
from trace_protocol.envelope import Event, build_event
from trace_protocol.messages import Ack, encode_chunk, parse_ack
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration


def _ocop_json(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", *args], check=True, capture_output=True, text=True
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


class Listener:
    """A plain MQTT client that records what arrives on some topics."""

    def __init__(self, port: int, *subs: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe([(s, 1) for s in subs])
        self.client.loop_start()
        assert self.ready.wait(5)

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_bad_signature_is_quarantined_and_the_touchscreen_says_sync_blocked(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port, ack_timeout_s=0.5)
    # The office registered another key for this device (e.g. the SD card was re-imaged):
    # every signature the agent makes fails verification on the server.
    enrol(server, edge, public_key=DeviceKey.generate().public_key_b64)
    prefill(edge, 2)
    server.run(procs)
    edge.run(procs)

    status = wait_until(lambda: edge.status()["blocked"], 20, "the agent to be blocked")
    assert status["code"] == "bad_signature"
    assert status["seq"] == 1
    assert server.scalar("SELECT COUNT(*) FROM events") == 0
    assert server.scalar("SELECT code FROM quarantine WHERE seq = 1") == "bad_signature"
    assert server.scalar("SELECT blocked_code FROM devices") == "bad_signature"

    # The office is told: the CLI lists the quarantined event and the blocked device.
    listed = _ocop_json("server", "--config", str(server.config_path), "quarantine")
    assert [(q["device"], q["seq"], q["code"]) for q in listed] == [(edge.dev, 1, "bad_signature")]
    assert listed[0]["event"]["type"] == "batch.opened"
    (dev_row,) = _ocop_json("server", "--config", str(server.config_path), "devices")
    assert dev_row["blocked"]["code"] == "bad_signature"
    assert dev_row["committed_head"] == 0
    alerts = _ocop_json("server", "--config", str(server.config_path), "alerts")
    assert [(a["dev_id"], a["kind"]) for a in alerts] == [(edge.dev, "bad_signature")]

    page = requests.get(edge.url, timeout=5).text
    assert "Đồng bộ bị chặn — liên hệ văn phòng OCOP" in page
    assert "bad_signature" in page
    english = requests.get(edge.url, cookies={"lang": "en"}, timeout=5).text
    assert "Sync blocked — contact the OCOP office" in english

    # Blocked means stopped: no resend loop once the server has refused the event.
    spy = Listener(broker.port, topics.build_topic(edge.dev, topics.EVENTS))
    try:
        time.sleep(3)  # six ack timeouts: a retrying agent would have resent several times
        assert spy.on(topics.build_topic(edge.dev, topics.EVENTS)) == []
    finally:
        spy.close()
    assert edge.acked() == 0


def _event(key: DeviceKey, dev: str, seq: int, prev: str | None) -> Event:
    return build_event(
        key=key,
        dev=dev,
        seq=seq,
        type="step.recorded",
        body={"batch": str(uuid.uuid4()), "step": "XAT", "name": "Xay xát", "values": {}},
        prev=prev,
        at=datetime.now().astimezone(),
        clock="unsynced",
    )


def test_chain_break_is_quarantined_and_acked_as_an_error(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-2", broker.port)
    enrol(server, edge)
    server.run(procs)
    ack_topic = topics.build_topic(edge.dev, topics.ACK)
    events_topic = topics.build_topic(edge.dev, topics.EVENTS)
    first = _event(edge.key, edge.dev, 1, None)
    second = _event(edge.key, edge.dev, 2, first.hash)
    # Properly signed, but it claims a predecessor that does not exist: a broken chain.
    forged = _event(edge.key, edge.dev, 3, "0" * 64)
    spy = Listener(broker.port, ack_topic)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()

    def acks() -> list[Ack]:
        return [parse_ack(p) for p in spy.on(ack_topic)]

    def send_until_acked(events: list[Event]) -> list[Ack]:
        # Like the agent: resend until an ack answers (the ingest worker may still be subscribing).
        def attempt() -> list[Ack]:
            if not acks():
                client.publish(events_topic, encode_chunk(edge.dev, events), qos=1)
            return acks()

        result: list[Ack] = wait_until(attempt, 20, "an ack")
        return result

    try:
        assert send_until_acked([first, second])[-1].upto == 2
        spy.messages.clear()
        ack = send_until_acked([forged])[-1]
    finally:
        client.loop_stop()
        client.disconnect()
        spy.close()
    assert ack.upto == 2
    assert ack.error is not None
    assert (ack.error.code, ack.error.seq) == ("chain_break", 3)
    assert server.scalar("SELECT COUNT(*) FROM events") == 2
    assert server.scalar("SELECT seq FROM quarantine WHERE code = 'chain_break'") == 3
    assert server.scalar("SELECT kind FROM alerts WHERE dev_id = ?", edge.dev) == "chain_break"
