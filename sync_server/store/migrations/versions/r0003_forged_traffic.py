"""Forged-traffic and junk counters per device (issue 12, findings 2, 3, 7, 9).

Revision ID: 0003
Revises: 0002
Created: 2026-12-05

What arrives on a device's topics but is not the device's (events that do not verify under its
key, payloads that do not parse, bad status messages) is counted per device and kind with the
latest samples, instead of a quarantine row per message (sync_server/ingest/rejects.py).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import JSON, Column, Float, ForeignKey, Integer, PrimaryKeyConstraint, String, Text

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "device_rejects",
        Column("dev_id", String(64), ForeignKey("devices.dev_id"), nullable=False),
        Column("kind", String(16), nullable=False),
        Column("count", Integer, nullable=False),
        Column("first_at", Float, nullable=False),
        Column("last_at", Float, nullable=False),
        Column("last_code", String(32), nullable=False),
        Column("last_detail", Text, nullable=False),
        Column("samples", JSON, nullable=False),
        PrimaryKeyConstraint("dev_id", "kind"),
    )
