"""Write turns on a SQLite file (sync_server/store/write_turns.py): one holder at a time, across
processes, even while SQLite's own lock is free; the next one gets in when the turn ends."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import create_engine, text

from sync_server.store.db import open_engine
from sync_server.store.write_turns import turns_path, write_turn


def test_the_lock_file_sits_beside_a_sqlite_file_and_nowhere_else(tmp_path: Path) -> None:
    assert turns_path(open_engine(f"sqlite:///{tmp_path}/s.db")) == f"{tmp_path}/s.db.writers"
    assert turns_path(create_engine("sqlite://")) is None
    assert turns_path(create_engine("postgresql+psycopg://u@h/db")) is None


def test_a_second_process_waits_for_the_turn_and_sees_the_first_ones_commit(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/s.db"
    engine = open_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    other = textwrap.dedent(
        f"""
        import sys
        from sqlalchemy import text
        from sync_server.store.db import open_engine
        from sync_server.store.write_turns import writing
        print("waiting", flush=True)
        with writing(open_engine({url!r})) as conn:
            rows = conn.execute(text("SELECT COUNT(*) FROM t")).scalar_one()
            conn.execute(text("INSERT INTO t VALUES (2)"))
        print("in", rows, flush=True)
        """
    )
    with write_turn(engine):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        # Committed: SQLite's own lock is free, only the turn keeps the other writer out.
        proc = subprocess.Popen(
            [sys.executable, "-c", other], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        # While this process holds the turn the other one cannot get in: it stays blocked
        # past the time it needs to start writing (it never reaches its second line).
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=1.5)
        assert proc.poll() is None, "the second writer got in during the first one's turn"
    # Turn over: the other process goes on and saw this one's committed row.
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert out.strip() == "in 1"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM t")).scalar_one() == 2
