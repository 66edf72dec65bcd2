"""Ingest throughput: verified, committed and acked events/s through Mosquitto into the server.

A publisher plays many devices: pre-signed chunks of 100 events each, published with paho at
QoS 1, one chunk in flight per device (the next goes when the server's ack for the previous
arrives, so chunks of one device never overtake each other across ingest workers). The clock
runs from the first publish until the last ack. Beside it, in the same run: (a) one core
verifying the same events' Ed25519 signatures one by one, and (b) the same chunks through a
bare relay process (bench/relay.py) that acks without parsing, verifying or storing.
Also profiles ``ingest_chunk`` in-process with cProfile, so the report says where time goes.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import Engine

from bench.kit import Stack, open_stack
from bench.report import MIN, MIN_RATIO, BenchResult, Figure
from sync_server.devices.registry import register_device
from sync_server.ingest.commit import ingest_chunk
from tests.integration.harness import REPO, make_server
from tests.unit.protocol.builders import ChainBuilder
from trace_protocol import topics
from trace_protocol.envelope import Event
from trace_protocol.messages import MessageError, encode_chunk, parse_ack
from trace_protocol.signing import DeviceKey, load_public_key, verify_signature

EVENTS_PER_CHUNK = 100
GOAL_EVENTS_S = 20_000.0
GOAL_X_VERIFY = 3.0
GOAL_X_RELAY = 0.5


@dataclass
class Device:
    dev: str
    key: DeviceKey
    events: list[Event]
    chunks: list[bytes]


def signed_devices(count: int, chunks: int, prefix: str = "bench") -> list[Device]:
    """``count`` devices, each with ``chunks`` pre-signed chunks of one hash chain."""
    out = []
    for d in range(count):
        dev, key = f"{prefix}-{d:04d}", DeviceKey.generate()
        chain = ChainBuilder(key, dev)
        for seq in range(1, chunks * EVENTS_PER_CHUNK + 1):
            chain.next("note.recorded", {"n": seq, "text": "kiểm tra tải"})
        evs = chain.events
        payloads = [
            encode_chunk(dev, evs[i : i + EVENTS_PER_CHUNK])
            for i in range(0, len(evs), EVENTS_PER_CHUNK)
        ]
        out.append(Device(dev, key, evs, payloads))
    return out


def verify_rate(devices: list[Device], limit: int, budget_s: float) -> tuple[int, float]:
    """Baseline (a): one signature per event, checked one by one on this core."""
    done = 0
    start = time.perf_counter()
    for d in devices:
        public = load_public_key(d.key.public_key_b64)
        for e in d.events:
            if not verify_signature(public, bytes.fromhex(e.hash), e.sig):
                raise AssertionError(f"signature of {e.dev}/{e.seq} does not verify")
            done += 1
            if done >= limit or time.perf_counter() - start > budget_s:
                return done, time.perf_counter() - start
    return done, time.perf_counter() - start


@dataclass
class Publisher:
    """Plays the devices: chunk i+1 of a device goes out when chunk i is acked."""

    port: int
    devices: list[Device]
    check_acks: bool  # False for the bare relay, whose acks are empty
    next_chunk: dict[str, int] = field(default_factory=dict)
    resends: int = 0
    errors: list[str] = field(default_factory=list)
    _pending: set[str] = field(default_factory=set)
    done: threading.Event = field(default_factory=threading.Event)
    finished_at: float = 0.0

    def run(self, timeout_s: float) -> float:
        """Publish everything; seconds from the first publish to the last ack."""
        by_dev = {d.dev: d for d in self.devices}
        subscribed = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{id(self)}")
        client.max_inflight_messages_set(max(20, 2 * len(self.devices)))

        def send(c: mqtt.Client, dev: str) -> None:
            chunk = by_dev[dev].chunks[self.next_chunk[dev]]
            c.publish(topics.build_topic(dev, topics.EVENTS), chunk, qos=1)

        def on_message(c: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            dev = msg.topic.split("/")[3]
            if dev not in by_dev:
                return
            if self.check_acks:
                try:
                    ack = parse_ack(bytes(msg.payload))
                except MessageError as exc:
                    self.errors.append(f"{dev}: {exc}")
                    return
                if ack.error is not None:
                    self.errors.append(f"{dev}: {ack.error}")
                    self._finish_device(dev)
                    return
                self.next_chunk[dev] = ack.upto // EVENTS_PER_CHUNK
                if ack.upto % EVENTS_PER_CHUNK:
                    self.errors.append(f"{dev}: ack upto {ack.upto} is inside a chunk")
                    self._finish_device(dev)
                    return
                if ack.gap:
                    self.resends += 1
            else:
                self.next_chunk[dev] += 1
            if self.next_chunk[dev] >= len(by_dev[dev].chunks):
                self._finish_device(dev)
            else:
                send(c, dev)

        client.on_message = on_message
        client.on_subscribe = lambda *a: subscribed.set()
        client.connect("127.0.0.1", self.port)
        client.subscribe(topics.wildcard(topics.ACK), qos=1)
        client.loop_start()
        try:
            if not subscribed.wait(10):
                raise TimeoutError("the publisher's subscription was not confirmed")
            self.next_chunk = {d.dev: 0 for d in self.devices}
            self._pending = set(by_dev)
            start = time.perf_counter()
            for dev in by_dev:
                send(client, dev)
            if not self.done.wait(timeout_s):
                raise TimeoutError(
                    f"{len(self._pending)} device(s) not fully acked after {timeout_s:.0f}s"
                )
            return self.finished_at - start
        finally:
            client.disconnect()
            client.loop_stop()

    def _finish_device(self, dev: str) -> None:
        self._pending.discard(dev)
        if not self._pending:
            self.finished_at = time.perf_counter()
            self.done.set()


def _warm_up(stack: Stack, engine: Engine | None, workers: int) -> None:
    """One device's chunks, resent until acked, then a pause: the workers have subscribed."""
    warm = signed_devices(1, 2 * workers, prefix="warm")
    if engine is not None:
        register_device(engine, warm[0].dev, "KC", warm[0].key.public_key_b64)
    deadline = time.monotonic() + 60
    while True:
        try:
            Publisher(stack.broker.port, warm, check_acks=engine is not None).run(timeout_s=2)
            time.sleep(0.5)
            return
        except TimeoutError:
            if time.monotonic() > deadline:
                raise


def profile_ingest(workdir: Path, chunks: int) -> dict[str, Any]:
    """cProfile of ``ingest_chunk`` in this process on a fresh database: where the time goes."""
    server = make_server(workdir / "profile", 1)
    devs = signed_devices(max(1, chunks // 5), 5, prefix="prof")
    for d in devs:
        register_device(server.engine, d.dev, "KC", d.key.public_key_b64)
    work = [(d.dev, c) for d in devs for c in d.chunks][:chunks]
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    for dev, payload in work:
        ingest_chunk(server.engine, dev, payload)
    profiler.disable()
    seconds = time.perf_counter() - start
    server.engine.dispose()
    stats = pstats.Stats(profiler)
    total = max(1e-9, sum(row[2] for row in stats.stats.values()))  # type: ignore[attr-defined]

    def entry(key: tuple[str, int, str], row: tuple[Any, ...]) -> dict[str, Any]:
        filename, line, name = key
        short = filename.split("site-packages/")[-1].replace(f"{REPO}/", "")
        return {
            "function": f"{short}:{line}({name})",
            "calls": row[1],
            "tottime_s": round(row[2], 4),
            "cumtime_s": round(row[3], 4),
            "tottime_share": round(row[2] / total, 3),
        }

    rows = stats.stats.items()  # type: ignore[attr-defined]
    by_tottime = sorted(rows, key=lambda kv: kv[1][2], reverse=True)[:15]
    kit = ("sync_server/", "trace_protocol/")
    ours = [kv for kv in rows if any(part in kv[0][0] for part in kit)]
    by_cumtime = sorted(ours, key=lambda kv: kv[1][3], reverse=True)[:15]
    return {
        "events": len(work) * EVENTS_PER_CHUNK,
        "seconds_under_profiler": round(seconds, 3),
        "top_tottime": [entry(k, v) for k, v in by_tottime],
        "top_cumtime_kit": [entry(k, v) for k, v in by_cumtime],
    }


def run(workdir: Path, *, quick: bool, workers: int = 2) -> BenchResult:
    n_devices, n_chunks = (4, 2) if quick else (100, 5)
    timeout_s = 60.0 if quick else 300.0
    devices = signed_devices(n_devices, n_chunks)
    events = n_devices * n_chunks * EVENTS_PER_CHUNK
    verified, verify_s = verify_rate(devices, 1000 if quick else 20_000, 2.0 if quick else 10.0)
    verify_per_s = verified / verify_s

    with open_stack(workdir / "relay") as stack:
        stack.python(["-m", "bench.relay", "--port", str(stack.broker.port)], "relay.log")
        _warm_up(stack, None, workers=1)
        relay_s = Publisher(stack.broker.port, devices, check_acks=False).run(timeout_s)
    relay_per_s = events / relay_s

    with open_stack(workdir / "ingest") as stack:
        server = make_server(workdir / "ingest", stack.broker.port)
        for d in devices:
            register_device(server.engine, d.dev, "KC", d.key.public_key_b64)
        for i in range(workers):
            stack.ingest(server, f"ingest-{i + 1}")
        _warm_up(stack, server.engine, workers)
        pub = Publisher(stack.broker.port, devices, check_acks=True)
        ingest_s = pub.run(timeout_s)
        stored = int(server.scalar("SELECT COUNT(*) FROM events WHERE dev_id LIKE 'bench-%'"))
        server.engine.dispose()
    if pub.errors or stored != events:
        raise AssertionError(f"ingest: {stored} of {events} events stored; {pub.errors[:3]}")
    ingest_per_s = events / ingest_s
    profile = profile_ingest(workdir, 4 if quick else 50)

    name = "verified+committed+acked events/s"
    return BenchResult(
        figures=[
            Figure(
                "ingest",
                name,
                ingest_per_s,
                "events/s",
                goal=GOAL_EVENTS_S,
                goal_kind=MIN,
                note=f"{workers} ingest workers, {n_devices} devices, SQLite",
            ),
            Figure(
                "ingest",
                name,
                ingest_per_s,
                "events/s",
                verify_per_s,
                "Ed25519 verify/s, 1 core",
                GOAL_X_VERIFY,
                MIN_RATIO,
            ),
            Figure(
                "ingest",
                name,
                ingest_per_s,
                "events/s",
                relay_per_s,
                "bare relay, no verify/store",
                GOAL_X_RELAY,
                MIN_RATIO,
            ),
        ],
        details={
            "devices": n_devices,
            "chunks_per_device": n_chunks,
            "events_per_chunk": EVENTS_PER_CHUNK,
            "events": events,
            "ingest_workers": workers,
            "ingest_seconds": ingest_s,
            "ingest_events_per_s": ingest_per_s,
            "gap_resends": pub.resends,
            "verify": {"signatures": verified, "seconds": verify_s, "per_s": verify_per_s},
            "relay": {"seconds": relay_s, "events_per_s": relay_per_s},
            "profile": profile,
        },
    )
