"""Issue #2 acceptance: `ocop demo` serves both UIs within 60 s and stops cleanly on Ctrl-C."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import free_port, wait_for_port
from tests.conftest import require_program
from tests.integration.harness import wait_until

pytestmark = pytest.mark.integration


def test_demo_serves_server_and_touchscreen_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    require_program("mosquitto")
    server_port, edge_port = free_port(), free_port()
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ocop_cli.main",
            "demo",
            "--data-dir",
            str(tmp_path),
            "--server-port",
            str(server_port),
            "--edge-port",
            str(edge_port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for_port(server_port, 60) and wait_for_port(edge_port, 60)
        assert time.monotonic() - started < 60
        home = requests.get(f"http://127.0.0.1:{server_port}/", timeout=5)
        touch = requests.get(f"http://127.0.0.1:{edge_port}/", timeout=5)
        assert home.status_code == touch.status_code == 200
        assert "Gạo Ngọc Mầm" in touch.text
        # The seeded batch syncs on its own and its public page appears.
        wait_until(
            lambda: "KC-NM-" in requests.get(f"http://127.0.0.1:{server_port}/", timeout=5).text,
            30,
            "the demo batch on the server",
        )
        # The office: the demo made an admin whose password is only in a 0600 file.
        secret = tmp_path / "office-admin-password"
        assert secret.stat().st_mode & 0o077 == 0
        office = requests.Session()
        login = office.get(f"http://127.0.0.1:{server_port}/office/login", timeout=5)
        token = re.search(r'name="csrf" value="([^"]+)"', login.text)
        assert token is not None
        dash = office.post(
            f"http://127.0.0.1:{server_port}/office/login",
            data={
                "username": "admin",
                "password": secret.read_text(encoding="utf-8").strip(),
                "csrf": token.group(1),
            },
            timeout=5,
        )
        assert dash.status_code == 200 and "Công ty TNHH MTV KC" in dash.text
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    text = out.decode()
    assert proc.returncode == 0, text
    assert f"http://127.0.0.1:{server_port}/" in text and f"http://127.0.0.1:{edge_port}/" in text
    assert "demo stopped" in text
    assert secret.read_text(encoding="utf-8").strip() not in text
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []
