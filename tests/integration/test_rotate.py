"""Issue 16: the office rotates a device's broker password after forged traffic, with real
processes (docs/protocol.md, "Rotating a device's broker password").

A real agent enrolled with a token syncs through a broker that refuses anonymous clients; a
thief logs in with the password copied off its SD card and publishes junk on its status topic,
which the server counts as not the device's. The office rotates the password on the device page
(the real server's Flask app on the same config and database as the running server process):
the agent hears ``rekey``, re-enrols over HTTP as itself and reconnects with its new password;
the old password is refused from then on; the agent's next event syncs; the journal is the same.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from ocop_cli.broker import Mosquitto
from sync_server.devices.broker_auth import write_broker_auth
from sync_server.devices.enrolment import create_device
from sync_server.web import create_app
from tests.integration.harness import (
    EdgeEnv,
    Processes,
    ServerEnv,
    make_edge,
    make_server,
    wait_until,
)
from tests.unit.server.office_client import csrf_of, officer_client
from trace_protocol import topics

pytestmark = pytest.mark.integration

DEV = "kc-line-7"


def _connect(port: int, username: str, password: str) -> tuple[bool, mqtt.Client]:
    """Log in as ``username``; whether the broker accepted, and the client (looping)."""
    answered = threading.Event()
    accepted: list[bool] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="thief", clean_session=True)
    client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, u: object, f: object, rc: ReasonCode, p: object) -> None:
        accepted.append(not rc.is_failure)
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=10)
    client.loop_start()
    assert answered.wait(10), "no CONNACK"
    return accepted[0], client


def _close(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def _enrolled(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> tuple[ServerEnv, Mosquitto, EdgeEnv]:
    """A running server, a broker refusing anonymous clients, a device enrolled with a token."""
    auth_dir = tmp_path / "auth"
    first = make_server(tmp_path, 0)
    write_broker_auth(first.engine, auth_dir)  # the broker's files exist before it starts
    first.engine.dispose()
    broker = broker_factory(auth_dir=auth_dir)
    server = make_server(
        tmp_path,
        broker.server_port,
        f'[broker]\nauth_dir = "{auth_dir}"\nreload_command = "{broker.reload_command}"\n',
    )
    server.run(procs)
    token = create_device(server.engine, DEV, "KC", ttl_hours=1)
    edge = make_edge(tmp_path, DEV, broker.port)
    enrolled = _ocop_edge(
        edge, "enroll", "--server", server.base_url, "--facility", "KC", "--token", token
    )
    assert enrolled.returncode == 0, enrolled.stderr
    return server, broker, edge


def _ocop_edge(edge: EdgeEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "edge", "--config", str(edge.config_path), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _rotate(server: ServerEnv, reason: str) -> str:
    """The office's rotation through the device page; the answer page."""
    office = officer_client(create_app(server.config, server.engine), server.engine)
    page = office.get(f"/office/devices/{DEV}").get_data(as_text=True)
    assert 'id="rotate-panel"' in page
    resp = office.post(
        f"/office/devices/{DEV}/rotate", data={"csrf": csrf_of(page), "reason": reason}
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200, html
    assert 'id="rotated"' in html and 'id="rotate-not-reloaded"' not in html
    return html


def test_office_rotates_a_stolen_broker_password_and_the_agent_resumes(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    server, broker, edge = _enrolled(tmp_path, broker_factory, procs)
    password_file = edge.dir / "data" / "mqtt-password"
    stolen = password_file.read_text().strip()
    edge.run(procs)
    assert edge.touchscreen().post("/batches", {"product": "NM"}).status_code == 303
    wait_until(lambda: edge.acked() == 1, 30, "the first event to be acked")

    # The thief logs in with the copied password and publishes junk on the device's status
    # topic: the broker lets it (the password is right), the server counts it as not the
    # device's.
    ok, thief = _connect(broker.port, DEV, stolen)
    assert ok
    thief.publish(
        topics.build_topic(DEV, topics.STATUS), b'{"v": 1, "junk": true}', qos=1
    ).wait_for_publish(10)
    _close(thief)
    wait_until(
        lambda: server.scalar(
            "SELECT count FROM device_rejects WHERE dev_id = ? AND kind = 'status'", DEV
        ),
        30,
        "the junk status to be counted",
    )
    wait_until(lambda: edge.status()["link"] == "connected", 30, "the agent to be connected")

    # The office rotates the password from the device page, where the junk is counted.
    office = officer_client(create_app(server.config, server.engine), server.engine, "cb-xem")
    assert 'data-rejected="status"' in office.get(f"/office/devices/{DEV}").get_data(as_text=True)
    html = _rotate(server, "Tin nhắn giả trên kênh trạng thái của máy")
    assert "Đã gửi lệnh đổi mật khẩu" in html

    # The agent re-enrolled as itself over HTTP and logs in with its new password.
    wait_until(lambda: password_file.read_text().strip() != stolen, 30, "the agent's new password")
    new_password = password_file.read_text().strip()
    assert (
        server.scalar(
            "SELECT COUNT(*) FROM enrolment_tokens WHERE dev_id = ? AND used_at IS NOT NULL", DEV
        )
        == 2
    )  # the first enrolment's token and the rotation's
    wait_until(lambda: edge.status()["link"] == "connected", 30, "the agent to reconnect")

    # The stolen password is refused from now on; the new one is the device's alone.
    refused, thief = _connect(broker.port, DEV, stolen)
    _close(thief)
    assert not refused
    edge.record_step()  # seq 2, through the touchscreen
    wait_until(lambda: edge.acked() == 2, 30, "the next event to sync")
    assert server.scalar("SELECT head_seq FROM devices WHERE dev_id = ?", DEV) == 2
    assert server.scalar("SELECT blocked_code FROM devices WHERE dev_id = ?", DEV) is None

    # Nothing in the journal changed: same id, no continuation, one chain.
    assert not (edge.dir / "data" / "device-id").exists()
    assert edge.journal_rows("SELECT seq FROM events ORDER BY seq") == [(1,), (2,)]
    assert new_password not in (edge.dir / "log").read_text(errors="replace")
    # Recorded: the decision and the audit row, never the token or a password.
    with server.engine.connect() as conn:
        decisions = conn.exec_driver_sql(
            "SELECT username, cause, decision FROM device_decisions WHERE dev_id = ?", (DEV,)
        ).all()
        audit = conn.exec_driver_sql("SELECT * FROM audit_log").all()
    assert decisions == [("officer1", "forged_traffic", "rotate")]
    assert any(r.action == "device.unblock.rotate" and r.target == DEV for r in audit)
    text = " ".join(str(r) for r in audit)
    assert stolen not in text and new_password not in text


def test_a_device_off_at_the_rotation_is_re_enrolled_by_a_technician_with_the_pages_token(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    server, _broker, edge = _enrolled(tmp_path, broker_factory, procs)
    password_file = edge.dir / "data" / "mqtt-password"
    old = password_file.read_text().strip()
    agent = edge.run(procs)
    assert edge.touchscreen().post("/batches", {"product": "NM"}).status_code == 303
    wait_until(lambda: edge.acked() == 1, 30, "the first event to be acked")
    agent.terminate()
    agent.wait(10)

    # The Pi is off: the command reaches the broker but not the device (commands are not
    # retained), and the old password is gone.
    html = _rotate(server, "Mật khẩu broker bị lộ; máy đang tắt")
    token = re.search(r'<code id="token">([^<]+)</code>', html)
    assert token is not None
    assert f"--facility KC --token={token.group(1)}" in html
    edge.run(procs)
    wait_until(lambda: edge.status()["link"] == "refused", 30, "the broker to refuse the Pi")

    # A technician runs the page's line at the Pi while the agent runs: the agent picks the new
    # password up by itself and syncs.
    done = _ocop_edge(
        edge, "enroll", "--server", server.base_url, "--facility", "KC", "--token", token.group(1)
    )
    assert done.returncode == 0, done.stderr
    assert password_file.read_text().strip() != old
    wait_until(lambda: edge.status()["link"] == "connected", 30, "the agent to log in again")
    edge.record_step()
    wait_until(lambda: edge.acked() == 2, 30, "the next event to sync")
    assert server.scalar("SELECT head_seq FROM devices WHERE dev_id = ?", DEV) == 2
    # The token was used once; it cannot be used again.
    again = _ocop_edge(
        edge, "enroll", "--server", server.base_url, "--facility", "KC", "--token", token.group(1)
    )
    assert again.returncode == 2 and "already been used" in again.stderr
