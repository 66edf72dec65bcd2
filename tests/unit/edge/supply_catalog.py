"""The KC catalog with issue 15's supply part: suppliers, customers, a product's raw materials."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.edge.conftest import CATALOG
from trace_protocol.catalog import Catalog, parse_catalog

SUPPLIERS = [
    {
        "id": "THT",
        "name": "Tổ hợp tác lúa Thống Nhất",
        "kind": "group",
        "commune": "Xã Quảng Thọ",
        "province": "Quảng Bình",
        "certification": {"scheme": "VietGAP", "code": "VG-123", "valid_until": "2026-12-31"},
    },
    {"id": "ND1", "name": "Nguyễn Văn A", "kind": "farmer", "commune": "Xã Quảng Phú"},
]
CUSTOMERS = [
    {"id": "OCOP1", "name": "Điểm bán OCOP Đồng Hới", "kind": "shop", "phone": "0232 123 456"},
    {"id": "NPP", "name": "Nhà phân phối Miền Trung", "kind": "distributor"},
]
MATERIALS = [{"code": "LUA", "name": {"vi": "Lúa Ngọc Mầm", "en": "Ngoc Mam paddy"}, "unit": "kg"}]


def supply_catalog_obj(version: int = 1, recalled: list[str] | None = None) -> dict[str, Any]:
    obj = json.loads(CATALOG.read_text(encoding="utf-8"))
    obj["products"][0]["materials"] = MATERIALS
    return {
        **obj,
        "version": version,
        "public_base_url": "https://trace.example.vn",
        "suppliers": SUPPLIERS,
        "customers": CUSTOMERS,
        "recalled_lots": recalled or [],
    }


def supply_catalog(version: int = 1, recalled: list[str] | None = None) -> Catalog:
    return parse_catalog(supply_catalog_obj(version, recalled))
