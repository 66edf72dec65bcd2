"""Facilities and devices from the browser (issue 16): create, edit, disable a facility;
register a device with its one-time token, QR and printable sheet, download its SD-card bundle,
rename, revoke; "take a photo now" and "resend from seq".

Officers act on the facilities of their districts (out of scope: 404, and a facility created in
another district is refused); every action writes its audit row (sync_server/devices/fleet.py).
No form needs JavaScript. A broker change (revoke, disable, enable) rewrites the broker's files
and reloads it, as ``ocop server revoke-device`` does.
"""

from __future__ import annotations

import functools
import io
from typing import Any

import qrcode
import qrcode.image.svg
from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from markupsafe import Markup
from sqlalchemy import select

from sync_server.accounts.scopes import Scope, scope_of
from sync_server.devices import commands, fleet
from sync_server.devices.broker_auth import reload_broker, write_broker_auth
from sync_server.devices.catalog_edit import publish_pending
from sync_server.devices.enrolment import token_matches
from sync_server.devices.fleet import BundleMaker, FleetError
from sync_server.store.db import devices, facilities, reading
from sync_server.web.auth import current_user, login_required
from sync_server.web.context import config, engine
from sync_server.web.i18n import N_, translate_in
from sync_server.web.office import add_nav, bp
from sync_server.web.office.map_views import position_map_data
from sync_server.web.office.rows import device_or_404, facility_or_404

add_nav("office.fleet_list", N_("fleet"))

# The printed enrolment sheet is always in Vietnamese (the Pi is set up at the facility): its
# texts go through translate_in("vi", …), which `make messages` does not see, so listed here.
SHEET_IDS = (
    N_("sheet_title"),
    N_("sheet_token"),
    N_("sheet_valid"),
    N_("sheet_qr"),
    N_("sheet_step_power"),
    N_("sheet_step_type"),
    N_("sheet_step_bundle"),
    N_("sheet_step_screen"),
    N_("sheet_step_call"),
    N_("sheet_private"),
)
# A device's enrolment on its page: t('enrolment_' ~ state).
ENROLMENT_IDS = (N_("enrolment_waiting"), N_("enrolment_enrolled"), N_("enrolment_revoked"))


def _who() -> str:
    user = current_user()
    assert user is not None  # login_required
    return user.username


def _scope() -> Scope:
    return scope_of(current_user())


def _sync_broker() -> bool:
    """Rewrite the broker's password and ACL files and reload it; False if the reload failed."""
    cfg = config()
    write_broker_auth(engine(), cfg.auth_dir)
    return reload_broker(cfg.broker.reload_command)


@bp.get("/fleet")
@login_required()
def fleet_list() -> ResponseReturnValue:
    scope = _scope()
    with reading(engine()) as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                select(facilities)
                .where(scope.facilities(facilities.c.code))
                .order_by(facilities.c.district, facilities.c.name)
            ).mappings()
        ]
        devs: dict[str, list[dict[str, Any]]] = {}
        for d in conn.execute(
            select(devices)
            .where(scope.facilities(devices.c.facility_code))
            .order_by(devices.c.dev_id)
        ).mappings():
            devs.setdefault(d["facility_code"], []).append(dict(d))
    return render_template("office/fleet.html", facilities=rows, devices=devs)


def _facility_form(
    values: Any, code: str | None, error: FleetError | None = None
) -> ResponseReturnValue:
    with reading(engine()) as conn:
        pick = position_map_data(conn, _scope(), config().office, code)
    page = render_template(
        "office/facility_form.html",
        v=values,
        code=code,
        error=error,
        districts=sorted(_scope().districts or ()),
        pick=pick,
    )
    return page, 400 if error else 200


@bp.route("/fleet/new", methods=["GET", "POST"])
@login_required()
def new_facility() -> ResponseReturnValue:
    if request.method == "GET":
        return _facility_form({}, None)
    try:
        values = fleet.parse_facility_form(request.form)
        fleet.create_facility(engine(), _who(), values, _scope())
    except FleetError as exc:
        return _facility_form(request.form, None, exc)
    flash(N_("facility_created"))
    return redirect(url_for("office.facility", code=values.code))


@bp.route("/facilities/<code>/edit", methods=["GET", "POST"])
@login_required()
def edit_facility(code: str) -> ResponseReturnValue:
    row = facility_or_404(code)
    if request.method == "GET":
        v = fleet.facility_values(row)
        shown = {**v.__dict__, "lat": _num(v.lat), "lon": _num(v.lon)}
        return _facility_form(shown, code)
    try:
        values = fleet.parse_facility_form(request.form, code)
        owed = fleet.edit_facility(
            engine(), _who(), code, values, _scope(), config().public_base_url
        )
    except FleetError as exc:
        return _facility_form(request.form, code, exc)
    if owed:
        published = code in publish_pending(engine(), config(), timeout_s=3.0)
        flash(N_("catalog_published") if published else N_("catalog_publish_pending"))
    else:
        flash(N_("saved"))
    return redirect(url_for("office.facility", code=code))


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}".rstrip("0").rstrip(".")


@bp.post("/facilities/<code>/disable")
@login_required()
def disable_facility(code: str) -> ResponseReturnValue:
    facility_or_404(code)
    try:
        fleet.set_facility_disabled(engine(), _who(), code, request.form.get("reason", ""))
    except FleetError as exc:
        return _facility_page_error(code, exc)
    flash(N_("facility_disabled") if _sync_broker() else N_("broker_reload_failed"))
    return redirect(url_for("office.facility", code=code))


@bp.post("/facilities/<code>/enable")
@login_required()
def enable_facility(code: str) -> ResponseReturnValue:
    facility_or_404(code)
    fleet.set_facility_disabled(engine(), _who(), code, None)
    flash(N_("facility_enabled") if _sync_broker() else N_("broker_reload_failed"))
    return redirect(url_for("office.facility", code=code))


def _facility_page_error(code: str, exc: FleetError) -> ResponseReturnValue:
    return render_template(
        "office/fleet_error.html", error=exc, back=url_for("office.facility", code=code)
    ), 400


@bp.route("/facilities/<code>/devices/new", methods=["GET", "POST"])
@login_required()
def new_device(code: str) -> ResponseReturnValue:
    row = facility_or_404(code)
    if request.method == "GET":
        return _device_form(row, {"dev": _next_dev_id(code)})
    dev = request.form.get("dev", "").strip().lower()
    try:
        token = fleet.register_device(
            engine(),
            _who(),
            code,
            dev,
            request.form.get("name", ""),
            config().broker.token_ttl_hours,
        )
    except FleetError as exc:
        return _device_form(row, request.form, exc)
    return _sheet(code, dev, token)


@bp.post("/devices/<dev>/token")
@login_required()
def new_token(dev: str) -> ResponseReturnValue:
    """A new one-time token for a device that has not enrolled (the old one stops working)."""
    row = device_or_404(dev)
    try:
        token = fleet.register_device(
            engine(),
            _who(),
            row["facility_code"],
            dev,
            row["name"] or "",
            config().broker.token_ttl_hours,
        )
    except FleetError as exc:
        return _device_error(dev, exc)
    return _sheet(row["facility_code"], dev, token)


def _device_form(row: Any, values: Any, error: FleetError | None = None) -> ResponseReturnValue:
    page = render_template("office/device_form.html", f=row, v=values, error=error)
    return page, 400 if error else 200


def _next_dev_id(code: str) -> str:
    with reading(engine()) as conn:
        taken = set(conn.execute(select(devices.c.dev_id)).scalars())
    n = 1
    while f"{code.lower()}-{n}" in taken:
        n += 1
    return f"{code.lower()}-{n}"


def enrol_command(code: str, token: str) -> str:
    return f"ocop edge enroll --server {config().public_base_url} --facility {code} --token={token}"


def _qr_svg(text: str) -> Markup:
    """The QR code of ``text`` as inline SVG (no script, no image request)."""
    img = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buf = io.BytesIO()
    img.save(buf)
    svg = buf.getvalue().decode()
    return Markup(svg[svg.index("<svg") :])  # qrcode's own SVG of our text: no user markup


def _sheet(code: str, dev: str, token: str) -> ResponseReturnValue:
    """The one-time token page: token, QR, printable instructions, bundle download. Shown
    once: the server keeps only the token's hash."""
    row = facility_or_404(code)
    command = enrol_command(code, token)
    resp = Response(
        render_template(
            "office/enrol_sheet.html",
            f=row,
            dev=dev,
            token=token,
            command=command,
            qr=_qr_svg(command),
            hours=config().broker.token_ttl_hours,
            bundle=_bundle_maker() is not None,
            tvi=functools.partial(translate_in, "vi"),
        )
    )
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _bundle_maker() -> BundleMaker | None:
    maker: BundleMaker | None = current_app.extensions.get("ocop_sd_bundle")
    return maker


@bp.post("/devices/<dev>/bundle.zip")
@login_required()
def device_bundle(dev: str) -> ResponseReturnValue:
    """The Pi's SD-card bundle. The token comes back from the sheet's form (the server keeps
    only its hash) and must be this device's live token."""
    row = device_or_404(dev)
    maker = _bundle_maker()
    token = request.form.get("token", "")
    if maker is None:
        abort(404)
    if not token_matches(engine(), dev, token):
        return _device_error(dev, FleetError(N_("err_token_stale")))
    cfg = config()
    host = cfg.broker.device_host
    data = maker(
        facility=row["facility_code"],
        device=dev,
        server=cfg.public_base_url,
        token=token,
        mqtt_host=host or cfg.mqtt.host,
        mqtt_port=cfg.broker.device_port if host else cfg.mqtt.port,
        # The deployment's device listener (firmware_config/server.py) is TLS on 8883.
        mqtt_tls=bool(host) and cfg.broker.device_port == 8883,
    )
    resp = Response(data, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="ocop-{dev}.zip"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _device_error(dev: str, exc: FleetError) -> ResponseReturnValue:
    back = url_for("office.device", dev=dev)
    return render_template("office/fleet_error.html", error=exc, back=back), 400


@bp.post("/devices/<dev>/rename")
@login_required()
def rename_device(dev: str) -> ResponseReturnValue:
    device_or_404(dev)
    try:
        fleet.rename_device(engine(), _who(), dev, request.form.get("name", ""))
    except FleetError as exc:
        return _device_error(dev, exc)
    flash(N_("saved"))
    return redirect(url_for("office.device", dev=dev))


@bp.post("/devices/<dev>/revoke")
@login_required()
def revoke_device(dev: str) -> ResponseReturnValue:
    device_or_404(dev)
    try:
        fleet.revoke(engine(), _who(), dev, request.form.get("reason", ""))
    except FleetError as exc:
        return _device_error(dev, exc)
    flash(N_("device_revoked") if _sync_broker() else N_("broker_reload_failed"))
    return redirect(url_for("office.device", dev=dev))


@bp.post("/devices/<dev>/snapshot")
@login_required()
def snapshot(dev: str) -> ResponseReturnValue:
    device_or_404(dev)
    try:
        cmd = commands.snapshot_command(engine(), dev, request.form.get("camera", ""))
    except FleetError as exc:
        return _device_error(dev, exc)
    sent = commands.send(engine(), config(), _who(), dev, cmd)
    flash(N_("command_sent") if sent else N_("command_not_sent"))
    return redirect(url_for("office.device", dev=dev))


@bp.post("/devices/<dev>/resend")
@login_required()
def resend(dev: str) -> ResponseReturnValue:
    device_or_404(dev)
    try:
        cmd = commands.resend_command(engine(), dev, request.form.get("from", ""))
    except FleetError as exc:
        return _device_error(dev, exc)
    sent = commands.send(engine(), config(), _who(), dev, cmd)
    flash(N_("command_sent") if sent else N_("command_not_sent"))
    return redirect(url_for("office.device", dev=dev))


@bp.app_template_global()
def device_fleet(d: Any) -> dict[str, Any]:
    """What the device page's fleet panel shows (office/_device_fleet.html): its name, its
    enrolment, the cameras it reported, its latest commands and their photos."""
    with reading(engine()) as conn:
        recent = commands.commands_of(conn, d["dev_id"])
        facility = conn.execute(
            select(facilities.c.disabled_at).where(facilities.c.code == d["facility_code"])
        ).first()
    if d["revoked_at"] is not None:
        enrolment = "revoked"
    elif d["enrolled_at"] is not None or d["public_key"] is not None:
        enrolment = "enrolled"
    else:
        enrolment = "waiting"
    return {
        "enrolment": enrolment,
        "cameras": commands.cameras_of(d["status"]),
        "commands": recent,
        "facility_disabled": facility is not None and facility.disabled_at is not None,
    }
