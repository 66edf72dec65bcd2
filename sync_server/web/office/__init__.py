"""The OCOP office pages under ``/office``: login, dashboard, facilities, batches, catalog.

One blueprint; each module below adds its views to it. Every view except the login page is
behind :func:`sync_server.web.auth.login_required`, and every form carries the CSRF token.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

bp = Blueprint(
    "office",
    __name__,
    url_prefix="/office",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Header links after "Dashboard": (endpoint, string key). Modules add theirs with add_nav().
_NAV: list[tuple[str, str]] = []


def add_nav(endpoint: str, label: str) -> None:
    if (endpoint, label) not in _NAV:
        _NAV.append((endpoint, label))


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    return {"office_nav": lambda: list(_NAV)}


# Imported for their side effect: they register their views on ``bp``.
from sync_server.web.office import (  # noqa: E402
    catalog_views,
    charts,
    dashboard,
    exports,
    login,
    map_views,
    pages,
)

__all__ = ["bp", "catalog_views", "charts", "dashboard", "exports", "login", "map_views", "pages"]
