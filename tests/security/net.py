"""Test clients that choose their source address on loopback (all of 127.0.0.0/8 is local), so a
test can play an attacker's network and a real user's network from one machine.

The server judges networks as /24 (sync_server/consumer/scans.py ``network_of``): 127.0.1.x and
127.0.2.x
are two networks, 127.0.1.2 and 127.0.1.3 are one.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter

ATTACKER = "127.0.1.2"
USER = "127.0.2.3"


class _SourceAdapter(HTTPAdapter):
    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(source: str) -> requests.Session:
    """A requests session whose connections come from ``source``."""
    s = requests.Session()
    adapter = _SourceAdapter(source)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    return s


def send_head_only(
    port: int, head: bytes, source: str = "127.0.0.1", timeout_s: float = 5.0
) -> tuple[bytes, float]:
    """Send only ``head`` (request line and headers, no body) and read what the server answers
    within ``timeout_s``: (the bytes, seconds until the first byte). b"" when it said nothing."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=timeout_s, source_address=(source, 0)
    ) as sock:
        start = time.monotonic()
        sock.sendall(head)
        data = b""
        deadline = start + timeout_s
        first = timeout_s
        while time.monotonic() < deadline:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                piece = sock.recv(65536)
            except TimeoutError:
                break
            if not piece:
                break
            if not data:
                first = time.monotonic() - start
            data += piece
            if b"\r\n\r\n" in data:
                break
        return data, first


def status_of(answer: bytes) -> int:
    """The status code of a raw HTTP answer; 0 when there was none."""
    if not answer.startswith(b"HTTP/1."):
        return 0
    return int(answer.split(b" ", 2)[1])


def vm_rss_kib(pid: int) -> int:
    """The resident set size of a process (its and only its memory, not its children's)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")
