"""Server-side office sessions and failure throttles for login and enrolment (issue 12, finding 9).

Revision ID: 0004
Revises: 0003
Created: 2026-12-05

- ``office_sessions``: one row per logged-in browser; the cookie carries a random id whose
  SHA-256 is the key. Logging out deletes the row, so a copied cookie stops working at once.
  Sessions from before this revision (cookies holding only user and epoch) end: their users log
  in again once.
- ``throttles``: failures per (scope, key), e.g. a username on one client network, shared by
  every web worker; what the web app reads to make an attacker's network wait (backoff).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "office_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), sa.ForeignKey("users.username"), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index("office_sessions_user", "office_sessions", ["username"])
    op.create_table(
        "throttles",
        sa.Column("scope", sa.String(16), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key"),
    )
