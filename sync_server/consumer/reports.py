"""Consumer reports of doubtful products, and the office alerts a doubtful code raises.

A report comes from an anonymous public form, so instead of a session-bound CSRF token it carries
a *form token*: an HMAC over the code and the time the page was rendered, valid for
``TOKEN_TTL_S``. Another site can neither read one (no CORS) nor make one (no key), and a token
for one code does not send a report about another. Each network (the keyed hash of
sync_server/consumer/scans.py) may send ``REPORT.free`` reports a day before it must wait
(sync_server/store/throttle.py). A photo is optional, JPEG or PNG only (checked by decoding, not by
its name or declared type), at most ``MAX_PHOTO_BYTES``; it is stored for the office only.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import Connection, Engine, func, insert, select

from sync_server.consumer.write_lock import WRITE_LOCK
from sync_server.store.alerts import raise_alert
from sync_server.store.db import alerts, consumer_reports
from sync_server.store.throttle import Backoff

CONSUMER_REPORT = "consumer_report"
DOUBTFUL_SCAN = "doubtful_scan"  # a forged or never-printed unit code was scanned
TOKEN_TTL_S = 2 * 3600.0
MAX_PHOTO_BYTES = 1 << 20  # within the app's request limit (sync_server/web/__init__.py)
MAX_PHOTO_PIXELS = 40_000_000
MAX_WHERE = 300
# Reports per network: 5 a day free, then one per 10 min doubling up to a day.
REPORT = Backoff("report", free=5, base_s=600.0, max_s=86400.0, forget_s=86400.0)
# New doubtful-scan alerts per facility per hour at most: each code has at most one open alert
# (alerts.raise_alert), and a flood of invented codes cannot bury the dashboard.
DOUBTFUL_ALERTS_PER_HOUR = 10
_TOKEN_CONTEXT = b"ocop consumer report form v1"


class ReportError(ValueError):
    """A report that cannot be taken; ``key`` is the id of the message shown (web/translations/)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Photo:
    data: bytes
    kind: str  # jpeg | png

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _token_key(secret: bytes) -> bytes:
    return hmac.new(secret, _TOKEN_CONTEXT, hashlib.sha256).digest()


def _mac(secret: bytes, lot: str, serial: str, issued: int) -> str:
    msg = f"{lot}\x00{serial}\x00{issued}".encode()
    return hmac.new(_token_key(secret), msg, hashlib.sha256).hexdigest()[:32]


def form_token(secret: bytes, lot: str, serial: str, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    return f"{issued}.{_mac(secret, lot, serial, issued)}"


def token_ok(secret: bytes, token: str, lot: str, serial: str, now: float | None = None) -> bool:
    """The token was made here, for this code, within the last ``TOKEN_TTL_S``."""
    issued_text, _, mac = token.partition(".")
    if not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    age = (time.time() if now is None else now) - issued
    if not -60 <= age <= TOKEN_TTL_S:
        return False
    return hmac.compare_digest(mac, _mac(secret, lot, serial, issued))


def check_photo(data: bytes) -> Photo:
    """A JPEG or PNG that decodes, within the size and pixel limits."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ReportError("report_photo_too_big")
    if data.startswith(b"\xff\xd8\xff"):
        kind, fmt = "jpeg", "JPEG"
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, fmt = "png", "PNG"
    else:
        raise ReportError("report_photo_type")
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            if img.width * img.height > MAX_PHOTO_PIXELS:
                raise ReportError("report_photo_too_big")
            img.verify()
    except ReportError:
        raise
    except Exception as exc:  # Pillow raises many types for a broken file
        raise ReportError("report_photo_type") from exc
    return Photo(data, kind)


def clean_phone(text: str) -> str | None:
    """Digits, spaces and + - . ( ) only, 8 to 20 characters; empty means none given."""
    phone = " ".join(text.split())
    if not phone:
        return None
    if len(phone) > 20 or sum(c.isdigit() for c in phone) < 8:
        raise ReportError("report_bad_phone")
    if any(not (c.isdigit() or c in " +-.()") for c in phone):
        raise ReportError("report_bad_phone")
    return phone


def photo_path(report_dir: Path, sha256: str, kind: str) -> Path:
    return report_dir / f"{sha256}.{'jpg' if kind == 'jpeg' else 'png'}"


def save_report(
    engine: Engine,
    report_dir: Path,
    *,
    lot: str,
    serial: str,
    gtin: str | None,
    facility_code: str | None,
    verdict: str,
    where_bought: str,
    phone: str | None,
    photo: Photo | None,
    place: str,
    now: float | None = None,
) -> int:
    """Store one report (and its photo) and raise the office's alert for the code."""
    at = time.time() if now is None else now
    if photo is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
        path = photo_path(report_dir, photo.sha256, photo.kind)
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{os.getpid()}")
            tmp.write_bytes(photo.data)
            tmp.replace(path)
    where = " ".join(where_bought.split())[:MAX_WHERE]
    with WRITE_LOCK, engine.begin() as conn:
        inserted = conn.execute(
            insert(consumer_reports).values(
                created_at=at,
                lot=lot,
                serial=serial,
                gtin=gtin,
                facility_code=facility_code,
                verdict=verdict,
                where_bought=where,
                phone=phone,
                photo_sha256=photo.sha256 if photo else None,
                photo_type=photo.kind if photo else None,
                place=place,
            )
        ).inserted_primary_key
        report_id = int(inserted[0]) if inserted else 0
        raise_alert(
            conn,
            None,
            facility_code,
            CONSUMER_REPORT,
            f"report #{report_id} on unit code {lot}/{serial} (verdict {verdict}): bought at "
            f"{where}{'; phone ' + phone if phone else ''}{'; photo' if photo else ''}",
            subject=f"{lot}/{serial}",
        )
    return report_id


def alert_doubtful_scan(
    conn: Connection,
    facility_code: str | None,
    lot: str,
    serial: str,
    verdict: str,
    now: float,
) -> bool:
    """Raise the office's alert for a forged or never-printed code scanned: one open alert per
    code, and at most ``DOUBTFUL_ALERTS_PER_HOUR`` new ones per facility an hour."""
    same_facility = (
        alerts.c.facility_code.is_(None)
        if facility_code is None
        else alerts.c.facility_code == facility_code
    )
    recent = conn.execute(
        select(func.count()).where(
            alerts.c.kind == DOUBTFUL_SCAN, same_facility, alerts.c.created_at >= now - 3600
        )
    ).scalar_one()
    if recent >= DOUBTFUL_ALERTS_PER_HOUR:
        return False
    return raise_alert(
        conn,
        None,
        facility_code,
        DOUBTFUL_SCAN,
        f"unit code {lot}/{serial} scanned: verdict {verdict}",
        subject=f"{lot}/{serial}",
    )
