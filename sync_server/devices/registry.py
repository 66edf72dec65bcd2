"""The office's registry: facilities with their catalogs, devices with their public keys."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from sync_server.accounts.audit import catalog_changes, cli_actor, record
from sync_server.store.db import devices, facilities
from trace_protocol.catalog import Catalog, CatalogError, parse_catalog
from trace_protocol.envelope import DEVICE_ID_RE
from trace_protocol.links import MAX_LOT_INDEX
from trace_protocol.signing import load_public_key


class RegistryError(ValueError):
    """An office action that cannot be done; the message says why."""


def import_catalog(
    engine: Engine, source: Path | dict[str, Any], base_url: str, *, who: str | None = None
) -> Catalog:
    """Create or update a facility and its products; bumps the catalog version on change.

    The audit log gets a ``catalog.import`` row by ``who`` (default: the command-line user) in
    the same transaction, with the top-level catalog keys that changed.
    """
    obj = json.loads(source.read_text(encoding="utf-8")) if isinstance(source, Path) else source
    if not isinstance(obj, dict):
        raise RegistryError("a catalog file holds one JSON object")
    with engine.begin() as conn:
        catalog, before = store_catalog(conn, obj, base_url)
        code = catalog.facility.code
        old, new = catalog_changes(before, stored_catalog(conn, code))
        record(
            conn,
            cli_actor() if who is None else who,
            "catalog.import",
            code,
            facility=code,
            before=old,
            after=new,
            detail=f"v{catalog.version}",
        )
    return catalog


def stored_catalog(conn: Connection, facility_code: str) -> dict[str, Any] | None:
    """A facility's stored catalog, or None for an unknown facility."""
    row = conn.execute(
        select(facilities.c.catalog).where(facilities.c.code == facility_code)
    ).first()
    return None if row is None else dict(row[0])


def store_catalog(
    conn: Connection, obj: dict[str, Any], base_url: str
) -> tuple[Catalog, dict[str, Any] | None]:
    """Validate and store a catalog in ``conn``'s transaction; returns it with the catalog stored
    before (None for a new facility). Bumps the version only when something changed."""
    code = str(obj.get("facility", {}).get("code", ""))
    row = conn.execute(select(facilities).where(facilities.c.code == code)).mappings().first()
    version = 1 if row is None else int(row["catalog_version"]) + 1
    try:
        catalog = parse_catalog({**obj, "version": version, "public_base_url": base_url, "v": 1})
    except CatalogError as exc:
        raise RegistryError(f"catalog: {exc}") from exc
    stored = json.loads(
        json.dumps({k: v for k, v in catalog.to_dict().items() if k != "public_base_url"})
    )
    before = None if row is None else dict(row["catalog"])
    if row is not None and {**row["catalog"], "version": version} == stored:
        # Unchanged: keep the version, so devices are not sent the same catalog again.
        return parse_catalog({**row["catalog"], "public_base_url": base_url}), before
    values = {
        "name": catalog.facility.name,
        "commune": catalog.facility.commune,
        "district": catalog.facility.district,
        "province": catalog.facility.province,
        "latitude": catalog.facility.lat,
        "longitude": catalog.facility.lon,
        "catalog": stored,
        "catalog_version": version,
    }
    if row is None:
        conn.execute(insert(facilities).values(code=code, **values))
    else:
        conn.execute(update(facilities).where(facilities.c.code == code).values(**values))
    return catalog, before


def register_device(
    engine: Engine, dev: str, facility_code: str, public_key: str, *, who: str | None = None
) -> None:
    """Register a device's Ed25519 public key for a facility (or re-key it before first sync);
    a ``device.key`` audit row by ``who`` (default: the command-line user) records it.

    No lot letter: this path has no answer to carry one to the device (enrolment does), so the
    device mints the old lot form and needs its own ``lot_prefix`` if it shares a facility.
    """
    if not DEVICE_ID_RE.match(dev):
        raise RegistryError("device id: lower-case letters, digits and '-' (2-63 chars)")
    try:
        load_public_key(public_key)
    except ValueError as exc:
        raise RegistryError(f"public key: {exc}") from exc
    with engine.begin() as conn:
        if (
            conn.execute(
                select(facilities.c.code).where(facilities.c.code == facility_code)
            ).first()
            is None
        ):
            raise RegistryError(f"unknown facility {facility_code!r}: import its catalog first")
        row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
        record(
            conn,
            cli_actor() if who is None else who,
            "device.key",
            dev,
            facility=facility_code,
            before=None if row is None else {"facility": row["facility_code"]},
            after={"facility": facility_code, "public_key": public_key},
        )
        if row is None:
            conn.execute(
                insert(devices).values(
                    dev_id=dev,
                    facility_code=facility_code,
                    public_key=public_key,
                    registered_at=time.time(),
                    head_seq=0,
                )
            )
        elif row["head_seq"] > 0 and row["public_key"] != public_key:
            raise RegistryError(
                f"device {dev} already has {row['head_seq']} events under another key;"
                " a new key needs a new device id"
            )
        else:
            moved = row["facility_code"] != facility_code
            conn.execute(
                update(devices)
                .where(devices.c.dev_id == dev)
                # A lot letter belongs to one facility: a device moved (before its first sync)
                # gets a new one if it enrols there.
                .values(
                    facility_code=facility_code,
                    public_key=public_key,
                    **({"lot_index": None} if moved else {}),
                )
            )


def assign_lot_index(conn: Connection, dev: str) -> int:
    """The device's lot letter index, giving it the next free one of its facility if it has
    none. Indexes are never reused, not even a revoked device's: its lots exist."""
    row = conn.execute(
        select(devices.c.facility_code, devices.c.lot_index).where(devices.c.dev_id == dev)
    ).one()
    if row.lot_index is not None:
        return int(row.lot_index)
    if conn.dialect.name == "postgresql":
        # Two registrations for one facility at once would pick the same index; the facility's
        # row lock makes them take turns (SQLite's BEGIN IMMEDIATE already does).
        facility = select(facilities.c.code).where(facilities.c.code == row.facility_code)
        conn.execute(facility.with_for_update())
    taken = conn.execute(
        select(func.max(devices.c.lot_index)).where(devices.c.facility_code == row.facility_code)
    ).scalar()
    index = int(taken or 0) + 1
    if index > MAX_LOT_INDEX:
        raise RegistryError(
            f"facility {row.facility_code} has used all {MAX_LOT_INDEX} lot letters;"
            " ask the kit's maintainers for a longer lot format"
        )
    conn.execute(update(devices).where(devices.c.dev_id == dev).values(lot_index=index))
    return index


def config_for_device(conn: Connection, dev: str, base_url: str) -> Catalog:
    """The catalog a device receives on its retained config topic."""
    row = conn.execute(
        select(facilities.c.catalog)
        .select_from(devices.join(facilities))
        .where(devices.c.dev_id == dev)
    ).first()
    if row is None:
        raise RegistryError(f"unknown device {dev!r}")
    return parse_catalog({**row[0], "public_base_url": base_url})


def device_ids(conn: Connection) -> list[str]:
    return [r[0] for r in conn.execute(select(devices.c.dev_id).order_by(devices.c.dev_id))]
