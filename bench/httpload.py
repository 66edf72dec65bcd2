"""A bounded HTTP/1.1 load generator: N keep-alive clients on raw asyncio sockets, one process.

Each client sends a GET, reads the whole response (Content-Length) and sends the next, so
``clients`` requests are in flight at all times (a closed loop, like 100 phones that each
reload as soon as the page arrives). Bounded by ``seconds`` and ``max_requests``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_s: list[float] = field(default_factory=list)

    @property
    def per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile_ms(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "per_s": self.per_s,
            "p50_ms": self.percentile_ms(0.50),
            "p99_ms": self.percentile_ms(0.99),
            "max_ms": 1000 * max(self.latencies_s, default=float("nan")),
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
        }


async def _client(
    port: int, path: str, stop_at: float, warm_until: float, budget: list[int], result: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            length = next(
                int(line.split(":", 1)[1])
                for line in lines
                if line.lower().startswith("content-length:")
            )
            await reader.readexactly(length)
            end = time.perf_counter()
            if start >= warm_until:  # requests of the warm-up second are not counted
                budget[0] -= 1
                result.requests += 1
                result.latencies_s.append(end - start)
                result.statuses[status] = result.statuses.get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError, StopIteration):
        result.errors += 1
    finally:
        writer.close()


def run_load(
    port: int,
    path: str | Callable[[int], str],
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    warm_up_s: float = 1.0,
) -> LoadResult:
    """``clients`` keep-alive clients against ``path`` (or ``path(i)`` for client ``i``)."""

    async def main() -> LoadResult:
        result = LoadResult()
        now = time.perf_counter()
        warm_until, stop_at = now + warm_up_s, now + warm_up_s + seconds
        budget = [max_requests]
        paths = [path(i) if callable(path) else path for i in range(clients)]
        await asyncio.gather(
            *(_client(port, p, stop_at, warm_until, budget, result) for p in paths)
        )
        result.seconds = time.perf_counter() - warm_until
        return result

    # In a thread of its own: the caller's thread may already run an event loop (pytest after
    # Playwright's sync API), where asyncio.run() refuses to start.
    out: list[LoadResult] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(asyncio.run(main()))
        except BaseException as exc:  # handed to the caller below
            errors.append(exc)

    thread = threading.Thread(target=target, name="httpload")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]
