"""Rotate a device's broker password when the office believes it stolen (issue 16;
docs/protocol.md, "Unblocking"): remove the hash, issue a token only the device's key can use.

Forged traffic on a device's topics (the ``forged_traffic`` alert, the device page's "messages
not from this device") never blocks the device: whoever holds its broker password can publish,
but cannot sign. The office's answer is to take the password away from everyone and give a new
one to the device alone. The token travels on the device's ``cmd`` topic (``rekey``), which a
thief holding the old password can read, so it is bound to the registered public key: only the
device's private key can use it, and the new password comes back only in the HTTP(S) enrolment
answer (sync_server/devices/enrolment.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Connection, insert, update

from sync_server.accounts.audit import record
from sync_server.devices.enrolment import issue_token
from sync_server.devices.unblock import ROTATE, UnblockError, checked_reason, locked_device
from sync_server.store.alerts import resolve_alerts
from sync_server.store.db import devices
from sync_server.store.office_tables import device_decisions
from trace_protocol.messages import REKEY, Command

CAUSE = "forged_traffic"  # device_decisions.cause of a rotation: the alert's kind


@dataclass(frozen=True)
class Rotated:
    dev: str
    facility: str
    token: str  # shown once on the page, sent once on the cmd topic; only its hash is stored

    def command(self) -> Command:
        """What the device hears on its ``cmd`` topic, before it loses its broker login."""
        return Command(REKEY, {"token": self.token})


def rotate(
    conn: Connection, dev: str, who: str, reason: str, *, ttl_hours: float = 72.0
) -> Rotated:
    """Rotate ``dev``'s broker password in the caller's transaction (with its audit row): the
    hash goes at once (nobody logs in as ``dev`` once the broker's files are rewritten), and a
    one-time token for the same id is issued, which only the registered key can use
    (sync_server/devices/enrolment.py). The device is not blocked and nothing of its chain
    changes."""
    reason = checked_reason(reason)
    device = locked_device(conn, dev)
    if device["revoked_at"] is not None:
        raise UnblockError("revoked")
    if device["replaced_by"] is not None:
        raise UnblockError("already_continued", f"{dev} continues as {device['replaced_by']}")
    if device["public_key"] is None:
        raise UnblockError("not_enrolled")
    now = time.time()
    token = issue_token(conn, dev, str(device["facility_code"]), ttl_hours, now=now)
    conn.execute(update(devices).where(devices.c.dev_id == dev).values(mqtt_password_hash=None))
    conn.execute(
        insert(device_decisions).values(
            dev_id=dev,
            at=now,
            username=who,
            cause=CAUSE,
            blocked_seq=device["blocked_seq"],
            decision=ROTATE,
            reason=reason,
            new_dev_id=None,
        )
    )
    record(
        conn,
        who,
        f"device.unblock.{ROTATE}",
        dev,
        facility=device["facility_code"],
        before={"broker_login": device["mqtt_password_hash"] is not None},
        after={"broker_login": False, "token_valid_h": ttl_hours},
        detail=reason,
    )
    resolve_alerts(conn, dev, CAUSE, who)
    return Rotated(dev, str(device["facility_code"]), token)
