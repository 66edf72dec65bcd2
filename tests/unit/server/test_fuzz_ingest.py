"""Fuzz the ingest path: malformed, oversized, wrong-version and wrong-topic payloads are each
rejected and accounted for (a logged reason, or the device's junk counter), and neither
``ingest_chunk`` nor the worker's handler raises."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.ingest.commit import ingest_chunk
from sync_server.ingest.rejects import MALFORMED, reject_counts
from sync_server.ingest.worker import IngestWorker
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import DEV
from trace_protocol import topics
from trace_protocol.messages import MAX_PAYLOAD_BYTES, MessageError, encode_chunk, parse_chunk

FUZZ = settings(
    max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutations(valid: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """Valid chunks with one thing wrong: version, device, fields, types, sizes."""
    event = valid["events"][0]

    def mutate(args: tuple[str, str, Any]) -> bytes:
        where, key, value = args
        chunk = json.loads(json.dumps(valid))
        target = chunk if where == "chunk" else chunk["events"][0]
        if value == "<drop>":
            target.pop(key, None)
        else:
            target[key] = value
        return json.dumps(chunk).encode()

    return st.tuples(
        st.sampled_from(["chunk", "event"]),
        st.sampled_from(sorted(set(valid) | set(event) | {"extra"})),
        json_values | st.just("<drop>") | st.sampled_from([2, 0, -1, 2**63, "1", None]),
    ).map(mutate)


@pytest.fixture
def valid_chunk(device: str, chain: ChainBuilder) -> dict[str, Any]:
    chain.run(3)
    result: dict[str, Any] = json.loads(encode_chunk(DEV, chain.events))
    return result


def test_ingest_chunk_never_raises(engine: Engine, valid_chunk: dict[str, Any]) -> None:
    payloads = st.one_of(
        st.binary(max_size=300),
        json_values.map(lambda v: json.dumps(v).encode()),
        _mutations(valid_chunk),
    )

    @FUZZ
    @given(payload=payloads, dev=st.sampled_from([DEV, "kc-unknown", "x"]))
    def check(payload: bytes, dev: str) -> None:
        result = ingest_chunk(engine, dev, payload)
        if result.ack is not None:
            assert result.ack.upto >= 0

    check()


def _junk(engine: Engine) -> int:
    with engine.connect() as conn:
        return reject_counts(conn).get(DEV, {}).get(MALFORMED, 0)


def test_oversized_and_wrong_version_payloads_are_refused(
    engine: Engine, valid_chunk: dict[str, Any]
) -> None:
    huge = json.dumps({**valid_chunk, "pad": "x" * MAX_PAYLOAD_BYTES}).encode()
    payloads = (
        huge,
        json.dumps({**valid_chunk, "v": 2}).encode(),
        json.dumps({**valid_chunk, "v": True}).encode(),  # bool is an int; true is not 1
    )
    for payload in payloads:
        result = ingest_chunk(engine, DEV, payload)
        assert (result.committed, result.quarantined, result.rejected) == (0, 0, 1)
        assert result.ack is None  # junk is not the device's: it is counted, not answered
    with engine.connect() as conn:
        assert reject_counts(conn) == {DEV: {MALFORMED: len(payloads)}}


def test_worker_accounts_for_every_rejected_message(
    engine: Engine, valid_chunk: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    worker = IngestWorker(engine, ServerConfig(data_dir=tmp_path))
    wrong_topics = st.one_of(
        st.text(max_size=60),
        st.sampled_from(
            [
                "ocop/v1/dev/kc-test-1",
                "ocop/v2/dev/kc-test-1/events",
                "ocop/v1/dev/KC/events",
                "ocop/v1/dev/kc-test-1/events/x",
                "ocop/v1/dev/kc-test-1/unknown",
            ]
        ),
    )
    bad_payloads = st.one_of(st.binary(max_size=200), _mutations(valid_chunk))

    @FUZZ
    @given(
        topic=wrong_topics | st.just(topics.build_topic(DEV, topics.EVENTS)),
        payload=bad_payloads,
    )
    def check(topic: str, payload: bytes) -> None:
        caplog.clear()
        msg = mqtt.MQTTMessage(topic=topic.encode("utf-8", "surrogatepass"))
        msg.payload = payload
        before = _junk(engine)
        with caplog.at_level(logging.INFO):
            worker._on_message(worker.client, None, msg)
            worker.process_pending()  # the processing thread is not started here
        reasons = [r for r in caplog.records if r.levelno >= logging.WARNING]
        if topic == topics.build_topic(DEV, topics.EVENTS):
            try:
                parse_chunk(payload, DEV)
            except MessageError:
                # A device's junk is counted, with samples, rather than logged each time: a
                # flood must not fill the log (issue 12, finding 9).
                assert _junk(engine) == before + 1, payload[:80]
            return  # well-formed: committed, a duplicate, quarantined or counted as forged
        assert reasons, (topic, payload[:80])

    check()
