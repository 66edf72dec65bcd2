"""The in-process micro-cache of public batch pages: reuse within the TTL, bounded size."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sync_server.web.page_cache import PageCache


def _renderer(calls: list[str], body: str) -> Callable[[], tuple[str, int]]:
    def render() -> tuple[str, int]:
        calls.append(body)
        return body, 200

    return render


def test_a_page_is_rendered_once_within_its_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("sync_server.web.page_cache.time.monotonic", lambda: clock[0])
    cache = PageCache(ttl_s=5.0)
    calls: list[str] = []
    for _ in range(3):
        assert cache.get_or_render(("batch", "L1", "vi"), _renderer(calls, "v1")) == ("v1", 200)
    assert calls == ["v1"]
    assert cache.get_or_render(("batch", "L1", "en"), _renderer(calls, "en")) == ("en", 200)
    clock[0] += 5.1  # expired: rendered again, so a newly synced step shows up
    assert cache.get_or_render(("batch", "L1", "vi"), _renderer(calls, "v2")) == ("v2", 200)
    assert calls == ["v1", "en", "v2"]


def test_the_cache_is_bounded_and_can_be_off() -> None:
    cache = PageCache(ttl_s=60.0, max_entries=2)
    calls: list[str] = []
    for lot in ("A", "B", "C", "A"):
        cache.get_or_render((lot,), _renderer(calls, lot))
    assert calls == ["A", "B", "C", "A"]  # A was dropped when C came in
    off = PageCache(ttl_s=0)
    calls_off: list[str] = []
    off.get_or_render(("A",), _renderer(calls_off, "A"))
    off.get_or_render(("A",), _renderer(calls_off, "A"))
    assert calls_off == ["A", "A"]


def test_a_not_found_page_is_never_reused() -> None:
    cache = PageCache(ttl_s=60.0)
    assert cache.get_or_render(("L",), lambda: ("not yet", 404)) == ("not yet", 404)
    assert cache.get_or_render(("L",), lambda: ("synced", 200)) == ("synced", 200)
