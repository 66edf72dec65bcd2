"""Issue #3: the whole enrolment path with real processes, a broker that refuses anonymous
clients, and revocation cutting the device off."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import Mosquitto
from sync_server.devices.broker_auth import write_broker_auth
from tests.integration.harness import Processes, make_edge, make_server, wait_until

pytestmark = pytest.mark.integration


def _ocop(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", *args], capture_output=True, text=True, timeout=60
    )


def test_office_adds_device_pi_enrols_syncs_and_revocation_stops_it(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> None:
    auth_dir = tmp_path / "auth"
    # The broker's files exist before the broker starts (only the server's own user so far).
    first = make_server(tmp_path, 0)
    write_broker_auth(first.engine, auth_dir)
    first.engine.dispose()
    broker = broker_factory(auth_dir=auth_dir)
    server = make_server(
        tmp_path,
        broker.server_port,
        f'[broker]\nauth_dir = "{auth_dir}"\nreload_command = "{broker.reload_command}"\n',
    )
    cfg = ["server", "--config", str(server.config_path)]
    server.run(procs)

    added = _ocop(
        *cfg,
        "add-device",
        "--device",
        "kc-line-9",
        "--facility",
        "KC",
        "--qr",
        str(tmp_path / "enrol.png"),
    )
    assert added.returncode == 0, added.stderr
    token = re.search(r"one-time token \(valid [^)]*\): (\S+)", added.stdout)
    assert token is not None
    assert (tmp_path / "enrol.png").stat().st_size > 0

    edge = make_edge(tmp_path, "kc-line-9", broker.port)
    edge_cfg = ["edge", "--config", str(edge.config_path)]
    wrong = _ocop(
        *edge_cfg,
        "enroll",
        "--server",
        server.base_url,
        "--facility",
        "CN",
        "--token",
        token.group(1),
    )
    assert wrong.returncode == 2
    assert "wrong_facility" in wrong.stderr

    empty = tmp_path / "empty-token"
    empty.write_text("\n")
    refused = _ocop(
        *edge_cfg,
        "enroll",
        "--server",
        server.base_url,
        "--facility",
        "KC",
        "--token-file",
        str(empty),
    )
    assert refused.returncode == 2 and "empty" in refused.stderr
    # From a file, as a provisioned Pi does (never on the command line, never in ps).
    token_file = tmp_path / "enrol-token"
    token_file.write_text(token.group(1) + "\n")
    enrolled = _ocop(
        *edge_cfg,
        "enroll",
        "--server",
        server.base_url,
        "--facility",
        "KC",
        "--token-file",
        str(token_file),
    )
    assert enrolled.returncode == 0, enrolled.stderr
    password_file = edge.dir / "data" / "mqtt-password"
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(edge.dir / "data" / "device-key.pem").st_mode) == 0o600
    assert password_file.read_text().strip() not in enrolled.stdout + enrolled.stderr

    reused = _ocop(
        *edge_cfg,
        "enroll",
        "--server",
        server.base_url,
        "--facility",
        "KC",
        "--token",
        token.group(1),
    )
    assert reused.returncode == 2 and "already been used" in reused.stderr

    # The first config came with enrolment: the agent works at once, and syncs with its own
    # credentials through the broker that refuses anonymous clients.
    edge.run(procs)
    r = edge.touchscreen().post("/batches", {"product": "NM"})
    assert r.status_code == 303
    wait_until(lambda: edge.status()["acked"] == 1, 30, "the first event to be acked")
    assert server.scalar("SELECT head_seq FROM devices WHERE dev_id = 'kc-line-9'") == 1

    revoked = _ocop(*cfg, "revoke-device", "--device", "kc-line-9", "--reason", "Pi stolen")
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    wait_until(lambda: edge.status()["link"] == "refused", 20, "the broker to refuse the device")
    page = requests.get(edge.url, timeout=5).text
    assert "Máy chủ từ chối kết nối" in page
    alerts = _ocop(*cfg, "alerts")
    assert '"kind": "revoked"' in alerts.stdout
