"""Issue #2 acceptance: SIGKILL the agent mid-sync; every event lands exactly once."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, enrol, make_edge, make_server, wait_until
from tests.integration.prefill import prefill
from trace_protocol import topics

pytestmark = pytest.mark.integration
EVENTS = 2000


def _retained_status(port: int, dev: str) -> dict[str, object]:
    got: dict[str, object] = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        got.update(json.loads(msg.payload))
        done.set()

    client.on_message = on_message
    client.connect("127.0.0.1", port)
    client.subscribe(topics.build_topic(dev, topics.STATUS), qos=1)
    client.loop_start()
    done.wait(5)
    client.loop_stop()
    client.disconnect()
    return got


def test_sigkill_mid_sync_loses_and_duplicates_nothing(
    tmp_path: Path, broker: Mosquitto, procs: Processes
) -> None:
    server = make_server(tmp_path, broker.port)
    # Small chunks and a one-chunk window make the sync long enough to kill it halfway.
    edge = make_edge(tmp_path, "kc-line-1", broker.port, chunk_size=5, window_chunks=1)
    enrol(server, edge)
    head = prefill(edge, EVENTS - 1)
    assert head == EVENTS
    server.run(procs)

    agent = edge.run(procs)
    committed = lambda: server.scalar("SELECT head_seq FROM devices")  # noqa: E731
    wait_until(lambda: committed() >= 50, 30, "the sync to start")
    agent.send_signal(signal.SIGKILL)
    agent.wait(10)
    at_kill = committed()
    assert 0 < at_kill < EVENTS, "the kill must land in the middle of the sync"

    # The broker publishes the agent's last will: the office sees it offline.
    wait_until(
        lambda: _retained_status(broker.port, edge.dev).get("online") is False,
        15,
        "the retained status to say offline",
    )

    edge.run(procs)
    wait_until(lambda: edge.acked() == EVENTS, 60, "the agent to be fully acked")
    wait_until(lambda: committed() == EVENTS, 10, "the server head")

    rows = server.scalar("SELECT COUNT(*) FROM events")
    distinct = server.scalar("SELECT COUNT(DISTINCT seq) FROM events")
    assert rows == distinct == EVENTS
    assert server.scalar("SELECT MIN(seq) FROM events") == 1
    assert server.scalar("SELECT MAX(seq) FROM events") == EVENTS
    ours = dict(edge.journal_rows("SELECT seq, hash FROM events"))
    with server.engine.connect() as conn:
        theirs = dict(conn.exec_driver_sql("SELECT seq, hash FROM events").all())
    assert ours == theirs
    assert edge.acked() == committed()
    assert server.scalar("SELECT COUNT(*) FROM quarantine") == 0

    def caught_up() -> dict[str, object] | None:
        s = _retained_status(broker.port, edge.dev)
        return s if s.get("acked") == EVENTS else None

    status = wait_until(caught_up, 15, "the status to report the acked position")
    assert (status["online"], status["head"], status["backlog"]) == (True, EVENTS, 0)
    assert status["oldest_unsynced_age_s"] is None
    extra = status["extra"]
    assert isinstance(extra, dict) and extra["disk_free_mb"] > 0 and extra["printer"] == "file"
