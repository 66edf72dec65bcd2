"""Consumer scan log: one row per label page opened, and when a unit code's scans look wrong.

A scan is stored with a *place*: a keyed hash of the client's network (/24 for IPv4, /48 for
IPv6), never the address itself. Counting distinct places tells "scanned in many towns" from
"scanned again by the same shop" without keeping anything that identifies a consumer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, case, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from sync_server.config import ScansConfig
from sync_server.consumer.reports import alert_doubtful_scan
from sync_server.consumer.scan_writer import WRITE_LOCK
from sync_server.consumer.unit_check import FORGED, NEVER_PRINTED
from sync_server.store.alerts import raise_alert
from sync_server.store.db import scans

log = logging.getLogger(__name__)

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
    """The ``scans`` row of one scan (the background writer takes batch-code rows); None for a
    code no label carries."""
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


def log_scan(
    engine: Engine,
    config: ScansConfig,
    key: bytes,
    *,
    lot: str,
    serial: str | None,
    gtin: str | None,
    facility_code: str | None,
    verdict: str,
    address: str | None,
    device: str | None = None,
    now: float | None = None,
) -> ScanSummary | None:
    """Record one scan; for a unit code also judge its history and raise an alert when odd.

    Returns the unit code's summary (None for batch codes, or when logging failed: a scan log
    must never break the consumer's page).
    """
    row = scan_row(
        key,
        lot=lot,
        serial=serial,
        gtin=gtin,
        facility_code=facility_code,
        verdict=verdict,
        address=address,
        now=now,
    )
    if row is None:
        return None  # no label carries such a code: nothing worth a row
    at = row["at"]
    try:
        with WRITE_LOCK, engine.begin() as conn:
            conn.execute(insert(scans).values(**row))
            if serial is None:
                return None
            since = at - config.window_days * 86400
            # One aggregate over the scans_code index: window counts and the first scan ever.
            recent = scans.c.at >= since
            count, places, first = conn.execute(
                select(
                    func.count(case((recent, 1))),
                    func.count(func.distinct(case((recent, scans.c.place)))),
                    func.min(scans.c.at),
                ).where(and_(scans.c.lot == lot, scans.c.serial == serial))
            ).one()
            summary = ScanSummary(
                count=int(count),
                places=int(places),
                first_at=float(first),
                suspicious=count > config.max_scans or places > config.max_places,
            )
            if verdict in (FORGED, NEVER_PRINTED):
                # Even once: a code the producer never printed is worth an officer's look.
                alert_doubtful_scan(conn, facility_code, lot, serial, verdict, at)
            if summary.suspicious:
                raise_alert(
                    conn,
                    device,
                    facility_code,
                    SUSPICIOUS_SCANS,
                    f"unit code {lot}/{serial}: {summary.count} scans from {summary.places} "
                    f"places in {config.window_days} days (verdict {verdict})",
                    subject=f"{lot}/{serial}",
                )
            return summary
    except SQLAlchemyError:
        log.exception("could not log a scan of %s/%s", lot, serial)
        return None
