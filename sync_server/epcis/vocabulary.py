"""The master data of our EPCIS documents: facilities (``Location``), lots and receiving lots
(``EPCClass``), merged without duplicates (docs/epcis.md, "Document").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sync_server.epcis.ids import Ids

_MDA = "urn:epcglobal:cbv:mda"


def _attributes(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": k, "attribute": v} for k, v in pairs if v not in (None, "")]


def master_data(
    ids: Ids, facility: Mapping[str, Any], batch: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The vocabularies of a facility (``Location``) and of a batch's lot (``EPCClass``)."""
    location = ids.facility(str(facility["code"]))
    out = [
        {
            "type": "urn:epcglobal:epcis:vtype:Location",
            "vocabularyElementList": [
                {
                    "id": location,
                    "attributes": _attributes(
                        [
                            (f"{_MDA}#name", facility.get("name")),
                            (f"{_MDA}#state", facility.get("province")),
                            (f"{_MDA}#countryCode", "VN"),
                            (f"{ids.voc}facilityCode", facility.get("code")),
                            (f"{ids.voc}commune", facility.get("commune")),
                            (f"{ids.voc}district", facility.get("district")),
                        ]
                    ),
                }
            ],
        }
    ]
    if batch is None:
        return out
    product: Mapping[str, Any] = batch["product"]
    lot_class = ids.lot_class(batch.get("gtin") or None, str(batch["lot"]))
    attributes = [
        (f"{ids.voc}productCode", product.get("code")),
        (f"{ids.voc}productName", product.get("name")),
        (f"{ids.voc}productNameEn", product.get("name_en")),
        (f"{ids.voc}ocopStars", product.get("ocop_stars")),
        (f"{ids.voc}unit", product.get("unit")),
    ]
    element = {"id": lot_class, "attributes": _attributes(attributes)}
    out.append({"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": [element]})
    return out


def receipt_class(ids: Ids, body: Mapping[str, Any]) -> dict[str, Any]:
    """The ``EPCClass`` of a receiving lot: the raw material it is."""
    material: Mapping[str, Any] = body["material"]
    attributes = [
        (f"{ids.voc}materialCode", material.get("code")),
        (f"{ids.voc}materialName", material.get("name")),
        (f"{ids.voc}materialNameEn", material.get("name_en")),
        (f"{ids.voc}unit", material.get("unit")),
    ]
    element = {"id": ids.lot_class(None, str(body["lot"])), "attributes": _attributes(attributes)}
    return {"type": "urn:epcglobal:epcis:vtype:EPCClass", "vocabularyElementList": [element]}


def merge_vocabularies(
    into: list[dict[str, Any]], more: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """``into`` plus the elements of ``more`` it lacks, one vocabulary per type, ids unique."""
    out = [{**v, "vocabularyElementList": list(v["vocabularyElementList"])} for v in into]
    for vocabulary in more:
        same = next((v for v in out if v["type"] == vocabulary["type"]), None)
        if same is None:
            same = {"type": vocabulary["type"], "vocabularyElementList": []}
            out.append(same)
        known = {e["id"] for e in same["vocabularyElementList"]}
        same["vocabularyElementList"] += [
            e for e in vocabulary["vocabularyElementList"] if e["id"] not in known
        ]
    return out
