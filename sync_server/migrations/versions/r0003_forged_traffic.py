"""Forged-traffic and junk counters per device (issue 12, findings 2, 3, 7, 9).

Revision ID: 0003
Revises: 0002
Created: 2026-12-05
"""

from __future__ import annotations

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass
