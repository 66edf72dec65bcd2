"""A real server database, on SQLite and on PostgreSQL, with the KC catalog and one device.

Every test that uses ``engine`` (or ``database_url``) runs twice, once per database; the
PostgreSQL cluster is started once per run by tests/postgres.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from sync_server.devices.registry import import_catalog, register_device
from sync_server.store.db import create_schema, open_engine
from tests.unit.protocol.builders import ChainBuilder
from trace_protocol.signing import DeviceKey

REPO = Path(__file__).resolve().parents[3]
CATALOG = REPO / "ocop_cli" / "data" / "kc-rice.json"
DEV = "kc-test-1"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of this test's own."""
    if request.param == "sqlite":
        return "sqlite:///" + str(tmp_path / "s.db")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    create_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def key() -> DeviceKey:
    return DeviceKey.generate()


@pytest.fixture
def device(engine: Engine, key: DeviceKey) -> str:
    import_catalog(engine, CATALOG, "http://x")
    register_device(engine, DEV, "KC", key.public_key_b64)
    return DEV


@pytest.fixture
def chain(key: DeviceKey) -> ChainBuilder:
    return ChainBuilder(key, DEV)
