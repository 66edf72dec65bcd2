"""A few seconds of memory for public label pages (an in-process micro-cache).

When a product is on television, thousands of phones open the same few batch pages at once.
Each page view still logs its scan (sync_server/web/public.py does that before asking here),
but the page itself is rendered once per ``http.page_cache_s`` seconds and language, not once
per request. A page that changes (a new step synced) shows up within that time. Unit-code
pages are never cached whole (each shows its own code's verdict and scan history); what they
share with the other codes of their lot is (sync_server/web/unit_page.py). Bounded: at most
``max_entries`` entries, the oldest dropped first.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class PageCache:
    def __init__(self, ttl_s: float, max_entries: int = 2048) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._pages: OrderedDict[tuple[str, ...], tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(
        self, key: tuple[str, ...], render: Callable[[], tuple[str, int]]
    ) -> tuple[str, int]:
        """A rendered page: ``(body, status)``; only 200s are kept ("not found yet" must give
        way the moment the batch syncs)."""
        return self.get_or_make(key, render, keep=lambda page: page[1] == 200)

    def get_or_make(
        self,
        key: tuple[str, ...],
        make: Callable[[], T],
        keep: Callable[[T], bool] = lambda value: value is not None,
    ) -> T:
        """The value kept under ``key``, else ``make()``'s, kept when ``keep`` says so."""
        if self.ttl_s <= 0:
            return make()
        now = time.monotonic()
        with self._lock:
            hit = self._pages.get(key)
            if hit is not None and hit[0] > now:
                value: T = hit[1]
                return value
        # Made outside the lock: a slow page never holds up other pages. Two threads may make
        # the same entry once each when it expires; both results are equally fresh.
        value = make()
        if not keep(value):
            return value
        with self._lock:
            self._pages[key] = (now + self.ttl_s, value)
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget every page: a recall or its lift changed them (web/recall_state.py)."""
        with self._lock:
            self._pages.clear()
