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

from sqlalchemy import Engine, insert, select, update

from sync_server.config import ServerConfig
from sync_server.devices.config_publisher import PublishError, publish_configs
from sync_server.devices.registry import RegistryError, import_catalog
from sync_server.store.blobs import BlobStorage
from sync_server.store.db import blob_refs, devices, facilities
from trace_protocol.workers import WorkerError, hash_pin

log = logging.getLogger(__name__)


def load_catalog(engine: Engine, facility_code: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(
            select(facilities.c.catalog).where(facilities.c.code == facility_code)
        ).first()
    if row is None:
        raise RegistryError(f"unknown facility {facility_code!r}")
    catalog: dict[str, Any] = row[0]
    return catalog


def save_product(
    engine: Engine,
    facility_code: str,
    product: dict[str, Any],
    base_url: str,
    replaces: str | None = None,
    managed: Collection[str] = (),
) -> int:
    """Add a product, or replace the one coded ``replaces``; returns the new catalog version.

    On a replace, the stored product's keys outside ``managed`` (what the editing form does not
    show) are kept; managed keys absent from ``product`` are removed.

    Raises :class:`RegistryError` with the validation message when the result is not a valid
    catalog; nothing is saved then.
    """
    stored = load_catalog(engine, facility_code)
    products: list[dict[str, Any]] = [dict(p) for p in stored.get("products", [])]
    if replaces is None:
        if any(p.get("code") == product.get("code") for p in products):
            raise RegistryError(f"products: a product coded {product.get('code')!r} exists")
        products.append(product)
    else:
        index = next((i for i, p in enumerate(products) if p.get("code") == replaces), None)
        if index is None:
            raise RegistryError(f"unknown product {replaces!r}")
        kept = {k: v for k, v in products[index].items() if k not in managed}
        products[index] = {**kept, **product}
    new = {k: v for k, v in stored.items() if k not in ("version", "v")}
    new["products"] = products
    catalog = import_catalog(engine, new, base_url)
    return catalog.version


def save_worker(
    engine: Engine, facility_code: str, worker_id: str, name: str, pin: str, base_url: str
) -> int:
    """Add a worker, or give one a new name and PIN; returns the new catalog version.

    Only the PIN's salted hash is stored and published (trace_protocol.workers); the PIN
    itself is forgotten here. Raises :class:`RegistryError` with the reason.
    """
    try:
        pin_hash = hash_pin(pin)
    except WorkerError as exc:
        raise RegistryError(f"PIN: {exc}") from exc
    stored = load_catalog(engine, facility_code)
    workers = [dict(w) for w in stored.get("workers", []) if w.get("id") != worker_id]
    workers.append({"id": worker_id, "name": name.strip(), "pin": pin_hash})
    return _save_workers(engine, stored, workers, base_url)


def remove_worker(engine: Engine, facility_code: str, worker_id: str, base_url: str) -> int:
    stored = load_catalog(engine, facility_code)
    workers = [dict(w) for w in stored.get("workers", []) if w.get("id") != worker_id]
    return _save_workers(engine, stored, workers, base_url)


def _save_workers(
    engine: Engine, stored: dict[str, Any], workers: list[dict[str, Any]], base_url: str
) -> int:
    new = {k: v for k, v in stored.items() if k not in ("version", "v", "workers")}
    if workers:
        new["workers"] = sorted(workers, key=lambda w: str(w.get("name", "")))
    return import_catalog(engine, new, base_url).version


PARTNER_KEYS = ("suppliers", "customers")
PHOTO_MAX_BYTES = 900_000  # under the web app's request limit (MAX_BODY_BYTES)
JPEG_MAGIC = b"\xff\xd8\xff"


def save_partners(
    engine: Engine, facility_code: str, key: str, items: list[dict[str, Any]], base_url: str
) -> int:
    """Replace the facility's ``suppliers`` or ``customers`` (issue 15); returns the new catalog
    version. Raises :class:`RegistryError` with the validation message; nothing is saved then."""
    if key not in PARTNER_KEYS:
        raise ValueError(f"not a partner list: {key!r}")
    stored = load_catalog(engine, facility_code)
    new = {k: v for k, v in stored.items() if k not in ("version", "v", key)}
    if items:
        new[key] = items
    return import_catalog(engine, new, base_url).version


def store_product_photo(
    engine: Engine, storage: BlobStorage, facility_code: str, data: bytes
) -> str:
    """Keep an uploaded product photo (JPEG) in the blob store like the devices' photos and
    return its sha256, which the catalog names. It is registered as a public file of the office
    (dev_id ``office:{facility}``), so the public ``/blobs/…`` route serves it."""
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
