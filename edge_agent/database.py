"""The edge SQLite file's connections: one writer under one lock, read-only readers per thread.

Locking policy (the model is datasette's ``Database``: one writer, read-only readers):

- Every write goes through :meth:`EdgeDatabase.write` (statements that commit one by one) or
  :meth:`EdgeDatabase.transaction` (``BEGIN IMMEDIATE`` … ``COMMIT``), both on the one writer
  connection and under one ``RLock``, so one thread's transaction never interleaves with another
  thread's statements. The journal's append is such a transaction.
- Every read outside a write goes through :meth:`EdgeDatabase.read`: the calling thread's own
  read-only connection (``mode=ro``), inside one read transaction. With WAL a reader sees the
  last committed state, as a snapshot that holds until the block ends, so it never observes a
  transaction in progress and never waits for the writer's lock.
- :meth:`EdgeDatabase.close` closes the writer and every reader it opened.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlite_utils import Database

from edge_agent.store import open_db


class _Reader(threading.local):
    db: Database | None = None
    depth: int = 0


class EdgeDatabase:
    """Owns the connections to one edge journal file, their locking policy and ``close()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer = open_db(path)  # creates and migrates the file before any reader opens it
        self.lock = threading.RLock()
        self._local = _Reader()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False

    @contextmanager
    def write(self) -> Iterator[Database]:
        """The writer, under the lock; each statement commits on its own."""
        with self.lock:
            self._check_open()
            yield self.writer

    @contextmanager
    def transaction(self) -> Iterator[Database]:
        """The writer, under the lock, in one ``BEGIN IMMEDIATE`` transaction: committed when the
        block ends, rolled back on any exception."""
        with self.write() as db:
            db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.conn.execute("ROLLBACK")
                raise
            db.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Database]:
        """This thread's read-only connection, in one read transaction (a consistent snapshot of
        committed data). Nested blocks share the outer block's snapshot."""
        local = self._local
        if local.db is None:
            local.db = self._open_reader()
        db = local.db
        if local.depth == 0:
            db.conn.execute("BEGIN")
        local.depth += 1
        try:
            yield db
        finally:
            local.depth -= 1
            if local.depth == 0:
                db.conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this object opened; idempotent."""
        with self.lock, self._readers_lock:
            if self._closed:
                return
            self._closed = True
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            self.writer.conn.close()

    def _open_reader(self) -> Database:
        with self._readers_lock:
            self._check_open()
            conn = sqlite3.connect(
                self.path.resolve().as_uri() + "?mode=ro",
                uri=True,
                isolation_level=None,
                # Used by its own thread only; close() may run on another one.
                check_same_thread=False,
                timeout=30,
            )
            self._readers.append(conn)
        return Database(conn, recursive_triggers=False, execute_plugins=False)

    def _check_open(self) -> None:
        if self._closed:
            raise sqlite3.ProgrammingError("the edge database is closed")


def open_edge_db(path: Path) -> EdgeDatabase:
    """Open (creating and migrating if needed) the edge journal file and its connections."""
    return EdgeDatabase(path)
