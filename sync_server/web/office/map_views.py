"""The office map: every facility as a dot coloured by its liveness, on tiles or a plain field.

The page works with no internet: Leaflet is vendored, and without a tile server
(``office.tile_url`` empty) the dots are drawn on a plain background fitted to the facilities.
The data reaches the script as JSON in a ``<script type="application/json">`` block (no inline
code, so a CSP without ``unsafe-inline`` holds); the same list is a table for browsers without
JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import render_template, url_for
from flask.typing import ResponseReturnValue

from sync_server.config import OfficeConfig
from sync_server.devices.liveness import STATES, FacilityLiveness, facility_states
from sync_server.store.db import reading
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
    tiles = (
        {"url": office.tile_url, "attribution": office.tile_attribution}
        if office.tile_url
        else None
    )
    return {
        "tiles": tiles,
        "points": points,
        "legend": [
            {"state": s, "label": label("state_" + s), "colour": STATE_COLOURS[s]} for s in STATES
        ],
        "strings": {"open": label("open_facility")},
    }


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
