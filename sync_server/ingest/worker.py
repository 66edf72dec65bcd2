"""The ingest worker: a shared-subscription MQTT client that feeds chunks to :mod:`ingest`.

paho's network thread puts each message on a small bounded inbox; one processing thread takes
whatever has gathered (up to ``MAX_BATCH`` chunks) and ingests it in one transaction, then sends
the acks. When the database is slow the inbox fills, paho's thread waits on it and stops reading
from the broker (backpressure), so no queue in this process grows without limit. A message
taken from the broker but not yet committed when the process dies is simply never acked: its
device resends it (docs/protocol.md).
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
import uuid
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine, select, update

from sync_server.config import ServerConfig
from sync_server.ingest.commit import ingest_chunks
from sync_server.ingest.rejects import STATUS, record_reject
from sync_server.ingest.status_rules import judge_status
from sync_server.store.alerts import raise_alert
from sync_server.store.db import devices
from trace_protocol import topics
from trace_protocol.messages import Ack, MessageError
from trace_protocol.signing import load_public_key
from trace_protocol.status import Status, parse_status

log = logging.getLogger(__name__)
MAX_QUEUED_ACKS = 1000
INBOX_SIZE = 256  # messages between paho's thread and the processing thread
MAX_BATCH = 64  # chunks per transaction


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
        self._inbox: queue.Queue[tuple[str, str, bytes, bool] | None] = queue.Queue(INBOX_SIZE)
        self._processor = threading.Thread(target=self._process, name="ingest", daemon=True)

    def start(self) -> None:
        self._processor.start()
        self.client.connect_async(
            self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive_s
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self._inbox.put(None)  # after what is queued: those chunks are still committed
        self._processor.join(timeout=30)

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
        if kind in (topics.EVENTS, topics.STATUS):
            # Blocks while the inbox is full: paho then stops reading from the broker.
            self._inbox.put((kind, dev, bytes(msg.payload), bool(msg.retain)))

    def _process(self) -> None:
        while True:
            first = self._inbox.get()
            if first is None:
                return
            if not self._process_batch(first):
                return

    def process_pending(self) -> None:
        """Process what is in the inbox now, in the calling thread (tests; the thread is not
        started then)."""
        while True:
            try:
                first = self._inbox.get_nowait()
            except queue.Empty:
                return
            if first is None or not self._process_batch(first):
                return

    def _process_batch(self, first: tuple[str, str, bytes, bool]) -> bool:
        """Take more of what waits (up to MAX_BATCH) and process it; False when told to stop."""
        batch = [first]
        going = True
        while len(batch) < MAX_BATCH:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                break
            if item is None:
                going = False
                break
            batch.append(item)
        self._handle(batch)
        return going

    def _handle(self, batch: list[tuple[str, str, bytes, bool]]) -> None:
        """The batch's chunks in one transaction, then its status messages one by one."""
        chunks = [(dev, payload) for kind, dev, payload, _ in batch if kind == topics.EVENTS]
        try:
            if chunks:
                results = ingest_chunks(self.engine, chunks)
                for (dev, _), result in zip(chunks, results, strict=True):
                    if result.ack is not None:
                        ack = dataclasses.replace(result.ack, server_time=round(time.time(), 3))
                        self._send_ack(self.client, dev, ack.encode())
        except Exception:  # the database may be away: no acks, the devices resend
            log.exception("failed to ingest %d chunks", len(chunks))
        for kind, dev, payload, retained in batch:
            if kind != topics.STATUS:
                continue
            try:
                self._record_status(dev, payload, retained=retained)
            except Exception:  # one bad message must never kill the worker
                log.exception("failed to process a status message from %s", dev)

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
        """Believe a status only when the device's key signed it (issue 12, finding 7): any
        other is counted and dropped, and raises no alert and sends no command. What a believed
        status means is :func:`sync_server.ingest.status_rules.judge_status`'s to say."""
        if not payload:
            return  # a cleared retained message
        status: Status | None = None
        try:
            status = parse_status(payload, dev)
            code, reason = "bad_signature", "status signature does not verify"
        except MessageError as exc:
            code, reason = "malformed", str(exc)
        with self.engine.begin() as conn:
            row = conn.execute(
                select(
                    devices.c.head_seq,
                    devices.c.facility_code,
                    devices.c.public_key,
                    devices.c.blocked_code,
                    devices.c.revoked_at,
                )
                .where(devices.c.dev_id == dev)
                .with_for_update()
            ).first()
            if row is None:
                log.warning("status from unregistered device %s ignored", dev)
                return
            if (
                status is None
                or row.public_key is None
                or not status.verify(load_public_key(row.public_key))
            ):
                record_reject(conn, dev, row.facility_code, STATUS, code, reason, payload)
                return
            verdict = judge_status(
                status, server_head=int(row.head_seq), retained=retained, now=time.time()
            )
            heard = {} if verdict.last_heard is None else {"last_heard": verdict.last_heard}
            conn.execute(
                update(devices)
                .where(devices.c.dev_id == dev)
                .values(status=status.unsigned(), **heard)
            )
            for alert in verdict.alerts:
                raise_alert(conn, dev, row.facility_code, alert.kind, alert.detail)
        for cmd in verdict.commands:  # after the commit, like acks
            self.client.publish(topics.build_topic(dev, topics.CMD), cmd.encode(), qos=1)
        if (
            status.blocked is not None
            and not retained
            and not row.blocked_code
            and not (row.revoked_at)
        ):
            # The office cleared the block (docs/protocol.md, "Unblocking") while the device was
            # away: an ack without error is what clears the device's own block.
            self._send_ack(self.client, dev, Ack(upto=int(row.head_seq)).encode())
