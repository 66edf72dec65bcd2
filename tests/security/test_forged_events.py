"""Issue 12, finding 2: with only a device's broker password (no key), junk events at its next
seq used to quarantine, block the device for good and stop its real events from committing.

Now what does not verify under the device's key is not the device's: it is counted, alerted
once, and the device's own event for that seq lands when it comes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, wait_until
from tests.integration.prefill import prefill
from tests.security.attacker import alert_kinds, attacker, log_text, rejected
from tests.security.kit import start_secured_kit
from trace_protocol import topics
from trace_protocol.envelope import build_event
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration
DEV = "kc-line-1"


def test_junk_at_the_next_seq_neither_blocks_the_device_nor_stops_its_real_events(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    edge = kit.enrol_edge(tmp_path, DEV)
    head = prefill(edge, 1)
    edge.run(procs)
    wait_until(lambda: edge.acked() == head, 30, "the agent's first events to be committed")
    last_hash = kit.server.scalar("SELECT head_hash FROM devices WHERE dev_id = ?", DEV)

    # The attacker's events at the next seq: the "hash": "000…", and a well-formed
    # event signed by a key that is not the device's. Then an unsigned "fork" of seq 1.
    shaped = build_event(
        key=DeviceKey.generate(),
        dev=DEV,
        seq=head + 1,
        type="batch.closed",
        body={"batch": "x", "quantity": 1, "unit": "kg"},
        prev=last_hash,
        at=datetime.now().astimezone(),
        clock="synced",
    )
    junk = dataclasses.replace(shaped, hash="0" * 64, sig="A" * 86)
    fork = dataclasses.replace(shaped, seq=1, prev=None)
    fork = dataclasses.replace(fork, hash=fork.computed_hash())
    with attacker(kit, DEV) as a:
        for event in (junk, shaped, fork):
            a.publish(topics.build_topic(DEV, topics.EVENTS), encode_chunk(DEV, [event]))

    # The worker records the next step on the touchscreen: it is committed.
    edge.record_step("XAT")
    assert edge.head() == head + 1
    wait_until(lambda: edge.acked() == head + 1, 30, "the real step to be committed")
    (seq, digest) = edge.journal_rows("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1")[0]
    assert kit.server.scalar("SELECT hash FROM events WHERE dev_id = ? AND seq = ?", DEV, seq) == (
        digest
    )

    assert kit.server.scalar("SELECT blocked_code FROM devices WHERE dev_id = ?", DEV) is None
    assert kit.server.scalar("SELECT COUNT(*) FROM quarantine") == 0
    assert rejected(kit.server, DEV, "forged") == 3
    assert alert_kinds(kit.server, DEV) == ["forged_traffic"]
    detail = kit.server.scalar("SELECT detail FROM alerts WHERE kind = 'forged_traffic'")
    assert "broker password may have leaked" in detail
    # The real agent never heard an error, and its touchscreen does not say "sync blocked".
    assert edge.status()["blocked"] is None
    assert "server refused event" not in log_text(edge.dir / "log")
    assert "Đồng bộ bị chặn" not in requests.get(edge.url, timeout=5).text
    samples = kit.server.scalar("SELECT samples FROM device_rejects WHERE kind = 'forged'")
    assert len(json.loads(samples)) == 3  # the office sees what was sent
