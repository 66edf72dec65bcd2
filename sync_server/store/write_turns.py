"""Processes that write one SQLite file take turns through a lock file (issue 17).

SQLite lets one writer in at a time. A writer that finds the lock taken sleeps in the busy
handler (1, 2, 5, … up to 100 ms between tries) and the lock often sits free while it sleeps:
two ingest workers on one file committed 943 events/s together where one alone committed
1,592 (docs/load-test.md). The ingest workers' batch transactions therefore queue on an
exclusive ``flock`` of ``<database>.writers`` first: the kernel wakes the next one the moment
the lock is let go, and the write transaction inside rarely waits for SQLite's own lock.
Anything else that writes (a web worker's scan writer, an office page, the CLI) still meets
SQLite's lock and waits in the busy handler; nothing waits for the file lock while holding
SQLite's, so the two locks cannot deadlock. The web workers' scan writer stays out: in a busy
web process each extra system call costs a wait for Python's interpreter lock
(docs/benchmarks.md). PostgreSQL has no such lock to share: there the turn is a no-op.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


def turns_path(engine: Engine) -> str | None:
    """The lock file of a SQLite database file; None for other databases and ``:memory:``."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    return None if not database or database == ":memory:" else f"{database}.writers"


@contextmanager
def write_turn(engine: Engine) -> Iterator[None]:
    """Hold this process's turn to write ``engine``'s SQLite file (nothing for PostgreSQL)."""
    path = turns_path(engine)
    if path is None:
        yield
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits in the kernel, not in a sleep loop
        yield
    finally:
        os.close(fd)  # lets the lock go


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` inside a write turn: the transaction commits before the turn ends."""
    with write_turn(engine), engine.begin() as conn:
        yield conn
