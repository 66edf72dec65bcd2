"""EPCIS 2.0 JSON-LD of committed events: one batch's document, or query results (docs/epcis.md).

:func:`build_event` turns one ``events`` row of a batch into an EPCIS event; it is the one
builder behind both :func:`build_document` (an ``EPCISDocument`` of one batch, for
``ocop server export-epcis``) and :func:`build_query_document` (an ``EPCISQueryDocument`` for
``GET /epcis/events``). Both are pure. :func:`load_batch` reads a batch's rows; :func:`export_lot`
does both. :func:`validator` checks a document against the official schema vendored in
``schema/``, offline, with ``uri`` and ``date-time`` format checking on (NOTES.md §2.10).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from sqlalchemy import Connection, select

from sync_server.store.db import batches, events
from trace_protocol import envelope as ev
from trace_protocol.digital_link import build_link, percent_encode

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SCHEMA_PATH = Path(__file__).parent / "schema" / "EPCIS-JSON-Schema.json"
GS1_STEM = "https://id.gs1.org"
# A unit labels run up to this many serials lists each serial in epcList; a bigger run is one
# class-level quantity (the serial range stays in ocop:serialFrom / ocop:serialTo).
EPC_LIST_LIMIT = 100

# Our units → (GS1 measurement type, UN/ECE Rec 20 code). Anything else gets a type of our own.
_GS1_MEASURES: dict[str, tuple[str, str]] = {
    "°C": ("Temperature", "CEL"),
    "kg": ("Mass", "KGM"),
    "g": ("Mass", "GRM"),
}
# Units with a Rec 20 code but no GS1 measurement type that fits (moisture % of grain is a mass
# fraction: neither AbsoluteHumidity, g/m³ of air, nor RelativeHumidity, which is about air).
_REC20: dict[str, str] = {"%": "P1", "kg": "KGM", "g": "GRM", "l": "LTR", "ml": "MLT", "°C": "CEL"}
_MDA = "urn:epcglobal:cbv:mda"


class Ids:
    """The URIs of one deployment: GS1 Digital Link where a GTIN exists, else our own."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.voc = f"{self.base}/epcis/voc/"

    def lot_class(self, gtin: str | None, lot: str) -> str:
        """Class level: constrained DL ``/01/{gtin14}/10/{lot}``, or the short label URL."""
        if gtin:
            return build_link(GS1_STEM, gtin, lot)
        return f"{self.base}/l/{percent_encode(lot)}"

    def unit(self, gtin: str | None, lot: str, serial: str) -> str:
        """Instance level: constrained DL ``/01/{gtin14}/21/{serial}`` (no lot: NOTES §2.6)."""
        if gtin:
            return build_link(GS1_STEM, gtin, serial=serial)
        return f"{self.base}/l/{percent_encode(lot)}/{percent_encode(serial)}"

    def facility(self, code: str) -> str:
        return f"{self.base}/facility/{percent_encode(code)}"

    def step(self, code: str) -> str:
        return f"{self.voc}bizStep-{percent_encode(code)}"

    def measurement(self, key: str) -> str:
        return f"{self.voc}measurement-{percent_encode(key)}"


def build_document(
    batch: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    *,
    base_url: str,
    created: datetime,
) -> dict[str, Any]:
    """The EPCISDocument for ``batch`` (a ``batches`` row) from its ``events`` rows."""
    ids = Ids(base_url)
    event_list = [
        event
        for row in sorted(rows, key=lambda r: int(r["seq"]))
        if (event := build_event(ids, batch, row)) is not None
    ]
    return {
        **_envelope(ids, "EPCISDocument", created),
        "epcisHeader": {"epcisMasterData": {"vocabularyList": master_data(ids, batch)}},
        "epcisBody": {"eventList": event_list},
    }


def build_query_document(
    found: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]],
    *,
    base_url: str,
    created: datetime,
) -> dict[str, Any]:
    """The ``EPCISQueryDocument`` (REST binding, ``GET /events``) of ``(batch, event)`` pairs.

    Events keep the given order and gain ``recordTime`` (when this server received them); the
    master data of every batch they belong to goes into ``resultsBody.vocabularyList``, because
    a query document has no ``epcisHeader``.
    """
    ids = Ids(base_url)
    event_list: list[dict[str, Any]] = []
    vocabularies: list[dict[str, Any]] = []
    for batch, row in found:
        event = build_event(ids, batch, row, record_time=True)
        if event is not None:
            event_list.append(event)
            vocabularies = merge_vocabularies(vocabularies, master_data(ids, batch))
    body: dict[str, Any] = {"eventList": event_list}
    if vocabularies:
        body["vocabularyList"] = vocabularies
    return {
        **_envelope(ids, "EPCISQueryDocument", created),
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": body}},
    }


def _envelope(ids: Ids, kind: str, created: datetime) -> dict[str, Any]:
    if created.tzinfo is None:
        raise ValueError("creationDate needs a time zone")
    return {
        "@context": [EPCIS_CONTEXT, {"ocop": ids.voc}],
        "type": kind,
        "schemaVersion": "2.0",
        "creationDate": created.isoformat(timespec="milliseconds"),
    }


def build_event(
    ids: Ids,
    batch: Mapping[str, Any],
    row: Mapping[str, Any],
    *,
    record_time: bool = False,
) -> dict[str, Any] | None:
    """The EPCIS event for one ``events`` row of ``batch``; None for types not exported."""
    gtin: str | None = batch.get("gtin") or None
    lot = str(batch["lot"])
    lot_class = ids.lot_class(gtin, lot)
    location = ids.facility(str(batch["facility"]["code"]))
    body: Mapping[str, Any] = row["body"]
    base = _common(row, location, record_time)
    kind = row["type"]
    if kind == ev.BATCH_OPENED:
        return {
            **base,
            "action": "ADD",
            "bizStep": "commissioning",
            "disposition": "in_progress",
            "quantityList": [{"epcClass": lot_class}],
            "ilmd": {
                "cbvmda:lotNumber": lot,
                f"{_MDA}#countryOfOrigin": "VN",
                "ocop:productionDate": str(body["production_date"]),
                "ocop:catalogVersion": body.get("catalog_version"),
            },
        }
    if kind == ev.STEP_RECORDED:
        event = {
            **base,
            "action": "OBSERVE",
            "bizStep": ids.step(str(body["step"])),
            "disposition": "in_progress",
            "quantityList": [{"epcClass": lot_class}],
            "ocop:stepCode": str(body["step"]),
            "ocop:stepName": str(body.get("name", "")),
            "ocop:stepNameEn": str(body.get("name_en", "")),
        }
        reports = _sensor_reports(ids, body, str(row["at"]))
        if reports:
            event["sensorElementList"] = [{"sensorReport": reports}]
        return event
    if kind == ev.BATCH_CLOSED:
        quantity: dict[str, Any] = {"epcClass": lot_class, "quantity": body["quantity"]}
        uom = _REC20.get(str(body.get("unit", "")))
        if uom:
            quantity["uom"] = uom
        event = {
            **base,
            "action": "OBSERVE",
            "bizStep": ids.step("closed"),
            "disposition": "active",
            "quantityList": [quantity],
            "ocop:unit": str(body.get("unit", "")),
        }
        if body.get("expiry_date"):
            event["ocop:itemExpirationDate"] = str(body["expiry_date"])
        return event
    if kind == ev.LABELS_PRINTED:
        return _labels_event(ids, base, body, gtin, lot, lot_class)
    # snapshot.taken and the other types are not exported (docs/epcis.md).
    return None


def _common(row: Mapping[str, Any], location: str, record_time: bool) -> dict[str, Any]:
    at = str(row["at"])
    common: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{row['id']}",
        "eventTime": at,
    }
    if record_time:
        received = datetime.fromtimestamp(float(row["received_at"]), UTC)
        common["recordTime"] = received.isoformat(timespec="milliseconds")
    return {
        **common,
        "eventTimeZoneOffset": _offset(at),
        "readPoint": {"id": location},
        "bizLocation": {"id": location},
        "ocop:device": str(row["dev_id"]),
        "ocop:seq": int(row["seq"]),
        "ocop:eventHash": str(row["hash"]),
        "ocop:deviceClock": str(row["clock"]),
    }


def _offset(at: str) -> str:
    """``+07:00`` from an ISO 8601 time with an offset (``Z`` is ``+00:00``)."""
    parsed = datetime.fromisoformat(at)
    delta = parsed.utcoffset()
    if delta is None:
        raise ValueError(f"event time {at!r} has no UTC offset")
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _sensor_reports(ids: Ids, body: Mapping[str, Any], at: str) -> list[dict[str, Any]]:
    values: Mapping[str, Any] = body.get("values") or {}
    units: Mapping[str, Any] = body.get("units") or {}
    labels: Mapping[str, Any] = body.get("labels") or {}
    labels_en: Mapping[str, Any] = body.get("labels_en") or {}
    reports = []
    for key, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        unit = str(units.get(key, ""))
        gs1 = _GS1_MEASURES.get(unit)
        report: dict[str, Any] = {"type": gs1[0] if gs1 else ids.measurement(key), "value": value}
        uom = gs1[1] if gs1 else _REC20.get(unit)
        if uom:
            report["uom"] = uom
        report["time"] = at
        report["ocop:field"] = key
        report["ocop:unit"] = unit
        if key in labels:
            report["ocop:label"] = str(labels[key])
        if key in labels_en:
            report["ocop:labelEn"] = str(labels_en[key])
        reports.append(report)
    return reports


def _labels_event(
    ids: Ids,
    base: dict[str, Any],
    body: Mapping[str, Any],
    gtin: str | None,
    lot: str,
    lot_class: str,
) -> dict[str, Any]:
    copies = int(body["copies"])
    event: dict[str, Any] = {**base, "ocop:labelKind": str(body.get("kind", "batch"))}
    event["ocop:labelCopies"] = copies
    if body.get("reprint_of") is not None:
        event["ocop:reprintOf"] = body["reprint_of"]
    first, last = body.get("serial_from"), body.get("serial_to")
    is_unit_run = body.get("kind") == "unit" and isinstance(first, int) and isinstance(last, int)
    if not is_unit_run:
        # Batch labels carry the lot's own URL: writing an identifier to a label is `encoding`.
        event.update(action="OBSERVE", bizStep="encoding", quantityList=[{"epcClass": lot_class}])
        return event
    assert isinstance(first, int) and isinstance(last, int)
    event["ocop:serialFrom"], event["ocop:serialTo"] = str(first), str(last)
    reprint = body.get("reprint_of") is not None
    # A first print commissions the serials; a reprint only writes them onto labels again.
    event.update(
        action="OBSERVE" if reprint else "ADD",
        bizStep="encoding" if reprint else "commissioning",
        disposition="active",
    )
    if last - first + 1 <= EPC_LIST_LIMIT:
        event["epcList"] = [ids.unit(gtin, lot, str(n)) for n in range(first, last + 1)]
    else:
        event["quantityList"] = [{"epcClass": lot_class, "quantity": last - first + 1}]
    if not reprint:
        event["ilmd"] = {"cbvmda:lotNumber": lot}
    return event


def master_data(ids: Ids, batch: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The vocabularies of one batch: its facility (``Location``) and its lot (``EPCClass``)."""
    facility: Mapping[str, Any] = batch["facility"]
    product: Mapping[str, Any] = batch["product"]
    location = ids.facility(str(facility["code"]))
    lot_class = ids.lot_class(batch.get("gtin") or None, str(batch["lot"]))

    def attrs(pairs: list[tuple[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": k, "attribute": v} for k, v in pairs if v not in (None, "")]

    return [
        {
            "type": "urn:epcglobal:epcis:vtype:Location",
            "vocabularyElementList": [
                {
                    "id": location,
                    "attributes": attrs(
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
        },
        {
            "type": "urn:epcglobal:epcis:vtype:EPCClass",
            "vocabularyElementList": [
                {
                    "id": lot_class,
                    "attributes": attrs(
                        [
                            (f"{ids.voc}productCode", product.get("code")),
                            (f"{ids.voc}productName", product.get("name")),
                            (f"{ids.voc}productNameEn", product.get("name_en")),
                            (f"{ids.voc}ocopStars", product.get("ocop_stars")),
                            (f"{ids.voc}unit", product.get("unit")),
                        ]
                    ),
                }
            ],
        },
    ]


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


def load_batch(
    conn: Connection, lot: str, gtin: str | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    """The newest batch with this lot (and GTIN) and its committed events, oldest first."""
    query = select(batches).where(batches.c.lot == lot).order_by(batches.c.opened_at.desc())
    if gtin is not None:
        query = query.where(batches.c.gtin == gtin)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    rows = conn.execute(
        select(events)
        .where(events.c.dev_id == row["dev_id"], events.c.batch_id == row["batch_id"])
        .order_by(events.c.seq)
    ).mappings()
    return dict(row), [dict(r) for r in rows]


def export_lot(
    conn: Connection, lot: str, gtin: str | None, *, base_url: str, created: datetime
) -> dict[str, Any] | None:
    found = load_batch(conn, lot, gtin)
    if found is None:
        return None
    return build_document(found[0], found[1], base_url=base_url, created=created)


@cache
def validator() -> Draft7Validator:
    """The official schema with format checking; refuses to run without a ``uri`` checker."""
    checker = FormatChecker()
    if "uri" not in checker.checkers or "date-time" not in checker.checkers:
        raise RuntimeError("install rfc3987 and rfc3339-validator: uri/date-time checks are off")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft7Validator(schema, format_checker=checker)


def validation_errors(document: Mapping[str, Any]) -> list[str]:
    """Every schema violation, as ``path: message``; empty when the document is valid."""
    return [
        f"{'/'.join(str(p) for p in err.absolute_path) or '(root)'}: {err.message}"
        for err in validator().iter_errors(document)
    ]
