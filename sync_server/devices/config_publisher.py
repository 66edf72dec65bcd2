"""Publish each device's catalog on its retained ``config`` topic, and other office publishes."""

from __future__ import annotations

import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.devices.registry import config_for_device, device_ids
from trace_protocol import topics


class PublishError(RuntimeError):
    """The broker could not be reached or refused us."""


def publish_configs(
    engine: Engine, config: ServerConfig, only: list[str] | None = None, timeout_s: float = 10.0
) -> list[str]:
    """Publish the retained config of ``only`` (default: every device); returns the devices."""
    with engine.connect() as conn:
        devs = only or device_ids(conn)
        payloads = {d: config_for_device(conn, d, config.public_base_url).encode() for d in devs}
    publish_messages(
        config,
        [(topics.build_topic(d, topics.CONFIG), p, True) for d, p in payloads.items()],
        timeout_s,
    )
    return list(payloads)


def publish_messages(
    config: ServerConfig, messages: list[tuple[str, bytes, bool]], timeout_s: float = 10.0
) -> None:
    """Publish ``(topic, payload, retain)`` at QoS 1 with the server's broker login and wait for
    the broker to confirm each: the office's publishes from a web request (catalogs, commands)."""
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    if config.mqtt.username:
        client.username_pw_set(config.mqtt.username, config.mqtt_password())
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    try:
        client.connect(config.mqtt.host, config.mqtt.port, keepalive=30)
    except OSError as exc:
        raise PublishError(
            f"cannot reach the broker at {config.mqtt.host}:{config.mqtt.port}: {exc}"
        ) from exc
    client.loop_start()
    try:
        if not connected.wait(timeout_s):
            raise PublishError("the broker did not accept the connection")
        infos = [client.publish(t, p, qos=1, retain=r) for t, p, r in messages]
        for info in infos:
            info.wait_for_publish(timeout=timeout_s)
            if not info.is_published():
                raise PublishError("the broker did not confirm a publish")
    finally:
        client.disconnect()
        client.loop_stop()
