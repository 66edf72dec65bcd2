"""Issue #2 acceptance, as issue 12 amended it: a chain break signed by the device's key is
quarantined and blocks it; events its key did not sign are counted as forged, never block."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
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


def test_events_that_fail_the_devices_key_are_counted_not_blocking(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    """Changed by issue 12, finding 2. This test used to expect ``bad_signature`` to quarantine
    the event and block the device, with "Đồng bộ bị chặn" on its touchscreen. But an event that
    does not verify under the device's key is exactly what anyone holding only its broker
    password can publish, and that rule gave each of them a switch to stop the device for good.
    Now such events are counted as forged traffic with one office alert; the agent hears no
    error, keeps its events and resends them, and they land once the key is right."""
    server = make_server(tmp_path, broker.port)
    edge = make_edge(tmp_path, "kc-line-1", broker.port, ack_timeout_s=0.5)
    # The office registered another key for this device (e.g. the SD card was re-imaged):
    # every signature the agent makes fails verification on the server.
    enrol(server, edge, public_key=DeviceKey.generate().public_key_b64)
    prefill(edge, 2)
    server.run(procs)
    edge.run(procs)

    wait_until(
        lambda: server.scalar("SELECT count FROM device_rejects WHERE kind = 'forged'"),
        20,
        "the server to count the events as forged",
    )
    assert server.scalar("SELECT COUNT(*) FROM events") == 0
    assert server.scalar("SELECT COUNT(*) FROM quarantine") == 0
    assert server.scalar("SELECT blocked_code FROM devices") is None
    assert server.scalar("SELECT last_code FROM device_rejects") == "bad_signature"

    # The office is told once, and sees the counter: not a quarantined event, not a block.
    assert _ocop_json("server", "--config", str(server.config_path), "quarantine") == []
    (dev_row,) = _ocop_json("server", "--config", str(server.config_path), "devices")
    assert dev_row["blocked"] is None
    assert dev_row["rejected"]["forged"] >= 1
    alerts = _ocop_json("server", "--config", str(server.config_path), "alerts")
    assert [(a["dev_id"], a["kind"]) for a in alerts] == [(edge.dev, "forged_traffic")]

    assert edge.status()["blocked"] is None
    page = requests.get(edge.url, timeout=5).text
    assert "Đồng bộ bị chặn" not in page
    assert edge.acked() == 0

    # The office registers the device's real key: the agent's next resend lands, nothing lost.
    with server.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE devices SET public_key = ? WHERE dev_id = ?",
            (edge.key.public_key_b64, edge.dev),
        )
    head = edge.head()
    wait_until(lambda: edge.acked() == head, 20, "the agent's events to be committed")
    assert server.scalar("SELECT COUNT(*) FROM events") == head


def _event(key: DeviceKey, dev: str, seq: int, prev: str | None) -> Event:
    return build_event(
        key=key,
        dev=dev,
        seq=seq,
        # Names no batch: since issue 12 a step must name a batch this device opened.
        type="note.recorded",
        body={"note": f"Ghi chú {seq}"},
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
