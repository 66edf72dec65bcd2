"""One simulated device's sync link, following docs/protocol.md "Sync rules" like the edge does.

Chunks of up to ``chunk_size`` events from ``acked + 1``, at most ``chunk_size × window_chunks``
beyond the last ack; an ack moves ``acked`` to ``min(upto, head, highest seq published on this
connection)``; a stall of ``ack_timeout_s`` (doubling while nothing progresses, at most ×8) or a
``gap`` ack (once per reported position, or after a second) sends again
from ``acked + 1``; an error ack stops sending. Only the server's ack counts, never a PUBACK.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from tests.load.plan import LoadPlan
from tests.load.stats import Histogram
from tests.load.workload import Journal, device_key
from trace_protocol import topics
from trace_protocol.messages import Ack, MessageError, parse_ack
from trace_protocol.status import Status

EXTRA = {
    "disk_free_mb": 23105,
    "printer": "file",
    "catalog_version": 1,
    "uploads_pending": 0,
    "cameras": {"day-chuyen": {"state": "ok", "detail": "ok", "last_frame_age_s": 0.5}},
    "periodic_paused_disk_low": False,
    "photo_bytes": 23986,
}


@dataclass
class Counters:
    """What every device of a simulator process did, summed."""

    chunks: int = 0
    events_published: int = 0
    statuses: int = 0
    acks: int = 0
    ack_timeouts: int = 0
    gap_resends: int = 0
    stale_acks: int = 0
    bad_acks: int = 0
    commands: int = 0
    connects: int = 0
    disconnects: int = 0
    refused: int = 0
    blocked: list[str] = field(default_factory=list)


@dataclass
class Metrics:
    """Counters and per-phase latency histograms shared by a process's devices."""

    counters: Counters = field(default_factory=Counters)
    phase: str = "connect"
    ack_latency: dict[str, Histogram] = field(default_factory=dict)
    event_lag: dict[str, Histogram] = field(default_factory=dict)

    def hist(self, which: dict[str, Histogram]) -> Histogram:
        return which.setdefault(self.phase, Histogram())


class SimDevice:
    """A paho client (network loop driven by :mod:`tests.load.simulator`) and a journal."""

    def __init__(self, dev: str, plan: LoadPlan, metrics: Metrics, rng: random.Random) -> None:
        self.dev = dev
        self.plan = plan
        self.metrics = metrics
        self.journal = Journal(dev, device_key(plan.seed, dev), rng)
        self.connected = False
        self.blocked = False
        self.sent_upto = 0  # highest seq sent in the current pass (resends lower it)
        self.conn_max = 0  # highest seq published on this connection
        self.last_progress = 0.0
        self.last_gap = 0.0
        self.last_gap_upto = -1
        self.stalls = 0
        # (last seq of a chunk, when it was first published): for the publish-to-ack latency.
        self.first_sent: deque[tuple[int, float]] = deque()
        self.max_first = 0
        self.topic_events = topics.build_topic(dev, topics.EVENTS)
        self.topic_status = topics.build_topic(dev, topics.STATUS)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"edge-{dev}", clean_session=True
        )
        self.client.will_set(self.topic_status, self._status(online=False), qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- link ------------------------------------------------------------------------------------
    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if reason.is_failure:
            self.metrics.counters.refused += 1
            return
        self.metrics.counters.connects += 1
        client.subscribe(
            [(topics.build_topic(self.dev, k), 1) for k in (topics.ACK, topics.CONFIG, topics.CMD)]
        )
        self.connected = True
        self.sent_upto = self.conn_max = self.journal.acked
        self.publish_status()
        self.pump(time.monotonic())

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected:
            self.metrics.counters.disconnects += 1
        self.connected = False

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        kind = msg.topic.rsplit("/", 1)[-1]
        if kind == topics.ACK:
            try:
                ack = parse_ack(bytes(msg.payload))
            except MessageError:
                self.metrics.counters.bad_acks += 1
                return
            self.on_ack(ack, time.monotonic())
        elif kind == topics.CMD:
            self.metrics.counters.commands += 1  # not expected: no database restore here

    # -- sync ------------------------------------------------------------------------------------
    def on_ack(self, ack: Ack, now: float) -> None:
        m = self.metrics
        m.counters.acks += 1
        j = self.journal
        if ack.error is not None:
            self.blocked = True
            m.counters.blocked.append(f"{self.dev}: {ack.error.code} at {ack.error.seq}")
            return
        before = j.acked
        new = min(ack.upto, self.conn_max)
        if new > before:
            lag = m.hist(m.event_lag)
            for t in j.ack(new):
                lag.add(now - t)
            latency = m.hist(m.ack_latency)
            while self.first_sent and self.first_sent[0][0] <= new:
                latency.add(now - self.first_sent.popleft()[1])
            self.last_progress = now
        if new > before:
            self.stalls = 0
        if ack.upto < before:
            # A stale ack overtaken by a newer one (two ingest workers); its gap still counts.
            m.counters.stale_acks += 1
        if ack.gap and (j.acked > self.last_gap_upto or now - self.last_gap >= 1.0):
            # As edge_agent/sync.py: once per reported position, or again after a second.
            self.last_gap, self.last_gap_upto = now, j.acked
            m.counters.gap_resends += 1
            self.sent_upto = min(self.sent_upto, j.acked)
        self.pump(now)

    def pump(self, now: float) -> None:
        """Publish chunks while the window allows (edge_agent/sync.py ``_tick``)."""
        if not self.connected or self.blocked:
            return
        j, plan = self.journal, self.plan
        self.sent_upto = max(self.sent_upto, j.acked)
        while self.sent_upto < j.head and self.sent_upto < j.acked + plan.window_events:
            first = self.sent_upto + 1
            last = min(self.sent_upto + plan.chunk_size, j.head)
            if self.sent_upto == j.acked:
                self.last_progress = now  # the stall clock starts when something is in flight
            self.client.publish(self.topic_events, j.chunk(first, last), qos=1)
            self.sent_upto = last
            self.conn_max = max(self.conn_max, last)
            if last > self.max_first:
                self.first_sent.append((last, now))
                self.max_first = last
            self.metrics.counters.chunks += 1
            self.metrics.counters.events_published += last - first + 1

    def check_stall(self, now: float) -> None:
        j = self.journal
        if (
            self.connected
            and not self.blocked
            and self.sent_upto > j.acked
            and now - self.last_progress > self.plan.ack_timeout_s * 2 ** min(self.stalls, 3)
        ):
            # As edge_agent/sync.py: each resend without progress doubles the wait (≤ 8 ×).
            self.metrics.counters.ack_timeouts += 1
            self.stalls += 1
            self.last_progress = now
            self.sent_upto = j.acked
            self.pump(now)

    def record(self, now: float) -> None:
        self.journal.record(now)
        self.pump(now)

    # -- status ----------------------------------------------------------------------------------
    def _status(self, *, online: bool) -> bytes:
        j = self.journal
        oldest = j.oldest_unacked()
        return (
            Status(
                dev=self.journal.dev,
                online=online,
                at=datetime.now(UTC).isoformat(timespec="seconds"),
                head=j.head,
                acked=j.acked,
                backlog=j.head - j.acked,
                oldest_unsynced_age_s=None
                if oldest is None
                else round(time.monotonic() - oldest, 1),
                clock="synced",
                version="load",
                extra=EXTRA,
            )
            .signed(self.journal.key)
            .encode()
        )

    def publish_status(self) -> None:
        if self.connected:
            self.client.publish(self.topic_status, self._status(online=True), qos=1, retain=True)
            self.metrics.counters.statuses += 1

    @property
    def done(self) -> bool:
        """Everything recorded is acknowledged (or the device is blocked: the check reports it)."""
        return self.blocked or self.journal.acked == self.journal.head
