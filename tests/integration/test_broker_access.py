"""Issue #3 acceptance: per-device credentials and ACLs on a real Mosquitto."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ocop_cli.broker import Mosquitto
from sync_server.devices.broker_auth import SERVER_USER, server_password, write_broker_auth
from sync_server.devices.enrolment import revoke_device
from tests.integration.harness import ServerEnv, enrol_with_token, make_server, wait_until
from trace_protocol import topics
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration


class Client:
    """A paho client that records its CONNACK, disconnects and messages."""

    def __init__(self, port: int, username: str | None, password: str | None) -> None:
        self.connack: str | None = None
        self.disconnects = 0
        self.messages: list[tuple[str, bytes]] = []
        self.connected = threading.Event()
        self.answered = threading.Event()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2)
        if username is not None:
            self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: setattr(self, "disconnects", self.disconnects + 1)
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.answered.wait(5), "no CONNACK"

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        self.connack = str(rc)
        if not rc.is_failure:  # type: ignore[attr-defined]
            self.connected.set()
        self.answered.set()

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos=1)
        assert done.wait(5)

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(5)

    def got(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


@pytest.fixture
def secured(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto]
) -> tuple[ServerEnv, Mosquitto, dict[str, str]]:
    """A broker that refuses anonymous clients, two enrolled devices, the server's user."""
    server = make_server(tmp_path, 0)
    passwords = {
        dev: enrol_with_token(server, dev, DeviceKey.generate()) for dev in ("kc-a", "kc-b")
    }
    auth_dir = tmp_path / "auth"
    write_broker_auth(server.engine, auth_dir)
    passwords[SERVER_USER] = server_password(auth_dir)
    broker = broker_factory(auth_dir=auth_dir)
    return server, broker, passwords


def test_anonymous_and_wrong_passwords_are_refused(
    secured: tuple[ServerEnv, Mosquitto, dict[str, str]],
) -> None:
    _, broker, passwords = secured
    for user, password in ((None, None), ("kc-a", "wrong"), ("kc-a", passwords["kc-b"])):
        c = Client(broker.port, user, password)
        assert c.connack == "Not authorized", (user, c.connack)
        c.close()
    ok = Client(broker.port, "kc-a", passwords["kc-a"])
    assert ok.connack == "Success"
    ok.close()


def test_a_device_writes_and_reads_only_its_own_topics(
    secured: tuple[ServerEnv, Mosquitto, dict[str, str]],
) -> None:
    _, broker, passwords = secured
    server = Client(broker.server_port, SERVER_USER, passwords[SERVER_USER])
    a = Client(broker.port, "kc-a", passwords["kc-a"])
    try:
        server.subscribe(topics.wildcard(topics.EVENTS))
        a.subscribe(topics.build_topic("kc-a", topics.ACK))
        a.subscribe(topics.build_topic("kc-b", topics.ACK))  # granted, but nothing is delivered
        a.publish(topics.build_topic("kc-b", topics.EVENTS), b"forged in kc-b's name")
        a.publish(topics.build_topic("kc-a", topics.EVENTS), b"own")
        server.publish(topics.build_topic("kc-b", topics.ACK), b"for b")
        server.publish(topics.build_topic("kc-a", topics.ACK), b"for a")
        wait_until(lambda: a.got(topics.build_topic("kc-a", topics.ACK)), 5, "a's own ack")
        wait_until(lambda: server.got(topics.build_topic("kc-a", topics.EVENTS)), 5, "a's events")
        # Both messages were sent before the ones that arrived, on the same connections.
        assert server.got(topics.build_topic("kc-b", topics.EVENTS)) == []
        assert a.got(topics.build_topic("kc-b", topics.ACK)) == []
        # A device cannot read another device's uplink either.
        a.subscribe(topics.build_topic("kc-b", topics.EVENTS))
        b = Client(broker.port, "kc-b", passwords["kc-b"])
        b.publish(topics.build_topic("kc-b", topics.EVENTS), b"b's own")
        wait_until(lambda: server.got(topics.build_topic("kc-b", topics.EVENTS)), 5, "b's events")
        assert a.got(topics.build_topic("kc-b", topics.EVENTS)) == []
        b.close()
    finally:
        a.close()
        server.close()


def test_revoked_device_is_cut_off_while_others_stay_connected(
    secured: tuple[ServerEnv, Mosquitto, dict[str, str]], tmp_path: Path
) -> None:
    server_env, broker, passwords = secured
    a = Client(broker.port, "kc-a", passwords["kc-a"])
    b = Client(broker.port, "kc-b", passwords["kc-b"])
    a.c.reconnect_delay_set(60, 60)  # one reconnect attempt at most during the test
    revoke_device(server_env.engine, "kc-a", "SD card stolen")
    write_broker_auth(server_env.engine, tmp_path / "auth")
    broker.reload()
    wait_until(lambda: a.disconnects >= 1, 10, "the revoked device to be disconnected")
    assert b.disconnects == 0 and b.c.is_connected()
    again = Client(broker.port, "kc-a", passwords["kc-a"])
    assert again.connack == "Not authorized"
    again.close()
    # b still works after the reload.
    b.subscribe(topics.build_topic("kc-b", topics.ACK))
    server = Client(broker.server_port, SERVER_USER, passwords[SERVER_USER])
    server.publish(topics.build_topic("kc-b", topics.ACK), b"still here")
    wait_until(lambda: b.got(topics.build_topic("kc-b", topics.ACK)), 5, "b's ack")
    for c in (a, b, server):
        c.close()
