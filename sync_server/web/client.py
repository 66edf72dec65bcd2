"""Who is asking, as little as the server needs: the client's network as a keyed hash (its /24 or
/48, never the address), the key for throttles and scan budgets (sync_server/consumer/scans.py)."""

from __future__ import annotations

from flask import current_app, request

from sync_server.consumer.scans import place_key, place_of
from sync_server.web.context import config


def scan_key() -> bytes:
    """The key of place hashes, derived from the web secret once per app."""
    key: bytes | None = current_app.extensions.get("ocop_scan_key")
    if key is None:
        key = place_key(config().web_secret_key())
        current_app.extensions["ocop_scan_key"] = key
    return key


def client_place() -> str:
    """The keyed hash of the client's network (after trusted proxies: http.proxy_hops)."""
    return place_of(request.remote_addr, scan_key())
