"""The sync worker: push journal chunks over MQTT, advance only on the server's ack.

Rules (DESIGN.md §4): a broker PUBACK is not a commit; resend from ``acked+1`` on every connect
and whenever acks stop advancing; publish only while connected (paho's in-memory queue is never
the buffer: the journal is); a refusal from the server blocks sync and is shown, not retried.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.config import EdgeConfig
from edge_agent.journal import Journal
from trace_protocol import topics
from trace_protocol.catalog import Catalog, CatalogError, decode_catalog
from trace_protocol.messages import MessageError, Status, encode_chunk, parse_ack

log = logging.getLogger(__name__)

LINK_CONNECTING = "connecting"
LINK_CONNECTED = "connected"
LINK_REFUSED = "refused"


class SyncWorker:
    """Owns the MQTT client of one device. UI code never calls it: it reads the journal."""

    def __init__(
        self,
        journal: Journal,
        config: EdgeConfig,
        *,
        password: str | None,
        on_catalog: Callable[[Catalog], object],
        version: str,
        status_extra: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.dev = config.device_id
        self._on_catalog = on_catalog
        self._version = version
        self._status_extra = status_extra or dict
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._link = LINK_CONNECTING
        self._link_detail = ""
        self._connected = False
        self._sent_upto = 0
        self._last_progress = time.monotonic()
        self._last_status = 0.0
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"edge-{self.dev}",
            clean_session=True,
        )
        self.client.username_pw_set(config.mqtt_username, password)
        self.client.will_set(
            topics.build_topic(self.dev, topics.STATUS),
            self._status(online=False).encode(),
            qos=1,
            retain=True,
        )
        self.client.reconnect_delay_set(
            min_delay=max(1, int(config.mqtt.reconnect_min_s)),
            max_delay=max(1, int(config.mqtt.reconnect_max_s)),
        )
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start connecting in the background; works (and keeps trying) with no broker."""
        self.client.connect_async(
            self.config.mqtt.host, self.config.mqtt.port, keepalive=self.config.mqtt.keepalive_s
        )
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._connected:
            info = self.client.publish(
                topics.build_topic(self.dev, topics.STATUS),
                self._status(online=False).encode(),
                qos=1,
                retain=True,
            )
            info.wait_for_publish(timeout=2)
        self.client.disconnect()
        self.client.loop_stop()

    def notify(self) -> None:
        """Wake the worker now (a new event was written)."""
        self._wake.set()

    def link_state(self) -> tuple[str, str]:
        return self._link, self._link_detail

    # -- paho callbacks (paho's network thread) ------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self._link, self._link_detail = LINK_REFUSED, str(reason)
            log.error("broker refused the connection: %s", reason)
            if reason.value in (0x86, 0x87, 4, 5):  # bad credentials / not authorised
                # Retrying with the same credentials cannot succeed (STYLE.md: frigate lesson).
                client.disconnect()
            return
        for kind in topics.DOWN:
            client.subscribe(topics.build_topic(self.dev, kind), qos=1)
        with self._lock:
            self._connected = True
            self._link, self._link_detail = LINK_CONNECTED, ""
            # Resend from the last acked seq: whatever was in flight may be lost.
            self._sent_upto = self.journal.sync_state().acked
            self._last_progress = time.monotonic()
            self._last_status = 0.0
        log.info("connected to %s:%s", self.config.mqtt.host, self.config.mqtt.port)
        self._wake.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        with self._lock:
            self._connected = False
            if self._link != LINK_REFUSED:
                self._link, self._link_detail = LINK_CONNECTING, str(reason)
        log.info("disconnected: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        try:
            _, kind = topics.parse_topic(msg.topic)
        except topics.TopicError:
            log.warning("ignoring message on unexpected topic %r", msg.topic)
            return
        try:
            if kind == topics.ACK:
                self._handle_ack(bytes(msg.payload))
            elif kind == topics.CONFIG:
                self._on_catalog(decode_catalog(bytes(msg.payload)))
            elif kind == topics.CMD:
                log.warning("command not supported yet: %r", msg.payload[:200])
        except (MessageError, CatalogError) as exc:
            log.warning("rejected %s message: %s", kind, exc)

    def _handle_ack(self, payload: bytes) -> None:
        ack = parse_ack(payload)
        before = self.journal.sync_state()
        acked = self.journal.mark_acked(ack.upto)
        self.journal.mark_blocked(ack.error)
        if ack.error is not None:
            log.error(
                "server refused event %s (%s): %s", ack.error.seq, ack.error.code, ack.error.detail
            )
        with self._lock:
            if acked > before.acked:
                self._last_progress = time.monotonic()
            if ack.upto < before.acked:
                log.warning("server reports upto=%s below our acked=%s", ack.upto, before.acked)
                self._sent_upto = min(self._sent_upto, ack.upto)
        self._wake.set()

    # -- the worker loop -----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._tick()
            except Exception:  # the worker must outlive any single failure
                log.exception("sync tick failed")
                time.sleep(1)

    def _tick(self) -> None:
        if not self._connected:
            return
        state = self.journal.sync_state()
        now = time.monotonic()
        if now - self._last_status >= self.config.mqtt.status_interval_s:
            self._publish_status()
        if state.blocked is not None:
            return
        cfg = self.config.mqtt
        with self._lock:
            sent = max(self._sent_upto, state.acked)
            if sent > state.acked and now - self._last_progress > cfg.ack_timeout_s:
                log.info("acks stalled at %s: resending", state.acked)
                sent = state.acked
                self._last_progress = now
            self._sent_upto = sent
            if state.head <= sent or sent >= state.acked + cfg.chunk_size * cfg.window_chunks:
                return  # nothing new, or the window is full: wait for acks
            if sent == state.acked:
                self._last_progress = now
        # Publish outside our lock: paho's network thread takes it in the ack callback.
        events = self.journal.events_after(sent, cfg.chunk_size)
        info = self.client.publish(
            topics.build_topic(self.dev, topics.EVENTS), encode_chunk(self.dev, events), qos=1
        )
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            return
        with self._lock:
            # A reconnect in between reset the position to the acked seq: keep that.
            if self._sent_upto == sent:
                self._sent_upto = events[-1].seq
        self._wake.set()

    def _publish_status(self) -> None:
        self._last_status = time.monotonic()
        self.client.publish(
            topics.build_topic(self.dev, topics.STATUS),
            self._status(online=True).encode(),
            qos=1,
            retain=True,
        )

    def _status(self, *, online: bool) -> Status:
        state = self.journal.sync_state()
        oldest = state.oldest_unsynced_written_at
        return Status(
            online=online,
            at=datetime.now(UTC).isoformat(timespec="seconds"),
            head=state.head,
            acked=state.acked,
            backlog=state.backlog,
            oldest_unsynced_age_s=None if oldest is None else round(time.time() - oldest, 1),
            clock=self.journal.clock.state(),
            version=self._version,
            blocked=state.blocked,
            extra=self._status_extra(),
        )

    def publish_status_now(self) -> None:
        """Send a fresh status soon (e.g. after the worker saw something change)."""
        self._last_status = 0.0
        self._wake.set()
