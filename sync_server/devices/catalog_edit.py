"""Office edits of a facility's catalog: one product at a time, validated like an import.

The product dict is merged over the stored one, so keys a form does not show survive an edit.
Saving bumps the catalog version; :func:`publish_pending` then puts it on the devices' retained
config topic, and keeps trying (``ocop server run``/``ingest`` once a minute) until the broker
confirms.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from sync_server.accounts.audit import changes, cli_actor, record
from sync_server.config import ServerConfig
from sync_server.devices.config_publisher import PublishError, publish_configs
from sync_server.devices.registry import RegistryError, store_catalog, stored_catalog
from sync_server.store.blobs import BlobStorage
from sync_server.store.db import blob_refs, devices, facilities
from trace_protocol.workers import WorkerError, hash_pin

log = logging.getLogger(__name__)


def load_catalog(engine: Engine, facility_code: str) -> dict[str, Any]:
    with engine.connect() as conn:
        return _load(conn, facility_code)


def _load(conn: Connection, facility_code: str) -> dict[str, Any]:
    catalog = stored_catalog(conn, facility_code)
    if catalog is None:
        raise RegistryError(f"unknown facility {facility_code!r}")
    return catalog


def _who(who: str | None) -> str:
    return cli_actor() if who is None else who


def save_product(
    engine: Engine,
    facility_code: str,
    product: dict[str, Any],
    base_url: str,
    replaces: str | None = None,
    managed: Collection[str] = (),
    *,
    who: str | None = None,
) -> int:
    """Add a product, or replace the one coded ``replaces``; returns the new catalog version.

    On a replace, the stored product's keys outside ``managed`` (what the editing form does not
    show) are kept; managed keys absent from ``product`` are removed. The audit log gets a
    ``product.add`` or ``product.edit`` row by ``who`` with the product's changed keys.

    Raises :class:`RegistryError` with the validation message when the result is not a valid
    catalog; nothing is saved then.
    """
    with engine.begin() as conn:
        stored = _load(conn, facility_code)
        products: list[dict[str, Any]] = [dict(p) for p in stored.get("products", [])]
        old: dict[str, Any] | None = None
        if replaces is None:
            if any(p.get("code") == product.get("code") for p in products):
                raise RegistryError(f"products: a product coded {product.get('code')!r} exists")
            products.append(product)
            index = len(products) - 1
        else:
            found = next((i for i, p in enumerate(products) if p.get("code") == replaces), None)
            if found is None:
                raise RegistryError(f"unknown product {replaces!r}")
            index, old = found, products[found]
            kept = {k: v for k, v in old.items() if k not in managed}
            products[index] = {**kept, **product}
        new = {k: v for k, v in stored.items() if k not in ("version", "v")}
        new["products"] = products
        catalog, _ = store_catalog(conn, new, base_url)
        saved = _load(conn, facility_code)["products"][index]
        before, after = changes(old, saved)
        record(
            conn,
            _who(who),
            "product.add" if replaces is None else "product.edit",
            f"{facility_code}/{saved.get('code', '')}",
            facility=facility_code,
            before=before,
            after=after,
            detail=f"v{catalog.version}",
        )
    return catalog.version


def save_worker(
    engine: Engine,
    facility_code: str,
    worker_id: str,
    name: str,
    pin: str,
    base_url: str,
    *,
    who: str | None = None,
) -> int:
    """Add a worker, or give one a new name and PIN; returns the new catalog version.

    Only the PIN's salted hash is stored and published (trace_protocol.workers); the PIN
    itself is forgotten here, and the audit row (``worker.save``) holds neither. Raises
    :class:`RegistryError` with the reason.
    """
    try:
        pin_hash = hash_pin(pin)
    except WorkerError as exc:
        raise RegistryError(f"PIN: {exc}") from exc
    with engine.begin() as conn:
        stored = _load(conn, facility_code)
        old = next((w for w in stored.get("workers", []) if w.get("id") == worker_id), None)
        workers = [dict(w) for w in stored.get("workers", []) if w.get("id") != worker_id]
        workers.append({"id": worker_id, "name": name.strip(), "pin": pin_hash})
        version = _save_workers(conn, stored, workers, base_url)
        record(
            conn,
            _who(who),
            "worker.save",
            f"{facility_code}/{worker_id}",
            facility=facility_code,
            before=None if old is None else {"name": old.get("name")},
            after={"name": name.strip()},
            detail="PIN set",
        )
    return version


def remove_worker(
    engine: Engine, facility_code: str, worker_id: str, base_url: str, *, who: str | None = None
) -> int:
    with engine.begin() as conn:
        stored = _load(conn, facility_code)
        old = next((w for w in stored.get("workers", []) if w.get("id") == worker_id), None)
        workers = [dict(w) for w in stored.get("workers", []) if w.get("id") != worker_id]
        version = _save_workers(conn, stored, workers, base_url)
        record(
            conn,
            _who(who),
            "worker.remove",
            f"{facility_code}/{worker_id}",
            facility=facility_code,
            before=None if old is None else {"name": old.get("name")},
        )
    return version


def _save_workers(
    conn: Connection, stored: dict[str, Any], workers: list[dict[str, Any]], base_url: str
) -> int:
    new = {k: v for k, v in stored.items() if k not in ("version", "v", "workers")}
    if workers:
        new["workers"] = sorted(workers, key=lambda w: str(w.get("name", "")))
    return store_catalog(conn, new, base_url)[0].version


PARTNER_KEYS = ("suppliers", "customers")
PHOTO_MAX_BYTES = 900_000  # under the web app's request limit (MAX_BODY_BYTES)
JPEG_MAGIC = b"\xff\xd8\xff"


def save_partners(
    engine: Engine,
    facility_code: str,
    key: str,
    items: list[dict[str, Any]],
    base_url: str,
    *,
    who: str | None = None,
) -> int:
    """Replace the facility's ``suppliers`` or ``customers`` (issue 15); returns the new catalog
    version. The audit row (``suppliers.save``/``customers.save``) holds the entries that
    changed, keyed by id. Raises :class:`RegistryError` with the validation message; nothing is
    saved then."""
    if key not in PARTNER_KEYS:
        raise ValueError(f"not a partner list: {key!r}")
    with engine.begin() as conn:
        stored = _load(conn, facility_code)
        new = {k: v for k, v in stored.items() if k not in ("version", "v", key)}
        if items:
            new[key] = items
        catalog, _ = store_catalog(conn, new, base_url)
        saved = _load(conn, facility_code).get(key, [])
        before, after = changes(_by_id(stored.get(key, [])), _by_id(saved))
        record(
            conn,
            _who(who),
            f"{key}.save",
            f"{facility_code}/{key}",
            facility=facility_code,
            before=before,
            after=after,
            detail=f"v{catalog.version}",
        )
    return catalog.version


def _by_id(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {str(i.get("id", n)): i for n, i in enumerate(items)}


def store_product_photo(
    engine: Engine,
    storage: BlobStorage,
    facility_code: str,
    data: bytes,
) -> str:
    """Keep an uploaded product photo (JPEG) in the blob store like the devices' photos and
    return its sha256, which the catalog names. It is registered as a public file of the office
    (dev_id ``office:{facility}``), so the public ``/blobs/…`` route serves it. No audit row of
    its own: the product saved with it records its new ``photo``."""
    if not data.startswith(JPEG_MAGIC):
        raise RegistryError("photo: must be a JPEG file")
    if len(data) > PHOTO_MAX_BYTES:
        raise RegistryError(f"photo: at most {PHOTO_MAX_BYTES // 1000} kB")
    sha = hashlib.sha256(data).hexdigest()
    if not storage.has(sha):
        storage.append(sha, storage.offset(sha), data[storage.offset(sha) :])
        if not storage.finish(sha):
            raise RegistryError("photo: the file could not be stored")
    owner = f"office:{facility_code}"
    with engine.begin() as conn:
        known = conn.execute(
            select(blob_refs.c.sha256).where(blob_refs.c.dev_id == owner, blob_refs.c.sha256 == sha)
        ).first()
        if known is None:
            conn.execute(
                insert(blob_refs).values(
                    sha256=sha,
                    dev_id=owner,
                    kind="public",
                    seq=0,
                    camera="office",
                    purpose="product",
                    batch_id=None,
                    received_at=time.time(),
                )
            )
    return sha


def facility_devices(engine: Engine, facility_code: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(devices.c.dev_id).where(
                devices.c.facility_code == facility_code, devices.c.revoked_at.is_(None)
            )
        ).all()
    return [r[0] for r in rows]


def publish_pending(engine: Engine, config: ServerConfig, timeout_s: float = 10.0) -> list[str]:
    """Publish every facility catalog whose newest version has not been confirmed yet.

    Returns the facilities published; a facility with no devices counts as published (a device
    enrolled later gets the catalog at enrolment and from the retained topic).
    """
    with engine.connect() as conn:
        owed = conn.execute(
            select(facilities.c.code, facilities.c.catalog_version).where(
                facilities.c.published_version < facilities.c.catalog_version
            )
        ).all()
    done = []
    for code, version in owed:
        devs = facility_devices(engine, code)
        if devs:
            try:
                publish_configs(engine, config, only=devs, timeout_s=timeout_s)
            except PublishError as exc:
                log.warning("catalog %s v%s not published yet: %s", code, version, exc)
                continue
        with engine.begin() as conn:
            conn.execute(
                update(facilities)
                .where(facilities.c.code == code)
                .values(published_version=version)
            )
        done.append(code)
    return done
