"""Consumer scan log: one row per label page opened, and when a unit code's scans look wrong.

A scan is stored with a *place*: a keyed hash of the client's network (/24 for IPv4, /48 for
IPv6), never the address itself. Counting distinct places tells "scanned in many towns" from
"scanned again by the same shop" without keeping anything that identifies a consumer.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass
from typing import Any

SUSPICIOUS_SCANS = "suspicious_scans"
# Verdicts of batch-code scans; unit codes store UnitVerdict.outcome
# (sync_server.consumer.unit_check).
BATCH, NOT_FOUND = "batch", "not_found"
MAX_CODE = 20  # lot (GS1 AI 10) and serial (AI 21) are at most 20 characters
_PLACE_CONTEXT = b"ocop scan place v1"


@dataclass(frozen=True)
class ScanSummary:
    """One unit code's scans: ``count`` and ``places`` within the window, the first ever."""

    count: int
    places: int
    first_at: float
    suspicious: bool


def place_key(secret: bytes) -> bytes:
    """The key for place hashes, derived so the web secret itself is never used for two jobs."""
    return hmac.new(secret, _PLACE_CONTEXT, hashlib.sha256).digest()


def network_of(address: str | None) -> str:
    """The client's network as text: ``203.0.113.0/24`` or ``2001:db8:1::/48``."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@functools.lru_cache(maxsize=8192)  # parsing the address and the HMAC cost more than a page
def place_of(address: str | None, key: bytes) -> str:
    """HMAC-SHA256 of the client's network, 16 hex characters: the only trace of where."""
    return hmac.new(key, network_of(address).encode(), hashlib.sha256).hexdigest()[:16]


def scan_row(
    key: bytes,
    *,
    lot: str,
    gtin: str | None,
    facility_code: str | None,
    verdict: str,
    address: str | None,
    serial: str | None = None,
    now: float | None = None,
) -> dict[str, Any] | None:
    """The ``scans`` row of one scan, for the background writer
    (sync_server/consumer/scan_writer.py); None for a code no label carries."""
    if len(lot) > MAX_CODE or (serial is not None and len(serial) > MAX_CODE):
        return None
    return {
        "at": time.time() if now is None else now,
        "lot": lot,
        "serial": serial,
        "gtin": gtin,
        "facility_code": facility_code,
        "verdict": verdict,
        "place": place_of(address, key),
    }
