"""A small supply chain written straight into the server's tables, for the recall tests: a
supplier's lot received at KC, a KC batch made from it and shipped, that batch's lot received
at CN (scanned from its label), a CN batch made from it and shipped, and an unrelated KC batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Connection, insert

from sync_server.store.db import batches
from sync_server.store.supply_tables import input_uses, receipts, shipments

SUPPLIER = "THT-TD"
SUPPLIER_LOT = "TD-03"
KC_RECEIPT = "KC-NL-240301A01"
KC_BATCH = "KC-NM-240302A01"
CN_RECEIPT = "CN-NL-240305A01"
CN_BATCH = "CN-MO-240306A01"
OTHER_BATCH = "KC-NM-240302A02"
SHOP = {
    "id": "OCOP-HT",
    "name": "Cửa hàng OCOP Hà Tĩnh",
    "phone": "0912345678",
    "address": "Hà Tĩnh",
}
MARKET = {"id": "CHO-HS", "name": "Chợ Hương Sơn", "phone": "0987654321", "address": "Hương Sơn"}

_seq = [0]


def _next_seq() -> int:
    _seq[0] += 1
    return _seq[0]


@dataclass
class Chain:
    receipt_ids: dict[str, str]
    batch_ids: dict[str, str]


def add_batch(conn: Connection, lot: str, facility: str, dev: str) -> str:
    batch_id = str(uuid.uuid4())
    conn.execute(
        insert(batches).values(
            dev_id=dev,
            batch_id=batch_id,
            lot=lot,
            public_lot=lot,
            facility_code=facility,
            product_code=lot.split("-")[1],
            product={"code": lot.split("-")[1], "name": "Sản phẩm " + lot},
            facility={"code": facility, "name": facility},
            production_date="2024-03-02",
            opened_at="2024-03-02T08:00:00+07:00",
            status="closed",
            quantity=100.0,
            unit="kg",
            received_at=1.0,
        )
    )
    return batch_id


def add_receipt(
    conn: Connection,
    lot: str,
    facility: str,
    dev: str,
    supplier_lot: str,
    source_lot: str | None = None,
) -> str:
    receipt_id = str(uuid.uuid4())
    conn.execute(
        insert(receipts).values(
            receipt_id=receipt_id,
            dev_id=dev,
            seq=_next_seq(),
            facility_code=facility,
            lot=lot,
            supplier_id=SUPPLIER if source_lot is None else "KC",
            supplier={"id": SUPPLIER, "name": "Tổ hợp tác Thạch Đài", "kind": "group"},
            material_code="LUA",
            material={"code": "LUA", "name": "Lúa", "unit": "kg"},
            supplier_lot=supplier_lot,
            source_lot=source_lot,
            quantity=500.0,
            unit="kg",
            received_on="2024-03-01",
            at="2024-03-01T08:00:00+07:00",
            received_at=1.0,
        )
    )
    return receipt_id


def add_use(conn: Connection, dev: str, batch_id: str, receipt_id: str, lot: str) -> None:
    conn.execute(
        insert(input_uses).values(
            dev_id=dev,
            seq=_next_seq(),
            batch_id=batch_id,
            receipt_id=receipt_id,
            receipt_lot=lot,
            quantity=50.0,
            unit="kg",
            override=False,
            at="2024-03-02T09:00:00+07:00",
        )
    )


def add_shipment(
    conn: Connection, dev: str, facility: str, batch_id: str, lot: str, customer: dict[str, str]
) -> None:
    conn.execute(
        insert(shipments).values(
            shipment_id=str(uuid.uuid4()),
            dev_id=dev,
            seq=_next_seq(),
            facility_code=facility,
            batch_id=batch_id,
            lot=lot,
            customer_id=customer["id"],
            customer=customer,
            quantity=40.0,
            unit="kg",
            shipped_on="2024-03-05",
            note="",
            override=False,
            at="2024-03-05T08:00:00+07:00",
        )
    )


def build_chain(conn: Connection) -> Chain:
    kc_receipt = add_receipt(conn, KC_RECEIPT, "KC", "kc-test-1", SUPPLIER_LOT)
    kc_batch = add_batch(conn, KC_BATCH, "KC", "kc-test-1")
    add_use(conn, "kc-test-1", kc_batch, kc_receipt, KC_RECEIPT)
    add_shipment(conn, "kc-test-1", "KC", kc_batch, KC_BATCH, SHOP)
    cn_receipt = add_receipt(conn, CN_RECEIPT, "CN", "cn-test-1", KC_BATCH, source_lot=KC_BATCH)
    cn_batch = add_batch(conn, CN_BATCH, "CN", "cn-test-1")
    add_use(conn, "cn-test-1", cn_batch, cn_receipt, CN_RECEIPT)
    add_shipment(conn, "cn-test-1", "CN", cn_batch, CN_BATCH, MARKET)
    other = add_batch(conn, OTHER_BATCH, "KC", "kc-test-1")
    return Chain(
        receipt_ids={KC_RECEIPT: kc_receipt, CN_RECEIPT: cn_receipt},
        batch_ids={KC_BATCH: kc_batch, CN_BATCH: cn_batch, OTHER_BATCH: other},
    )
