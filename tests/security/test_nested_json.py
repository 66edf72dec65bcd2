"""Issue 12, finding 3: one device's deeply nested JSON stalled every device's ingest.

``json.loads`` raised RecursionError, which escaped the parser and dropped the worker's whole
group of chunks from every device (~1,000 tracebacks logged; another device got 3 of 19 chunks
committed in 20 s). Now parsing is bounded and one chunk's failure is that chunk's alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, enrol_with_token, make_edge, wait_until
from tests.integration.prefill import prefill
from tests.security.attacker import alert_kinds, attacker, log_text, pace, rejected
from tests.security.kit import start_secured_kit
from trace_protocol import topics

pytestmark = pytest.mark.integration
RATE = 100  # messages per second, as in the issue
BURST = 20
FLOOD_S = 12.0


def test_a_nested_json_flood_from_one_device_leaves_another_devices_ingest_whole(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    # The real agent, sending 20 small chunks (2 events each) so that many land in a group
    # of chunks together with the attacker's.
    edge = make_edge(tmp_path, "kc-line-1", kit.broker.port, chunk_size=2, window_chunks=4)
    password = enrol_with_token(kit.server, edge.dev, edge.key)
    (edge.dir / "data" / "mqtt-password").write_text(password + "\n", encoding="utf-8")
    kit.sync_broker()
    head = prefill(edge, 39)
    assert head == 40
    kit.enrol_key_only("kc-line-2")

    nested = b'{"v":1,"dev":"kc-line-2","events":' + b"[" * 2000 + b"]" * 2000 + b"}"
    sent = 0
    flooding = threading.Event()

    def flood() -> None:
        nonlocal sent
        with attacker(kit, "kc-line-2") as a:
            topic = topics.build_topic("kc-line-2", topics.EVENTS)
            flooding.set()
            # In bursts, as a script on a Pi would send them: RATE a second on average, and
            # a burst lands in the ingest worker's group of chunks together with real ones.
            for _ in pace(RATE / BURST, FLOOD_S):
                for _ in range(BURST):
                    a.client.publish(topic, nested, qos=1)
                sent += BURST
            a.publish(topic, nested)  # waits for the broker: all before it went out too
            sent += 1

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    assert flooding.wait(10)
    edge.run(procs)
    # Every one of the agent's chunks commits while the flood still runs.
    wait_until(lambda: edge.acked() == head or not flooder.is_alive(), 60, "commits or the end")
    assert flooder.is_alive(), f"only {edge.acked()} of {head} events committed during the flood"
    assert edge.acked() == head
    flooder.join(FLOOD_S + 10)
    assert sent >= RATE * FLOOD_S / 2, f"the flood sent only {sent} messages"
    server_log = log_text(kit.server.dir / "log")
    assert "Traceback" not in server_log
    assert "RecursionError" not in server_log

    wait_until(lambda: rejected(kit.server, "kc-line-2", "malformed") == sent, 30, "all counted")
    server_log = log_text(kit.server.dir / "log")
    assert server_log.count("kc-line-2") <= 5  # the 1st, 10th, 100th … not one line each
    assert kit.server.scalar("SELECT COUNT(*) FROM quarantine") == 0
    assert alert_kinds(kit.server, "kc-line-2") == ["forged_traffic"]
    assert alert_kinds(kit.server, edge.dev) == []
