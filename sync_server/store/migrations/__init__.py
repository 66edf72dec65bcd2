"""Bring the server's database to the newest schema with Alembic; adopt databases made before.

Revisions live in ``versions/`` and are never edited once released; ``r0001_baseline`` is the
schema ``metadata.create_all`` used to make. A database from those days has our tables but no
``alembic_version``: it is stamped at the baseline only when it matches the baseline exactly,
otherwise :class:`SchemaError` says what differs and nothing is changed.

One process migrates at a time: the whole run is one transaction that first takes a lock
(SQLite's ``BEGIN IMMEDIATE`` write lock, a PostgreSQL advisory lock), so two ingest workers
started together on an empty database do not both create the tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from sync_server.store.migrations.versions.r0001_baseline import BASELINE
from sync_server.store.migrations.versions.r0001_baseline import revision as BASELINE_REVISION

HERE = Path(__file__).resolve().parent
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key for "a process is migrating": any constant other code does not use.
_LOCK_KEY = 0x6F636F70_6D696772  # b"ocopmigr"


class SchemaError(RuntimeError):
    """The database's schema is not one this kit can migrate from."""


def upgrade_to_head(engine: Engine) -> None:
    """Create or migrate the schema to the newest revision; a no-op when it is there."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        config = _config(conn)
        if _made_by_create_all(conn):
            problems = differences(conn, BASELINE)
            if problems:
                raise SchemaError(
                    "the database has the server's tables but no migration history "
                    f"({VERSION_TABLE}), and they differ from the baseline schema: "
                    + "; ".join(problems)
                    + ". Nothing was changed. Back it up, then bring it to the baseline by hand "
                    "or start from an empty database (docs/deployment.md)."
                )
            command.stamp(config, BASELINE_REVISION)
        command.upgrade(config, "head")


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def differences(conn: Connection, target: MetaData) -> list[str]:
    """How the database's tables differ from ``target``, one line each; [] when they match.

    Tables that are not in ``target`` (another application's, Alembic's own) are not looked at.
    """

    def ours(name: str | None, type_: str, parent: Any) -> bool:
        return type_ != "table" or name in target.tables

    context = MigrationContext.configure(conn, opts={"compare_type": True, "include_name": ours})
    return [_describe(diff) for diff in compare_metadata(context, target)]


def _config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["connection"] = conn
    return config


def _made_by_create_all(conn: Connection) -> bool:
    names = set(inspect(conn).get_table_names())
    return VERSION_TABLE not in names and bool(names & set(BASELINE.tables))


def _describe(diff: Any) -> str:
    """One readable line for an entry of compare_metadata (a tuple, or a list of modify_*)."""
    if isinstance(diff, list):
        return ", ".join(_describe(d) for d in diff)
    op, *rest = diff
    if op.startswith("modify_"):  # (op, schema, table, column, info, old, new)
        _schema, table, column, _info, old, new = rest
        return f"{table}.{column}: {op.removeprefix('modify_')} is {old!r}, expected {new!r}"
    named = [item for item in rest if getattr(item, "name", None) is not None]
    names = [_name(item) for item in named] or [item for item in rest if isinstance(item, str)]
    where = " ".join(names)
    # The op names the change that would make the database match: say what is wrong instead.
    kind = {"add": "missing", "remove": "unexpected"}.get(op.split("_")[0], op)
    what = op.split("_", 1)[-1]
    return f"{kind} {what} {where}".strip()


def _name(item: Any) -> str:
    table = getattr(getattr(item, "table", None), "name", None)
    return f"{table}.{item.name}" if table and table != item.name else str(item.name)
