"""Commands the office sends on a device's ``cmd`` topic (issue 16): "take a photo now" with one
of its cameras, and "resend from seq" (docs/protocol.md, ``cmd``).

Each command is a ``device_commands`` row written with its audit row, then published at QoS 1
with the server's broker login; ``sent_at`` is set once the broker confirmed it. A snapshot is
done when the device's ``snapshot.taken`` event with ``purpose: "command"`` from that camera is
committed (the projection, sync_server/ingest/projection.py, fills ``done_at`` and ``result``).
A resend has no answer of its own: the device's head and acks show its effect.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from sync_server.accounts.audit import record
from sync_server.config import ServerConfig
from sync_server.devices.config_publisher import PublishError, publish_messages
from sync_server.devices.fleet import FleetError
from sync_server.store.db import blob_refs, device_commands, devices
from trace_protocol import topics
from trace_protocol.locales import N_
from trace_protocol.messages import CAMERA_NAME_RE, RESEND, SNAPSHOT, Command

PUBLISH_TIMEOUT_S = 5.0


def cameras_of(status: Any) -> list[str]:
    """The camera names a device reported in its last status (``extra.cameras``)."""
    extra = status.get("extra") if isinstance(status, dict) else None
    cams = extra.get("cameras") if isinstance(extra, dict) else None
    if not isinstance(cams, dict):
        return []
    return sorted(str(c) for c in cams if isinstance(c, str) and CAMERA_NAME_RE.match(c))


def _device(conn: Connection, dev: str) -> Any:
    row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
    if row is None:
        raise FleetError(N_("err_unknown_device"), "", dev=dev)
    if row["revoked_at"] is not None:
        raise FleetError(N_("err_device_revoked"), "", dev=dev)
    if row["public_key"] is None:
        raise FleetError(N_("err_device_not_enrolled"), "", dev=dev)
    return row


def snapshot_command(engine: Engine, dev: str, camera: str) -> Command:
    with engine.connect() as conn:
        row = _device(conn, dev)
    if camera not in cameras_of(row["status"]):
        raise FleetError(N_("err_unknown_camera"), "camera", camera=camera[:32])
    return Command(SNAPSHOT, {"camera": camera})


def resend_command(engine: Engine, dev: str, first: str) -> Command:
    with engine.connect() as conn:
        _device(conn, dev)
    try:
        seq = int(first.strip())
    except ValueError:
        raise FleetError(N_("err_resend_seq"), "from") from None
    if seq < 1:
        raise FleetError(N_("err_resend_seq"), "from")
    return Command(RESEND, {"from": seq})


def send(engine: Engine, config: ServerConfig, who: str, dev: str, cmd: Command) -> bool:
    """Record and publish a command; returns whether the broker confirmed it.

    ``sent_at`` is written before the publish (the device may answer before this function
    returns) and cleared again, with the reason in ``result``, when the broker did not confirm
    it: the device page then says it was not sent.
    """
    with engine.begin() as conn:
        facility = conn.execute(
            select(devices.c.facility_code).where(devices.c.dev_id == dev)
        ).scalar()
        now = time.time()
        inserted = conn.execute(
            insert(device_commands).values(
                dev_id=dev,
                kind=cmd.name,
                params=cmd.args,
                created_by=who,
                created_at=now,
                sent_at=now,
            )
        )
        cid = inserted.inserted_primary_key[0] if inserted.inserted_primary_key else None
        record(conn, who, f"command.{cmd.name}", dev, facility=facility, after=cmd.args)
    try:
        publish_messages(
            config, [(topics.build_topic(dev, topics.CMD), cmd.encode(), False)], PUBLISH_TIMEOUT_S
        )
    except PublishError as exc:
        with engine.begin() as conn:
            conn.execute(
                update(device_commands)
                .where(device_commands.c.id == cid)
                .values(sent_at=None, result={"error": str(exc)[:200]})
            )
        return False
    return True


def commands_of(conn: Connection, dev: str, limit: int = 20) -> list[dict[str, Any]]:
    """A device's latest commands, newest first, each snapshot with its photo once uploaded
    (``thumb``/``full``: the SHA-256 of the files that have arrived)."""
    rows = [
        dict(r)
        for r in conn.execute(
            select(device_commands)
            .where(device_commands.c.dev_id == dev)
            .order_by(device_commands.c.id.desc())
            .limit(limit)
        ).mappings()
    ]
    for r in rows:
        seq = (r["result"] or {}).get("seq")
        if seq is None:
            continue
        files = conn.execute(
            select(blob_refs.c.kind, blob_refs.c.sha256).where(
                blob_refs.c.dev_id == dev,
                blob_refs.c.seq == seq,
                blob_refs.c.received_at.is_not(None),
            )
        ).all()
        r.update({kind: sha for kind, sha in files if kind in ("full", "thumb")})
    return rows
