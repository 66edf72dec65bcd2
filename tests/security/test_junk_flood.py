"""Issue 12, finding 9: 2,000 junk payloads made 2,000 quarantine rows in seconds and no alert.

Now junk on a device's topic is aggregated per device (a counter and the latest samples, one
row), the office is alerted once, and the log gets a handful of lines, not one per payload.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, wait_until
from tests.security.attacker import (
    alert_kinds,
    attacker,
    log_text,
    pace,
    rejected,
    rejected_or_none,
)
from tests.security.kit import start_secured_kit
from trace_protocol import topics

pytestmark = pytest.mark.integration
DEV = "kc-line-2"
COUNT = 2000
RATE = 400  # payloads per second


def _junk(i: int) -> bytes:
    shapes = [
        b"not json %d" % i,
        json.dumps({"v": 2, "dev": DEV, "events": [i]}).encode(),
        json.dumps({"v": True, "dev": DEV, "events": [{"seq": i}]}).encode(),
        json.dumps({"v": 1, "dev": DEV, "events": [{"v": 1, "seq": i}]}).encode(),
    ]
    return shapes[i % len(shapes)]


def test_two_thousand_junk_payloads_make_one_row_and_one_alert(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    kit.enrol_key_only(DEV)
    with attacker(kit, DEV) as a:
        topic = topics.build_topic(DEV, topics.EVENTS)
        # "In seconds", at a pace the broker queues for the server without dropping any
        # (past max_queued_messages Mosquitto drops QoS 1 messages for a slow subscriber).
        sent = 0
        for i in islice(pace(RATE, COUNT / RATE + 5), COUNT):
            a.client.publish(topic, _junk(i), qos=1)
            sent += 1
        assert sent == COUNT
        a.publish(topic, _junk(COUNT))  # waits for the broker: all before it went out too
    wait_until(
        lambda: (
            rejected_or_none(kit.server, DEV, "malformed") == COUNT + 1
            or kit.server.scalar("SELECT COUNT(*) FROM quarantine") > COUNT
        ),
        60,
        "every payload counted (or quarantined one row each)",
    )
    assert kit.server.scalar("SELECT COUNT(*) FROM quarantine") == 0
    assert rejected(kit.server, DEV, "malformed") == COUNT + 1
    assert kit.server.scalar("SELECT COUNT(*) FROM device_rejects WHERE dev_id = ?", DEV) == 1
    samples = json.loads(kit.server.scalar("SELECT samples FROM device_rejects"))
    assert 1 <= len(samples) <= 3
    assert alert_kinds(kit.server, DEV) == ["forged_traffic"]
    assert log_text(kit.server.dir / "log").count(DEV) <= 5
