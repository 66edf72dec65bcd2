"""Batch-code scans written in the background, many rows per transaction (group commit).

A batch page (``/01/{gtin}/10/{lot}``, ``/l/{lot}``) logs its scan but judges nothing from it,
so the page need not wait for the row's fsync: rows go on a bounded queue and one thread writes
whatever has gathered in a single transaction. Under a burst of scans that turns hundreds of
fsyncs into a few. Unit-code scans stay synchronous (their page shows the code's history).

The queue is bounded: past ``max_queue`` rows a scan is dropped and counted (the page is never
slowed or broken for its log); a database error drops that transaction's rows and is logged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import SQLAlchemyError

from sync_server.store.db import scans

log = logging.getLogger(__name__)
# One writer at a time in this process: threads queue here instead of sleeping in SQLite's
# busy handler, which polls with growing sleeps and makes latency jump under load.
WRITE_LOCK = threading.Lock()


class ScanWriter:
    def __init__(self, engine: Engine, max_queue: int = 10_000, max_batch: int = 1_000) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.dropped = 0
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._submitted = 0
        self._done = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, row: dict[str, Any]) -> bool:
        """Queue one ``scans`` row; False when the queue is full and the scan was dropped."""
        self._ensure_thread()
        with self._cond:
            try:
                self._queue.put_nowait(row)
            except queue.Full:
                self.dropped += 1
                if self.dropped % 1000 == 1:
                    log.warning("scan log queue full: %d scans dropped so far", self.dropped)
                return False
            self._submitted += 1
        return True

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
            batch = [self._queue.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                with WRITE_LOCK, self.engine.begin() as conn:
                    conn.execute(insert(scans), batch)
            except SQLAlchemyError:
                log.exception("could not log a scan batch of %d rows", len(batch))
            with self._cond:
                self._done += len(batch)
                self._cond.notify_all()
