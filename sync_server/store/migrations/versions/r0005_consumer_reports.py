"""Consumer reports of doubtful products (issue 13).

Revision ID: 0005
Revises: 0004
Created: 2026-12-06

- ``consumer_reports``: one row per "report this product" form sent from the page of a forged,
  never-printed or suspiciously often scanned unit code: where it was bought, an optional phone
  number and photo (the file lives under ``<data_dir>/reports``), the keyed network hash.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "consumer_reports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("serial", sa.String(20), nullable=False),
        sa.Column("gtin", sa.String(14)),
        sa.Column("facility_code", sa.String(16)),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("where_bought", sa.Text(), nullable=False),
        sa.Column("phone", sa.String(20)),
        sa.Column("photo_sha256", sa.String(64)),
        sa.Column("photo_type", sa.String(8)),
        sa.Column("place", sa.String(16), nullable=False),
    )
    op.create_index("consumer_reports_created", "consumer_reports", ["created_at"])
