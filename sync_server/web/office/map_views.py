"""The office maps: every facility as a dot coloured by its liveness; the facility form's picker.

The page works with no internet: Leaflet is vendored, and without a tile server
(``office.tile_url`` empty) the dots are drawn on a plain background fitted to the facilities.
The data reaches the script as JSON in a ``<script type="application/json">`` block (no inline
code, so a CSP without ``unsafe-inline`` holds); the same list is a table for browsers without
JavaScript. The facility form's position picker (office-position.js) uses the same Leaflet and
tiles; the other facilities of the officer's scope are drawn as named grey dots so that a click
on a plain background still lands near known places.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Connection, select

from sync_server.accounts.scopes import Scope
from sync_server.config import OfficeConfig
from sync_server.devices.liveness import STATES, FacilityLiveness, facility_states
from sync_server.store.db import facilities, reading
from sync_server.web.auth import current_scope, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, translate
from sync_server.web.office import add_nav, bp
from sync_server.web.office.dashboard import in_scope

# Dot colours by state; office.css gives the legend and the table badges the same colours.
STATE_COLOURS = {
    "online": "#1f8f4f",
    "stale": "#d99a00",
    "offline": "#7a7a7a",
    "blocked": "#c0261a",
}


def located(f: FacilityLiveness) -> bool:
    return (
        f.latitude is not None
        and f.longitude is not None
        and -90 <= f.latitude <= 90
        and -180 <= f.longitude <= 180
    )


def build_map_data(
    facilities: Iterable[FacilityLiveness],
    office: OfficeConfig,
    link: Callable[[str], str],
    label: Callable[[str], str],
) -> dict[str, Any]:
    """What office-map.js draws: tiles (or None), one point per located facility, the legend."""
    points = [
        {
            "code": f.code,
            "name": f.name,
            "address": ", ".join(p for p in (f.commune, f.district, f.province) if p),
            "lat": f.latitude,
            "lon": f.longitude,
            "state": f.state,
            "state_label": label("state_" + f.state),
            "colour": STATE_COLOURS[f.state],
            "url": link(f.code),
        }
        for f in facilities
        if located(f)
    ]
    return {
        "tiles": _tiles(office),
        "points": points,
        "legend": [
            {"state": s, "label": label("state_" + s), "colour": STATE_COLOURS[s]} for s in STATES
        ],
        "strings": {"open": label("open_facility")},
    }


def _tiles(office: OfficeConfig) -> dict[str, str] | None:
    if not office.tile_url:
        return None
    return {"url": office.tile_url, "attribution": office.tile_attribution}


def position_map_data(
    conn: Connection, scope: Scope, office: OfficeConfig, editing: str | None
) -> dict[str, Any]:
    """What office-position.js draws beside the facility form: tiles (or None) and the located
    facilities of ``scope`` other than the one being edited, for orientation."""
    rows = conn.execute(
        select(facilities.c.code, facilities.c.name, facilities.c.latitude, facilities.c.longitude)
        .where(scope.facilities(facilities.c.code))
        .where(facilities.c.latitude.is_not(None), facilities.c.longitude.is_not(None))
        .order_by(facilities.c.code)
    )
    others = [
        {"code": r.code, "name": r.name, "lat": r.latitude, "lon": r.longitude}
        for r in rows
        if r.code != editing and -90 <= r.latitude <= 90 and -180 <= r.longitude <= 180
    ]
    return {"tiles": _tiles(office), "others": others}


@bp.get("/map")
@login_required()
def map_page() -> ResponseReturnValue:
    with reading(engine()) as conn:
        facs = in_scope(facility_states(conn, config().office), current_scope().codes(conn))
    data = build_map_data(
        facs,
        config().office,
        link=lambda code: url_for("office.facility", code=code),
        label=translate,
    )
    return render_template(
        "office/map.html",
        data=data,
        facilities=facs,
        unlocated=[f for f in facs if not located(f)],
        colours=STATE_COLOURS,
    )


add_nav("office.map_page", N_("map"))
