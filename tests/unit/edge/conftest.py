"""A real edge journal file with the KC catalog stored, and a clock fixed on 2024-03-01."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlite_utils import Database

from edge_agent.catalog_store import load_catalog, store_catalog
from edge_agent.clock import Clock
from edge_agent.database import EdgeDatabase, open_edge_db
from edge_agent.journal import Journal
from edge_agent.projections import project
from trace_protocol.catalog import Catalog, parse_catalog
from trace_protocol.signing import DeviceKey

REPO = Path(__file__).resolve().parents[3]
CATALOG = REPO / "ocop_cli" / "data" / "kc-rice.json"
DEV = "kc-test-1"
ICT = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class FixedClock(Clock):
    """The wall clock of a device whose date is 2024-03-01 (Vietnam time)."""

    at: datetime = datetime(2024, 3, 1, 8, 30, tzinfo=ICT)

    def now(self) -> datetime:
        return self.at


def kc_catalog(version: int = 1) -> Catalog:
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    return parse_catalog({**obj, "version": version, "public_base_url": "https://trace.example.vn"})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeDatabase]:
    store = open_edge_db(tmp_path / "j.db")
    yield store
    store.close()


@pytest.fixture
def db(store: EdgeDatabase) -> Database:
    """The store's writer connection."""
    return store.writer


@pytest.fixture
def key() -> DeviceKey:
    return DeviceKey.generate()


@pytest.fixture
def journal(store: EdgeDatabase, key: DeviceKey) -> Journal:
    return Journal(store, key, DEV, FixedClock(assume_synced=True), project)


@pytest.fixture
def catalog(db: Database) -> Catalog:
    assert store_catalog(db, kc_catalog())
    stored = load_catalog(db)
    assert stored is not None
    return stored
