"""Backups of a SQLite server: an online database snapshot plus an incremental copy of the blobs.

``ocop server backup --to DIR`` runs while ingest and web keep writing: SQLite's backup API copies
the database inside one read transaction (WAL lets writers go on), so the snapshot holds exactly
the transactions committed before it began. Blobs are content-addressed and never change, so a
file already in the backup is never copied again. Restore: docs/provisioning-server.md.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sync_server.store.blobs import SHA256_RE

SNAPSHOT_PREFIX = "server-"
SNAPSHOT_SUFFIX = ".db"
STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """The backup cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class BackupResult:
    snapshot: Path
    blobs_copied: int = 0
    blobs_present: int = 0
    corrupt_blobs: list[Path] = field(default_factory=list)
    pruned: list[Path] = field(default_factory=list)


def sqlite_path(db_url: str) -> Path:
    """The database file of a ``sqlite:///`` URL; anything else is refused."""
    if not db_url.startswith("sqlite:///"):
        scheme = db_url.split(":", 1)[0]
        raise BackupError(
            f"database_url is {scheme}, not SQLite: back it up with the database's own tools "
            "(for PostgreSQL: pg_dump --format=custom), and the blobs folder with rsync"
        )
    return Path(db_url.removeprefix("sqlite:///"))


def snapshot_name(now: datetime) -> str:
    return f"{SNAPSHOT_PREFIX}{now.astimezone(UTC).strftime(STAMP)}{SNAPSHOT_SUFFIX}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def snapshot_database(db: Path, dest_dir: Path, now: datetime) -> Path:
    """Copy ``db`` into ``dest_dir/server-<UTC stamp>.db`` atomically, as one consistent state."""
    if not db.is_file():
        raise BackupError(f"no database at {db}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / snapshot_name(now)
    if final.exists():
        raise BackupError(f"{final} already exists: one snapshot per second at most")
    tmp = dest_dir / f".{final.name}.tmp"
    tmp.unlink(missing_ok=True)
    src = sqlite3.connect(db, timeout=30)
    dst = sqlite3.connect(tmp)
    try:
        # pages=-1: the whole database in one step, i.e. inside one read transaction, so
        # concurrent commits can neither tear the copy nor restart it.
        src.backup(dst, pages=-1)
        # A self-contained single file (the source is in WAL mode; the copy need not be).
        dst.execute("PRAGMA journal_mode=DELETE")
        check = dst.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise BackupError(f"the snapshot failed its check: {check}")
    finally:
        dst.close()
        src.close()
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    _fsync_dir(dest_dir)
    return final


def _blob_files(root: Path) -> Iterator[Path]:
    """Finished blobs ``root/ab/cd/<sha256>``; partial uploads are left out."""
    if not root.is_dir():
        return
    for first in sorted(root.iterdir()):
        if first.name.startswith(".") or not first.is_dir():
            continue
        for second in sorted(first.iterdir()):
            if second.is_dir():
                yield from sorted(p for p in second.iterdir() if SHA256_RE.match(p.name))


def copy_blobs(src_root: Path, dest_root: Path) -> tuple[int, int, list[Path]]:
    """Copy blobs not yet in ``dest_root``: (copied, already there, corrupt sources skipped).

    Each copy is checked against its name (the content's SHA-256) and renamed into place, so an
    interrupted backup never leaves a half file that a later run would take as complete.
    """
    copied = present = 0
    corrupt: list[Path] = []
    for src in _blob_files(src_root):
        rel = src.relative_to(src_root)
        dest = dest_root / rel
        if dest.exists():
            present += 1
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        digest = hashlib.sha256()
        with src.open("rb") as fin, tmp.open("wb") as fout:
            for block in iter(lambda: fin.read(1 << 20), b""):
                digest.update(block)
                fout.write(block)
            fout.flush()
            os.fsync(fout.fileno())
        if digest.hexdigest() != src.name:
            tmp.unlink()
            corrupt.append(src)
            continue
        os.replace(tmp, dest)
        copied += 1
    return copied, present, corrupt


def prune_snapshots(dest_dir: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` snapshots (by the timestamp in their names)."""
    if keep < 1:
        raise BackupError("--keep must be at least 1")
    snapshots = sorted(
        p
        for p in dest_dir.glob(f"{SNAPSHOT_PREFIX}*{SNAPSHOT_SUFFIX}")
        if _is_snapshot_name(p.name)
    )
    old = snapshots[:-keep]
    for path in old:
        path.unlink()
    return old


def _is_snapshot_name(name: str) -> bool:
    stamp = name.removeprefix(SNAPSHOT_PREFIX).removesuffix(SNAPSHOT_SUFFIX)
    try:
        datetime.strptime(stamp, STAMP)
    except ValueError:
        return False
    return True


def run_backup(
    db_url: str, blob_dir: Path, dest_dir: Path, *, keep: int | None, now: datetime | None = None
) -> BackupResult:
    """Snapshot, then blobs (a snapshot never names a blob the backup lacks: blobs only grow,
    and those the snapshot knows were on disk before it began), then pruning."""
    db = sqlite_path(db_url)
    if keep is not None and keep < 1:
        raise BackupError("--keep must be at least 1")
    snapshot = snapshot_database(db, dest_dir, now or datetime.now(UTC))
    copied, present, corrupt = copy_blobs(blob_dir, dest_dir / "blobs")
    pruned = prune_snapshots(dest_dir, keep) if keep is not None else []
    return BackupResult(snapshot, copied, present, corrupt, pruned)
