"""Receipts indexed by the supplier's lot code alone (issue 15, the trace bench).

Revision ID: 0008
Revises: 0007
Created: 2026-12-05

A trace or recall of a supplier's lot code typed without its supplier resolved the code through
``receipts_supplier_lot`` (supplier_id, supplier_lot): a loose index scan of every supplier id,
then the code under each id in chunks. On a province-sized database (1,771 supplier ids) that was
about 10 of the 24 ms of a forward trace on SQLite (docs/benchmarks.md, trace). Indexed by the
code alone it is one index probe.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("receipts_by_supplier_lot", "receipts", ["supplier_lot"])


def downgrade() -> None:
    op.drop_index("receipts_by_supplier_lot", table_name="receipts")
