"""Issue #3: under a 10x overload the ingest worker's memory stays bounded (backpressure, no
unbounded queue) and it keeps committing in order afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ocop_cli.broker import Mosquitto
from sync_server.devices.registry import register_device
from tests.integration.harness import Processes, make_server, wait_until
from tests.unit.protocol.builders import ChainBuilder
from trace_protocol import topics
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration
DEVICES = 20
CHUNKS_PER_DEVICE = 60
EVENTS_PER_CHUNK = 25
NOMINAL_CHUNKS_PER_S = 20  # one chunk a second from each of 20 devices
OVERLOAD = 10
RSS_MARGIN_KB = 60_000


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _chunks(dev: str, key: DeviceKey) -> list[list[Event]]:
    chain = ChainBuilder(key, dev)
    for seq in range(1, CHUNKS_PER_DEVICE * EVENTS_PER_CHUNK + 1):
        chain.next("note.recorded", {"n": seq, "text": "kiểm tra tải"})
    evs = chain.events
    return [evs[i : i + EVENTS_PER_CHUNK] for i in range(0, len(evs), EVENTS_PER_CHUNK)]


def test_ingest_memory_stays_bounded_under_ten_times_the_nominal_rate(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    devs = {f"load-{i:02d}": DeviceKey.generate() for i in range(DEVICES)}
    for dev, key in devs.items():
        register_device(server.engine, dev, "KC", key.public_key_b64)
    payloads = {dev: [encode_chunk(dev, c) for c in _chunks(dev, key)] for dev, key in devs.items()}
    worker = procs.start(
        ["server", "--config", str(server.config_path), "ingest"], tmp_path / "ingest.log"
    )
    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.max_inflight_messages_set(1000)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()

    def committed() -> int:
        return int(server.scalar("SELECT COALESCE(SUM(head_seq), 0) FROM devices"))

    # Warm up at the nominal rate: the first chunk of every device, then measure the baseline.
    def warm_up() -> bool:
        # Resent until committed, as an agent would: the worker may still be subscribing.
        if committed() == DEVICES * EVENTS_PER_CHUNK:
            return True
        for dev in devs:
            pub.publish(topics.build_topic(dev, topics.EVENTS), payloads[dev][0], qos=1)
        time.sleep(0.5)
        return False

    wait_until(warm_up, 60, "the warm-up chunks")
    baseline = _rss_kb(worker.pid)

    # Then ten times the nominal rate, bounded in count and time, sampling the worker's memory.
    interval = 1 / (NOMINAL_CHUNKS_PER_S * OVERLOAD)
    peak = baseline
    deadline = time.monotonic() + 60
    for i in range(1, CHUNKS_PER_DEVICE):
        for dev in devs:
            pub.publish(topics.build_topic(dev, topics.EVENTS), payloads[dev][i], qos=1)
            time.sleep(interval)
            assert time.monotonic() < deadline, "the publisher could not keep the rate"
        peak = max(peak, _rss_kb(worker.pid))
    sent_at_end = time.monotonic()
    while time.monotonic() - sent_at_end < 5:
        peak = max(peak, _rss_kb(worker.pid))
        time.sleep(0.2)
    pub.loop_stop()
    pub.disconnect()

    assert worker.poll() is None, "the ingest worker died"
    assert peak - baseline < RSS_MARGIN_KB, f"RSS grew from {baseline} kB to {peak} kB"
    # Whatever the broker dropped on the way, what was committed is gap-free per device.
    with server.engine.connect() as conn:
        for dev in devs:
            seqs = [
                r[0]
                for r in conn.exec_driver_sql(
                    "SELECT seq FROM events WHERE dev_id = ? ORDER BY seq", (dev,)
                )
            ]
            assert seqs == list(range(1, len(seqs) + 1))
    print(f"ingest RSS baseline {baseline} kB, peak {peak} kB; committed {committed()} events")
