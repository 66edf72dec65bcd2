"""EPCIS 2.0 event queries: parse the REST binding's filters, page through events (docs/epcis.md).

:func:`parse_query` turns query-string pairs into an :class:`EventQuery` or raises
:class:`QueryParameterError` naming the bad parameter. :func:`run_query` reads one page of
``(batch, event)`` rows in record order (when this server received them), keyset-paged, so a
client that follows every ``nextPageToken`` sees each event exactly once. Page tokens are an
HMAC-signed base64url position bound to the filters: the position is only ever used as bound
SQL parameters, and a token from another query is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from sync_server.epcis.document import Ids, build_event
from sync_server.store.db import batches, events
from trace_protocol import envelope as ev

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
# The device event types build_event turns into EPCIS events; the rest never match.
EXPORTED_TYPES = (ev.BATCH_OPENED, ev.STEP_RECORDED, ev.BATCH_CLOSED, ev.LABELS_PRINTED)
# CBV 2.0 spells standard vocabulary three ways; the documents use the bare word.
_CBV_PREFIXES = {
    "bizStep": ("https://ref.gs1.org/cbv/BizStep-", "urn:epcglobal:cbv:bizstep:"),
    "disposition": ("https://ref.gs1.org/cbv/Disp-", "urn:epcglobal:cbv:disp:"),
}
_SCAN_CHUNK = 500

Position = tuple[float, str, int]  # (received_at, dev_id, seq): the order of the results


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

        def classes() -> set[str]:
            return {q["epcClass"] for q in event.get("quantityList", [])}

        checks: list[tuple[frozenset[str], Callable[[], set[str]]]] = [
            (self.biz_steps, lambda: {str(event.get("bizStep"))}),
            (self.dispositions, lambda: {str(event.get("disposition"))}),
            (self.actions, lambda: {str(event.get("action"))}),
            (self.biz_locations, lambda: {str(event.get("bizLocation", {}).get("id"))}),
            (self.read_points, lambda: {str(event.get("readPoint", {}).get("id"))}),
            # An ObjectEvent's only EPC field is epcList and its only class field quantityList,
            # so MATCH_epc/MATCH_anyEPC and MATCH_epcClass/MATCH_anyEPCClass look at the same.
            (self.epcs, epc_list),
            (self.any_epcs, epc_list),
            (self.epc_classes, classes),
            (self.any_epc_classes, classes),
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
        lots=_values(args, "lot"),
        gtins=_gtins(_values(args, "gtin")),
        facilities=_values(args, "facility"),
        per_page=per_page,
    )


def encode_token(key: bytes, position: Position, query: EventQuery) -> str:
    payload = json.dumps([list(position), query.digest()], separators=(",", ":")).encode()
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    return _b64(payload) + "." + _b64(mac)


def decode_token(key: bytes, token: str, query: EventQuery) -> Position:
    """The position a token of ours carries; anything else is a ``nextPageToken`` error."""
    error = QueryParameterError("nextPageToken", "not a token from this query; start again")
    try:
        payload_b64, mac_b64 = token.split(".")
        payload, mac = _unb64(payload_b64), _unb64(mac_b64)
    except (ValueError, binascii.Error):
        raise error from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:16]
    if not hmac.compare_digest(mac, expected):
        raise error
    try:
        (received, dev, seq), digest = json.loads(payload)
        position = (float(received), str(dev), int(seq))
    except (ValueError, TypeError):
        raise error from None
    if digest != query.digest():
        raise error
    return position


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_BATCH_COLUMNS = [c.label(f"b_{c.name}") for c in batches.c]


def run_query(
    conn: Connection, query: EventQuery, after: Position | None, *, base_url: str
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], Position | None]:
    """One page of ``(batch, event)`` rows after ``after``, and where the next page starts."""
    if query.event_types and "ObjectEvent" not in query.event_types:
        return [], None  # every event we export is an ObjectEvent
    ids = Ids(base_url)
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    sql = (
        select(events, *_BATCH_COLUMNS)
        .join(
            batches,
            and_(batches.c.dev_id == events.c.dev_id, batches.c.batch_id == events.c.batch_id),
        )
        .where(*_sql_conditions(query))
        .order_by(events.c.received_at, events.c.dev_id, events.c.seq)
        .limit(_SCAN_CHUNK)
    )
    while True:
        chunk = list(conn.execute(sql.where(*_after(after))).mappings())
        for r in chunk:
            row = {c.name: r[c.name] for c in events.c}
            batch = {c.name: r[f"b_{c.name}"] for c in batches.c}
            event = build_event(ids, batch, row, record_time=True)
            if event is None or not query.matches(event):
                continue
            if len(found) == query.per_page:
                last = found[-1][1]
                return found, (float(last["received_at"]), str(last["dev_id"]), int(last["seq"]))
            found.append((batch, row))
        if len(chunk) < _SCAN_CHUNK:
            return found, None
        last_row = chunk[-1]
        after = (float(last_row["received_at"]), str(last_row["dev_id"]), int(last_row["seq"]))


def _sql_conditions(query: EventQuery) -> list[Any]:
    conditions: list[Any] = [events.c.type.in_(EXPORTED_TYPES)]
    if query.lots:
        conditions.append(batches.c.lot.in_(sorted(query.lots)))
    if query.gtins:
        conditions.append(batches.c.gtin.in_(sorted(query.gtins)))
    if query.facilities:
        conditions.append(batches.c.facility_code.in_(sorted(query.facilities)))
    if query.ge_record_time is not None:
        conditions.append(events.c.received_at >= query.ge_record_time.timestamp())
    if query.lt_record_time is not None:
        conditions.append(events.c.received_at < query.lt_record_time.timestamp())
    return conditions


def _after(position: Position | None) -> list[Any]:
    if position is None:
        return []
    received, dev, seq = position
    return [
        or_(
            events.c.received_at > received,
            and_(events.c.received_at == received, events.c.dev_id > dev),
            and_(events.c.received_at == received, events.c.dev_id == dev, events.c.seq > seq),
        )
    ]
