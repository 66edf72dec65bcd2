"""``ocop server backup``: online SQLite snapshots, incremental blob copies, pruning."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from ocop_cli.main import main
from sync_server.config import ServerConfig
from sync_server.service import open_server_engine
from sync_server.store.backup import BackupError, copy_blobs, prune_snapshots, run_backup
from sync_server.store.blobs import FileBlobStorage

T0 = datetime(2026, 11, 22, 2, 30, tzinfo=UTC)


def _config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "server.toml"
    path.write_text(f'data_dir = "{tmp_path / "data"}"\n{extra}', encoding="utf-8")
    return path


def _put_blob(root: Path, data: bytes) -> str:
    sha = hashlib.sha256(data).hexdigest()
    storage = FileBlobStorage(root)
    storage.append(sha, 0, data)
    assert storage.finish(sha)
    return sha


def test_snapshot_taken_while_writes_go_on_holds_every_committed_row(tmp_path: Path) -> None:
    cfg = ServerConfig(data_dir=tmp_path / "data")
    engine = open_server_engine(cfg)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE probe (id INTEGER PRIMARY KEY, body TEXT NOT NULL)"))
    committed = 0
    stop = threading.Event()

    def write() -> None:
        nonlocal committed
        while not stop.is_set():
            with engine.begin() as conn:
                for _ in range(20):
                    conn.execute(text("INSERT INTO probe (body) VALUES (:b)"), {"b": "x" * 500})
            committed += 20

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while committed < 2000:
            stop.wait(0.01)
        before = committed
        result = run_backup(cfg.db_url, cfg.blob_dir, tmp_path / "backup", keep=None, now=T0)
        after = committed
    finally:
        stop.set()
        writer.join()
    engine.dispose()
    assert result.snapshot.name == "server-20261122T023000Z.db"
    with sqlite3.connect(result.snapshot) as snap:
        assert snap.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert snap.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        count, top = snap.execute("SELECT count(*), max(id) FROM probe").fetchone()
    # Whole transactions only (20 rows each), none missing, nothing from after the copy.
    assert count == top and count % 20 == 0
    assert before <= count <= after
    assert not list((tmp_path / "backup").glob(".*.tmp"))


def test_blobs_are_copied_once_and_checked(tmp_path: Path) -> None:
    src = tmp_path / "blobs"
    shas = [_put_blob(src, f"photo {i}".encode()) for i in range(3)]
    assert copy_blobs(src, tmp_path / "b") == (3, 0, [])
    shas.append(_put_blob(src, b"a new photo"))
    (src / ".partial" / ("0" * 64 + ".part")).write_bytes(b"half an upload")
    assert copy_blobs(src, tmp_path / "b") == (1, 3, [])
    for sha in shas:
        assert (tmp_path / "b" / sha[:2] / sha[2:4] / sha).exists()
    assert not (tmp_path / "b" / ".partial").exists()
    # A blob whose bytes no longer match its name is reported, never copied.
    bad = _put_blob(src, b"rotting")
    (src / bad[:2] / bad[2:4] / bad).write_bytes(b"rotten")
    copied, present, corrupt = copy_blobs(src, tmp_path / "b")
    assert (copied, present) == (0, 4) and [p.name for p in corrupt] == [bad]
    assert not (tmp_path / "b" / bad[:2] / bad[2:4] / bad).exists()


def test_keep_prunes_the_oldest_snapshots(tmp_path: Path) -> None:
    cfg = ServerConfig(data_dir=tmp_path / "data")
    open_server_engine(cfg).dispose()
    dest = tmp_path / "backup"
    (dest).mkdir()
    (dest / "notes.db").write_text("not a snapshot")
    for day in range(5):
        run_backup(cfg.db_url, cfg.blob_dir, dest, keep=3, now=T0 + timedelta(days=day))
    names = sorted(p.name for p in dest.glob("server-*.db"))
    assert names == [
        "server-20261124T023000Z.db",
        "server-20261125T023000Z.db",
        "server-20261126T023000Z.db",
    ]
    assert (dest / "notes.db").exists()
    with pytest.raises(BackupError):
        prune_snapshots(dest, 0)


def test_cli_backs_up_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = _config_file(tmp_path)
    assert main(["server", "--config", str(toml), "init-db"]) == 0
    _put_blob(tmp_path / "data" / "blobs", b"one photo")
    dest = tmp_path / "backup"
    assert main(["server", "--config", str(toml), "backup", "--to", str(dest), "--keep", "2"]) == 0
    out = capsys.readouterr().out
    assert "snapshot: " in out and "blobs: 1 copied, 0 already there" in out
    assert len(list(dest.glob("server-*.db"))) == 1


def test_cli_refuses_a_database_that_is_not_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = _config_file(tmp_path, 'database_url = "postgresql://ocop@db.example/ocop"\n')
    assert main(["server", "--config", str(toml), "backup", "--to", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "not SQLite" in err and "pg_dump" in err
    assert not (tmp_path / "b").exists()


def test_cli_refuses_a_missing_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = _config_file(tmp_path)
    assert main(["server", "--config", str(toml), "backup", "--to", str(tmp_path / "b")]) == 2
    assert "no database at" in capsys.readouterr().err
