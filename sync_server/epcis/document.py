"""EPCIS 2.0 JSON-LD of committed events: one batch's document, or query results (docs/epcis.md).

:func:`build_events` turns one committed device event (a :class:`Source`) into its EPCIS
events; it is the one builder behind both :func:`build_document` (an ``EPCISDocument`` of one
batch with its receipts, corrections, void and recalls, for ``ocop server export-epcis``) and
:func:`build_query_document` (an ``EPCISQueryDocument`` for ``GET /epcis/events``). Both are
pure; the supply events' builders are in :mod:`sync_server.epcis.supply`. :func:`export_lot`
reads (:mod:`sync_server.epcis.loading`) and builds. :func:`validator` checks a document
against the official schema vendored in ``schema/``, offline, with ``uri`` and ``date-time``
format checking on (NOTES.md §2.10).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator, FormatChecker
from sqlalchemy import Connection

from sync_server.epcis import supply
from sync_server.epcis.ids import (
    EPC_LIST_LIMIT,
    EPCIS_CONTEXT,
    Ids,
    Picked,
    Recall,
    Source,
    common,
    quantity_element,
    uom,
    utc_time,
)
from sync_server.epcis.loading import load_batch_sources
from sync_server.epcis.vocabulary import master_data, merge_vocabularies, receipt_class
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se

__all__ = ["EPCIS_CONTEXT", "EPC_LIST_LIMIT", "Ids", "Picked", "Recall", "Source"]

SCHEMA_PATH = Path(__file__).parent / "schema" / "EPCIS-JSON-Schema.json"

# Our units → GS1 measurement type (the uom is the Rec 20 code). Anything else gets a type of
# our own (moisture % of grain is a mass fraction: neither AbsoluteHumidity, g/m³ of air, nor
# RelativeHumidity, which is about air).
_GS1_MEASURES: dict[str, str] = {"°C": "Temperature", "kg": "Mass", "g": "Mass"}
# The device event types that become EPCIS events; the rest are not exported.
BATCH_TYPES = (ev.BATCH_OPENED, ev.STEP_RECORDED, ev.BATCH_CLOSED, ev.LABELS_PRINTED)
SUPPLY_TYPES = (
    se.INPUT_RECEIVED,
    se.INPUT_ADDED,
    se.LOT_SHIPPED,
    se.RECORD_CORRECTED,
    se.BATCH_VOIDED,
)
EXPORTED_TYPES = (*BATCH_TYPES, *SUPPLY_TYPES)


def build_document(
    batch: Mapping[str, Any],
    found: Sequence[Source | Recall],
    *,
    base_url: str,
    created: datetime,
) -> dict[str, Any]:
    """The EPCISDocument of ``batch`` (a ``batches`` row) from what :func:`export_lot` found."""
    ids = Ids(base_url)
    event_list, vocabularies = _events_and_vocabularies(ids, found, record_time=False)
    vocabularies = merge_vocabularies(master_data(ids, batch["facility"], batch), vocabularies)
    return {
        **_envelope(ids, "EPCISDocument", created),
        "epcisHeader": {"epcisMasterData": {"vocabularyList": vocabularies}},
        "epcisBody": {"eventList": event_list},
    }


def build_query_document(
    found: Sequence[Source | Recall | Picked],
    *,
    base_url: str,
    created: datetime,
) -> dict[str, Any]:
    """The ``EPCISQueryDocument`` (REST binding, ``GET /events``) of device events and recalls.

    Events keep the given order and gain ``recordTime`` (when this server received them); the
    master data of their facilities and lots goes into ``resultsBody.vocabularyList``, because
    a query document has no ``epcisHeader``.
    """
    ids = Ids(base_url)
    event_list, vocabularies = _events_and_vocabularies(ids, found, record_time=True)
    body: dict[str, Any] = {"eventList": event_list}
    if vocabularies:
        body["vocabularyList"] = vocabularies
    return {
        **_envelope(ids, "EPCISQueryDocument", created),
        "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery", "resultsBody": body}},
    }


def _events_and_vocabularies(
    ids: Ids, found: Sequence[Source | Recall | Picked], *, record_time: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    event_list: list[dict[str, Any]] = []
    vocabularies: list[dict[str, Any]] = []
    for picked in found:
        item = picked.item if isinstance(picked, Picked) else picked
        built = build_events(ids, item, record_time=record_time)
        if isinstance(picked, Picked):
            built = [e for i, e in enumerate(built) if i in picked.keep]
        if not built:
            continue
        event_list += built
        if isinstance(item, Source):
            about = item.target or item
            more = master_data(ids, about.facility, about.batch)
            if about.row["type"] == se.INPUT_RECEIVED:
                more.append(receipt_class(ids, about.row["body"]))
            vocabularies = merge_vocabularies(vocabularies, more)
    return event_list, vocabularies


def _envelope(ids: Ids, kind: str, created: datetime) -> dict[str, Any]:
    if created.tzinfo is None:
        raise ValueError("creationDate needs a time zone")
    return {
        "@context": [EPCIS_CONTEXT, {"ocop": ids.voc}],
        "type": kind,
        "schemaVersion": "2.0",
        "creationDate": created.isoformat(timespec="milliseconds"),
    }


def build_events(
    ids: Ids, item: Source | Recall, *, record_time: bool = False
) -> list[dict[str, Any]]:
    """The EPCIS events of one device event or recall: none for types not exported, two for a
    correction (the error declaration of the corrected version and the new version), one error
    declaration per withdrawn event for a void."""
    if isinstance(item, Recall):
        classes = list(dict.fromkeys(ids.lot_class(gtin, lot) for lot, gtin, _ in item.lots))
        both = supply.recall_events(ids, item.row, classes, record_time=record_time)
        return {"recall": both[:1], "lift": both[1:], None: both}[item.only]
    if item.row["type"] == se.RECORD_CORRECTED:
        return _correction(ids, item, record_time)
    if item.row["type"] == se.BATCH_VOIDED:
        return [event for _, event in void_declarations(ids, item, record_time=record_time)]
    event = build_event(ids, item, item.row["body"], record_time=record_time)
    return [] if event is None else [event]


def build_event(
    ids: Ids,
    source: Source,
    body: Mapping[str, Any],
    *,
    record_time: bool = False,
) -> dict[str, Any] | None:
    """The EPCIS event of one device event with ``body`` (its own, or a corrected one); None
    for types not exported and for bodies the projections refuse."""
    kind = source.row["type"]
    if kind in se.SUPPLY_TYPES:
        if se.body_problem(kind, dict(body)) is not None:
            return None  # committed but never projected: shown raw in the office only
        if kind == se.INPUT_RECEIVED:
            return supply.received(ids, source, body, record_time)
        if source.batch is None:
            return None
        if kind == se.INPUT_ADDED:
            return supply.added(ids, source, body, record_time)
        if kind == se.LOT_SHIPPED:
            return supply.shipped(ids, source, body, record_time)
        return None
    if kind not in BATCH_TYPES or source.batch is None:
        return None  # snapshot.taken and the other types are not exported (docs/epcis.md)
    return _batch_event(ids, source, body, record_time)


def _correction(ids: Ids, source: Source, record_time: bool) -> list[dict[str, Any]]:
    """``record.corrected``: the version it corrects, repeated with an ``errorDeclaration``
    whose ``correctiveEventIDs`` names the new version (``urn:uuid:`` of the correction)."""
    body: Mapping[str, Any] = source.row["body"]
    target = source.target
    if target is None or se.body_problem(se.RECORD_CORRECTED, dict(body)) is not None:
        return []
    named = body["corrects"]
    if (named["id"], named["type"]) != (target.row["id"], target.row["type"]):
        return []  # names another event than the one at that seq: nothing to declare
    prior_row, prior_body = _current_version(target, source.earlier)
    declared = build_event(ids, target, prior_body)
    corrected = build_event(ids, target, {**prior_body, **body["changes"]})
    if declared is None or corrected is None:
        return []
    new_id = f"urn:uuid:{source.row['id']}"
    _signed_as(declared, prior_row)
    declared["errorDeclaration"] = {
        "declarationTime": str(source.row["at"]),
        "reason": "incorrect_data",
        "correctiveEventIDs": [new_id],
        "ocop:reason": str(body["reason"]),
    }
    _signed_as(corrected, source.row)
    corrected["ocop:corrects"] = f"urn:uuid:{prior_row['id']}"
    corrected["ocop:correctionReason"] = str(body["reason"])
    if record_time:
        for event in (declared, corrected):
            event["recordTime"] = utc_time(float(source.row["received_at"]))
    return [declared, corrected]


def _current_version(
    target: Source, earlier: Sequence[Mapping[str, Any]]
) -> tuple[Mapping[str, Any], dict[str, Any]]:
    """The row that signed ``target``'s current version (it or its last correction in
    ``earlier``) and that version's body."""
    row: Mapping[str, Any] = target.row
    body: dict[str, Any] = dict(target.row["body"])
    for correction in earlier:
        body.update(correction["body"]["changes"])
        row = correction
    return row, body


def void_declarations(
    ids: Ids, source: Source, *, record_time: bool = False
) -> list[tuple[Source, dict[str, Any]]]:
    """``batch.voided``: the current version of each of the batch's events, repeated with an
    ``errorDeclaration`` (reason ``did_not_occur``, no corrective events: nothing replaces a
    batch opened by mistake), each with the event it withdraws (docs/epcis.md, "Voided batches").
    """
    body: Mapping[str, Any] = source.row["body"]
    if source.batch is None or se.body_problem(se.BATCH_VOIDED, dict(body)) is not None:
        return []
    out: list[tuple[Source, dict[str, Any]]] = []
    for withdrawn in source.declared:
        row, current = _current_version(withdrawn, withdrawn.earlier)
        event = build_event(ids, withdrawn, current)
        if event is None:
            continue  # a type not exported, or a body the projections refused
        _signed_as(event, row)
        event["errorDeclaration"] = {
            "declarationTime": str(source.row["at"]),
            "reason": "did_not_occur",
            "ocop:reason": str(body["reason"]),
            "ocop:voidedBy": f"urn:uuid:{source.row['id']}",
        }
        if record_time:
            event["recordTime"] = utc_time(float(source.row["received_at"]))
        out.append((withdrawn, event))
    return out


def _signed_as(event: dict[str, Any], row: Mapping[str, Any]) -> None:
    """Point a rebuilt event at the signed journal event it stands for."""
    event["eventID"] = f"urn:uuid:{row['id']}"
    event["ocop:device"] = str(row["dev_id"])
    event["ocop:seq"] = int(row["seq"])
    event["ocop:eventHash"] = str(row["hash"])
    event["ocop:deviceClock"] = str(row["clock"])


def _batch_event(
    ids: Ids, source: Source, body: Mapping[str, Any], record_time: bool
) -> dict[str, Any] | None:
    assert source.batch is not None
    batch, row = source.batch, source.row
    gtin: str | None = batch.get("gtin") or None
    lot = str(batch["lot"])
    lot_class = ids.lot_class(gtin, lot)
    base = common(ids, source, record_time)
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
                "cbvmda:countryOfOrigin": "VN",
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
        event = {
            **base,
            "action": "OBSERVE",
            "bizStep": ids.step("closed"),
            "disposition": "active",
            "quantityList": [quantity_element(lot_class, body["quantity"], body.get("unit"))],
            "ocop:unit": str(body.get("unit", "")),
        }
        if body.get("expiry_date"):
            event["ocop:itemExpirationDate"] = str(body["expiry_date"])
        return event
    return _labels_event(ids, base, body, gtin, lot, lot_class)


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
        report: dict[str, Any] = {"type": gs1 or ids.measurement(key), "value": value}
        code = uom(unit)
        if code:
            report["uom"] = code
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


def export_lot(
    conn: Connection, lot: str, gtin: str | None, *, base_url: str, created: datetime
) -> dict[str, Any] | None:
    """The newest batch with this lot (and GTIN) as a document: its receipts, its events and
    their corrections, and the recalls that cover it; None when there is no such batch."""
    found = load_batch_sources(conn, lot, gtin)
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
