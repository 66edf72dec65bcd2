"""Consumer scans written in the background, many rows per transaction (group commit).

Every label page logs its scan here. One thread writes whatever has gathered in a single
transaction (sync_server/consumer/scan_tally.py), so a burst of scans costs a few commits, not
one each. A batch page judges nothing from its scan and does not wait. A unit page shows its
code's history ("first scanned on …", "scanned N times in M places"), so it waits for the
transaction that stores its scan and gives it its exact place in that history: a short wait
(the rows of one transaction), never a commit of its own.

Durability (docs/consumer-pages.md, "Scan logging"): the writer's commits do not wait for the
disk (its own connection: SQLite ``synchronous=NORMAL``, PostgreSQL ``synchronous_commit =
off``); at most ``SYNC_EVERY_S`` later the log is flushed to it (SQLite: an fsync of the
write-ahead log, what a FULL commit does; PostgreSQL's WAL writer does it by itself). A stored
scan survives the web process being killed (it is in the database's log, written); only a power
cut or a kernel crash can lose the scans of the last second. Scans still queued when the process
ends are written on SIGTERM (sync_server/service.py flushes); on SIGKILL the batch-code scans
still queued are lost (at most ``max_queue``; under load a few milliseconds' worth), never a
unit scan whose page was answered.

The queue is bounded: past ``max_queue`` rows a scan is dropped and counted (the page is never
slowed or broken for its log); a database error drops that transaction's rows and is logged.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from sync_server.config import ScansConfig
from sync_server.consumer.scan_tally import Scan, store_scans
from sync_server.consumer.scans import ScanSummary
from sync_server.consumer.write_lock import WRITE_LOCK

__all__ = ["WRITE_LOCK", "ScanWriter"]

log = logging.getLogger(__name__)
SYNC_EVERY_S = 1.0  # the longest a stored scan waits for the disk (power cut, kernel crash)
UNIT_WAIT_S = 2.0  # a unit page shows no history rather than wait longer (a locked database)


class _Waiting(Scan):
    """A unit scan whose page waits for its summary."""

    def __init__(self, row: dict[str, Any], device: str | None) -> None:
        super().__init__(row, device)
        self.done = threading.Event()


class ScanWriter:
    def __init__(
        self,
        engine: Engine,
        config: ScansConfig | None = None,
        max_queue: int = 10_000,
        max_batch: int = 1_000,
    ) -> None:
        self.engine = engine
        self.config = config or ScansConfig()
        self.max_batch = max_batch
        self.dropped = 0
        self._queue: queue.Queue[Scan] = queue.Queue(maxsize=max_queue)
        self._submitted = 0
        self._done = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._conn: Connection | None = None  # the writer thread's own (_connection)
        self._synced_at = time.monotonic()  # when what was committed last reached the disk
        self._unsynced = False
        wal = engine.url.database if engine.dialect.name == "sqlite" else None
        self._wal = f"{wal}-wal" if wal and wal != ":memory:" else None

    def submit(self, row: dict[str, Any]) -> bool:
        """Queue one ``scans`` row; False when the queue is full and the scan was dropped."""
        return self._put(Scan(row))

    def log_unit(
        self, row: dict[str, Any], device: str | None, timeout_s: float = UNIT_WAIT_S
    ) -> ScanSummary | None:
        """Store a unit code's scan and return its place in the code's history: None when the
        scan was dropped, could not be stored, or took longer than ``timeout_s``."""
        scan = _Waiting(row, device)
        if not self._put(scan):
            return None
        if not scan.done.wait(timeout_s):
            log.warning(
                "scan of %s/%s: no summary within %.1f s", row["lot"], row["serial"], timeout_s
            )
            return None
        return scan.summary

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every row submitted so far is written (or given up); False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._submitted
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _put(self, scan: Scan) -> bool:
        self._ensure_thread()
        with self._cond:
            try:
                self._queue.put_nowait(scan)
            except queue.Full:
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("scan log queue full: %d scans dropped so far", self.dropped)
                return False
            self._submitted += 1
        return True

    def _ensure_thread(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="scan-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=SYNC_EVERY_S if self._unsynced else None)
            except queue.Empty:
                self._sync()  # quiet for a second after commits that skipped the disk
                continue
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()

    def _write(self, batch: list[Scan]) -> None:
        try:
            with WRITE_LOCK:
                conn = self._connection()
                try:
                    with conn.begin():
                        store_scans(conn, batch, self.config)
                except SQLAlchemyError:
                    self._conn = None  # a broken connection is not used again
                    conn.close()
                    raise
            self._unsynced = True
        except SQLAlchemyError:
            log.exception("could not log a scan batch of %d rows", len(batch))
            for scan in batch:
                scan.summary = None
        for scan in batch:
            if isinstance(scan, _Waiting):
                scan.done.set()
        if time.monotonic() - self._synced_at >= SYNC_EVERY_S:
            self._sync()

    def _connection(self) -> Connection:
        """The writer's own connection, whose commits do not wait for the disk."""
        if self._conn is None:
            conn = self.engine.connect()
            if conn.dialect.name == "sqlite":
                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute("PRAGMA synchronous=NORMAL")  # this connection only
            elif conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET synchronous_commit TO OFF")  # this session only
                conn.commit()
            self._conn = conn
        return self._conn

    def _sync(self) -> None:
        """Make the commits that skipped the disk durable: fsync SQLite's write-ahead log (what
        a FULL commit does); PostgreSQL's WAL writer does it by itself within a second."""
        if self._wal is not None:
            try:
                fd = os.open(self._wal, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except FileNotFoundError:
                pass  # checkpointed and removed: already in the database file, synced
            except OSError:
                log.exception("could not sync the scan log")
        self._synced_at, self._unsynced = time.monotonic(), False
