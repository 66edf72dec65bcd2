"""The ingest worker: a shared-subscription MQTT client that feeds chunks to :mod:`ingest`.

Chunks are processed one at a time in paho's network thread, so a slow database slows the reads
from the broker (backpressure) instead of growing a queue in this process.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select, update

from sync_server.alerts import raise_alert
from sync_server.config import ServerConfig
from sync_server.db import devices
from sync_server.ingest import ingest_chunk
from trace_protocol import topics
from trace_protocol.messages import RESEND, Command, MessageError, parse_status

log = logging.getLogger(__name__)
MAX_QUEUED_ACKS = 1000


class IngestWorker:
    def __init__(self, engine: Engine, config: ServerConfig, *, client_id: str = "") -> None:
        self.engine = engine
        self.config = config
        self.connected = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"ingest-{uuid.uuid4().hex[:12]}",
            clean_session=True,
        )
        if config.mqtt.username:
            self.client.username_pw_set(config.mqtt.username, config.mqtt_password())
        self.client.reconnect_delay_set(min_delay=1, max_delay=max(1, config.mqtt.reconnect_max_s))
        # Acks waiting for the broker are bounded: past this, an ack is dropped and the device's
        # resend (acks stall) brings it back. No queue in this process grows without limit.
        self.client.max_queued_messages_set(MAX_QUEUED_ACKS)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.acks_refused = 0

    def start(self) -> None:
        self.client.connect_async(
            self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive_s
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the ingest worker: %s", reason)
            return
        group = self.config.mqtt.share_group
        client.subscribe(
            [
                (topics.shared_subscription(group, topics.EVENTS), 1),
                (topics.shared_subscription(group, topics.STATUS), 1),
            ]
        )
        self.connected.set()
        log.info("ingest worker connected, group %r", group)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.connected.clear()
        log.info("ingest worker disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            dev, kind = topics.parse_topic(msg.topic)
        except topics.TopicError as exc:
            log.warning("ignored message: %s", exc)
            return
        try:
            if kind == topics.EVENTS:
                result = ingest_chunk(self.engine, dev, bytes(msg.payload))
                if result.ack is not None:
                    self._send_ack(client, dev, result.ack.encode())
            elif kind == topics.STATUS:
                self._record_status(dev, bytes(msg.payload), retained=bool(msg.retain))
        except Exception:  # one bad message must never kill the worker
            log.exception("failed to process %s message from %s", kind, dev)

    def _send_ack(self, client: mqtt.Client, dev: str, payload: bytes) -> None:
        """Acks go at QoS 0. At QoS 1 each would wait for the broker's PUBACK, and under load
        those PUBACKs queue behind the chunks the broker is still sending us: the client's
        in-flight window fills and acks are dropped. A lost ack costs the device a resend,
        which the protocol already handles; acks are idempotent."""
        info = client.publish(topics.build_topic(dev, topics.ACK), payload, qos=0)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self.acks_refused += 1
            if self.acks_refused % 100 == 1:
                log.warning(
                    "ack to %s not sent (%s); %d refused so far",
                    dev,
                    mqtt.error_string(info.rc),
                    self.acks_refused,
                )

    def _record_status(self, dev: str, payload: bytes, *, retained: bool = False) -> None:
        if not payload:
            return  # a cleared retained message
        try:
            status = parse_status(payload)
        except MessageError as exc:
            log.warning("rejected status from %s: %s", dev, exc)
            return
        with self.engine.begin() as conn:
            row = conn.execute(
                select(devices.c.head_seq, devices.c.facility_code).where(devices.c.dev_id == dev)
            ).first()
            if row is None:
                log.warning("status from unregistered device %s ignored", dev)
                return
            # A retained copy replayed when this worker (re)subscribes is old news: it updates
            # what we know of the device but not when we last heard from it.
            heard = {} if retained else {"last_heard": time.time()}
            conn.execute(
                update(devices)
                .where(devices.c.dev_id == dev)
                .values(status=_status_dict(status), **heard)
            )
            if status.head < row.head_seq:
                # The server holds events this device no longer has: restored from an old copy?
                raise_alert(
                    conn,
                    dev,
                    row.facility_code,
                    "journal_behind",
                    f"device journal ends at {status.head}, server holds {row.head_seq}",
                )
            cameras = status.extra.get("cameras")
            if isinstance(cameras, dict):
                broken = {
                    name: c.get("state")
                    for name, c in cameras.items()
                    if isinstance(c, dict) and c.get("state") != "ok"
                }
                if broken:
                    detail = ", ".join(f"{name}: {state}" for name, state in sorted(broken.items()))
                    raise_alert(conn, dev, row.facility_code, "camera", detail)
            if status.extra.get("periodic_paused_disk_low"):
                raise_alert(conn, dev, row.facility_code, "disk_low", "periodic photos paused")
            behind = status.acked > row.head_seq
            if behind:
                # The device holds acks for events we no longer have: this database was restored
                # from a backup. Ask for them again; they verify like any other events.
                raise_alert(
                    conn,
                    dev,
                    row.facility_code,
                    "server_behind",
                    f"device acked {status.acked}, server holds {row.head_seq}: resend asked",
                )
        if behind:
            cmd = Command(RESEND, {"from": int(row.head_seq) + 1})
            self.client.publish(topics.build_topic(dev, topics.CMD), cmd.encode(), qos=1)


def _status_dict(status: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(status)
