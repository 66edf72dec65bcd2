"""One step back and one step forward (issue 15): receipts, uses, shipments, corrections,
recalls; batches can be voided.

Revision ID: 0006
Revises: 0005
Created: 2026-12-05

- ``receipts``, ``input_uses``, ``shipments``, ``corrections``: projections of the supply events
  (trace_protocol/supply_events.py), rebuilt from ``events`` by replaying them.
- ``recalls`` and ``recall_lots``: office recalls and the lots they cover.
- ``batches.voided_at`` and ``batches.void_reason``: a batch opened by mistake.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("batches") as batch:
        batch.add_column(sa.Column("voided_at", sa.String(40)))
        batch.add_column(sa.Column("void_reason", sa.Text()))
    op.create_table(
        "receipts",
        sa.Column("receipt_id", sa.String(36), primary_key=True),
        sa.Column("dev_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(16), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("supplier_id", sa.String(16), nullable=False),
        sa.Column("supplier", sa.JSON(), nullable=False),
        sa.Column("material_code", sa.String(16), nullable=False),
        sa.Column("material", sa.JSON(), nullable=False),
        sa.Column("supplier_lot", sa.String(40), nullable=False),
        sa.Column("source", sa.JSON()),
        sa.Column("source_lot", sa.String(20)),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("received_on", sa.String(10), nullable=False),
        sa.Column("photo_sha256", sa.String(64)),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("received_at", sa.Float(), nullable=False),
    )
    op.create_index("receipts_supplier_lot", "receipts", ["supplier_id", "supplier_lot"])
    op.create_index("receipts_lot", "receipts", ["lot"], unique=True)
    op.create_index("receipts_dev_seq", "receipts", ["dev_id", "seq"])
    op.create_index("receipts_source_lot", "receipts", ["source_lot"])
    op.create_table(
        "input_uses",
        sa.Column("dev_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("receipt_id", sa.String(36), nullable=False),
        sa.Column("receipt_lot", sa.String(20), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("dev_id", "seq"),
    )
    op.create_index("input_uses_receipt", "input_uses", ["receipt_id"])
    op.create_index("input_uses_batch", "input_uses", ["dev_id", "batch_id"])
    op.create_table(
        "shipments",
        sa.Column("shipment_id", sa.String(36), primary_key=True),
        sa.Column("dev_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("facility_code", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("customer_id", sa.String(16), nullable=False),
        sa.Column("customer", sa.JSON(), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("serial_first", sa.Integer()),
        sa.Column("serial_last", sa.Integer()),
        sa.Column("shipped_on", sa.String(10), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("override", sa.Boolean(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_index("shipments_customer", "shipments", ["customer_id"])
    op.create_index("shipments_dev_seq", "shipments", ["dev_id", "seq"])
    op.create_index("shipments_lot", "shipments", ["lot"])
    op.create_table(
        "corrections",
        sa.Column("dev_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("corrects_seq", sa.Integer(), nullable=False),
        sa.Column("corrects_id", sa.String(36), nullable=False),
        sa.Column("corrects_type", sa.String(40), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("dev_id", "seq"),
    )
    op.create_index("corrections_target", "corrections", ["dev_id", "corrects_seq"])
    op.create_table(
        "recalls",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("lot", sa.String(40), nullable=False),
        sa.Column("supplier_id", sa.String(16)),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("lifted_at", sa.Float()),
        sa.Column("lifted_by", sa.String(64)),
        sa.Column("lift_reason", sa.Text()),
    )
    op.create_index("recalls_lot", "recalls", ["lot"])
    op.create_table(
        "recall_lots",
        sa.Column("recall_id", sa.Integer(), nullable=False),
        sa.Column("lot", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("recall_id", "lot"),
    )
    op.create_index("recall_lots_lot", "recall_lots", ["lot"])


def downgrade() -> None:
    for table in ("recall_lots", "recalls", "corrections", "shipments", "input_uses", "receipts"):
        op.drop_table(table)
    with op.batch_alter_table("batches") as batch:
        batch.drop_column("void_reason")
        batch.drop_column("voided_at")
