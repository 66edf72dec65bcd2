"""Rows for trace tests, inserted straight into the server's tables (no events needed), and the
graph the trace tests share: two facilities receiving one supplier lot, a third receiving the
first one's labelled output lot as its input, a voided batch, and shipments to customers."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from itertools import count
from typing import Any

from sqlalchemy import Connection, insert

from sync_server.store.db import batches, input_uses, receipts, shipments

_seq = count(1)


def add_batch(
    conn: Connection,
    lot: str,
    *,
    facility: str = "KC",
    dev: str = "kc-1",
    product: tuple[str, str, str] = ("NM", "Gạo Ngọc Mầm", "Ngọc Mầm rice"),
    day: str = "2026-11-22",
    voided: bool = False,
) -> str:
    batch_id = str(uuid.uuid4())
    code, vi, en = product
    conn.execute(
        insert(batches).values(
            dev_id=dev,
            batch_id=batch_id,
            lot=lot,
            public_lot=lot,
            gtin=None,
            facility_code=facility,
            product_code=code,
            product={"code": code, "name": {"vi": vi, "en": en}},
            facility={"code": facility, "name": f"Cơ sở {facility}"},
            production_date=day,
            opened_at=f"{day}T08:00:00+07:00",
            status="voided" if voided else "closed",
            quantity=100.0,
            unit="kg",
            voided_at=f"{day}T09:00:00+07:00" if voided else None,
            void_reason="mở nhầm" if voided else None,
            received_at=1.0,
        )
    )
    return batch_id


def add_receipt(
    conn: Connection,
    lot: str,
    supplier_id: str,
    supplier_lot: str,
    *,
    facility: str = "KC",
    dev: str = "kc-1",
    source_lot: str | None = None,
    supplier: dict[str, Any] | None = None,
    material: tuple[str, str] = ("LUA", "Lúa Ngọc Mầm"),
    day: str = "2026-11-20",
) -> str:
    receipt_id = str(uuid.uuid4())
    conn.execute(
        insert(receipts).values(
            receipt_id=receipt_id,
            dev_id=dev,
            seq=next(_seq),
            facility_code=facility,
            lot=lot,
            supplier_id=supplier_id,
            supplier=supplier
            or {"id": supplier_id, "name": f"Tổ hợp tác {supplier_id}", "kind": "group"},
            material_code=material[0],
            material={"code": material[0], "name": material[1], "name_en": "Paddy", "unit": "kg"},
            supplier_lot=supplier_lot,
            source_lot=source_lot,
            quantity=500.0,
            unit="kg",
            received_on=day,
            at=f"{day}T07:00:00+07:00",
            received_at=1.0,
        )
    )
    return receipt_id


def use(conn: Connection, dev: str, batch_id: str, receipt_id: str, receipt_lot: str) -> None:
    conn.execute(
        insert(input_uses).values(
            dev_id=dev,
            seq=next(_seq),
            batch_id=batch_id,
            receipt_id=receipt_id,
            receipt_lot=receipt_lot,
            quantity=50.0,
            unit="kg",
            override=False,
            at="2026-11-22T08:30:00+07:00",
        )
    )


def ship(
    conn: Connection,
    dev: str,
    batch_id: str,
    lot: str,
    customer: str,
    *,
    facility: str = "KC",
    day: str = "2026-11-25",
) -> None:
    conn.execute(
        insert(shipments).values(
            shipment_id=str(uuid.uuid4()),
            dev_id=dev,
            seq=next(_seq),
            facility_code=facility,
            batch_id=batch_id,
            lot=lot,
            customer_id=customer,
            customer={
                "id": customer,
                "name": f"Cửa hàng OCOP {customer}",
                "kind": "shop",
                "phone": "0912 345 678",
                "address": "Hà Tĩnh",
            },
            quantity=20.0,
            unit="kg",
            shipped_on=day,
            note="",
            override=False,
            at=f"{day}T10:00:00+07:00",
        )
    )


# The shared graph's lots.
SUPPLIER_LOT = "VG-2611"
KC_IN = "KC-NL-261120A01"
HTX_IN = "HTX-NL-261121A01"
BK_IN = "BK-NL-261125A01"
KC_OUT = "KC-NM-261122A01"
KC_VOID = "KC-NM-261122A02"
HTX_OUT = "HTX-BG-261123A01"
BK_OUT = "BK-BG-261126A01"
OTHER_IN = "KC-NL-261120A02"  # the same supplier lot code from another supplier (S07)


@dataclass(frozen=True)
class Chain:
    kc_batch: str
    bk_batch: str
    void_batch: str


def seed_chain(conn: Connection) -> Chain:
    """S01's lot VG-2611 → KC (KC_IN → KC_OUT, and the voided KC_VOID) and → HTX (HTX_IN →
    HTX_OUT); KC_OUT shipped to C01 and C02 and received by BK from its label (BK_IN → BK_OUT,
    shipped to C09); S07 also has a lot coded VG-2611, received by KC as OTHER_IN."""
    kc_in = add_receipt(conn, KC_IN, "S01", SUPPLIER_LOT)
    htx_in = add_receipt(
        conn, HTX_IN, "S01", SUPPLIER_LOT, facility="HTX", dev="htx-1", day="2026-11-21"
    )
    add_receipt(conn, OTHER_IN, "S07", SUPPLIER_LOT)
    kc = add_batch(conn, KC_OUT)
    use(conn, "kc-1", kc, kc_in, KC_IN)
    void = add_batch(conn, KC_VOID, voided=True)
    use(conn, "kc-1", void, kc_in, KC_IN)
    htx = add_batch(
        conn,
        HTX_OUT,
        facility="HTX",
        dev="htx-1",
        product=("BG", "Bánh gạo", "Rice cake"),
        day="2026-11-23",
    )
    use(conn, "htx-1", htx, htx_in, HTX_IN)
    ship(conn, "kc-1", kc, KC_OUT, "C01")
    ship(conn, "kc-1", kc, KC_OUT, "C02", day="2026-11-26")
    ship(conn, "htx-1", htx, HTX_OUT, "C05", facility="HTX")
    kc_as_supplier = {"id": "KC", "name": "Công ty KC", "kind": "facility", "facility": "KC"}
    bk_in = add_receipt(
        conn,
        BK_IN,
        "KC",
        KC_OUT,
        facility="BK",
        dev="bk-1",
        source_lot=KC_OUT,
        supplier=kc_as_supplier,
        material=("GAO", "Gạo Ngọc Mầm"),
        day="2026-11-25",
    )
    bk = add_batch(
        conn,
        BK_OUT,
        facility="BK",
        dev="bk-1",
        product=("BG", "Bánh gạo Ngọc Mầm", "Ngọc Mầm rice cake"),
        day="2026-11-26",
    )
    use(conn, "bk-1", bk, bk_in, BK_IN)
    ship(conn, "bk-1", bk, BK_OUT, "C09", facility="BK", day="2026-11-27")
    return Chain(kc_batch=kc, bk_batch=bk, void_batch=void)
