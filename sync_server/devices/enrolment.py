"""One-time enrolment tokens: the office creates a device, the device trades token + key for
its broker credentials and first config; the office can revoke it again."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, insert, select, update

from sync_server.accounts.audit import cli_actor, record
from sync_server.devices.broker_auth import SERVER_USER, mosquitto_hash, new_password
from sync_server.devices.registry import RegistryError, assign_lot_index, config_for_device
from sync_server.store.alerts import raise_alert
from sync_server.store.db import devices, enrolment_tokens, facilities
from trace_protocol.catalog import Catalog
from trace_protocol.enrolment import proof_message
from trace_protocol.envelope import DEVICE_ID_RE
from trace_protocol.signing import load_public_key, verify_signature
from trace_protocol.unit_codes import decode_label_key


class EnrolmentError(Exception):
    """An enrolment the server refuses; ``code`` is stable, ``message`` is for the person."""

    def __init__(self, code: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Enrolled:
    device: str
    facility: str
    mqtt_password: str
    catalog: Catalog
    lot_index: int  # the device's lot letter (trace_protocol.links.lot_letter)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A one-time enrolment token. Never starting with '-': typed after ``--token`` on a command
    line, such a token reads as an option (``ocop edge enroll: error: argument --token``)."""
    while (token := secrets.token_urlsafe(16)).startswith("-"):
        pass
    return token


def issue_token(
    conn: Connection,
    dev: str,
    facility: str,
    ttl_hours: float,
    *,
    token: str | None = None,
    now: float | None = None,
) -> str:
    """A one-time enrolment token for ``dev`` in the caller's transaction; only the newest token
    of a device works, so its older unused ones expire now. Returns the token (stored hashed)."""
    token = new_token() if token is None else token
    now = time.time() if now is None else now
    conn.execute(
        update(enrolment_tokens)
        .where(enrolment_tokens.c.dev_id == dev, enrolment_tokens.c.used_at.is_(None))
        .values(expires_at=now)
    )
    conn.execute(
        insert(enrolment_tokens).values(
            token_hash=_token_hash(token),
            dev_id=dev,
            facility_code=facility,
            created_at=now,
            expires_at=now + ttl_hours * 3600,
        )
    )
    return token


def create_device(
    engine: Engine,
    dev: str,
    facility: str,
    ttl_hours: float,
    *,
    who: str | None = None,
    name: str | None = None,
) -> str:
    """Create (or re-issue a token for) a device that has not enrolled; returns the token.

    The audit log gets a ``device.register`` (or ``device.token`` for a new token) row by
    ``who`` (default: the command-line user) in the same transaction; never the token.
    ``name`` is the office's display name for it (``devices.name``), kept when None.
    """
    if not DEVICE_ID_RE.match(dev) or dev == SERVER_USER:
        raise RegistryError("device id: lower-case letters, digits and '-' (2-63 chars)")
    token = new_token()
    now = time.time()
    with engine.begin() as conn:
        fac = conn.execute(
            select(facilities.c.code, facilities.c.disabled_at).where(facilities.c.code == facility)
        ).first()
        if fac is None:
            raise RegistryError(f"unknown facility {facility!r}: import its catalog first")
        if fac.disabled_at is not None:
            raise RegistryError(f"facility {facility} is disabled: enable it first")
        row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
        if row is None:
            conn.execute(
                insert(devices).values(
                    dev_id=dev, facility_code=facility, registered_at=now, head_seq=0, name=name
                )
            )
        elif row["enrolled_at"] is not None or row["head_seq"] > 0:
            raise RegistryError(
                f"device {dev} has already enrolled; a replacement Pi needs a new device id"
            )
        elif row["facility_code"] != facility:
            raise RegistryError(f"device {dev} belongs to facility {row['facility_code']}")
        elif row["revoked_at"] is not None:
            raise RegistryError(f"device {dev} has been revoked; a new Pi needs a new device id")
        elif name is not None:
            conn.execute(update(devices).where(devices.c.dev_id == dev).values(name=name))
        issue_token(conn, dev, facility, ttl_hours, token=token, now=now)
        record(
            conn,
            cli_actor() if who is None else who,
            "device.register" if row is None else "device.token",
            dev,
            facility=facility,
            after={"facility": facility, "name": name, "token_valid_h": ttl_hours},
        )
    return token


def enrol(engine: Engine, request: Any, base_url: str) -> Enrolled:
    """Check a device's enrolment request; on success it gets broker credentials."""
    fields = _fields(request)
    dev, facility, token, public_key, label_key, proof = (
        fields["device"],
        fields["facility"],
        fields["token"],
        fields["public_key"],
        fields["label_key"],
        fields["proof"],
    )
    try:
        decode_label_key(label_key)
    except ValueError as exc:
        raise EnrolmentError("bad_key", f"label key: {exc}", 400) from exc
    try:
        key = load_public_key(public_key)
    except ValueError as exc:
        raise EnrolmentError("bad_key", f"public key: {exc}", 400) from exc
    message = proof_message(dev, facility, token, public_key, label_key)
    if not verify_signature(key, message, proof):
        raise EnrolmentError("bad_proof", "the request is not signed by the key it carries", 400)
    now = time.time()
    password = new_password()
    with engine.begin() as conn:
        tok = (
            conn.execute(
                select(enrolment_tokens).where(enrolment_tokens.c.token_hash == _token_hash(token))
            )
            .mappings()
            .first()
        )
        if tok is None:
            raise EnrolmentError("unknown_token", "this enrolment token is not known")
        if tok["used_at"] is not None:
            raise EnrolmentError("used_token", "this enrolment token has already been used")
        if tok["expires_at"] <= now:
            raise EnrolmentError(
                "expired_token", "this enrolment token has expired; ask the office for a new one"
            )
        if tok["dev_id"] != dev:
            # Never name the token's device: that would tell a token holder about another one.
            raise EnrolmentError("wrong_device", "this token is for another device")
        if tok["facility_code"] != facility:
            raise EnrolmentError(
                "wrong_facility", f"this token is for another facility, not {facility}"
            )
        device = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().one()
        if device["revoked_at"] is not None:
            raise EnrolmentError("revoked", "this device has been revoked")
        if device["replaces"] is not None and not _same_key_as_replaced(conn, device, public_key):
            # A continuing identity (docs/protocol.md, "Unblocking"): its token travelled on the
            # old device's cmd topic, so only the old device's key may use it.
            raise EnrolmentError("wrong_key", "this device continues another: enrol with its key")
        if device["public_key"] is not None and (
            device["public_key"] != public_key or device["label_key"] not in (None, label_key)
        ):
            # A device enrolled already gets a token only when the office rotates its broker
            # password (sync_server/devices/rotation.py): the token travelled on its cmd topic,
            # which the thief of the old password can read, so only the registered keys count.
            raise EnrolmentError("wrong_key", "this device is enrolled: enrol with its own key")
        disabled = conn.execute(
            select(facilities.c.disabled_at).where(facilities.c.code == facility)
        ).scalar()
        if disabled is not None:
            raise EnrolmentError(
                "facility_disabled", "the office has disabled this facility; ask the office"
            )
        used = conn.execute(
            update(enrolment_tokens)
            .where(
                enrolment_tokens.c.token_hash == tok["token_hash"],
                enrolment_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        if used.rowcount != 1:  # a concurrent request won the race
            raise EnrolmentError("used_token", "this enrolment token has already been used")
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == dev)
            .values(
                public_key=public_key,
                label_key=label_key,
                enrolled_at=device["enrolled_at"] or now,  # a re-enrolment keeps the first
                mqtt_password_hash=mosquitto_hash(password),
            )
        )
        try:
            lot_index = assign_lot_index(conn, dev)
        except RegistryError as exc:  # the facility has no lot letter left: nothing is kept
            raise EnrolmentError("no_lot_letter", str(exc), 409) from exc
        catalog = config_for_device(conn, dev, base_url)
    return Enrolled(
        device=dev,
        facility=facility,
        mqtt_password=password,
        catalog=catalog,
        lot_index=lot_index,
    )


def _same_key_as_replaced(conn: Connection, device: RowMapping, public_key: str) -> bool:
    old = conn.execute(
        select(devices.c.public_key).where(devices.c.dev_id == device["replaces"])
    ).scalar()
    return old == public_key


def _fields(request: Any) -> dict[str, str]:
    if not isinstance(request, dict):
        raise EnrolmentError("bad_request", "expected a JSON object", 400)
    out = {}
    for name in ("device", "facility", "token", "public_key", "label_key", "proof"):
        value = request.get(name)
        if not isinstance(value, str) or not value or len(value) > 200:
            raise EnrolmentError("bad_request", f"missing or invalid field {name!r}", 400)
        out[name] = value
    return out


def revoke_device(engine: Engine, dev: str, reason: str, *, who: str | None = None) -> None:
    """Stop a device: no broker login after the next reload, its later events untrusted.

    The audit log gets a ``device.revoke`` row by ``who`` (default: the command-line user)."""
    with engine.begin() as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
        if row is None:
            raise RegistryError(f"unknown device {dev!r}")
        record(
            conn,
            cli_actor() if who is None else who,
            "device.revoke",
            dev,
            facility=row["facility_code"],
            before={"revoked": row["revoked_at"] is not None},
            after={"revoked": True},
            detail=reason,
        )
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == dev)
            .values(revoked_at=time.time(), revoked_reason=reason, mqtt_password_hash=None)
        )
        conn.execute(
            update(enrolment_tokens)
            .where(enrolment_tokens.c.dev_id == dev, enrolment_tokens.c.used_at.is_(None))
            .values(expires_at=time.time())
        )
        raise_alert(conn, dev, row["facility_code"], "revoked", reason or "revoked by the office")


def token_matches(engine: Engine, dev: str, token: str) -> bool:
    """Whether ``token`` is ``dev``'s live (unused, unexpired) enrolment token: the office's
    bundle download takes the token back from the page that showed it."""
    if not token or len(token) > 200:
        return False
    with engine.connect() as conn:
        row = conn.execute(
            select(enrolment_tokens.c.dev_id).where(
                enrolment_tokens.c.token_hash == _token_hash(token),
                enrolment_tokens.c.dev_id == dev,
                enrolment_tokens.c.used_at.is_(None),
                enrolment_tokens.c.expires_at > time.time(),
            )
        ).first()
    return row is not None
