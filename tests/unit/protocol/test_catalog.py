"""The facility catalog: the demo file parses; each rule names the bad entry."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trace_protocol.catalog import CatalogError, Text, decode_catalog, parse_catalog

REPO = Path(__file__).resolve().parents[3]
DEMO = json.loads((REPO / "ocop_cli" / "data" / "kc-rice.json").read_text(encoding="utf-8"))


def demo(**extra: Any) -> dict[str, Any]:
    return {
        **copy.deepcopy(DEMO),
        "version": 1,
        "public_base_url": "https://trace.example.vn/",
        **extra,
    }


def test_demo_catalog_parses() -> None:
    cat = parse_catalog(demo())
    assert cat.version == 1
    assert cat.public_base_url == "https://trace.example.vn"
    assert cat.facility.code == "KC"
    assert cat.facility.name == "Công ty TNHH MTV KC"
    assert cat.facility.province == "Hà Tĩnh"
    product = cat.product("NM")
    assert product is not None
    assert cat.product("XX") is None
    assert product.gtin == "08936123450014"
    assert product.ocop_stars == 4
    assert product.shelf_life_days == 365
    assert product.unit == "kg"
    assert product.name == Text(vi="Gạo Ngọc Mầm", en="Ngọc Mầm rice")
    assert [s.code for s in product.steps] == ["NHAP", "SAY", "XAT", "DONG"]
    nhap = product.step("NHAP")
    assert nhap is not None
    assert [(f.key, f.unit, f.min, f.max) for f in nhap.fields] == [
        ("do_am", "%", 8.0, 30.0),
        ("khoi_luong", "kg", 0.0, None),
    ]
    xat = product.step("XAT")
    assert xat is not None
    assert xat.fields == ()
    assert product.step("NOPE") is None


def test_text_get_falls_back_to_vietnamese() -> None:
    assert Text("Sấy lúa", "Drying").get("en") == "Drying"
    assert Text("Sấy lúa", "Drying").get("vi") == "Sấy lúa"
    assert Text("Sấy lúa").get("en") == "Sấy lúa"


def test_encode_decode_round_trip() -> None:
    cat = parse_catalog(demo())
    payload = cat.encode()
    assert "Gạo Ngọc Mầm".encode() in payload
    assert decode_catalog(payload) == cat


def test_plain_string_names_are_vietnamese_text() -> None:
    obj = demo()
    obj["products"][0]["name"] = "Gạo"
    cat = parse_catalog(obj)
    assert cat.products[0].name == Text(vi="Gạo", en="")


Mutation = Callable[[dict[str, Any]], None]


def product(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["products"][0]  # type: ignore[no-any-return]


BAD: dict[str, tuple[Mutation, str]] = {
    "bad gtin check digit": (lambda o: product(o).update(gtin="8936123450015"), "gtin"),
    "duplicate step codes": (
        lambda o: product(o)["steps"].append(copy.deepcopy(product(o)["steps"][0])),
        "unique",
    ),
    "stars 6": (lambda o: product(o).update(ocop_stars=6), "ocop_stars"),
    "stars -1": (lambda o: product(o).update(ocop_stars=-1), "ocop_stars"),
    "missing steps": (lambda o: product(o).pop("steps"), "steps"),
    "empty steps": (lambda o: product(o).update(steps=[]), "steps"),
    "steps not list": (lambda o: product(o).update(steps={}), "steps"),
    "negative shelf life": (lambda o: product(o).update(shelf_life_days=-1), "shelf_life_days"),
    "product code too long": (lambda o: product(o).update(code="NMNMN"), "code"),
    "product code with space": (lambda o: product(o).update(code="N M"), "code"),
    "duplicate products": (lambda o: o["products"].append(copy.deepcopy(product(o))), "unique"),
    "no products": (lambda o: o.update(products=[]), "products"),
    "missing version": (lambda o: o.pop("version"), "version"),
    "version 0": (lambda o: o.update(version=0), "version"),
    "protocol v2": (lambda o: o.update(v=2), "version"),
    "ftp base url": (lambda o: o.update(public_base_url="ftp://x"), "public_base_url"),
    "missing base url": (lambda o: o.pop("public_base_url"), "public_base_url"),
    "facility missing": (lambda o: o.pop("facility"), "facility"),
    "facility without name": (lambda o: o["facility"].pop("name"), "facility.name"),
    "facility code too long": (lambda o: o["facility"].update(code="ABCDEF"), "facility.code"),
    "field min not a number": (
        lambda o: product(o)["steps"][0]["fields"][0].update(min="8"),
        "min",
    ),
    "field key missing": (lambda o: product(o)["steps"][0]["fields"][0].pop("key"), "key"),
    "step name empty": (lambda o: product(o)["steps"][1].update(name={"vi": ""}), "name"),
}


@pytest.mark.parametrize(("mutation", "where"), list(BAD.values()), ids=list(BAD))
def test_invalid_catalogs(mutation: Mutation, where: str) -> None:
    obj = demo()
    mutation(obj)
    with pytest.raises(CatalogError, match=where):
        parse_catalog(obj)


@pytest.mark.parametrize("payload", [b"{", b"\xff", b"[]"])
def test_decode_catalog_rejects_non_catalogs(payload: bytes) -> None:
    with pytest.raises(CatalogError):
        decode_catalog(payload)
