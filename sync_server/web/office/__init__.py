"""The OCOP office pages under ``/office``: login, dashboard, facilities, batches, catalog.

One blueprint; each module below adds its views to it. Every view except the login page is
behind :func:`sync_server.web.auth.login_required`, and every form carries the CSRF token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response

bp = Blueprint(
    "office",
    __name__,
    url_prefix="/office",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Header links after "Dashboard": (endpoint, string key, admins only). Modules add theirs
# with add_nav().
_NAV: list[tuple[str, str, bool]] = []


def add_nav(endpoint: str, label: str, admin_only: bool = False) -> None:
    if all(e != endpoint for e, _, _ in _NAV):
        _NAV.append((endpoint, label, admin_only))


def _links() -> list[tuple[str, str]]:
    from sync_server.web.auth import current_user

    user = current_user()
    admin = user is not None and user.is_admin
    return [(e, label) for e, label, only in _NAV if admin or not only]


@bp.after_request
def _headers(resp: Response) -> Response:
    """Office pages: no framing, scripts only from this server, nothing cached by proxies."""
    from sync_server.web.context import config

    tiles = urlsplit(config().office.tile_url)
    tile_origin = f" {tiles.scheme}://{tiles.netloc}" if tiles.netloc else ""
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data:{tile_origin}; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'",
    )
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if resp.mimetype == "text/html":
        resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    return {"office_nav": _links}


# Imported for their side effect: they register their views on ``bp``.
from sync_server.web.office import (  # noqa: E402
    audit_views,
    catalog_views,
    charts,
    dashboard,
    exports,
    fleet_views,
    login,
    map_views,
    notify_views,
    pages,
    partners_views,
    recalls_views,
    reports_views,
    rotate_views,
    trace_views,
    unblock_views,
    users_views,
    workers_views,
)

__all__ = [
    "audit_views",
    "bp",
    "catalog_views",
    "charts",
    "dashboard",
    "exports",
    "fleet_views",
    "login",
    "map_views",
    "notify_views",
    "pages",
    "partners_views",
    "recalls_views",
    "reports_views",
    "rotate_views",
    "trace_views",
    "unblock_views",
    "users_views",
    "workers_views",
]
