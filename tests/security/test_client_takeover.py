"""Issue 12, finding 6: a device with its own (leaked) broker password connects with another
device's client id; the other device's agent must keep its connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, wait_until
from tests.security.kit import start_secured_kit

pytestmark = pytest.mark.integration


def _connect(port: int, user: str, password: str, client_id: str) -> mqtt.Client:
    answered = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    client.username_pw_set(user, password)
    client.on_connect = lambda *a: answered.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert answered.wait(5), "no CONNACK"
    return client


def _connections(log: Path) -> int:
    return log.read_text(encoding="utf-8", errors="replace").count("connected to 127.0.0.1")


def test_a_device_cannot_kick_another_off_the_broker_with_its_client_id(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    victim = kit.enrol_edge(tmp_path, "kc-line-1")
    attacker_password = kit.enrol_key_only("kc-line-2")
    victim.run(procs)
    log = victim.dir / "log"
    wait_until(lambda: _connections(log) >= 1, 20, "the real agent to connect")
    before = _connections(log)

    attackers = []
    try:
        for _ in range(3):
            attackers.append(
                _connect(kit.broker.port, "kc-line-2", attacker_password, "edge-kc-line-1")
            )
        # The agent reconnects within reconnect_min_s (1 s here) when it is kicked.
        with pytest.raises(AssertionError):
            wait_until(lambda: _connections(log) > before, 4, "a reconnection of the agent")
        assert "connection lost" not in log.read_text(encoding="utf-8", errors="replace")
    finally:
        for client in attackers:
            client.loop_stop()
            client.disconnect()
    # The server's listener does not take a device's password at all.
    refused = threading.Event()
    probe = mqtt.Client(CallbackAPIVersion.VERSION2)
    probe.username_pw_set("kc-line-2", attacker_password)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        if rc.is_failure:  # type: ignore[attr-defined]
            refused.set()

    probe.on_connect = on_connect
    probe.connect("127.0.0.1", kit.broker.server_port)
    probe.loop_start()
    try:
        assert refused.wait(5), "a device logged in on the server's listener"
    finally:
        probe.loop_stop()
