"""The facility or device an office page is about, or 404: outside the user's district scope
an object does not exist for them (docs/office.md, "District scopes")."""

from __future__ import annotations

from typing import Any

from flask import abort
from sqlalchemy import select

from sync_server.store.db import devices, facilities, reading
from sync_server.web.auth import current_scope
from sync_server.web.context import engine


def facility_or_404(code: str) -> dict[str, Any]:
    with reading(engine()) as conn:
        row = conn.execute(select(facilities).where(facilities.c.code == code)).mappings().first()
        if row is None or not current_scope().allows(conn, code):
            abort(404)
        return dict(row)


def device_or_404(dev: str) -> dict[str, Any]:
    with reading(engine()) as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
        if row is None or not current_scope().allows(conn, row["facility_code"]):
            abort(404)
        return dict(row)
