"""The web app's HTTP server: waitress, with limits that keep one client network from starving
the others (issue 12, findings 4 and 9).

- A request body over ``max_body`` is refused with 413 as soon as its headers are in.
- At most ``per_network`` open connections from one client network (its /24 or /48,
  :func:`sync_server.consumer.scans.network_of`): a further connection gets a bare ``503`` and is
  closed
  at once. Waitress serves requests in arrival order from a fixed pool of threads, so without this
  cap 500 keep-alive clients of one network fill its connection slots and queue, and a health
  check or a consumer from elsewhere waits behind all of them. Behind a reverse proxy every
  connection comes from the proxy, so the cap is off there and nginx's ``limit_conn`` does the job
  (docs/deployment.md).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any

from flask import Flask
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer, MultiSocketServer, create_server

from sync_server.config import HttpConfig
from sync_server.consumer.scans import network_of

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def network_capped_channel(per_network: int) -> type[HTTPChannel]:
    """A waitress channel class that admits at most ``per_network`` connections per network."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    class Channel(HTTPChannel):
        _network: str | None = None

        def __init__(self, server: Any, sock: socket.socket, addr: Any, adj: Any, map: Any = None):
            network = network_of(addr[0] if isinstance(addr, tuple) and addr else None)
            with lock:
                admitted = counts.get(network, 0) < per_network
                if admitted:
                    counts[network] = counts.get(network, 0) + 1
            if not admitted:
                with contextlib.suppress(OSError):  # non-blocking: a full buffer loses it
                    sock.send(_BUSY)
                sock.close()
                return  # never registered with the event loop: nothing else to undo
            self._network = network
            super().__init__(server, sock, addr, adj, map)

        def del_channel(self, map: Any = None) -> None:
            network, self._network = self._network, None
            if network is not None:
                with lock:
                    left = counts.get(network, 1) - 1
                    if left > 0:
                        counts[network] = left
                    else:
                        counts.pop(network, None)
            super().del_channel(map)

    return Channel


def open_http_server(app: Flask, http: HttpConfig, max_body: int) -> Any:
    """The waitress server for ``app`` (not started: call ``run()``)."""
    server = create_server(
        app,
        host=http.host,
        port=http.port,
        threads=http.threads,
        # waitress refuses a body from this size up, hence + 1.
        max_request_body_size=max_body + 1,
        connection_limit=http.connection_limit,
        # select() cannot watch descriptors past 1024; poll() can.
        asyncore_use_poll=True,
        # Waitress 3 drops X-Forwarded-* from a peer it is not told to trust. Behind proxies
        # the app's ProxyFix takes the client address from exactly ``proxy_hops`` of them
        # (sync_server/web/__init__.py): without the header every scan's place would be the
        # proxy's, and all consumers would share one network's scan budget (issue 17).
        clear_untrusted_proxy_headers=http.proxy_hops == 0,
    )
    if http.connections_per_network > 0 and http.proxy_hops == 0:
        channel = network_capped_channel(http.connections_per_network)
        # A host name with several addresses gives one listener per address.
        listeners: list[Any] = [server]
        if isinstance(server, MultiSocketServer) and server.map:
            listeners = list(server.map.values())
        for listener in listeners:
            if isinstance(listener, BaseWSGIServer):
                listener.channel_class = channel
    return server
