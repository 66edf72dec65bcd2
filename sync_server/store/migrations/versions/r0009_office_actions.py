"""The office runs the fleet from a browser (issue 16).

Revision ID: 0009
Revises: 0008
Created: 2026-12-05

- ``audit_log``: every office action, who/when/what with the values before and after.
- ``device_decisions``: what the office decided about a blocked device, and why.
- ``device_commands``: commands sent on a device's ``cmd`` topic and what came of them.
- ``notify_subscriptions``, ``notify_outbox``: officers' e-mail subscriptions to alerts, and the
  mails owed and sent (throttled, immediate or daily digest).
- ``users.districts``, ``users.email``: district scopes and where mails go.
- ``facilities.phone``, ``disabled_at``, ``disabled_reason``: a contact and disabling.
- ``devices.name``, ``replaced_by``, ``replaces``: a display name and a re-enrolled device's
  identity chain.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target", sa.String(120), nullable=False),
        sa.Column("facility_code", sa.String(16)),
        sa.Column("before", sa.JSON()),
        sa.Column("after", sa.JSON()),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("audit_log_at", "audit_log", ["at"])
    op.create_index("audit_log_target", "audit_log", ["target"])
    op.create_table(
        "device_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dev_id", sa.String(64), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(32), nullable=False),
        sa.Column("blocked_seq", sa.Integer()),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("new_dev_id", sa.String(64)),
    )
    op.create_index("device_decisions_dev", "device_decisions", ["dev_id"])
    op.create_table(
        "device_commands",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("dev_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float()),
        sa.Column("done_at", sa.Float()),
        sa.Column("result", sa.JSON()),
    )
    op.create_index("device_commands_dev", "device_commands", ["dev_id", "created_at"])
    op.create_table(
        "notify_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(10), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("kinds", sa.JSON()),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_index("notify_subscriptions_user", "notify_subscriptions", ["username"])
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("facility_code", sa.String(16)),
        sa.Column("dev_id", sa.String(64)),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.Float()),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("not_before", sa.Float()),
    )
    op.create_index(
        "notify_outbox_user_alert", "notify_outbox", ["username", "alert_id"], unique=True
    )
    op.create_index("notify_outbox_pending", "notify_outbox", ["sent_at", "digest"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("districts", sa.JSON()))
        batch.add_column(sa.Column("email", sa.Text()))
    with op.batch_alter_table("facilities") as batch:
        batch.add_column(sa.Column("phone", sa.Text()))
        batch.add_column(sa.Column("disabled_at", sa.Float()))
        batch.add_column(sa.Column("disabled_reason", sa.Text()))
    with op.batch_alter_table("devices") as batch:
        batch.add_column(sa.Column("name", sa.Text()))
        batch.add_column(sa.Column("replaced_by", sa.String(64)))
        batch.add_column(sa.Column("replaces", sa.String(64)))


def downgrade() -> None:
    with op.batch_alter_table("devices") as batch:
        batch.drop_column("replaces")
        batch.drop_column("replaced_by")
        batch.drop_column("name")
    with op.batch_alter_table("facilities") as batch:
        batch.drop_column("disabled_reason")
        batch.drop_column("disabled_at")
        batch.drop_column("phone")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email")
        batch.drop_column("districts")
    for table in (
        "notify_outbox",
        "notify_subscriptions",
        "device_commands",
        "device_decisions",
        "audit_log",
    ):
        op.drop_table(table)
