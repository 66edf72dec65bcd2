"""How every web worker learns of a recall within a quarter second, so no cached page hides it.

Each web worker (``ocop server web --port …``, one process each) has its own page cache
(sync_server/web/page_cache.py). The database's recall generation
(:func:`sync_server.trace.recalls.recall_generation`, which changes on every recall and lift) is
part of each cached page's key; a worker reads it at most once per ``max_age_s``, so a recall
made anywhere (the office of another worker, ``ocop server recall``) reaches its pages within
that time. The worker that made the recall also drops its cache and re-reads at once.
"""

from __future__ import annotations

import threading
import time

from flask import current_app
from sqlalchemy import Engine

from sync_server.store.db import reading
from sync_server.trace.recalls import recall_generation
from sync_server.web.page_cache import PageCache

# A read is one COUNT over the small recalls table: four a second per worker cost nothing, and a
# recall's closure (tens of ms on a province-sized database) plus this lag stays under issue 15's
# 1 s goal (make bench, trace).
GENERATION_MAX_AGE_S = 0.25


class RecallGeneration:
    """The recall generation, read from the database at most once per ``max_age_s``."""

    def __init__(self, engine: Engine, max_age_s: float = GENERATION_MAX_AGE_S) -> None:
        self.engine = engine
        self.max_age_s = max_age_s
        self._value = ""
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> str:
        now = time.monotonic()
        with self._lock:
            if now - self._read_at < self.max_age_s:
                return self._value
        with reading(self.engine) as conn:
            value = recall_generation(conn)
        with self._lock:
            self._value, self._read_at = value, now
        return value

    def invalidate(self) -> None:
        with self._lock:
            self._read_at = float("-inf")


def generation() -> str:
    """The current generation, for a page cache key."""
    found: RecallGeneration = current_app.extensions["ocop_recall_generation"]
    return found.current()


def recalls_changed() -> None:
    """This worker made or lifted a recall: forget its cached pages and generation now."""
    cache: PageCache = current_app.extensions["ocop_page_cache"]
    cache.clear()
    found: RecallGeneration = current_app.extensions["ocop_recall_generation"]
    found.invalidate()
