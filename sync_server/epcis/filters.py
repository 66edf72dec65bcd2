"""EPCIS 2.0 query filters: the REST binding's parameters, parsed and checked (docs/epcis.md).

:func:`parse_query` turns query-string pairs into an :class:`EventQuery` or raises
:class:`QueryParameterError` naming the bad parameter; :meth:`EventQuery.matches` applies the
filters to a built EPCIS event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
EVENT_TYPES = frozenset(
    {
        "ObjectEvent",
        "AggregationEvent",
        "TransactionEvent",
        "TransformationEvent",
        "AssociationEvent",
    }
)
# CBV 2.0 spells standard vocabulary three ways; the documents use the bare word.
_CBV_PREFIXES = {
    "bizStep": ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:"),
    "disposition": ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:"),
}


class QueryParameterError(ValueError):
    """A query parameter the server cannot use (EPCIS ``QueryParameterException``)."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(f"{parameter}: {message}")
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True)
class EventQuery:
    """The filters of one query; empty sets and None mean "no condition"."""

    event_types: frozenset[str] = frozenset()
    ge_event_time: datetime | None = None
    lt_event_time: datetime | None = None
    ge_record_time: datetime | None = None
    lt_record_time: datetime | None = None
    biz_steps: frozenset[str] = frozenset()
    dispositions: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    biz_locations: frozenset[str] = frozenset()
    read_points: frozenset[str] = frozenset()
    epcs: frozenset[str] = frozenset()
    any_epcs: frozenset[str] = frozenset()
    epc_classes: frozenset[str] = frozenset()
    any_epc_classes: frozenset[str] = frozenset()
    input_epc_classes: frozenset[str] = frozenset()
    output_epc_classes: frozenset[str] = frozenset()
    lots: frozenset[str] = frozenset()
    gtins: frozenset[str] = frozenset()
    facilities: frozenset[str] = frozenset()
    per_page: int = field(default=DEFAULT_PER_PAGE, compare=False)

    def digest(self) -> str:
        """A short fingerprint of the filters (not the page size) that page tokens carry."""
        data = {k: sorted(v) if isinstance(v, frozenset) else v for k, v in asdict(self).items()}
        del data["per_page"]
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether a built EPCIS event passes the filters SQL does not apply."""
        if self.event_types and event["type"] not in self.event_types:
            return False
        at = datetime.fromisoformat(str(event["eventTime"]))
        if self.ge_event_time is not None and at < self.ge_event_time:
            return False
        if self.lt_event_time is not None and at >= self.lt_event_time:
            return False

        def epc_list() -> set[str]:
            return set(event.get("epcList", []))

        def any_epc() -> set[str]:
            return {
                e for k in ("epcList", "inputEPCList", "outputEPCList") for e in event.get(k, [])
            }

        def classes_in(*keys: str) -> Callable[[], set[str]]:
            return lambda: {q["epcClass"] for k in keys for q in event.get(k, [])}

        classes = classes_in("quantityList")
        all_classes = classes_in("quantityList", "inputQuantityList", "outputQuantityList")

        checks: list[tuple[frozenset[str], Callable[[], set[str]]]] = [
            (self.biz_steps, lambda: {str(event.get("bizStep"))}),
            (self.dispositions, lambda: {str(event.get("disposition"))}),
            (self.actions, lambda: {str(event.get("action"))}),
            (self.biz_locations, lambda: {str(event.get("bizLocation", {}).get("id"))}),
            (self.read_points, lambda: {str(event.get("readPoint", {}).get("id"))}),
            # MATCH_epc/MATCH_epcClass: an ObjectEvent's epcList/quantityList; the "any"
            # forms also look at a TransformationEvent's inputs and outputs.
            (self.epcs, epc_list),
            (self.any_epcs, any_epc),
            (self.epc_classes, classes),
            (self.any_epc_classes, all_classes),
            (self.input_epc_classes, classes_in("inputQuantityList")),
            (self.output_epc_classes, classes_in("outputQuantityList")),
        ]
        return all(not wanted or wanted & values() for wanted, values in checks)


def _values(args: Mapping[str, Sequence[str]], name: str) -> frozenset[str]:
    """Repeated parameters and ``|``-separated lists (the REST binding's list form) alike."""
    out = {part.strip() for value in args.get(name, ()) for part in value.split("|")}
    out.discard("")
    return frozenset(out)


def _single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = args.get(name, ())
    if len(values) > 1:
        raise QueryParameterError(name, "give it once")
    return values[0] if values else None


def _time(args: Mapping[str, Sequence[str]], name: str) -> datetime | None:
    raw = _single(args, name)
    if raw is None:
        return None
    # An unencoded "+07:00" arrives as " 07:00": take the space for the plus it was.
    text = raw.strip().replace(" ", "+")
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise QueryParameterError(
            name, f"{raw!r} is not an ISO 8601 date-time such as 2024-03-01T00:00:00+07:00"
        ) from None
    if parsed.tzinfo is None:
        raise QueryParameterError(name, f"{raw!r} has no time zone (add Z or +07:00)")
    return parsed


def _cbv(kind: str, values: frozenset[str]) -> frozenset[str]:
    out = set()
    for value in values:
        for prefix in _CBV_PREFIXES[kind]:
            if value.startswith(prefix):
                value = value.removeprefix(prefix)
                break
        out.add(value)
    return frozenset(out)


def _gtins(values: frozenset[str]) -> frozenset[str]:
    for value in values:
        if not value.isdigit() or len(value) not in (8, 12, 13, 14):
            raise QueryParameterError("gtin", f"{value!r} is not a GTIN-8, -12, -13 or -14")
    return frozenset(v.zfill(14) for v in values)


_LIST_PARAMS = {
    "eventType",
    "EQ_bizStep",
    "EQ_disposition",
    "EQ_action",
    "EQ_bizLocation",
    "EQ_readPoint",
    "MATCH_epc",
    "MATCH_anyEPC",
    "MATCH_epcClass",
    "MATCH_anyEPCClass",
    "MATCH_inputEPCClass",
    "MATCH_outputEPCClass",
    "lot",
    "gtin",
    "facility",
}
_SINGLE_PARAMS = {
    "GE_eventTime",
    "LT_eventTime",
    "GE_recordTime",
    "LT_recordTime",
    "perPage",
    "nextPageToken",
}
PARAMETERS = frozenset(_LIST_PARAMS | _SINGLE_PARAMS)


def parse_query(args: Mapping[str, Sequence[str]]) -> EventQuery:
    """The :class:`EventQuery` of query-string pairs; unknown names are refused, as EPCIS says."""
    for name in args:
        if name not in PARAMETERS:
            raise QueryParameterError(name, "unknown parameter")
    types = _values(args, "eventType")
    if types - EVENT_TYPES:
        bad = ", ".join(sorted(types - EVENT_TYPES))
        raise QueryParameterError("eventType", f"unknown event type {bad}")
    actions = _values(args, "EQ_action")
    if actions - {"ADD", "OBSERVE", "DELETE"}:
        raise QueryParameterError("EQ_action", "must be ADD, OBSERVE or DELETE")
    per_page_raw = _single(args, "perPage")
    per_page = DEFAULT_PER_PAGE
    if per_page_raw is not None:
        if not per_page_raw.isdigit() or not 1 <= int(per_page_raw) <= MAX_PER_PAGE:
            raise QueryParameterError("perPage", f"must be a whole number from 1 to {MAX_PER_PAGE}")
        per_page = int(per_page_raw)
    return EventQuery(
        event_types=types,
        ge_event_time=_time(args, "GE_eventTime"),
        lt_event_time=_time(args, "LT_eventTime"),
        ge_record_time=_time(args, "GE_recordTime"),
        lt_record_time=_time(args, "LT_recordTime"),
        biz_steps=_cbv("bizStep", _values(args, "EQ_bizStep")),
        dispositions=_cbv("disposition", _values(args, "EQ_disposition")),
        actions=actions,
        biz_locations=_values(args, "EQ_bizLocation"),
        read_points=_values(args, "EQ_readPoint"),
        epcs=_values(args, "MATCH_epc"),
        any_epcs=_values(args, "MATCH_anyEPC"),
        epc_classes=_values(args, "MATCH_epcClass"),
        any_epc_classes=_values(args, "MATCH_anyEPCClass"),
        input_epc_classes=_values(args, "MATCH_inputEPCClass"),
        output_epc_classes=_values(args, "MATCH_outputEPCClass"),
        lots=_values(args, "lot"),
        gtins=_gtins(_values(args, "gtin")),
        facilities=_values(args, "facility"),
        per_page=per_page,
    )
