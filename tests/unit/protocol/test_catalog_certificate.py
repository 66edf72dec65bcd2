"""Catalog certificate and raw-material origins: optional, validated, errors name the field."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from trace_protocol.catalog import CatalogError, Text, parse_catalog

DATA = Path(__file__).resolve().parents[3] / "ocop_cli" / "data"
RICE = json.loads((DATA / "kc-rice.json").read_text(encoding="utf-8"))


def with_product(**fields: Any) -> dict[str, Any]:
    obj = copy.deepcopy(RICE)
    product = obj["products"][0]
    for key, value in fields.items():
        if value is None:
            product.pop(key, None)
        else:
            product[key] = value
    return {**obj, "version": 1, "public_base_url": "https://t.vn"}


@pytest.mark.parametrize("name", sorted(p.name for p in DATA.glob("*.json")))
def test_demo_catalogs_carry_a_certificate_and_origins(name: str) -> None:
    obj = json.loads((DATA / name).read_text(encoding="utf-8"))
    product = parse_catalog({**obj, "version": 1, "public_base_url": "https://t.vn"}).products[0]
    assert product.certificate is not None
    assert "/QĐ-UBND" in product.certificate.decision
    assert product.certificate.issued_by.startswith("UBND")
    assert product.origins and "Hà Tĩnh" in product.origins[0].place.vi


def test_catalog_without_the_new_fields_stays_valid() -> None:
    product = parse_catalog(with_product(certificate=None, origins=None)).products[0]
    assert product.certificate is None
    assert product.origins == ()


def test_round_trip_through_the_stored_form() -> None:
    cat = parse_catalog(with_product())
    again = parse_catalog(json.loads(cat.encode()))
    assert again.products[0].certificate == cat.products[0].certificate
    assert again.products[0].origins == cat.products[0].origins


def test_origin_text_may_be_plain_or_bilingual() -> None:
    origins = [{"material": "Lúa", "place": {"vi": "xã Thạch Đài", "en": "Thạch Đài commune"}}]
    product = parse_catalog(with_product(origins=origins)).products[0]
    assert product.origins[0].material == Text("Lúa")
    assert product.origins[0].place.get("en") == "Thạch Đài commune"


def test_expiry_is_judged_on_the_given_day() -> None:
    cert = parse_catalog(with_product()).products[0].certificate
    assert cert is not None
    day = date.fromisoformat(cert.valid_until)
    assert not cert.expired(day)
    assert cert.expired(date.fromordinal(day.toordinal() + 1))


GOOD = {
    "decision": "3598/QĐ-UBND",
    "issued_by": "UBND tỉnh Hà Tĩnh",
    "issued_on": "2024-11-15",
    "valid_until": "2027-11-15",
}


@pytest.mark.parametrize(
    ("certificate", "origins", "message"),
    [
        ("3598", None, "products[0].certificate: must be an object"),
        ({**GOOD, "decision": " "}, None, "products[0].certificate.decision: required text"),
        ({**GOOD, "issued_by": 7}, None, "products[0].certificate.issued_by: required text"),
        ({**GOOD, "issued_on": "15/11/2024"}, None, "certificate.issued_on: must be a date"),
        ({k: v for k, v in GOOD.items() if k != "valid_until"}, None, "valid_until: must be"),
        ({**GOOD, "valid_until": "2020-01-01"}, None, "valid_until: must not be before"),
        (GOOD, {"material": "Lúa"}, "products[0].origins: must be a list"),
        (GOOD, ["Lúa"], "products[0].origins[0]: must be an object"),
        (GOOD, [{"material": "Lúa"}], "products[0].origins[0].place: expected text"),
        (GOOD, [{"material": "", "place": "x"}], "products[0].origins[0].material: required"),
    ],
)
def test_bad_entries_name_the_field(certificate: Any, origins: Any, message: str) -> None:
    with pytest.raises(CatalogError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_catalog(with_product(certificate=certificate, origins=origins))
