"""``ocop server trace`` through a real process, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sync_server.config import load_config
from sync_server.service import open_server_engine
from tests.unit.server.trace_rows import (
    BK_IN,
    BK_OUT,
    KC_IN,
    KC_OUT,
    KC_VOID,
    SUPPLIER_LOT,
    seed_chain,
)

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def server_toml(engine: Engine, tmp_path: Path) -> Path:
    url = engine.url.render_as_string(hide_password=False)
    path = tmp_path / "server.toml"
    path.write_text(f'database_url = "{url}"\ndata_dir = "{tmp_path}"\n', encoding="utf-8")
    # Let the server bring the database to its current state first (as `ocop server init-db`
    # would), so that opening it again from the CLI keeps the rows inserted below.
    open_server_engine(load_config(path)).dispose()
    with engine.begin() as conn:
        seed_chain(conn)
    return path


def ocop(toml: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(toml), "trace", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def test_text_tree_both_ways(server_toml: Path) -> None:
    done = ocop(server_toml, BK_OUT)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    back, forward = out.split("\n\n", 1)[0], out.split("Truy xuất xuôi", 1)[1]
    assert back.startswith(f"Truy xuất ngược (nguồn gốc) / backward trace (inputs): {BK_OUT}")
    lines = back.splitlines()
    assert lines[1].startswith(f"Lô thành phẩm / output lot {BK_OUT} · Bánh gạo Ngọc Mầm")
    assert lines[2].startswith(f"└─ Lô nhập / receiving lot {BK_IN} · Gạo Ngọc Mầm")
    # BK's input came from KC's labelled lot, itself made from S01's paddy.
    assert any(f"Lô thành phẩm / output lot {KC_OUT}" in line for line in lines[3:])
    assert any(f"Lô nhà cung cấp / supplier lot S01/{SUPPLIER_LOT}" in line for line in lines)
    assert "Nhà cung cấp / suppliers:" in out
    assert "C09" in forward and "Giao hàng / shipments: 1" in forward


def test_forward_json_of_a_supplier_lot(server_toml: Path) -> None:
    done = ocop(server_toml, SUPPLIER_LOT, "--forward", "--supplier", "S01", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["direction"] == "forward"
    assert data["roots"] == [f"S01/{SUPPLIER_LOT}"]
    kinds = {n["key"]: (n["kind"], n["voided"]) for n in data["lots"]}
    assert kinds[KC_IN] == ("receipt", False)
    assert kinds[KC_VOID] == ("output", True)
    assert kinds[BK_OUT] == ("output", False)
    assert [KC_OUT, BK_IN] in data["edges"]
    assert sorted(s["customer_id"] for s in data["shipments"]) == ["C01", "C02", "C05", "C09"]


def test_unknown_lot_and_wrong_supplier(server_toml: Path) -> None:
    done = ocop(server_toml, "KC-NM-000000A09", "--backward")
    assert done.returncode == 2
    assert "no lot KC-NM-000000A09 on this server" in done.stderr
    assert done.stdout == ""
    done = ocop(server_toml, SUPPLIER_LOT, "--supplier", "S99")
    assert done.returncode == 2
    assert f"S99/{SUPPLIER_LOT}" in done.stderr
