"""The office registry: catalog import versions and device keys."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from sync_server.devices.registry import (
    RegistryError,
    config_for_device,
    device_ids,
    import_catalog,
    register_device,
)
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import devices, facilities
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import CATALOG, DEV
from trace_protocol.messages import Ack, encode_chunk
from trace_protocol.signing import DeviceKey


def facility_version(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(facilities.c.catalog_version).where(facilities.c.code == "KC")
            ).scalar_one()
        )


def test_import_catalog_twice_keeps_version_1(engine: Engine) -> None:
    first = import_catalog(engine, CATALOG, "http://x")
    second = import_catalog(engine, CATALOG, "http://x")
    assert first.version == second.version == 1
    assert facility_version(engine) == 1
    assert second == first


def test_changed_catalog_bumps_the_version(engine: Engine, tmp_path: Path) -> None:
    import_catalog(engine, CATALOG, "http://x")
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    obj["products"][0]["shelf_life_days"] = 180
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    cat = import_catalog(engine, changed, "http://x")
    assert cat.version == 2
    assert facility_version(engine) == 2
    product = cat.product("NM")
    assert product is not None
    assert product.shelf_life_days == 180
    # Importing the same changed file again keeps version 2.
    assert import_catalog(engine, changed, "http://x").version == 2
    assert facility_version(engine) == 2


def test_import_catalog_stores_the_facility(engine: Engine) -> None:
    import_catalog(engine, CATALOG, "https://trace.example.vn")
    with engine.connect() as conn:
        row = conn.execute(select(facilities)).mappings().one()
    assert (row["code"], row["name"], row["province"]) == ("KC", "Công ty TNHH MTV KC", "Hà Tĩnh")
    assert "public_base_url" not in row["catalog"]


def test_import_catalog_rejects_an_invalid_catalog(engine: Engine) -> None:
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    obj["products"][0]["gtin"] = "8936123450015"
    with pytest.raises(RegistryError, match="gtin"):
        import_catalog(engine, obj, "http://x")
    with pytest.raises(RegistryError):
        import_catalog(engine, [], "http://x")  # type: ignore[arg-type]
    with engine.connect() as conn:
        assert conn.execute(select(facilities)).first() is None


def test_config_for_device(engine: Engine, device: str) -> None:
    with engine.connect() as conn:
        cat = config_for_device(conn, DEV, "https://trace.example.vn/")
        assert device_ids(conn) == [DEV]
        with pytest.raises(RegistryError):
            config_for_device(conn, "kc-nobody", "http://x")
    assert cat.version == 1
    assert cat.public_base_url == "https://trace.example.vn"
    assert cat.facility.code == "KC"


def test_register_device_refuses_rekeying_a_device_with_events(
    engine: Engine, device: str, key: DeviceKey, chain: ChainBuilder
) -> None:
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.run(1))).ack == Ack(upto=1)
    new_key = DeviceKey.generate()
    with pytest.raises(RegistryError, match="new device id"):
        register_device(engine, DEV, "KC", new_key.public_key_b64)
    with engine.connect() as conn:
        stored_key = conn.execute(
            select(devices.c.public_key).where(devices.c.dev_id == DEV)
        ).scalar_one()
    assert stored_key == key.public_key_b64
    # Registering the same key again is harmless.
    register_device(engine, DEV, "KC", key.public_key_b64)


def test_register_device_may_rekey_before_the_first_sync(engine: Engine, device: str) -> None:
    new_key = DeviceKey.generate()
    register_device(engine, DEV, "KC", new_key.public_key_b64)
    with engine.connect() as conn:
        stored_key = conn.execute(
            select(devices.c.public_key).where(devices.c.dev_id == DEV)
        ).scalar_one()
    assert stored_key == new_key.public_key_b64
    # Events signed with the new key are accepted.
    evs = ChainBuilder(new_key, DEV).run(1)
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, evs)).ack == Ack(upto=1)


@pytest.mark.parametrize(
    ("dev", "facility", "public_key"),
    [
        ("KC-1", "KC", None),
        ("k", "KC", None),
        ("kc-1\n", "KC", None),
        ("kc-1", "XX", None),
        ("kc-1", "KC", "AAAA"),
        ("kc-1", "KC", "not base64 ü"),
    ],
)
def test_register_device_rejects(
    engine: Engine, dev: str, facility: str, public_key: str | None
) -> None:
    import_catalog(engine, CATALOG, "http://x")
    with pytest.raises(RegistryError):
        register_device(engine, dev, facility, public_key or DeviceKey.generate().public_key_b64)
    with engine.connect() as conn:
        assert device_ids(conn) == []
