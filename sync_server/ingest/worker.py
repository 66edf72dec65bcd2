"""The ingest worker: a shared-subscription MQTT client that feeds chunks to :mod:`ingest`.

paho's network thread puts each message on a small bounded inbox; one processing thread takes
whatever has gathered (up to ``MAX_BATCH`` messages) and ingests it in ONE transaction, chunks
and status messages alike (one write lock and one fsync per batch, not per status: issue 17),
then sends the acks and commands. When the database is slow the inbox fills, paho's thread
waits on it and stops reading from the broker (backpressure), so no queue in this process grows
without limit. A message taken from the broker but not yet committed when the process dies is
simply never acked: its device resends it (docs/protocol.md).

The shared subscription hands a device's chunks to either worker, so a chunk often arrives
while its predecessor is still being committed by the other one. Such a chunk is not answered
with a ``gap`` ack at once (which makes the device resend its whole window): it is parked, in
memory and bounded, and tried again when its device's head moves or after ``PARK_S``.
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
from sqlalchemy import Connection, Engine, select, update

from sync_server.config import ServerConfig
from sync_server.ingest.commit import IngestResult, ParsedChunk, ingest_parsed, parse_chunks
from sync_server.ingest.rejects import STATUS, record_reject
from sync_server.ingest.status_rules import judge_status
from sync_server.store.alerts import raise_alert
from sync_server.store.db import devices, reading
from sync_server.store.write_turns import writing
from trace_protocol import topics
from trace_protocol.messages import Ack, Command, MessageError
from trace_protocol.signing import load_public_key
from trace_protocol.status import Status, parse_status

log = logging.getLogger(__name__)
MAX_QUEUED_ACKS = 1000
INBOX_SIZE = 512  # messages between paho's thread and the processing thread
MAX_BATCH = 256  # messages (chunks and statuses) per transaction
PARK_S = 5.0  # how long a chunk beyond a gap waits for its predecessor before the gap ack
MAX_PARKED = 256  # chunks beyond a gap held at once (each at most one chunk's payload)
IDLE_WAIT_S = 0.2  # while chunks are parked, how often the worker looks at their heads


@dataclasses.dataclass
class Parked:
    """A chunk that arrived beyond its device's head, waiting for the other worker's commit."""

    chunk: ParsedChunk
    head: int  # the device's head when it was parked
    until: float  # monotonic time after which its gap ack goes out


@dataclasses.dataclass
class StatusOutcome:
    """What a status asks of the worker once its transaction has committed."""

    dev: str
    commands: list[Command] = dataclasses.field(default_factory=list)
    ack: Ack | None = None


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
        self.parked_total = 0  # chunks ever parked (tests, logs)
        self._parked: list[Parked] = []
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
            try:
                first = self._inbox.get(timeout=IDLE_WAIT_S if self._parked else None)
            except queue.Empty:
                self._handle([])  # only parked chunks: retry those whose head moved
                continue
            if first is None:
                return
            if not self._process_batch(first):
                return

    def process_pending(self) -> None:
        """Process what is in the inbox now, in the calling thread (tests; the thread is not
        started then). Parked chunks get their gap acks: nothing else would retry them."""
        while True:
            try:
                first = self._inbox.get_nowait()
            except queue.Empty:
                break
            if first is None or not self._process_batch(first):
                break
        if self._parked:
            self._handle([], flush=True)

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
        self._handle(batch, flush=not going)
        return going

    def _handle(self, batch: list[tuple[str, str, bytes, bool]], *, flush: bool = False) -> None:
        """The batch's chunks, the parked chunks worth another try, and its status messages,
        in one transaction; then acks and commands, only once it has committed."""
        fresh = parse_chunks(
            [(dev, payload) for kind, dev, payload, _ in batch if kind == topics.EVENTS]
        )
        retry = self._due_parked(fresh, flush=flush)
        chunks = [p.chunk for p in retry] + fresh
        statuses = [(dev, p, r) for kind, dev, p, r in batch if kind == topics.STATUS]
        if not chunks and not statuses:
            return
        outcomes: list[StatusOutcome] = []
        try:
            with writing(self.engine) as conn:
                results = ingest_parsed(conn, chunks)
                for dev, payload, retained in statuses:
                    try:
                        with conn.begin_nested():
                            outcome = self._status_in(conn, dev, payload, retained=retained)
                    except Exception:  # one bad message must never kill the worker
                        log.exception("failed to process a status message from %s", dev)
                        continue
                    if outcome is not None:
                        outcomes.append(outcome)
        except Exception:  # the database may be away: no acks, the devices resend
            log.exception("failed to ingest %d chunks and %d statuses", len(chunks), len(statuses))
            return
        now = time.monotonic()
        deadlines = [p.until for p in retry] + [now + PARK_S] * len(fresh)
        self._answer(chunks, results, deadlines, flush=flush)
        for outcome in outcomes:
            self._after_status(outcome)

    def _due_parked(self, fresh: list[ParsedChunk], *, flush: bool) -> list[Parked]:
        """Take out the parked chunks worth trying now: their device's head moved (the other
        worker committed), a chunk of the same device is in this batch, or their time is up."""
        if not self._parked:
            return []
        now = time.monotonic()
        batch_devs = {dev for dev, _, _ in fresh}
        waiting = {p.chunk[0] for p in self._parked if p.chunk[0] not in batch_devs}
        heads: dict[str, int] = {}
        if waiting and not flush:
            with reading(self.engine) as conn:
                heads = {
                    r.dev_id: int(r.head_seq)
                    for r in conn.execute(
                        select(devices.c.dev_id, devices.c.head_seq).where(
                            devices.c.dev_id.in_(waiting)
                        )
                    )
                }
        due, keep = [], []
        for p in self._parked:
            dev = p.chunk[0]
            moved = heads.get(dev, p.head) != p.head
            if flush or now >= p.until or dev in batch_devs or moved:
                due.append(p)
            else:
                keep.append(p)
        self._parked = keep
        return due

    def _answer(
        self,
        chunks: list[ParsedChunk],
        results: list[IngestResult],
        deadlines: list[float],
        *,
        flush: bool,
    ) -> None:
        """Send each committed chunk's ack, or park a chunk that only found a gap (until its
        deadline: then the device hears of the gap and resends)."""
        now = time.monotonic()
        for chunk, result, until in zip(chunks, results, deadlines, strict=True):
            ack = result.ack
            if ack is None:
                continue
            dev = chunk[0]
            if (
                ack.gap
                and ack.error is None
                and not flush
                and len(self._parked) < MAX_PARKED
                and now < until
            ):
                self._parked.append(Parked(chunk, ack.upto, until))
                self.parked_total += 1
                continue
            stamped = dataclasses.replace(ack, server_time=round(time.time(), 3))
            self._send_ack(self.client, dev, stamped.encode())

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
        """One status in its own transaction, then what it asks for (tests; the worker
        records a batch's statuses in the batch's transaction)."""
        with self.engine.begin() as conn:
            outcome = self._status_in(conn, dev, payload, retained=retained)
        if outcome is not None:
            self._after_status(outcome)

    def _status_in(
        self, conn: Connection, dev: str, payload: bytes, *, retained: bool
    ) -> StatusOutcome | None:
        """Believe a status only when the device's key signed it (issue 12, finding 7): any
        other is counted and dropped, and raises no alert and sends no command. What a believed
        status means is :func:`sync_server.ingest.status_rules.judge_status`'s to say."""
        if not payload:
            return None  # a cleared retained message
        status: Status | None = None
        try:
            status = parse_status(payload, dev)
            code, reason = "bad_signature", "status signature does not verify"
        except MessageError as exc:
            code, reason = "malformed", str(exc)
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
            return None
        if (
            status is None
            or row.public_key is None
            or not status.verify(load_public_key(row.public_key))
        ):
            record_reject(conn, dev, row.facility_code, STATUS, code, reason, payload)
            return None
        verdict = judge_status(
            status, server_head=int(row.head_seq), retained=retained, now=time.time()
        )
        heard = {} if verdict.last_heard is None else {"last_heard": verdict.last_heard}
        conn.execute(
            update(devices).where(devices.c.dev_id == dev).values(status=status.unsigned(), **heard)
        )
        for alert in verdict.alerts:
            raise_alert(conn, dev, row.facility_code, alert.kind, alert.detail)
        outcome = StatusOutcome(dev, list(verdict.commands))
        if (
            status.blocked is not None
            and not retained
            and not row.blocked_code
            and not row.revoked_at
        ):
            # The office cleared the block (docs/protocol.md, "Unblocking") while the device was
            # away: an ack without error is what clears the device's own block.
            outcome.ack = Ack(upto=int(row.head_seq))
        return outcome

    def _after_status(self, outcome: StatusOutcome) -> None:
        """After the commit, like acks."""
        for cmd in outcome.commands:
            self.client.publish(topics.build_topic(outcome.dev, topics.CMD), cmd.encode(), qos=1)
        if outcome.ack is not None:
            self._send_ack(self.client, outcome.dev, outcome.ack.encode())
