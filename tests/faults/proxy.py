"""A loopback TCP proxy between one agent and the broker that the fault runner can cut.

``cut()`` closes both sides of every live connection and closes the listening socket, so new
connections are refused (ECONNREFUSED) until ``heal()`` listens again on the same port. While
healed, a connection whose upstream (the broker) cannot be reached is closed at once, which is
what the agent would see with the broker down.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time

log = logging.getLogger(__name__)
HOST = "127.0.0.1"


class _Pair:
    """One proxied connection: the agent's socket and ours to the broker."""

    def __init__(self, down: socket.socket, up: socket.socket) -> None:
        self.down, self.up = down, up
        self._closed = threading.Event()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        for s in (self.down, self.up):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def pump(self) -> None:
        """Copy bytes both ways until either side closes or the pair is cut."""
        other = {self.down: self.up, self.up: self.down}
        try:
            while not self._closed.is_set():
                ready, _, _ = select.select([self.down, self.up], [], [], 0.5)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        return
                    other[s].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            self.close()


class CutProxy:
    """Listens on a free loopback port and forwards to ``127.0.0.1:target_port``."""

    def __init__(self, target_port: int, name: str) -> None:
        self.target_port = target_port
        self.name = name
        self._listener: socket.socket | None = self._listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._stop = threading.Event()
        self._pairs: set[_Pair] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, name=f"proxy-{name}", daemon=True)
        self.connections = 0

    @staticmethod
    def _listen(port: int) -> socket.socket:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((HOST, port))
        s.listen(16)
        return s

    def start(self) -> None:
        self._thread.start()

    def cut(self) -> None:
        """Drop every connection now and refuse new ones until :meth:`heal`."""
        self._cut.set()
        with self._lock:
            pairs = list(self._pairs)
            self._pairs.clear()
        for pair in pairs:
            pair.close()

    def heal(self) -> None:
        self._cut.clear()

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def stop(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        self._close_listener()

    def _close_listener(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
            self._listener = None

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            if self._cut.is_set():
                self._close_listener()  # refuse: nothing listens on the port
                time.sleep(0.05)
                continue
            if self._listener is None:
                try:
                    self._listener = self._listen(self.port)
                except OSError:
                    log.warning("proxy %s could not listen again on %s", self.name, self.port)
                    time.sleep(0.1)
                    continue
            try:
                ready, _, _ = select.select([self._listener], [], [], 0.1)
                if not ready:
                    continue
                down, _ = self._listener.accept()
            except (OSError, ValueError):
                continue
            self._connect(down)

    def _connect(self, down: socket.socket) -> None:
        try:
            up = socket.create_connection((HOST, self.target_port), timeout=2)
            up.settimeout(None)
        except OSError:
            down.close()  # the broker is down: the agent sees the connection fail
            return
        for s in (down, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = _Pair(down, up)
        with self._lock:
            if self._cut.is_set():
                pair.close()
                return
            self._pairs.add(pair)
            self.connections += 1
        threading.Thread(target=self._run_pair, args=(pair,), daemon=True).start()

    def _run_pair(self, pair: _Pair) -> None:
        pair.pump()
        with self._lock:
            self._pairs.discard(pair)
