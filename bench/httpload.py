"""A bounded HTTP/1.1 load generator: N keep-alive clients on raw asyncio sockets, one process.

Each client sends a GET, reads the whole response (Content-Length) and sends the next, so
``clients`` requests are in flight at all times (a closed loop, like 100 phones that each
reload as soon as the page arrives). Bounded by ``seconds`` and ``max_requests``.

``run_crowd`` (issue 17) is the same loop for a crowd: TLS, a loopback address per client, a
pace per client, clients spread over processes, reconnecting when the server ends keep-alive.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
import ssl
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


# A crowd: many phones, each from an address of its own, over TLS, spread over processes (issue
# 17: 1,000 clients through nginx). One process's event loop holds a thousand sockets, but its
# TLS and parsing take a whole core; ``processes`` splits the clients so the client is not the
# ceiling being measured.


@dataclass(frozen=True)
class Target:
    """Where and how the clients of :func:`run_crowd` connect (picklable: it goes to each
    process). Client ``i`` asks ``ports[i % len(ports)]`` for ``paths[i % len(paths)]``."""

    ports: tuple[int, ...]
    paths: tuple[str, ...]
    host: str = "127.0.0.1"  # the Host header, and the TLS server name
    ca_file: str = ""  # TLS, verified against this CA (any name: loopback); empty: plain HTTP
    source_net: str = ""  # "127.20": client i connects from 127.20.x.y, an address of its own
    count_header: str = ""  # e.g. "X-Cache": how often each of its values came back
    watch: str = ""  # a marker: when each client first got a body with it, and the last without
    # A client sends its next request this long after the previous one started, at the
    # earliest: a phone held within nginx's per-address rate instead of a flood of 429s.
    interval_s: float = 0.0


@dataclass
class CrowdResult(LoadResult):
    clients: int = 0
    connects: int = 0
    header_counts: dict[str, int] = field(default_factory=dict)
    first_seen: list[float] = field(default_factory=list)  # time.monotonic(), per client that saw
    last_without: float = float("-inf")  # time.monotonic() of the last response without it

    def merge(self, other: CrowdResult) -> None:
        self.requests += other.requests
        self.seconds = max(self.seconds, other.seconds)
        self.errors += other.errors
        for k, v in other.statuses.items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        self.latencies_s.extend(other.latencies_s)
        self.clients += other.clients
        self.connects += other.connects
        for name, v in other.header_counts.items():
            self.header_counts[name] = self.header_counts.get(name, 0) + v
        self.first_seen.extend(other.first_seen)
        self.last_without = max(self.last_without, other.last_without)

    def summary(self) -> dict[str, object]:
        return {
            **super().summary(),
            "clients": self.clients,
            "connects": self.connects,
            "header_counts": dict(sorted(self.header_counts.items())),
            "saw_watch": len(self.first_seen),
        }


def source_address(net: str, i: int) -> str:
    """Client ``i``'s own loopback address in ``net`` (two octets: 62,500 addresses)."""
    return f"{net}.{i // 250 % 250}.{i % 250 + 1}"


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {
        k.strip().lower(): v.strip()
        for k, _, v in (line.partition(":") for line in lines[1:] if line)
    }
    if "content-length" in headers:
        return status, headers, await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() != "chunked":
        raise ValueError(f"no length in {lines[0]!r}")
    body = bytearray()
    while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
        body += await reader.readexactly(size + 2)
        del body[-2:]
    await reader.readuntil(b"\r\n")  # the (empty) trailer
    return status, headers, bytes(body)


async def _crowd_client(
    target: Target,
    i: int,
    tls: ssl.SSLContext | None,
    times: tuple[float, float],
    budget: list[int],
    result: CrowdResult,
) -> None:
    warm_until, stop_at = times
    port, path = target.ports[i % len(target.ports)], target.paths[i % len(target.paths)]
    host = target.host if target.host != "127.0.0.1" else f"127.0.0.1:{port}"
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    source = (source_address(target.source_net, i), 0) if target.source_net else None
    watch, seen = target.watch.encode(), False
    while time.perf_counter() < stop_at and budget[0] > 0:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1",
                port,
                ssl=tls,
                server_hostname=target.host if tls else None,
                local_addr=source,
                limit=1 << 20,
            )
        except OSError:
            result.errors += 1
            await asyncio.sleep(0.1)
            continue
        result.connects += 1
        try:
            while time.perf_counter() < stop_at and budget[0] > 0:
                start = time.perf_counter()
                writer.write(request)
                status, headers, body = await _read_response(reader)
                end = time.perf_counter()
                if watch:
                    if watch in body:
                        if not seen:
                            seen = True
                            result.first_seen.append(time.monotonic())
                    else:
                        result.last_without = max(result.last_without, time.monotonic())
                if start >= warm_until:  # requests of the warm-up are not counted
                    budget[0] -= 1
                    result.requests += 1
                    result.latencies_s.append(end - start)
                    result.statuses[status] = result.statuses.get(status, 0) + 1
                    if target.count_header:
                        value = headers.get(target.count_header.lower(), "-")
                        result.header_counts[value] = result.header_counts.get(value, 0) + 1
                if headers.get("connection", "").lower() == "close":
                    break  # the server ends keep-alive (nginx: keepalive_requests): reconnect
                if target.interval_s:
                    await asyncio.sleep(start + target.interval_s - time.perf_counter())
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            result.errors += 1
        finally:
            writer.close()


def _crowd_part(
    target: Target,
    first: int,
    count: int,
    begin: float,
    warm_up_s: float,
    seconds: float,
    limit: int,
) -> CrowdResult:
    """``count`` clients from ``first`` on, in this process, starting at ``begin`` (monotonic)."""

    async def main() -> CrowdResult:
        tls = None
        if target.ca_file:
            tls = ssl.create_default_context(cafile=target.ca_file)
            tls.check_hostname = False  # the test certificate names 127.0.0.1, not the domain
        result = CrowdResult(clients=count)
        await asyncio.sleep(max(0.0, begin - time.monotonic()))
        now = time.perf_counter()
        times = (now + warm_up_s, now + warm_up_s + seconds)
        budget = [limit]
        await asyncio.gather(
            *(
                _crowd_client(target, i, tls, times, budget, result)
                for i in range(first, first + count)
            )
        )
        result.seconds = time.perf_counter() - times[0]
        return result

    return asyncio.run(main())


def run_crowd(
    target: Target,
    *,
    clients: int,
    seconds: float,
    max_requests: int,
    warm_up_s: float = 1.0,
    processes: int = 1,
) -> CrowdResult:
    """``clients`` keep-alive clients (a closed loop, as :func:`run_load`) in ``processes``
    processes; connections are made during the warm-up, and remade when the server closes one.
    Bounded by ``seconds`` and ``max_requests`` (shared out among the processes)."""
    processes = max(1, min(processes, clients))
    shares = [
        clients // processes + (1 if p < clients % processes else 0) for p in range(processes)
    ]
    starts = [sum(shares[:p]) for p in range(processes)]
    limit = max(1, max_requests // processes)
    # Spawned, not forked: the caller may run threads (a recall made during the run).
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:
        begin = time.monotonic() + 1.0 + 0.3 * processes  # after every process has started
        parts = [
            pool.submit(_crowd_part, target, s, n, begin, warm_up_s, seconds, limit)
            for s, n in zip(starts, shares, strict=True)
        ]
        total = CrowdResult()
        for part in parts:
            total.merge(part.result())
    return total
