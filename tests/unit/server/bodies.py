"""Event bodies shaped like the ones edge_agent/batches.py writes."""

from __future__ import annotations

from typing import Any

LOT = "KC-NM-240301-01"


def opened_body(batch: str, lot: str = LOT) -> dict[str, Any]:
    """The body edge_agent.batches.open_batch writes."""
    return {
        "batch": batch,
        "lot": lot,
        "product": {
            "code": "NM",
            "name": "Gạo Ngọc Mầm",
            "name_en": "Ngọc Mầm rice",
            "gtin": "08936123450014",
            "ocop_stars": 4,
            "unit": "kg",
            "shelf_life_days": 365,
        },
        "facility": {
            "code": "KC",
            "name": "Công ty TNHH MTV KC",
            "commune": "xã Thạch Đài",
            "district": "huyện Thạch Hà",
            "province": "Hà Tĩnh",
        },
        "production_date": "2024-03-01",
        "catalog_version": 1,
    }


def step_body(batch: str, code: str = "SAY", value: float = 45.0) -> dict[str, Any]:
    return {
        "batch": batch,
        "step": code,
        "name": "Sấy lúa",
        "name_en": "Drying",
        "values": {"nhiet_do": value},
        "units": {"nhiet_do": "°C"},
        "labels": {"nhiet_do": "Nhiệt độ sấy"},
        "labels_en": {"nhiet_do": "Drying temperature"},
        "note": "",
    }
