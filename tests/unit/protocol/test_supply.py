"""Issue 15's contract: suppliers, customers and materials in the catalog, receiving lot codes,
and the bodies of receipt, use, shipment, correction and void events."""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.protocol.test_catalog import demo
from trace_protocol.catalog import CatalogError, decode_catalog, parse_catalog
from trace_protocol.links import build_receipt_lot, is_receipt_lot, parse_lot
from trace_protocol.supply_events import (
    BATCH_VOIDED,
    INPUT_ADDED,
    INPUT_RECEIVED,
    LOT_SHIPPED,
    RECORD_CORRECTED,
    body_problem,
)

SUPPLIERS = [
    {
        "id": "ND-LAN",
        "name": "Tổ hợp tác lúa Ngọc Mầm xã Kỳ Châu",
        "kind": "group",
        "commune": "Kỳ Châu",
        "district": "Kỳ Anh",
        "province": "Hà Tĩnh",
        "certification": {"scheme": "VietGAP", "code": "VG-2026-0123", "valid_until": "2027-06-30"},
    },
    {"id": "HO-BINH", "name": "Nguyễn Văn Bình", "kind": "farmer", "commune": "Kỳ Tân"},
]
CUSTOMERS = [{"id": "OCOP-HT", "name": "Điểm bán OCOP Hà Tĩnh", "kind": "shop", "phone": "0239"}]


def supply_catalog() -> dict[str, Any]:
    cat = demo(suppliers=copy.deepcopy(SUPPLIERS), customers=copy.deepcopy(CUSTOMERS))
    cat["products"][0]["materials"] = [{"code": "THOC", "name": "Thóc Ngọc Mầm", "unit": "kg"}]
    cat["products"][0]["standards"] = ["TCVN 11888:2017", "VietGAP"]
    cat["products"][0]["expected_yield"] = {"min": 0.55, "max": 0.7}
    return cat


def test_a_catalog_carries_suppliers_customers_and_materials() -> None:
    cat = parse_catalog(supply_catalog())
    group = cat.supplier("ND-LAN")
    assert group is not None and group.public_name  # a group's name is public by default
    assert group.certification is not None
    assert group.certification.valid_on(date(2027, 6, 30))
    assert not group.certification.valid_on(date(2027, 7, 1))
    farmer = cat.supplier("HO-BINH")
    assert farmer is not None and not farmer.public_name  # a farmer's name is private unless said
    assert cat.customer("OCOP-HT") is not None
    rice = cat.products[0]
    material = rice.material("THOC")
    assert material is not None and material.unit == "kg"
    assert rice.standards == ("TCVN 11888:2017", "VietGAP")
    assert rice.expected_yield is not None and rice.expected_yield.max == 0.7
    assert decode_catalog(cat.encode()) == cat


def test_catalogs_without_the_new_lists_encode_as_before() -> None:
    # The demo catalog has them since part F: take them out to get an older catalog.
    old = {k: v for k, v in demo().items() if k not in ("suppliers", "customers")}
    old["products"] = [
        {k: v for k, v in p.items() if k not in ("materials", "standards", "expected_yield")}
        for p in old["products"]
    ]
    encoded = parse_catalog(old).to_dict()
    assert "suppliers" not in encoded and "customers" not in encoded
    assert "materials" not in encoded["products"][0]


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda c: c["suppliers"][0].update(kind="alien"), "suppliers[0].kind"),
        (lambda c: c["suppliers"].append(dict(SUPPLIERS[0])), "suppliers: ids must be unique"),
        (lambda c: c["suppliers"][1].update(kind="facility"), "suppliers[1].facility"),
        (lambda c: c["suppliers"][1].update(public_name="yes"), "suppliers[1].public_name"),
        (lambda c: c["customers"][0].update(id="a b"), "customers[0].id"),
        (lambda c: c["products"][0].update(code="NL"), "kept for receiving lots"),
        (lambda c: c["products"][0].update(expected_yield={"min": 2, "max": 1}), "max"),
        (lambda c: c["products"][0].update(photo="not-a-sha"), "photo"),
        (lambda c: c["products"][0]["materials"][0].update(unit="bags"), "materials[0].unit"),
        (lambda c: c.update(recalled_lots="KC-NM-261204A01"), "recalled_lots"),
    ],
)
def test_bad_supply_entries_are_named(change: Any, where: str) -> None:
    cat = supply_catalog()
    change(cat)
    with pytest.raises(CatalogError, match=where.replace("[", r"\[").replace("]", r"\]")):
        parse_catalog(cat)


@given(
    prefix=st.from_regex(r"[A-Z0-9]{1,5}", fullmatch=True),
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    counter=st.integers(1, 99),
    index=st.none() | st.integers(1, 24),
)
def test_receiving_lots_parse_back_and_are_told_apart(
    prefix: str, day: date, counter: int, index: int | None
) -> None:
    lot = build_receipt_lot(prefix, day, counter, index)
    parsed = parse_lot(lot)
    assert parsed is not None and parsed.prefix == prefix and parsed.day == day
    assert is_receipt_lot(lot)
    assert len(lot) <= 20


def test_an_output_lot_is_not_a_receipt() -> None:
    assert not is_receipt_lot("KC-NM-261204A01")
    assert not is_receipt_lot("not a lot")


def _uuid() -> str:
    return str(uuid.uuid4())


RECEIVED = {
    "receipt": _uuid(),
    "lot": "KC-NL-261205A01",
    "supplier": {"id": "ND-LAN", "name": "Tổ hợp tác", "kind": "group"},
    "material": {"code": "THOC", "name": "Thóc", "unit": "kg"},
    "supplier_lot": "VG-0123",
    "quantity": 1500,
    "unit": "kg",
    "received_on": "2026-12-05",
}
ADDED = {
    "batch": _uuid(),
    "receipt": _uuid(),
    "lot": "KC-NL-261205A01",
    "quantity": 900.5,
    "unit": "kg",
    "override": False,
}
SHIPPED = {
    "shipment": _uuid(),
    "batch": _uuid(),
    "lot": "KC-NM-261205A01",
    "customer": {"id": "OCOP-HT", "name": "Điểm bán OCOP"},
    "quantity": 20,
    "unit": "kg",
    "shipped_on": "2026-12-06",
    "serials": [1, 20],
    "note": "",
}
CORRECTED = {
    "corrects": {"seq": 7, "id": _uuid(), "type": INPUT_RECEIVED},
    "changes": {"quantity": 1450},
    "reason": "cân lại",
}
VOIDED = {"batch": _uuid(), "reason": "mở nhầm"}
GOOD = {
    INPUT_RECEIVED: RECEIVED,
    INPUT_ADDED: ADDED,
    LOT_SHIPPED: SHIPPED,
    RECORD_CORRECTED: CORRECTED,
    BATCH_VOIDED: VOIDED,
}


@pytest.mark.parametrize("event_type", sorted(GOOD))
def test_good_bodies_pass(event_type: str) -> None:
    assert body_problem(event_type, GOOD[event_type]) is None


@pytest.mark.parametrize(
    ("event_type", "change", "says"),
    [
        (INPUT_RECEIVED, {"quantity": 0}, "quantity"),
        (INPUT_RECEIVED, {"quantity": True}, "quantity"),
        (INPUT_RECEIVED, {"received_on": "05/12/2026"}, "received_on"),
        (INPUT_RECEIVED, {"receipt": "r1"}, "receipt"),
        (INPUT_RECEIVED, {"supplier": {"id": "x"}}, "supplier"),
        (INPUT_RECEIVED, {"supplier_lot": "x" * 41}, "supplier_lot"),
        (INPUT_RECEIVED, {"photo": "abc"}, "photo"),
        (INPUT_ADDED, {"quantity": -1}, "quantity"),
        (INPUT_ADDED, {"override": "yes"}, "override"),
        (LOT_SHIPPED, {"serials": [5, 2]}, "serials"),
        (LOT_SHIPPED, {"customer": {"name": "x"}}, "customer"),
        (RECORD_CORRECTED, {"changes": {"lot": "X"}}, "changes"),
        (RECORD_CORRECTED, {"changes": {}}, "changes"),
        (RECORD_CORRECTED, {"reason": " "}, "reason"),
        (
            RECORD_CORRECTED,
            {"corrects": {"seq": 1, "id": _uuid(), "type": "batch.opened"}},
            "corrects",
        ),
        (BATCH_VOIDED, {"reason": ""}, "reason"),
    ],
)
def test_bad_bodies_say_what_is_wrong(event_type: str, change: dict[str, Any], says: str) -> None:
    problem = body_problem(event_type, {**GOOD[event_type], **change})
    assert problem is not None and says in problem and problem.startswith(event_type)


def test_other_types_and_non_objects() -> None:
    assert body_problem("step.recorded", {}) is None  # not a supply event: not judged here
    assert (
        body_problem(INPUT_ADDED, ["not", "an", "object"]) == "input.added body must be an object"
    )
