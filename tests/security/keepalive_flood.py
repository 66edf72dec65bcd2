"""Many keep-alive HTTP clients asking for one page as fast as they can, for a fixed time.

Run as its own process (``python -m tests.security.keepalive_flood PORT``) so that its event
loop does not share a GIL with the test that measures the server. Prints one JSON line:
answers by status and connection errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter


async def _client(
    port: int, source: str, path: str, host: str, stop_at: float, seen: Counter[str]
) -> None:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n\r\n".encode()
    while time.monotonic() < stop_at:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 5
            )
        except (OSError, TimeoutError):
            seen["connect_error"] += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.monotonic() < stop_at:
                writer.write(request)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
                status = head.split(b" ", 2)[1].decode()
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await asyncio.wait_for(reader.readexactly(length), 10)
                seen[status] += 1
                if b"connection: close" in head.lower():
                    break
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            seen["dropped"] += 1
        finally:
            writer.close()


async def _main(args: argparse.Namespace) -> Counter[str]:
    seen: Counter[str] = Counter()
    stop_at = time.monotonic() + args.seconds
    await asyncio.gather(
        *(
            _client(args.port, args.source, args.path, args.host, stop_at, seen)
            for _ in range(args.clients)
        )
    )
    return seen


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("--clients", type=int, default=500)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--path", default="/")
    p.add_argument("--source", default="127.0.1.2")
    p.add_argument("--host", default="127.0.0.1")
    args = p.parse_args()
    print(json.dumps(dict(asyncio.run(_main(args)))), flush=True)


if __name__ == "__main__":
    main()
