"""EPCIS 2.0 events of one step back and one step forward (issue 15, docs/epcis.md).

Pure builders: a receipt (``input.received``) is a receiving ``ObjectEvent`` with the supplier
in ``sourceList``; a use (``input.added``) a ``TransformationEvent`` from the receiving lot to
the batch's lot; a shipment (``lot.shipped``) a shipping ``ObjectEvent`` with the customer in
``destinationList``; a recall (a ``recalls`` row, an office action) an ``ObjectEvent`` with
disposition ``recalled`` over every lot it covers, and its lifting one with ``active``.
Corrections are built in :mod:`sync_server.epcis.document` from these.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sync_server.epcis.ids import (
    EPC_LIST_LIMIT,
    VN_TIME,
    Ids,
    Source,
    common,
    quantity_element,
    utc_time,
)


def _prefixed(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    return {f"ocop:{k}": str(v) for k, v in pairs if v not in (None, "")}


def received(
    ids: Ids, source: Source, body: Mapping[str, Any], record_time: bool
) -> dict[str, Any]:
    """Receiving: the kit's receiving lot appears (``ADD``) from the supplier, who owned and
    held it, at the facility, which now does; the supplier's own lot code is in ``ilmd``."""
    facility = str(source.facility["code"])
    supplier: Mapping[str, Any] = body["supplier"]
    material: Mapping[str, Any] = body["material"]
    party = ids.supplier(facility, supplier)
    here = ids.facility(facility)
    lot = str(body["lot"])
    ilmd: dict[str, Any] = {"cbvmda:lotNumber": lot}
    if supplier.get("province"):  # catalog suppliers' places are Vietnamese provinces
        ilmd["cbvmda:countryOfOrigin"] = "VN"
    ilmd.update(
        _prefixed(
            [
                ("supplierLot", body.get("supplier_lot")),
                ("receivedOn", body.get("received_on")),
                ("materialCode", material.get("code")),
                ("materialName", material.get("name")),
                ("materialNameEn", material.get("name_en")),
            ]
        )
    )
    scanned = source_class(ids, body.get("source"))
    if scanned:
        ilmd["ocop:supplierEPCClass"] = scanned
    described: dict[str, Any] = _prefixed(
        [
            ("kind", supplier.get("kind")),
            ("commune", supplier.get("commune")),
            ("district", supplier.get("district")),
            ("province", supplier.get("province")),
        ]
    )
    if supplier.get("public_name"):  # a farmer's name only where the catalog says so
        described["ocop:name"] = str(supplier.get("name", ""))
    return {
        **common(ids, source, record_time),
        "action": "ADD",
        "bizStep": "receiving",
        "disposition": "in_progress",
        "quantityList": [
            quantity_element(ids.lot_class(None, lot), body["quantity"], body["unit"])
        ],
        "sourceList": [
            {"type": "owning_party", "source": party},
            {"type": "possessing_party", "source": party},
        ],
        "destinationList": [
            {"type": "owning_party", "destination": here},
            {"type": "possessing_party", "destination": here},
        ],
        "ilmd": ilmd,
        "ocop:receipt": str(body["receipt"]),
        "ocop:unit": str(body["unit"]),
        "ocop:supplier": described,
    }


def source_class(ids: Ids, scanned: object) -> str | None:
    """The class URI of what a receipt was scanned from: a GS1 lot, or a kit label's lot."""
    if not isinstance(scanned, Mapping) or not scanned.get("lot"):
        return None
    gtin = scanned.get("gtin")
    return ids.lot_class(str(gtin) if gtin else None, str(scanned["lot"]))


def added(ids: Ids, source: Source, body: Mapping[str, Any], record_time: bool) -> dict[str, Any]:
    """A use: part of a receiving lot goes into the batch's lot. Every use of one batch has the
    same ``transformationID``, which makes them one transformation (EPCIS 2.0 §7.4.6)."""
    assert source.batch is not None
    batch = source.batch
    event = common(ids, source, record_time)
    event["type"] = "TransformationEvent"
    event.update(
        inputQuantityList=[
            quantity_element(ids.lot_class(None, str(body["lot"])), body["quantity"], body["unit"])
        ],
        outputQuantityList=[{"epcClass": ids.lot_class(batch.get("gtin"), str(batch["lot"]))}],
        transformationID=f"urn:uuid:{batch['batch_id']}",
        disposition="in_progress",
    )
    event["ocop:receipt"] = str(body["receipt"])
    event["ocop:unit"] = str(body["unit"])
    event["ocop:override"] = bool(body.get("override", False))
    return event


def shipped(ids: Ids, source: Source, body: Mapping[str, Any], record_time: bool) -> dict[str, Any]:
    """Shipping: the lot (or its serials) leaves the facility for the customer, in transit."""
    assert source.batch is not None
    batch = source.batch
    facility = str(source.facility["code"])
    gtin: str | None = batch.get("gtin") or None
    lot = str(batch["lot"])
    customer: Mapping[str, Any] = body["customer"]
    party = ids.customer(facility, str(customer["id"]))
    here = ids.facility(facility)
    event: dict[str, Any] = {
        **common(ids, source, record_time),
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
    }
    serials = body.get("serials")
    if isinstance(serials, list) and serials[1] - serials[0] + 1 <= EPC_LIST_LIMIT:
        first, last = int(serials[0]), int(serials[1])
        event["epcList"] = [ids.unit(gtin, lot, str(n)) for n in range(first, last + 1)]
    else:
        event["quantityList"] = [
            quantity_element(ids.lot_class(gtin, lot), body["quantity"], body["unit"])
        ]
    event.update(
        sourceList=[
            {"type": "owning_party", "source": here},
            {"type": "possessing_party", "source": here},
        ],
        destinationList=[
            {"type": "owning_party", "destination": party},
            {"type": "possessing_party", "destination": party},
        ],
    )
    event["ocop:shipment"] = str(body["shipment"])
    event["ocop:shippedOn"] = str(body["shipped_on"])
    event["ocop:quantity"] = body["quantity"]
    event["ocop:unit"] = str(body["unit"])
    if isinstance(serials, list):
        event["ocop:serialFrom"], event["ocop:serialTo"] = str(serials[0]), str(serials[1])
    event["ocop:override"] = bool(body.get("override", False))
    event["ocop:customer"] = _prefixed(
        [("name", customer.get("name")), ("kind", customer.get("kind"))]
    )
    return event


def recall_id(ids: Ids, recall: int, lifted: bool = False) -> str:
    """A stable ``urn:uuid`` for a recall (or its lifting) on this server."""
    name = f"{ids.base}/recalls/{recall}" + ("/lifted" if lifted else "")
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, name)}"


def recall_events(
    ids: Ids,
    recall: Mapping[str, Any],
    classes: Sequence[str],
    *,
    record_time: bool,
) -> list[dict[str, Any]]:
    """The recall of ``classes`` (every lot it covers), and its lifting when it was lifted.

    The office is not a place of the supply chain, so neither event has a ``readPoint``.
    """
    out: list[dict[str, Any]] = []
    moments = [(False, float(recall["created_at"]))]
    if recall.get("lifted_at") is not None:
        moments.append((True, float(recall["lifted_at"])))
    for lifted, moment in moments:
        at = datetime.fromtimestamp(moment, VN_TIME).isoformat(timespec="milliseconds")
        event: dict[str, Any] = {
            "type": "ObjectEvent",
            "eventID": recall_id(ids, int(recall["id"]), lifted),
            "eventTime": at,
        }
        if record_time:
            event["recordTime"] = utc_time(moment)
        event.update(
            eventTimeZoneOffset="+07:00",
            action="OBSERVE",
            disposition="active" if lifted else "recalled",
        )
        if classes:
            event["quantityList"] = [{"epcClass": c} for c in classes]
        else:
            event["epcList"] = []  # a recall of a lot this server has never seen
        event["ocop:recalledLot"] = str(recall["lot"])
        if recall.get("supplier_id"):
            event["ocop:supplierId"] = str(recall["supplier_id"])
        if lifted:
            event["ocop:liftsRecall"] = recall_id(ids, int(recall["id"]))
            event["ocop:reason"] = str(recall.get("lift_reason") or "")
        else:
            event["ocop:reason"] = str(recall["reason"])
        out.append(event)
    return out
