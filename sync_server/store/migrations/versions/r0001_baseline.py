"""Baseline: the server's schema as `metadata.create_all` made it before migrations existed.

Revision ID: 0001
Revises:
Created: 2025-06-01

The tables are a frozen copy of sync_server/store/db.py at this revision, not an import of it: a
released migration never changes, while db.py moves on. ``BASELINE`` is also what a database
made by ``create_all`` (no ``alembic_version`` table) is compared with before it is stamped
(sync_server/store/migrations/__init__.py).
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import (
    JSON,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

BASELINE = MetaData()

facilities = Table(
    "facilities",
    BASELINE,
    Column("code", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("commune", Text, nullable=False, default=""),
    Column("district", Text, nullable=False, default=""),
    Column("province", Text, nullable=False, default=""),
    Column("catalog", JSON, nullable=False),
    Column("catalog_version", Integer, nullable=False, default=1),
    Column("published_version", Integer, nullable=False, default=0),
    Column("latitude", Float),
    Column("longitude", Float),
)

devices = Table(
    "devices",
    BASELINE,
    Column("dev_id", String(64), primary_key=True),
    Column("facility_code", String(16), ForeignKey("facilities.code"), nullable=False),
    Column("public_key", String(64)),
    Column("registered_at", Float, nullable=False),
    Column("enrolled_at", Float),
    Column("label_key", String(64)),
    Column("mqtt_password_hash", String(200)),
    Column("revoked_at", Float),
    Column("revoked_reason", Text),
    Column("head_seq", Integer, nullable=False, default=0),
    Column("head_hash", String(64)),
    Column("blocked_code", String(32)),
    Column("blocked_seq", Integer),
    Column("blocked_detail", Text),
    Column("last_heard", Float),
    Column("status", JSON),
)

events = Table(
    "events",
    BASELINE,
    Column("dev_id", String(64), ForeignKey("devices.dev_id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("id", String(36), nullable=False),
    Column("type", String(64), nullable=False),
    Column("at", String(40), nullable=False),
    Column("clock", String(10), nullable=False),
    Column("body", JSON, nullable=False),
    Column("prev", String(64)),
    Column("hash", String(64), nullable=False),
    Column("sig", String(100), nullable=False),
    Column("batch_id", String(36)),
    Column("received_at", Float, nullable=False),
    PrimaryKeyConstraint("dev_id", "seq"),
    Index("events_batch", "dev_id", "batch_id", "seq"),
    Index("events_record_order", "received_at", "dev_id", "seq"),
)

quarantine = Table(
    "quarantine",
    BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dev_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("code", String(32), nullable=False),
    Column("detail", Text, nullable=False),
    Column("event", JSON),
    Column("received_at", Float, nullable=False),
)

enrolment_tokens = Table(
    "enrolment_tokens",
    BASELINE,
    Column("token_hash", String(64), primary_key=True),
    Column("dev_id", String(64), ForeignKey("devices.dev_id"), nullable=False),
    Column("facility_code", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("used_at", Float),
)

alerts = Table(
    "alerts",
    BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dev_id", String(64)),
    Column("facility_code", String(16)),
    Column("kind", String(32), nullable=False),
    Column("subject", String(64)),
    Column("detail", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("resolved_by", String(64)),
)

blob_refs = Table(
    "blob_refs",
    BASELINE,
    Column("sha256", String(64), nullable=False),
    Column("dev_id", String(64), nullable=False),
    Column("kind", String(12), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("camera", String(64), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("batch_id", String(36)),
    Column("received_at", Float),
    PrimaryKeyConstraint("dev_id", "sha256", "kind"),
    Index("blob_refs_batch", "dev_id", "batch_id"),
)

batches = Table(
    "batches",
    BASELINE,
    Column("dev_id", String(64), nullable=False),
    Column("batch_id", String(36), nullable=False),
    Column("lot", String(20), nullable=False),
    Column("gtin", String(14)),
    Column("facility_code", String(16), nullable=False),
    Column("product_code", String(16), nullable=False),
    Column("product", JSON, nullable=False),
    Column("facility", JSON, nullable=False),
    Column("production_date", String(10), nullable=False),
    Column("opened_at", String(40), nullable=False),
    Column("status", String(10), nullable=False),
    Column("closed_at", String(40)),
    Column("quantity", Float),
    Column("unit", String(16)),
    Column("expiry_date", String(10)),
    PrimaryKeyConstraint("dev_id", "batch_id"),
    Index("batches_lot", "lot"),
)

users = Table(
    "users",
    BASELINE,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("disabled_at", Float),
    Column("last_login_at", Float),
    Column("session_epoch", Integer, nullable=False, default=1),
)

api_tokens = Table(
    "api_tokens",
    BASELINE,
    Column("token_hash", String(64), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float),
    Column("last_used_at", Float),
)

scans = Table(
    "scans",
    BASELINE,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("lot", String(20), nullable=False),
    Column("serial", String(20)),
    Column("gtin", String(14)),
    Column("facility_code", String(16)),
    Column("verdict", String(16), nullable=False),
    Column("place", String(16), nullable=False),
    Index("scans_code", "lot", "serial"),
    Index("scans_at", "at"),
)


def upgrade() -> None:
    BASELINE.create_all(op.get_bind())


def downgrade() -> None:
    BASELINE.drop_all(op.get_bind())
