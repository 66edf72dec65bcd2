"""The ingest worker's batch (issue 17): chunks and statuses share one transaction, and a chunk
that overtook its predecessor (the other worker has it) waits for it instead of costing the
device a gap resend of its whole window. Acks are read as the device would, off the wire."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import Engine, select

from sync_server.config import ServerConfig
from sync_server.ingest import worker as worker_module
from sync_server.ingest.worker import IngestWorker
from sync_server.store.db import devices
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import DEV
from trace_protocol import topics
from trace_protocol.messages import Ack, encode_chunk, parse_ack
from trace_protocol.signing import DeviceKey
from trace_protocol.status import build_status


class Sent:
    """Stands in for the worker's MQTT client: records what it would publish."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes]] = []

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> mqtt.MQTTMessageInfo:
        self.messages.append((topic, payload))
        info = mqtt.MQTTMessageInfo(len(self.messages))
        info.rc = mqtt.MQTT_ERR_SUCCESS
        return info

    def acks(self) -> list[Ack]:
        ack_topic = topics.build_topic(DEV, topics.ACK)
        return [parse_ack(p) for t, p in self.messages if t == ack_topic]


def _worker(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IngestWorker:
    w = IngestWorker(engine, ServerConfig(data_dir=tmp_path))
    monkeypatch.setattr(w, "client", Sent())
    return w


def _deliver(w: IngestWorker, kind: str, payload: bytes) -> None:
    msg = mqtt.MQTTMessage(topic=topics.build_topic(DEV, kind).encode())
    msg.payload = payload
    w._on_message(w.client, None, msg)


def _process(w: IngestWorker) -> None:
    """One turn of the processing thread: the inbox's batch (or only the parked chunks)."""
    first = w._inbox.get_nowait() if not w._inbox.empty() else None
    if first is None:
        w._handle([])
    else:
        w._process_batch(first)


def _head(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(select(devices.c.head_seq).where(devices.c.dev_id == DEV)).scalar_one()
        )


def _sent(w: IngestWorker) -> Sent:
    assert isinstance(w.client, Sent)
    return w.client


def test_a_chunk_that_overtook_its_predecessor_waits_for_the_other_worker(
    engine: Engine,
    device: str,
    chain: ChainBuilder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evs = chain.run(20)
    first, second = encode_chunk(DEV, evs[:10]), encode_chunk(DEV, evs[10:])
    a, b = _worker(engine, tmp_path, monkeypatch), _worker(engine, tmp_path, monkeypatch)
    _deliver(a, topics.EVENTS, second)  # the shared subscription gave worker a the later chunk
    _process(a)
    assert _sent(a).acks() == [] and a.parked_total == 1 and _head(engine) == 0
    _deliver(b, topics.EVENTS, first)
    _process(b)
    assert [x.upto for x in _sent(b).acks()] == [10]
    _process(a)  # a sees the head moved and tries its chunk again
    assert [(x.upto, x.gap) for x in _sent(a).acks()] == [(20, False)]
    assert _head(engine) == 20 and a._parked == []


def test_a_parked_chunk_whose_predecessor_never_comes_gets_its_gap_ack(
    engine: Engine,
    device: str,
    chain: ChainBuilder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evs = chain.run(20)
    w = _worker(engine, tmp_path, monkeypatch)
    _deliver(w, topics.EVENTS, encode_chunk(DEV, evs[10:]))
    _process(w)
    _process(w)  # nothing moved, its time is not up: still parked, still no ack
    assert _sent(w).acks() == [] and len(w._parked) == 1
    for parked in w._parked:
        parked.until -= worker_module.PARK_S  # its wait is over
    _process(w)
    assert [(x.upto, x.gap) for x in _sent(w).acks()] == [(0, True)]  # the device resends
    assert w._parked == []


def test_a_batch_of_chunks_and_statuses_commits_all_of_them(
    engine: Engine,
    device: str,
    key: DeviceKey,
    chain: ChainBuilder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    evs = chain.run(30)
    w = _worker(engine, tmp_path, monkeypatch)
    status = build_status(
        key, dev=DEV, online=True, at="2026-11-22T08:00:00+07:00", head=30, acked=0
    ).encode()
    # Out of order inside one batch too: the later chunk first.
    _deliver(w, topics.EVENTS, encode_chunk(DEV, evs[10:20]))
    _deliver(w, topics.STATUS, status)
    _deliver(w, topics.EVENTS, encode_chunk(DEV, evs[:10]))
    _deliver(w, topics.EVENTS, encode_chunk(DEV, evs[20:]))
    _process(w)
    assert sorted(x.upto for x in _sent(w).acks()) == [10, 20, 30]
    assert not any(x.gap for x in _sent(w).acks())
    with engine.connect() as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == DEV)).mappings().one()
    assert row["head_seq"] == 30 and row["status"]["head"] == 30
