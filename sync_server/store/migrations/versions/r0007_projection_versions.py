"""The version of each replayable projection (issue 15, upgrades).

Revision ID: 0007
Revises: 0006
Created: 2026-12-05

``projection_versions`` holds, per projection, the version of the code that last rebuilt it from
``events``. On a database that holds events the supply projection starts at 0, so the first
server that knows the supply events replays the journal once, projecting what an older server
committed without knowing them; an empty database has nothing to replay and starts at 1, the
version of the code this revision shipped with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    table = op.create_table(
        "projection_versions",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    has_events = op.get_bind().execute(sa.text("SELECT 1 FROM events LIMIT 1")).first()
    op.bulk_insert(table, [{"name": "supply", "version": 0 if has_events else 1}])


def downgrade() -> None:
    op.drop_table("projection_versions")
