"""The sync worker: push journal chunks over MQTT, advance only on the server's ack.

Rules (DESIGN.md §4): publish only while connected (paho's in-memory queue is never the buffer:
the journal is); a refusal from the server blocks sync and is shown, not retried. What to send
and when to resend (every connect, acks that stop advancing, a gap) is decided by
``edge_agent/send_window.py``; this module does the I/O around it.

One thread owns the MQTT client: it connects (with exponential backoff and jitter), runs paho's
network loop, handles acks and config in paho's callbacks, and publishes. Nothing else touches
the client, so there are no lock-ordering hazards between paho and the worker.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.background import Background
from edge_agent.clock import SERVER_TOLERANCE_S
from edge_agent.config import EdgeConfig
from edge_agent.journal import Journal
from edge_agent.send_window import SendWindow, WindowLimits
from trace_protocol import topics
from trace_protocol.catalog import Catalog, CatalogError, decode_catalog
from trace_protocol.messages import (
    RESEND,
    Ack,
    Command,
    MessageError,
    encode_chunk,
    parse_ack,
    parse_command,
)
from trace_protocol.status import build_status

log = logging.getLogger(__name__)

LINK_CONNECTING = "connecting"
LINK_CONNECTED = "connected"
LINK_REFUSED = "refused"
CONNACK_TIMEOUT_S = 10.0
# After a password change the broker may not have re-read its files yet (the server reloads it
# just before answering the enrolment): refusals this soon are retried, not final.
NEW_PASSWORD_GRACE_S = 30.0
# CONNACK codes that retrying with the same credentials cannot fix (v3.1.1 4/5, v5 0x86/0x87).
_AUTH_FAILURES = {4, 5, 0x86, 0x87}


def backoff_delay(attempt: int, low: float, high: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped at ``high``.

    The random half spreads a village's worth of devices that lost the same link, so they do
    not all reconnect in the same second when it returns.
    """
    ceiling = min(high, low * 2.0 ** min(attempt, 30))
    return ceiling / 2 + rng.uniform(0, ceiling / 2)


class SyncWorker(Background):
    """Owns the MQTT client of one device. UI code never calls it: it reads the journal."""

    def __init__(
        self,
        journal: Journal,
        config: EdgeConfig,
        *,
        password: str | None,
        password_source: Callable[[], str | None] | None = None,
        on_catalog: Callable[[Catalog], object],
        version: str,
        status_extra: Callable[[], dict[str, Any]] | None = None,
        rng: random.Random | None = None,
        on_ack: Callable[[Ack], None] | None = None,
        on_command: Callable[[Command], None] | None = None,
    ) -> None:
        self.journal = journal
        self.config = config
        self.dev = config.device_id
        self._on_catalog = on_catalog
        self._version = version
        self._status_extra = status_extra or dict
        self._on_ack = on_ack
        self._on_command = on_command
        # Read again while the broker refuses our login: a technician's ``ocop edge enroll``
        # after the office rotated the password writes a new one (docs/protocol.md).
        self._password_source = password_source
        self._password = password
        self._new_password: str | None = None
        self._password_changed_at = -NEW_PASSWORD_GRACE_S
        self._rng = rng or random.Random()
        super().__init__()
        self._link = LINK_CONNECTING
        self._link_detail = ""
        self._socket_open = False
        self._socket_opened_at = 0.0
        self._attempt = 0
        self._next_attempt = 0.0
        cfg = config.mqtt
        self.window = SendWindow(WindowLimits(cfg.chunk_size, cfg.window_chunks, cfg.ack_timeout_s))
        self._last_status = 0.0
        self._busy = False
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"edge-{self.dev}",
            clean_session=True,
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(config.mqtt_username, password)
        if config.mqtt.tls:
            # Verifies the broker's certificate and host name; a bad CA file fails at start.
            self.client.tls_set(ca_certs=config.mqtt.ca_file or None)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # The lifecycle (start, stop, notify: a new event was written) is Background's; the thread
    # works, and keeps trying, with no broker reachable.
    thread_name = "sync"

    def link_state(self) -> tuple[str, str]:
        return self._link, self._link_detail

    def use_password(self, password: str) -> None:
        """Log in with ``password`` from now on (a rotation, edge_agent/rekey.py): the worker
        reconnects at once, also out of the refused state."""
        self._new_password = password
        self._wake.set()

    # -- the thread ------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:  # the worker must outlive any single failure
                log.exception("sync step failed")
                self._drop_connection("internal error")
                time.sleep(1)
        self._shutdown()

    def _step(self) -> None:
        if self._new_password is not None:
            self._switch_password(self._new_password)
        now = time.monotonic()
        if not self._socket_open:
            if self._link == LINK_REFUSED:
                # Nothing to do until the credentials change (restart, or a new password file).
                self._wake.wait(1.0)
                self._wake.clear()
                fresh = self._password_source() if self._password_source else None
                if fresh and fresh != self._password and self._new_password is None:
                    self._new_password = fresh
                return
            if now < self._next_attempt:
                self._wake.wait(min(0.5, max(0.0, self._next_attempt - now)))
                self._wake.clear()
                return
            self._open_socket()
            return
        # Short waits while chunks are moving, longer ones when idle (CPU on a Pi matters).
        rc = self.client.loop(timeout=0.01 if self._busy else 0.2)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            self._drop_connection(mqtt.error_string(rc))
            return
        if not self.window.connected:
            if now - self._socket_opened_at > CONNACK_TIMEOUT_S:
                self._drop_connection("no CONNACK from the broker")
            return
        self._tick(now)

    def _open_socket(self) -> None:
        cfg = self.config.mqtt
        # The last will is signed like every status (issue 12, finding 7), so it is made now,
        # with the journal's position at this connect.
        self.client.will_set(
            topics.build_topic(self.dev, topics.STATUS), self._status(online=False), 1, True
        )
        try:
            self.client.connect(cfg.host, cfg.port, keepalive=cfg.keepalive_s)
        except (OSError, ValueError) as exc:
            self._schedule_retry(str(exc))
            return
        self._socket_open = True
        self._socket_opened_at = time.monotonic()

    def _switch_password(self, password: str) -> None:
        self._new_password = None
        self._password = password
        self.client.username_pw_set(self.config.mqtt_username, password)
        log.info("broker password changed: connecting again")
        self._link, self._link_detail = LINK_CONNECTING, "new broker password"
        self._drop_connection("new broker password", retry_now=True)
        self._password_changed_at = time.monotonic()

    def _schedule_retry(self, reason: str) -> None:
        cfg = self.config.mqtt
        delay = backoff_delay(self._attempt, cfg.reconnect_min_s, cfg.reconnect_max_s, self._rng)
        self._attempt += 1
        self._next_attempt = time.monotonic() + delay
        log.info("broker unreachable (%s); retrying in %.1fs", reason, delay)

    def _drop_connection(self, reason: str, *, retry_now: bool = False) -> None:
        if self._socket_open:
            try:
                self.client.disconnect()
                self.client.loop(timeout=0.01)
            except Exception:  # the socket is already gone
                log.debug("disconnect after loss failed", exc_info=True)
        was_connected = self.window.connected
        self._socket_open = False
        self.window.disconnect()
        if retry_now:
            self._attempt, self._next_attempt = 0, 0.0
        elif self._link != LINK_REFUSED:
            self._link, self._link_detail = LINK_CONNECTING, reason
            self._schedule_retry(reason)
        if was_connected:
            log.info("connection lost: %s", reason)

    def _shutdown(self) -> None:
        """Say goodbye: a retained offline status, then a clean disconnect."""
        if not self.window.connected:
            return
        info = self.client.publish(
            topics.build_topic(self.dev, topics.STATUS),
            self._status(online=False),
            qos=1,
            retain=True,
        )
        deadline = time.monotonic() + 2
        while not info.is_published() and time.monotonic() < deadline:
            self.client.loop(timeout=0.05)
        self.client.disconnect()
        self.client.loop(timeout=0.05)

    # -- paho callbacks (run inside client.loop, on this worker's thread) -------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            fresh = time.monotonic() - self._password_changed_at < NEW_PASSWORD_GRACE_S
            if reason.value in _AUTH_FAILURES and not fresh:
                # Retrying with the same credentials cannot succeed (STYLE.md: frigate lesson).
                self._link, self._link_detail = LINK_REFUSED, str(reason)
            return
        for kind in topics.DOWN:
            client.subscribe(topics.build_topic(self.dev, kind), qos=1)
        self._attempt = 0
        self._link, self._link_detail = LINK_CONNECTED, ""
        state = self.journal.sync_state()
        self.window.connect(state.acked, blocked=state.blocked is not None, now=time.monotonic())
        self._last_status = 0.0
        log.info("connected to %s:%s", self.config.mqtt.host, self.config.mqtt.port)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        self.window.disconnect()

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
                self._handle_command(parse_command(bytes(msg.payload)))
        except (MessageError, CatalogError) as exc:
            log.warning("rejected %s message: %s", kind, exc)

    def _check_clock(self, server_time: float) -> None:
        """Only the server may publish on our ack topic (broker ACL), so its clock is a time
        source: events say "synced" while ours agrees with it (edge_agent/clock.py)."""
        clock = self.journal.clock.server
        before = clock.last_offset_s
        if not clock.observe(server_time, time.time(), time.monotonic()) and (
            before is None or abs(before) <= SERVER_TOLERANCE_S
        ):
            log.warning("this device's clock is %.0f s off the server's", clock.last_offset_s)

    def _handle_ack(self, payload: bytes) -> None:
        ack = parse_ack(payload)
        if ack.server_time is not None:
            self._check_clock(ack.server_time)
        window, now = self.window, time.monotonic()
        outcome = window.ack(ack.upto, gap=ack.gap, error=ack.error is not None, now=now)
        if outcome.beyond_published:  # an ack never moves published_max
            log.warning(
                "server acks up to %s, beyond what we sent (%s)", ack.upto, window.published_max
            )
        self.journal.mark_acked(outcome.acked)
        self.journal.mark_blocked(ack.error)
        if ack.error is not None:
            log.error(
                "server refused event %s (%s): %s", ack.error.seq, ack.error.code, ack.error.detail
            )
        if self._on_ack is not None:
            self._on_ack(ack)
        self._wake.set()

    def _handle_command(self, cmd: Command) -> None:
        if cmd.name == RESEND:
            first = int(cmd.args["from"])
            log.info("server asks to resend from %s", first)
            self.window.resend_command(first, time.monotonic())
            self._wake.set()
        elif self._on_command is not None:
            self._on_command(cmd)
        else:
            log.warning("command %r not supported", cmd.name)

    # -- sending ---------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        self._busy = False
        state = self.journal.sync_state()
        if now - self._last_status >= self.config.mqtt.status_interval_s:
            self._publish_status()
        send = self.window.next_send(state.head, now)
        if send is None:
            return  # blocked, nothing new, or the window is full: wait for acks
        if send.stalled:
            log.info(
                "acks stalled at %s: resending (next wait %.0f s)",
                send.after,
                self.window.stall_timeout(),
            )
        events = self.journal.events_after(send.after, send.count)
        info = self.client.publish(
            topics.build_topic(self.dev, topics.EVENTS), encode_chunk(self.dev, events), qos=1
        )
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self.window.published(events[-1].seq, now)
            self._busy = True

    def _publish_status(self) -> None:
        self._last_status = time.monotonic()
        self.client.publish(
            topics.build_topic(self.dev, topics.STATUS),
            self._status(online=True),
            qos=1,
            retain=True,
        )

    def _status(self, *, online: bool) -> bytes:
        """The signed status payload (docs/protocol.md, "status")."""
        state = self.journal.sync_state()
        oldest = state.oldest_unsynced_written_at
        fields: dict[str, Any] = {
            "dev": self.dev,
            "online": online,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "head": state.head,
            "acked": state.acked,
            "backlog": state.backlog,
            # Clamped: the wall clock may have been set back since (a Pi syncing its clock).
            "oldest_unsynced_age_s": None
            if oldest is None
            else max(0.0, round(time.time() - oldest, 1)),
            "clock": self.journal.clock.state(),
            "version": self._version,
            "blocked": state.blocked,
            "extra": self._status_extra(),
        }
        try:
            return build_status(self.journal.key, **fields).encode()
        except MessageError as exc:
            # Something in extra the server would refuse (say a camera renamed by hand): send
            # the journal's part, which the office needs most, and say what was left out.
            log.warning("status extra left out: %s", exc)
            fields["extra"] = {"status_error": str(exc)[:200]}
            return build_status(self.journal.key, **fields).encode()
