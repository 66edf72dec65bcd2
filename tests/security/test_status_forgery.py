"""Issue 12, finding 7: a status forged with only a broker password (``acked: 1000000``,
``head: 0``, a camera named ``cam<script>``) raised office alerts and made the server send
resend commands. Now a status counts only when the device's key signed it; any other is
dropped and counted. The real agent's statuses, and its last will, are signed and believed.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ocop_cli.broker import Mosquitto
from tests.integration.harness import Processes, ServerEnv, wait_until
from tests.security.attacker import attacker, rejected, rejected_or_none
from tests.security.kit import start_secured_kit
from trace_protocol import topics
from trace_protocol.signing import DeviceKey
from trace_protocol.status import build_status

pytestmark = pytest.mark.integration
VICTIM = "kc-line-2"


def _stored_status(server: ServerEnv, dev: str) -> dict[str, Any] | None:
    raw = server.scalar("SELECT status FROM devices WHERE dev_id = ?", dev)
    return None if raw is None else dict(json.loads(raw))


def _forgeries() -> list[bytes]:
    cameras = {"cam<script>": {"state": "covered"}, "day-chuyen": {"state": "covered"}}
    unsigned = {
        "v": 1,
        "online": True,
        "at": "2026-12-05T08:00:00+07:00",
        "head": 0,
        "acked": 1_000_000,
        "backlog": 0,
        "extra": {"cameras": cameras, "periodic_paused_disk_low": True},
    }
    other_key = build_status(
        DeviceKey.generate(),
        dev=VICTIM,
        online=True,
        at="2026-12-05T08:00:00+07:00",
        head=1_000_000,
        acked=1_000_000,
        extra={"cameras": {"day-chuyen": {"state": "covered"}}},
    ).encode()
    return [json.dumps(unsigned).encode(), other_key, b"[" * 3000, b"\x00junk"]


def test_forged_statuses_raise_no_alert_and_no_command_and_are_counted(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    kit.enrol_key_only(VICTIM)
    cmd_topic = topics.build_topic(VICTIM, topics.CMD)
    forged = _forgeries()
    with attacker(kit, VICTIM) as a:
        a.subscribe(cmd_topic)  # a device may read its own cmd topic: what would it be told?
        for payload in forged:
            a.publish(topics.build_topic(VICTIM, topics.STATUS), payload)
        a.publish(topics.build_topic(VICTIM, topics.STATUS), forged[0], retain=True)
        wait_until(
            lambda: (
                rejected_or_none(kit.server, VICTIM, "status") == len(forged) + 1
                or kit.server.scalar("SELECT COUNT(*) FROM alerts")
            ),
            20,
            "every forged status counted (or believed)",
        )
        time.sleep(1.0)  # a command would follow its status at once
        assert a.got(cmd_topic) == []
    assert kit.server.scalar("SELECT COUNT(*) FROM alerts") == 0
    assert rejected(kit.server, VICTIM, "status") == len(forged) + 1
    assert _stored_status(kit.server, VICTIM) is None
    assert kit.server.scalar("SELECT last_heard FROM devices WHERE dev_id = ?", VICTIM) is None
    # The office sees the counter (the device page shows the same table).
    config = str(kit.server.config_path)
    out = subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "server", "--config", config, "devices"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows = {r["device"]: r for r in map(json.loads, out.splitlines())}
    assert rows[VICTIM]["rejected"] == {"status": len(forged) + 1}


def test_the_real_agents_status_and_last_will_are_signed_and_believed(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    kit = start_secured_kit(tmp_path, broker_factory, procs)
    edge = kit.enrol_edge(tmp_path, "kc-line-1")
    proc = edge.run(procs)
    online = wait_until(
        lambda: (s := _stored_status(kit.server, edge.dev)) and s["online"] and s,
        30,
        "the agent's signed status",
    )
    assert online["dev"] == edge.dev and "sig" not in online
    proc.kill()  # no goodbye: the broker publishes the will registered at connect
    wait_until(
        lambda: (s := _stored_status(kit.server, edge.dev)) and s["online"] is False,
        30,
        "the agent's signed last will",
    )
    assert rejected(kit.server, edge.dev, "status") == 0
