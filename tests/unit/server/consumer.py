"""Helpers for the consumer-page tests: an enrolled device with a known label key, a synced
batch with steps, photos and private fields, and a test client."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import Engine, update

from sync_server.config import ScansConfig, ServerConfig
from sync_server.devices.enrolment import create_device, enrol
from sync_server.devices.registry import import_catalog
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import blob_refs
from sync_server.web import create_app
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body, step_body
from tests.unit.server.conftest import CATALOG
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import build_unit_url, encode_label_key, unit_mac

DEV = "kc-line-4"
LOT = "KC-NM-261122-01"
GTIN = "08936123450014"
LABEL_KEY = bytes(range(100, 132))
BASE = "http://t.test"
# Markers put in private fields: none may appear on a public page.
PRIVATE = ("PRIVATE-NOTE-7f3a", "WORKER-NAME-7f3a", "OPERATOR-7f3a")


def sha(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest()


def enrol_device(engine: Engine, catalog: Path | dict[str, Any] = CATALOG) -> DeviceKey:
    import_catalog(engine, catalog, BASE)
    key = DeviceKey.generate()
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    label = encode_label_key(LABEL_KEY)
    proof = key.sign(proof_message(DEV, "KC", token, key.public_key_b64, label))
    enrol(engine, enrol_request(DEV, "KC", token, key.public_key_b64, label, proof), BASE)
    return key


def _photo(chain: ChainBuilder, batch: str, tag: str, purpose: str = "evidence") -> str:
    chain.next(
        "snapshot.taken",
        {
            "batch": batch,
            "camera": "line",
            "purpose": purpose,
            "sha256": sha(f"{tag}-full"),
            "thumb_sha256": sha(f"{tag}-thumb"),
            "public_sha256": sha(f"{tag}-public"),
            "public_thumb_sha256": sha(f"{tag}-public-thumb"),
        },
    )
    return sha(f"{tag}-full")


def sync_batch(
    engine: Engine,
    key: DeviceKey,
    *,
    steps: int = 3,
    photos_per_step: int = 1,
    printed: tuple[int, int] | None = (1, 10),
) -> str:
    """A batch with steps (each with private fields and photos), a periodic snapshot and a
    printed run of unit serials; every photo file marked as arrived. Returns the batch id."""
    chain = ChainBuilder(key, DEV)
    batch = new_batch_id()
    chain.next("batch.opened", opened_body(batch, LOT))
    # A surveillance snapshot of the batch, public copy and all: it must stay private.
    periodic = _photo(chain, batch, "periodic", purpose="periodic")
    for n in range(steps):
        photos = [_photo(chain, batch, f"s{n}p{i}") for i in range(photos_per_step)]
        body = step_body(batch, f"S{n}", 40.0 + n)
        body.update(
            name=f"Công đoạn {n + 1}",
            name_en=f"Step {n + 1}",
            note=PRIVATE[0],
            worker=PRIVATE[1],
            operator={"name": PRIVATE[2], "pin_ok": True},
            # Even a step that names the periodic photo must not publish it.
            photos=photos + ([periodic] if n == 0 else []),
        )
        chain.next("step.recorded", body)
    if printed is not None:
        chain.next(
            "labels.printed",
            {
                "batch": batch,
                "kind": "unit",
                "copies": printed[1] - printed[0] + 1,
                "serial_from": printed[0],
                "serial_to": printed[1],
                "format": "pdf",
                "printer": "file",
            },
        )
    chain.next("batch.closed", {"batch": batch, "quantity": 120.0, "unit": "kg"})
    result = ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
    assert result.committed == len(chain.events)
    with engine.begin() as conn:
        conn.execute(update(blob_refs).values(received_at=1.0))
    return batch


def make_app(
    tmp_path: Path, engine: Engine, scans: ScansConfig | None = None, **http: Any
) -> Flask:
    from sync_server.config import HttpConfig

    config = ServerConfig(
        data_dir=tmp_path,
        public_base_url=BASE,
        scans=scans or ScansConfig(),
        http=HttpConfig(**http),
    )
    return create_app(config, engine)


def unit_path(serial: str, mac: str | None = None) -> str:
    mac = mac if mac is not None else unit_mac(LABEL_KEY, LOT, serial, GTIN)
    return build_unit_url(BASE, LOT, serial, mac, GTIN).removeprefix(BASE)
