"""`ocop server init-db` run as its own process, on SQLite and PostgreSQL: twice is a no-op, and an
old database that differs is refused with a message (moved from
tests/unit/server/test_migrations.py, issue 14: unit tests start no processes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from sync_server.store.db import metadata, open_engine
from sync_server.store.migrations import differences
from sync_server.store.migrations.versions.r0001_baseline import BASELINE
from tests.unit.server.alembic_head import head_revision

pytestmark = pytest.mark.integration


def test_init_db_twice_is_a_no_op(database_url: str, tmp_path: Path) -> None:
    conf = tmp_path / "server.toml"
    conf.write_text(
        f'data_dir = "{tmp_path / "srv"}"\ndatabase_url = "{database_url}"\n', encoding="utf-8"
    )
    cmd = [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(conf), "init-db"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True)
    assert f"database ready at revision {head_revision()}" in first.stdout
    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            before = sorted(inspect(conn).get_table_names())
        second = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert second.stdout == first.stdout
        with engine.connect() as conn:
            assert sorted(inspect(conn).get_table_names()) == before
            assert differences(conn, metadata) == []
    finally:
        engine.dispose()


def test_init_db_refuses_a_mismatched_old_database_with_a_message(
    database_url: str, tmp_path: Path
) -> None:
    engine = open_engine(database_url)
    BASELINE.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE scans"))
    engine.dispose()
    conf = tmp_path / "server.toml"
    conf.write_text(
        f'data_dir = "{tmp_path / "srv"}"\ndatabase_url = "{database_url}"\n', encoding="utf-8"
    )
    cmd = [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(conf), "init-db"]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode != 0
    assert "error: the database has the server's tables but no migration history" in result.stderr
    assert "missing table scans" in result.stderr
    assert "Traceback" not in result.stderr
