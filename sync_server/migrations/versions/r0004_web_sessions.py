"""Server-side office sessions, login throttling, enrolment and scan rate limits (issue 12, findings 4, 9).

Revision ID: 0004
Revises: 0003
Created: 2026-12-05
"""

from __future__ import annotations

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    pass
