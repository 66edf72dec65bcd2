"""Alembic migrations: from empty to exactly the metadata, idempotent, and honest about old DBs."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Column, Engine, Integer, inspect, text

from sync_server.store.db import create_schema, metadata, open_engine
from sync_server.store.migrations import (
    BASELINE_REVISION,
    SchemaError,
    current_revision,
    differences,
)
from sync_server.store.migrations.versions.r0001_baseline import BASELINE
from tests.unit.server.alembic_head import head_revision


@pytest.fixture
def empty(database_url: str) -> Iterator[Engine]:
    engine = open_engine(database_url)
    yield engine
    engine.dispose()


def test_upgrade_from_empty_gives_exactly_the_metadata(empty: Engine) -> None:
    create_schema(empty)
    with empty.connect() as conn:
        assert differences(conn, metadata) == []
        assert current_revision(conn) == head_revision()
        tables = set(inspect(conn).get_table_names())
    assert tables == set(metadata.tables) | {"alembic_version"}


def test_running_it_again_changes_nothing(empty: Engine) -> None:
    create_schema(empty)
    with empty.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, password_hash, role, created_at, "
                "session_epoch) VALUES ('a', 'h', 'admin', 1, 1)"
            )
        )
    create_schema(empty)
    with empty.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 1
        assert current_revision(conn) == head_revision()


def test_processes_starting_together_migrate_once(database_url: str) -> None:
    """Two ingest workers started at once on an empty database: one migrates, one waits."""
    engines = [open_engine(database_url) for _ in range(3)]
    errors: list[BaseException] = []

    def run(engine: Engine) -> None:
        try:
            create_schema(engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        with engines[0].connect() as conn:
            assert differences(conn, metadata) == []
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        for e in engines:
            e.dispose()


def test_the_baseline_revision_makes_exactly_the_frozen_baseline(empty: Engine) -> None:
    """Revision 0001 alone gives the frozen baseline (what ``create_all`` made before
    migrations existed), so a database adopted at 0001 really is at 0001 before the later
    revisions run on it."""
    from alembic import command

    from sync_server.store.migrations import _config

    with empty.begin() as conn:
        command.upgrade(_config(conn), BASELINE_REVISION)
    with empty.connect() as conn:
        assert current_revision(conn) == BASELINE_REVISION
        assert differences(conn, BASELINE) == []


def test_a_database_made_by_create_all_is_adopted(empty: Engine) -> None:
    BASELINE.create_all(empty)
    with empty.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, password_hash, role, created_at, "
                "session_epoch) VALUES ('kept', 'h', 'admin', 1, 1)"
            )
        )
    create_schema(empty)
    with empty.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert differences(conn, metadata) == []
        assert conn.execute(text("SELECT username FROM users")).scalar_one() == "kept"


def test_a_create_all_database_that_differs_is_refused_untouched(empty: Engine) -> None:
    BASELINE.create_all(empty)
    with empty.begin() as conn:
        conn.execute(text("DROP TABLE scans"))
        conn.execute(text("ALTER TABLE alerts ADD COLUMN extra INTEGER"))
    with pytest.raises(SchemaError) as caught:
        create_schema(empty)
    message = str(caught.value)
    assert "missing table scans" in message
    assert "unexpected column alerts.extra" in message
    with empty.connect() as conn:
        names = set(inspect(conn).get_table_names())
    assert "alembic_version" not in names and "scans" not in names


def test_tables_of_another_application_are_left_alone(empty: Engine) -> None:
    from sqlalchemy import MetaData, Table

    other = MetaData()
    Table("their_things", other, Column("id", Integer, primary_key=True))
    other.create_all(empty)
    create_schema(empty)
    with empty.connect() as conn:
        assert differences(conn, metadata) == []
        assert "their_things" in inspect(conn).get_table_names()
