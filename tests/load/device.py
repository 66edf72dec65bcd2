"""One simulated device's sync link: the edge's own window (edge_agent/send_window.py).

The rules are docs/protocol.md "Sync rules", and the simulator does not copy them: each device
drives an :class:`edge_agent.send_window.SendWindow`, as edge_agent/sync.py does, so the load
test measures the sender the Pis run (chunks from ``acked + 1`` within the window, the ack wait
that follows the measured ack latency, one-chunk probes on a stall, go-back on a ``gap`` ack,
no sending after an error ack). Only the server's ack counts, never a PUBACK.
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

from edge_agent.send_window import SendWindow, WindowLimits
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
        self.window = SendWindow(
            WindowLimits(plan.chunk_size, plan.window_chunks, plan.ack_timeout_s)
        )
        self.blocked = False
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
        self.window.connect(self.journal.acked, blocked=self.blocked, now=time.monotonic())
        self.publish_status()
        self.pump(time.monotonic())

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if self.connected:
            self.metrics.counters.disconnects += 1
        self.window.disconnect()

    @property
    def connected(self) -> bool:
        return self.window.connected

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
        before = j.acked
        outcome = self.window.ack(ack.upto, gap=ack.gap, error=ack.error is not None, now=now)
        if ack.error is not None:
            self.blocked = True
            m.counters.blocked.append(f"{self.dev}: {ack.error.code} at {ack.error.seq}")
            return
        if outcome.acked > before:
            lag = m.hist(m.event_lag)
            for t in j.ack(outcome.acked):
                lag.add(now - t)
            latency = m.hist(m.ack_latency)
            while self.first_sent and self.first_sent[0][0] <= outcome.acked:
                latency.add(now - self.first_sent.popleft()[1])
        if ack.upto < before:
            m.counters.stale_acks += 1  # overtaken by a newer one (two ingest workers)
        if outcome.resend:
            m.counters.gap_resends += 1
        self.pump(now)

    def pump(self, now: float) -> None:
        """Publish chunks while the window allows (edge_agent/sync.py ``_tick``); the window
        also decides when acks have stalled."""
        j = self.journal
        while (send := self.window.next_send(j.head, now)) is not None:
            last = send.upto
            self.client.publish(self.topic_events, j.chunk(send.after + 1, last), qos=1)
            self.window.published(last, now)
            if last > self.max_first:
                self.first_sent.append((last, now))
                self.max_first = last
            c = self.metrics.counters
            c.chunks += 1
            c.events_published += send.count
            if send.stalled:
                c.ack_timeouts += 1

    def check_stall(self, now: float) -> None:
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
