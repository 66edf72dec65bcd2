"""The office's fleet actions (issue 16): create, edit, disable and enable facilities; register,
rename and revoke devices. Each writes its audit row in its own transaction.

Messages for the officer are gettext ids (:class:`FleetError`); the office renders them in the
page's language. A facility is created with no products: its catalog is stored as
``{"facility": {…}, "products": []}`` until the catalog editor adds the first product (a catalog
a device receives needs one, so a device can be registered only once there is one).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, insert, select, update

from sync_server.accounts.audit import record
from sync_server.accounts.scopes import Scope
from sync_server.devices.enrolment import create_device, revoke_device
from sync_server.devices.registry import RegistryError, store_catalog
from sync_server.store.db import devices, facilities
from trace_protocol.envelope import DEVICE_ID_RE
from trace_protocol.locales import N_

FACILITY_CODE_RE = re.compile(r"^[A-Z0-9]{1,5}\Z")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 .()-]{5,19}\Z")
MAX_TEXT = 120
MAX_DEVICE_NAME = 60
MAX_REASON = 500


class BundleMaker(Protocol):
    """Renders one Pi's SD-card bundle as zip bytes (firmware_config.bundle_zip.zip_bundle,
    handed to the server by the ``ocop`` command line: sync_server may not import it)."""

    def __call__(
        self,
        *,
        facility: str,
        device: str,
        server: str,
        token: str,
        mqtt_host: str = "",
        mqtt_port: int = 0,
        mqtt_tls: bool = False,
    ) -> bytes: ...


class FleetError(ValueError):
    """An office action refused; ``key`` is a gettext id, ``field`` the form field it is about."""

    def __init__(self, key: str, field: str = "", **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.field = field
        self.params = params


@dataclass(frozen=True)
class FacilityValues:
    code: str
    name: str
    commune: str
    district: str
    province: str
    lat: float | None
    lon: float | None
    phone: str


REQUIRED = {"name": N_("err_name_required"), "district": N_("err_district_required")}


def _text(form: Mapping[str, str], name: str) -> str:
    value = " ".join(str(form.get(name, "")).split())
    if name in REQUIRED and not value:
        raise FleetError(REQUIRED[name], name)
    if len(value) > MAX_TEXT:
        raise FleetError(N_("err_too_long"), name, n=str(MAX_TEXT))
    return value


def _degrees(form: Mapping[str, str], name: str, limit: float) -> float | None:
    raw = str(form.get(name, "")).strip().replace(",", ".")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FleetError(N_("err_coordinate"), name, limit=f"{limit:g}") from None
    if not -limit <= value <= limit or value != value:
        raise FleetError(N_("err_coordinate"), name, limit=f"{limit:g}")
    return value


def parse_facility_form(form: Mapping[str, str], code: str | None = None) -> FacilityValues:
    """The facility form's fields, checked (``code`` given: an edit, the code is not a field)."""
    if code is None:
        code = str(form.get("code", "")).strip().upper()
        if not FACILITY_CODE_RE.match(code):
            raise FleetError(N_("err_facility_code"), "code")
    lat, lon = _degrees(form, "lat", 90.0), _degrees(form, "lon", 180.0)
    if (lat is None) != (lon is None):
        raise FleetError(N_("err_coordinates_pair"), "lat" if lat is None else "lon")
    phone = " ".join(str(form.get("phone", "")).split())
    if phone and not PHONE_RE.match(phone):
        raise FleetError(N_("err_phone"), "phone")
    return FacilityValues(
        code=code,
        name=_text(form, "name"),
        commune=_text(form, "commune"),
        district=_text(form, "district"),
        province=_text(form, "province"),
        lat=lat,
        lon=lon,
        phone=phone,
    )


def facility_values(row: Mapping[str, Any]) -> FacilityValues:
    return FacilityValues(
        code=row["code"],
        name=row["name"],
        commune=row["commune"],
        district=row["district"],
        province=row["province"],
        lat=row["latitude"],
        lon=row["longitude"],
        phone=row["phone"] or "",
    )


def _check_district(scope: Scope, district: str) -> None:
    if scope.districts is not None and district not in scope.districts:
        raise FleetError(N_("err_district_out_of_scope"), "district", district=district)


def _facility_block(v: FacilityValues, old: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The catalog's ``facility`` object: the form's fields over what else it held (e-mail)."""
    block = {k: val for k, val in (old or {}).items() if k not in ("lat", "lon", "phone")}
    block.update(
        code=v.code, name=v.name, commune=v.commune, district=v.district, province=v.province
    )
    if v.lat is not None and v.lon is not None:
        block.update(lat=v.lat, lon=v.lon)
    if v.phone:
        block["phone"] = v.phone
    return block


def create_facility(engine: Engine, who: str, v: FacilityValues, scope: Scope) -> None:
    """A new facility with an empty catalog; an officer only in their own districts."""
    _check_district(scope, v.district)
    with engine.begin() as conn:
        if conn.execute(select(facilities.c.code).where(facilities.c.code == v.code)).first():
            raise FleetError(N_("err_facility_exists"), "code", code=v.code)
        conn.execute(
            insert(facilities).values(
                code=v.code,
                name=v.name,
                commune=v.commune,
                district=v.district,
                province=v.province,
                latitude=v.lat,
                longitude=v.lon,
                phone=v.phone or None,
                catalog={"facility": _facility_block(v), "products": []},
                catalog_version=1,
                # Nothing to publish: no device can hold this catalog before it has a product.
                published_version=1,
            )
        )
        record(conn, who, "facility.create", v.code, facility=v.code, after=asdict(v))


def edit_facility(
    engine: Engine, who: str, code: str, v: FacilityValues, scope: Scope, base_url: str
) -> bool:
    """Save a facility's fields (and its catalog's ``facility`` object, a new catalog version
    when there are products). Returns whether the catalog is owed to the devices."""
    _check_district(scope, v.district)
    with engine.begin() as conn:
        row = _facility_row(conn, code)
        before = facility_values(row)
        if before == v:
            return False
        catalog = dict(row["catalog"])
        catalog["facility"] = _facility_block(v, catalog.get("facility"))
        owed = bool(catalog.get("products"))
        if owed:
            try:
                store_catalog(
                    conn, {k: x for k, x in catalog.items() if k not in ("version", "v")}, base_url
                )
            except RegistryError as exc:
                raise FleetError(N_("err_catalog"), "", reason=str(exc)) from exc
        else:
            conn.execute(
                update(facilities)
                .where(facilities.c.code == code)
                .values(
                    catalog=catalog,
                    catalog_version=row["catalog_version"] + 1,
                    published_version=row["catalog_version"] + 1,
                )
            )
        conn.execute(
            update(facilities)
            .where(facilities.c.code == code)
            .values(
                name=v.name,
                commune=v.commune,
                district=v.district,
                province=v.province,
                latitude=v.lat,
                longitude=v.lon,
                phone=v.phone or None,
            )
        )
        changed = {k for k, x in asdict(v).items() if asdict(before)[k] != x}
        record(
            conn,
            who,
            "facility.edit",
            code,
            facility=code,
            before={k: x for k, x in asdict(before).items() if k in changed},
            after={k: x for k, x in asdict(v).items() if k in changed},
        )
    return owed


def set_facility_disabled(engine: Engine, who: str, code: str, reason: str | None) -> None:
    """Disable (``reason`` given) or enable (None) a facility. Disabled: its devices lose their
    broker login at the next broker sync and enrolment is refused; its pages and data stay."""
    if reason is not None:
        reason = " ".join(reason.split())[:MAX_REASON]
        if not reason:
            raise FleetError(N_("err_reason_required"), "reason")
    with engine.begin() as conn:
        row = _facility_row(conn, code)
        if (row["disabled_at"] is None) == (reason is None):
            return  # already so: nothing to record
        conn.execute(
            update(facilities)
            .where(facilities.c.code == code)
            .values(disabled_at=None if reason is None else time.time(), disabled_reason=reason)
        )
        record(
            conn,
            who,
            "facility.enable" if reason is None else "facility.disable",
            code,
            facility=code,
            before={"disabled": row["disabled_at"] is not None},
            after={"disabled": reason is not None},
            detail=reason or row["disabled_reason"] or "",
        )


def _facility_row(conn: Connection, code: str) -> Any:
    row = conn.execute(select(facilities).where(facilities.c.code == code)).mappings().first()
    if row is None:
        raise FleetError(N_("err_unknown_facility"), "", code=code)
    return row


def register_device(
    engine: Engine, who: str, facility: str, dev: str, name: str, ttl_hours: float
) -> str:
    """A new device (or a new token for one not enrolled yet); returns the one-time token."""
    dev = dev.strip().lower()
    if not DEVICE_ID_RE.match(dev) or dev == "ocop-server":
        raise FleetError(N_("err_device_id"), "dev")
    name = " ".join(name.split())
    if len(name) > MAX_DEVICE_NAME:
        raise FleetError(N_("err_too_long"), "name", n=str(MAX_DEVICE_NAME))
    with engine.connect() as conn:
        row = _facility_row(conn, facility)
        other = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
    if row["disabled_at"] is not None:
        raise FleetError(N_("err_facility_disabled"), "", code=facility)
    if not row["catalog"].get("products"):
        raise FleetError(N_("err_no_products"), "", code=facility)
    if other is not None and other["facility_code"] != facility:
        raise FleetError(N_("err_device_taken"), "dev", dev=dev)
    if other is not None and (other["enrolled_at"] is not None or other["head_seq"] > 0):
        raise FleetError(N_("err_device_enrolled"), "dev", dev=dev)
    if other is not None and other["revoked_at"] is not None:
        raise FleetError(N_("err_device_revoked"), "dev", dev=dev)
    try:
        return create_device(engine, dev, facility, ttl_hours, who=who, name=name or None)
    except RegistryError as exc:  # a registration at the same moment
        raise FleetError(N_("err_registry"), "", reason=str(exc)) from exc


def rename_device(engine: Engine, who: str, dev: str, name: str) -> None:
    name = " ".join(name.split())
    if len(name) > MAX_DEVICE_NAME:
        raise FleetError(N_("err_too_long"), "name", n=str(MAX_DEVICE_NAME))
    with engine.begin() as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == dev)).mappings().first()
        if row is None:
            raise FleetError(N_("err_unknown_device"), "", dev=dev)
        if (row["name"] or "") == name:
            return
        conn.execute(update(devices).where(devices.c.dev_id == dev).values(name=name or None))
        record(
            conn,
            who,
            "device.rename",
            dev,
            facility=row["facility_code"],
            before={"name": row["name"]},
            after={"name": name or None},
        )


def revoke(engine: Engine, who: str, dev: str, reason: str) -> None:
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise FleetError(N_("err_reason_required"), "reason")
    with engine.connect() as conn:
        row = conn.execute(select(devices.c.revoked_at).where(devices.c.dev_id == dev)).first()
    if row is None:
        raise FleetError(N_("err_unknown_device"), "", dev=dev)
    if row.revoked_at is not None:
        raise FleetError(N_("err_device_revoked"), "", dev=dev)
    revoke_device(engine, dev, reason, who=who)
