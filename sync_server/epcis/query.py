"""EPCIS 2.0 event queries: one page of events in record order, and its page token (docs/epcis.md).

:func:`run_query` reads one page of device events and recalls in record order (when this server
received them), keyset-paged, so a client that follows every ``nextPageToken`` sees each event
exactly once. Page tokens are an HMAC-signed base64url position bound to the filters: the
position is only ever used as bound SQL parameters, and a token from another query is refused.
The filters are parsed in :mod:`sync_server.epcis.filters`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import heapq
import hmac
import json
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from sync_server.epcis.document import (
    EXPORTED_TYPES,
    Ids,
    Picked,
    Recall,
    Source,
    build_events,
    void_declarations,
)
from sync_server.epcis.filters import EventQuery, QueryParameterError, parse_query
from sync_server.epcis.loading import joined_events, recall_of, source_of
from sync_server.store.db import batches, devices, events
from sync_server.store.supply_tables import recalls
from trace_protocol import supply_events as se

__all__ = [
    "EventQuery",
    "QueryParameterError",
    "decode_token",
    "encode_token",
    "parse_query",
    "run_query",
]

# The EPCIS event types we emit; a query for only the others matches nothing.
EMITTED_TYPES = frozenset({"ObjectEvent", "TransformationEvent"})
_SCAN_CHUNK = 500

Position = tuple[float, str, int]  # (received_at, dev_id, seq): the order of the results
# Recalls and their liftings take their place in record order as (created_at or lifted_at,
# one of these, recall id): after every device id at the same instant.
_RECALL, _LIFT = "~recall", "~recall-lifted"


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


def run_query(
    conn: Connection,
    query: EventQuery,
    after: Position | None,
    *,
    base_url: str,
    within: frozenset[str] | None = None,
) -> tuple[list[Picked], Position | None]:
    """One page of device events and recalls after ``after``, and where the next page starts.

    A page holds ``per_page`` of them; a correction's two EPCIS events come together.
    ``within`` (an office session's district scope, issue 16; None for the province) keeps
    the events of those facilities' devices, and the recalls covering one of their lots, with
    only those lots (and the recalled lot's code only when it is not another facility's).
    """
    if query.event_types and not query.event_types & EMITTED_TYPES:
        return [], None
    ids = Ids(base_url)
    found: list[Picked] = []
    last: Position | None = None
    streams: list[Iterator[tuple[Position, Source | Recall]]] = [
        _event_candidates(conn, query, after, within),
        _recall_candidates(conn, query, after, within),
    ]
    for position, item in heapq.merge(*streams, key=lambda pair: pair[0]):
        if isinstance(item, Source) and item.row["type"] == se.BATCH_VOIDED:
            # Each declaration matches as the event it withdraws, as a correction does.
            pairs = void_declarations(ids, item, record_time=True)
            keep = tuple(
                i
                for i, (withdrawn, event) in enumerate(pairs)
                if _subjects_match(query, withdrawn) and query.matches(event)
            )
        elif _subjects_match(query, item):
            built = build_events(ids, item, record_time=True)
            keep = tuple(i for i, event in enumerate(built) if query.matches(event))
        else:
            continue
        if not keep:
            continue
        if len(found) == query.per_page:
            return found, last
        found.append(Picked(item, keep))
        last = position
    return found, None


def _event_candidates(
    conn: Connection, query: EventQuery, after: Position | None, within: frozenset[str] | None
) -> Iterator[tuple[Position, Source]]:
    """Committed device events of exported types, in record order, read in chunks."""
    sql = (
        joined_events()
        .where(*_sql_conditions(query))
        .where(*([] if within is None else [devices.c.facility_code.in_(sorted(within))]))
        .order_by(events.c.received_at, events.c.dev_id, events.c.seq)
        .limit(_SCAN_CHUNK)
    )
    while True:
        chunk = list(conn.execute(sql.where(*_after(after))).mappings())
        for r in chunk:
            yield (float(r["received_at"]), str(r["dev_id"]), int(r["seq"])), source_of(conn, r)
        if len(chunk) < _SCAN_CHUNK:
            return
        last_row = chunk[-1]
        after = (float(last_row["received_at"]), str(last_row["dev_id"]), int(last_row["seq"]))


def _recall_candidates(
    conn: Connection, query: EventQuery, after: Position | None, within: frozenset[str] | None
) -> Iterator[tuple[Position, Recall]]:
    """Recalls and liftings (office actions, a few), in record order."""
    sql = select(recalls)
    if after is not None:
        sql = sql.where(or_(recalls.c.created_at >= after[0], recalls.c.lifted_at >= after[0]))
    rows = conn.execute(sql).mappings()
    out: list[tuple[Position, Recall]] = []
    for row in rows:
        recall = recall_of(conn, row)
        if within is not None:
            scoped = _scoped_recall(recall, within)
            if scoped is None:
                continue
            recall = scoped
        moments = [(float(row["created_at"]), _RECALL, "recall")]
        if row["lifted_at"] is not None:
            moments.append((float(row["lifted_at"]), _LIFT, "lift"))
        for moment, tag, only in moments:
            position = (moment, tag, int(row["id"]))
            if (after is None or position > after) and _record_time_ok(query, moment):
                out.append((position, Recall(recall.row, recall.lots, only)))
    return iter(sorted(out, key=lambda pair: pair[0]))


def _scoped_recall(recall: Recall, within: frozenset[str]) -> Recall | None:
    """The recall with only the lots of facilities ``within``; None when it covers none.
    Its own lot is blanked when that is a lot of another facility only."""
    mine = [x for x in recall.lots if x[2] in within]
    if not mine:
        return None
    row = dict(recall.row)
    theirs = {lot for lot, _, facility in recall.lots if facility not in within}
    if row["lot"] in theirs and row["lot"] not in {lot for lot, _, _ in mine}:
        row["lot"] = ""
    return Recall(row, mine, recall.only)


def _record_time_ok(query: EventQuery, moment: float) -> bool:
    ge, lt = query.ge_record_time, query.lt_record_time
    return (ge is None or moment >= ge.timestamp()) and (lt is None or moment < lt.timestamp())


def _subjects_match(query: EventQuery, item: Source | Recall) -> bool:
    """The ``lot``, ``gtin`` and ``facility`` filters, exactly (SQL only narrows them)."""
    lots: set[str] = set()
    gtins: set[str] = set()
    places: set[str] = set()
    if isinstance(item, Recall):
        lots.add(str(item.row["lot"]))
        for lot, gtin, facility in item.lots:
            lots.add(lot)
            gtins.update([gtin] if gtin else [])
            places.update([facility] if facility else [])
    else:
        for source in (item, item.target):
            if source is None:
                continue
            places.add(str(source.facility["code"]))
            if source.batch is not None:
                lots.add(str(source.batch["lot"]))
                gtins.update([source.batch["gtin"]] if source.batch["gtin"] else [])
            body = source.row["body"]
            if source.row["type"] in (se.INPUT_RECEIVED, se.INPUT_ADDED) and body.get("lot"):
                lots.add(str(body["lot"]))
    return all(
        not wanted or bool(wanted & have)
        for wanted, have in ((query.lots, lots), (query.gtins, gtins), (query.facilities, places))
    )


def _sql_conditions(query: EventQuery) -> list[Any]:
    conditions: list[Any] = [events.c.type.in_(EXPORTED_TYPES)]
    # Receipts and corrections have no batch of their own, uses and voids (of uses) a second
    # lot: _subjects_match checks them.
    if query.lots:
        unbatched = (se.INPUT_RECEIVED, se.INPUT_ADDED, se.RECORD_CORRECTED, se.BATCH_VOIDED)
        conditions.append(or_(batches.c.lot.in_(sorted(query.lots)), events.c.type.in_(unbatched)))
    if query.gtins:
        conditions.append(
            or_(batches.c.gtin.in_(sorted(query.gtins)), events.c.type == se.RECORD_CORRECTED)
        )
    if query.facilities:
        conditions.append(devices.c.facility_code.in_(sorted(query.facilities)))
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
