"""An attacker's MQTT client: a device's leaked broker password, no signing key (issue 12)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import SQLAlchemyError

from tests.integration.harness import ServerEnv
from tests.security.kit import SecuredKit


class Attacker:
    """Logged in on the devices' listener as ``dev``; records what it receives."""

    def __init__(self, port: int, dev: str, password: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.username_pw_set(dev, password)
        self.client.max_queued_messages_set(0)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        answered = threading.Event()
        self.client.on_connect = lambda c, u, f, rc, p: answered.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert answered.wait(5), "no CONNACK"

    def subscribe(self, topic: str) -> None:
        done = threading.Event()
        self.client.on_subscribe = lambda *a: done.set()
        self.client.subscribe(topic, qos=1)
        assert done.wait(5), f"no SUBACK for {topic}"

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), f"broker did not take a message on {topic}"

    def got(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@contextmanager
def attacker(kit: SecuredKit, dev: str) -> Iterator[Attacker]:
    a = Attacker(kit.broker.port, dev, kit.passwords[dev])
    try:
        yield a
    finally:
        a.close()


def rejected(server: ServerEnv, dev: str, kind: str) -> int:
    """How many messages of ``kind`` the server counted as not ``dev``'s own."""
    count = server.scalar(
        "SELECT count FROM device_rejects WHERE dev_id = ? AND kind = ?", dev, kind
    )
    return int(count or 0)


def rejected_or_none(server: ServerEnv, dev: str, kind: str) -> int | None:
    """:func:`rejected`, or None where the server has no such counter (the code before issue
    12): waits use it so that the old code fails on what it did, not on a missing table."""
    try:
        return rejected(server, dev, kind)
    except SQLAlchemyError:
        return None


def alert_kinds(server: ServerEnv, dev: str) -> list[str]:
    with server.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT kind FROM alerts WHERE dev_id = ? ORDER BY id", (dev,))
        return [r[0] for r in rows]


def log_text(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


def pace(rate_per_s: float, duration_s: float) -> Iterator[int]:
    """Yield 0, 1, 2 … at ``rate_per_s``: at most ``rate_per_s * duration_s`` values, and for
    at most ``duration_s`` seconds."""
    start = time.monotonic()
    for i in range(int(rate_per_s * duration_s)):
        delay = start + i / rate_per_s - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if time.monotonic() - start > duration_s:
            return
        yield i
