"""One writer at a time in this web process (scan log, consumer reports).

Threads queue on this lock instead of sleeping in SQLite's busy handler, which polls with
growing sleeps and makes latency jump under load. Other processes (ingest, other web workers)
still meet at the database's own write lock.
"""

from __future__ import annotations

import threading

WRITE_LOCK = threading.Lock()
