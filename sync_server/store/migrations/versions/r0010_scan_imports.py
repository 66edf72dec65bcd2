"""Where the import of nginx's cached batch-page views has read to (issue 17).

Revision ID: 0010
Revises: 0009
Created: 2026-12-06

Behind the province bundle's nginx micro-cache a cached batch page never reaches the app, so
nginx logs those views (``/var/log/nginx/ocop-scans.log``) and ``ocop server import-scans``
stores them in ``scans``. ``scan_imports`` keeps, per log file, its inode and the offset after
the last line imported, written in the same transaction as that line's scans.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "scan_imports",
        sa.Column("source", sa.String(200), primary_key=True),
        sa.Column("inode", sa.BigInteger(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scan_imports")
