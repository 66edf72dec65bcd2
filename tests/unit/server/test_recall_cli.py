"""``ocop server recall``, ``recalls`` and ``lift-recall`` through a real process, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ocop_cli.broker import free_port
from sync_server.config import load_config
from sync_server.service import open_server_engine
from tests.unit.server.recall_chain import CN_BATCH, KC_BATCH, SUPPLIER, SUPPLIER_LOT, build_chain

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def server_toml(engine: Engine, tmp_path: Path) -> Path:
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "server.toml"
    path.write_text(
        f'database_url = "{url}"\ndata_dir = "{tmp_path}"\n[mqtt]\nport = {free_port()}\n',
        encoding="utf-8",
    )
    open_server_engine(load_config(path)).dispose()  # as `ocop server init-db` would
    with engine.begin() as conn:
        build_chain(conn)
    return path


def ocop(toml: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(toml), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_recall_list_and_lift(server_toml: Path) -> None:
    done = ocop(server_toml, "recall", SUPPLIER_LOT, "--supplier", SUPPLIER, "--reason", "Mốc")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"recall #1: {SUPPLIER_LOT} and 4 lot(s) it covers")
    assert "call back: Cửa hàng OCOP Hà Tĩnh 0912345678" in done.stdout
    assert "call back: Chợ Hương Sơn 0987654321" in done.stdout
    listed = [json.loads(line) for line in ocop(server_toml, "recalls").stdout.splitlines()]
    assert len(listed) == 1 and listed[0]["reason"] == "Mốc" and listed[0]["lifted_at"] is None
    assert listed[0]["created_by"].startswith("cli:")
    assert [KC_BATCH, "output"] in listed[0]["lots"] and [CN_BATCH, "output"] in listed[0]["lots"]

    again = ocop(server_toml, "recall", SUPPLIER_LOT, "--supplier", SUPPLIER, "--reason", "x")
    assert again.returncode == 2 and "already under recall #1" in again.stderr

    lifted = ocop(server_toml, "lift-recall", "1", "--reason", "Mẫu đạt")
    assert lifted.returncode == 0, lifted.stderr
    assert ocop(server_toml, "recalls", "--active").stdout == ""
    listed = [json.loads(line) for line in ocop(server_toml, "recalls").stdout.splitlines()]
    assert listed[0]["lift_reason"] == "Mẫu đạt" and listed[0]["lifted_by"].startswith("cli:")
    assert ocop(server_toml, "lift-recall", "1", "--reason", "x").returncode == 2


def test_an_unknown_lot_is_refused(server_toml: Path) -> None:
    done = ocop(server_toml, "recall", "KC-NM-991231A09", "--reason", "x")
    assert done.returncode == 2 and "no lot KC-NM-991231A09" in done.stderr
    assert ocop(server_toml, "recalls").stdout == ""
