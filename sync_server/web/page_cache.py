"""A few seconds of memory for rendered public batch pages (an in-process micro-cache).

When a product is on television, thousands of phones open the same few batch pages at once.
Each page view still logs its scan (sync_server/web/public.py does that before asking here),
but the page itself is rendered once per ``http.page_cache_s`` seconds and language, not once
per request. A page that changes (a new step synced) shows up within that time. Bounded: at
most ``max_entries`` pages, the oldest dropped first. Unit-code pages are never cached: each
one shows that code's own scan history.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class PageCache:
    def __init__(self, ttl_s: float, max_entries: int = 2048) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._pages: OrderedDict[tuple[str, ...], tuple[float, str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(
        self, key: tuple[str, ...], render: Callable[[], tuple[str, int]]
    ) -> tuple[str, int]:
        if self.ttl_s <= 0:
            return render()
        now = time.monotonic()
        with self._lock:
            hit = self._pages.get(key)
            if hit is not None and hit[0] > now:
                return hit[1], hit[2]
        # Rendered outside the lock: a slow page never holds up other pages. Two threads may
        # render the same page once each when it expires; both results are equally fresh.
        body, status = render()
        if status != 200:
            return body, status  # "not found yet" must give way the moment the batch syncs
        with self._lock:
            self._pages[key] = (now + self.ttl_s, body, status)
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)
        return body, status

    def clear(self) -> None:
        """Forget every page: a recall or its lift changed them (web/recall_state.py)."""
        with self._lock:
            self._pages.clear()
