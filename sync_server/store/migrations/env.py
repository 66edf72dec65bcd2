"""Alembic's entry point for the server's migrations: run them on the connection it is handed.

Only :func:`sync_server.store.migrations.upgrade_to_head` runs migrations (``ocop server init-db``
and
every server command through ``create_schema``): it passes an open connection, already inside
the transaction that holds the migration lock.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from sync_server.store.db import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the server's migrations with `ocop server init-db`")
context.configure(
    connection=connection,
    target_metadata=metadata,
    compare_type=True,
    # SQLite cannot ALTER most things: later revisions' op.batch_alter_table copies the table.
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
