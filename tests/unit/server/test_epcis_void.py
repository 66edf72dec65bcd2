"""EPCIS 2.0 of ``batch.voided`` (issue 15): a batch opened by mistake withdraws its events as
error declarations (``did_not_occur``), valid against the official schema with format checking
on, in the batch's export and in ``GET /epcis/events``, whose filters treat each declaration as
the event it withdraws. The events go through ``ingest_chunk``: the real binding and projections.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from pyld import jsonld
from sqlalchemy import Engine, select, update

from sync_server.config import ServerConfig
from sync_server.epcis.document import export_lot, validation_errors
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import batches, events
from sync_server.web import create_app
from tests.unit.protocol.builders import AT, ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.conftest import DEV
from tests.unit.server.test_epcis import BASE, CREATED, GTIN
from tests.unit.server.test_epcis_supply import R1, R1_CLASS, _headers, _loader, _received
from tests.unit.server.test_epcis_supply import _supplier as supplier
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk

LOT_B = "KC-NM-240301-02"
VOID_REASON = "mở nhầm lô, trùng lô 01"
AT_PLUS_2 = (AT + timedelta(minutes=2)).isoformat()


class Voided:
    """Batch A (LOT): opened, a use of R1 (corrected), a step, then voided. Batch B (LOT_B)
    uses R1 too and stays. Device event n is received at 1000 + n seconds."""

    def __init__(self, engine: Engine, chain: ChainBuilder) -> None:
        a, b, receipt = new_batch_id(), new_batch_id(), new_batch_id()
        self.a = a
        chain.next("batch.opened", opened_body(a, LOT))  # 1
        chain.next("input.received", _received(receipt, R1, supplier("S1")))  # 2
        use = {"batch": a, "receipt": receipt, "lot": R1, "quantity": 3.0, "unit": "kg"}
        used = chain.next("input.added", use)  # 3
        chain.next("step.recorded", step_body(a, "SAY", 45.0))  # 4
        fix = {"corrects": {"seq": 3, "id": used.id, "type": used.type}}
        chain.next("record.corrected", {**fix, "changes": {"quantity": 2.5}, "reason": "cân sai"})
        chain.next("batch.voided", {"batch": a, "reason": VOID_REASON})  # 6
        chain.next("batch.opened", opened_body(b, LOT_B))  # 7
        chain.next("input.added", {**use, "batch": b, "quantity": 0.5})  # 8
        result = ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
        assert (result.committed, result.quarantined) == (8, 0)
        with engine.begin() as conn:
            for e in chain.events:
                conn.execute(
                    update(events)
                    .where(events.c.dev_id == DEV, events.c.seq == e.seq)
                    .values(received_at=1000.0 + e.seq)
                )
            status = conn.execute(
                select(batches.c.status).where(batches.c.batch_id == a)
            ).scalar_one()
        assert status == "voided"  # projected by the real projection
        self.events: list[Event] = chain.events

    def uuid(self, seq: int) -> str:
        return f"urn:uuid:{self.events[seq - 1].id}"


@pytest.fixture
def scenario(engine: Engine, device: str, chain: ChainBuilder) -> Voided:
    return Voided(engine, chain)


@pytest.fixture
def client(engine: Engine, scenario: Voided, tmp_path: Path) -> FlaskClient:
    config = ServerConfig(data_dir=tmp_path, public_base_url=BASE)
    return create_app(config, engine).test_client()


def _query(client: FlaskClient, engine: Engine, **params: str) -> list[dict[str, Any]]:
    resp = client.get("/epcis/events", query_string=params, headers=_headers(engine))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    doc = resp.get_json(force=True)
    assert validation_errors(doc) == []
    found: list[dict[str, Any]] = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


def _names(scenario: Voided, found: list[dict[str, Any]]) -> list[str]:
    """``"3"`` for device event 3, ``"3!"`` for an error declaration of it."""
    by_id = {scenario.uuid(n): str(n) for n in range(1, len(scenario.events) + 1)}
    return [by_id[e["eventID"]] + ("!" if "errorDeclaration" in e else "") for e in found]


def test_a_void_withdraws_the_current_version_of_every_event_of_its_batch(
    client: FlaskClient, engine: Engine, scenario: Voided
) -> None:
    with engine.connect() as conn:
        doc = export_lot(conn, LOT, GTIN, base_url=BASE, created=CREATED)
    assert doc is not None
    assert validation_errors(doc) == []
    exported = doc["epcisBody"]["eventList"]
    queried = _query(client, engine)
    # The use was corrected (seq 5): the void withdraws the corrected version, not the first.
    assert _names(scenario, exported) == ["2", "1", "3", "4", "3!", "5", "1!", "5!", "4!"]
    assert _names(scenario, queried)[-5:] == ["1!", "5!", "4!", "7", "8"]
    voided_at = scenario.events[5].at
    for found in (exported, queried):
        declared = [e for e in found if "did_not_occur" in json.dumps(e)]
        assert len(declared) == 3
        for event in declared:
            assert event["errorDeclaration"] == {
                "declarationTime": voided_at,
                "reason": "did_not_occur",
                "ocop:reason": VOID_REASON,
                "ocop:voidedBy": scenario.uuid(6),
            }  # no correctiveEventIDs: nothing replaces a batch opened by mistake
        opened, use, step = declared
        # Each repeats the event it withdraws: its type, eventTime and identifiers.
        assert (opened["bizStep"], opened["action"]) == ("commissioning", "ADD")
        assert opened["eventTime"] == scenario.events[0].at
        assert use["type"] == "TransformationEvent"
        assert use["inputQuantityList"] == [{"epcClass": R1_CLASS, "quantity": 2.5, "uom": "KGM"}]
        assert (use["ocop:seq"], use["eventTime"]) == (5, scenario.events[2].at)
        assert step["ocop:stepCode"] == "SAY"
    assert {e["recordTime"] for e in queried if "ocop:voidedBy" in json.dumps(e)} == {
        datetime.fromtimestamp(1006, UTC).isoformat(timespec="milliseconds")
    }
    # The other batch's document knows nothing of the void.
    with engine.connect() as conn:
        other = export_lot(conn, LOT_B, GTIN, base_url=BASE, created=CREATED)
    assert other is not None and validation_errors(other) == []
    assert "did_not_occur" not in json.dumps(other)


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"lot": LOT}, {"1", "3", "4", "3!", "5", "1!", "5!", "4!"}),
        # A receiving lot: its receipt and its uses, and so the void of A's use, not A's opening.
        ({"lot": R1}, {"2", "3", "3!", "5", "5!", "8"}),
        ({"lot": LOT_B}, {"7", "8"}),
        ({"eventType": "TransformationEvent"}, {"3", "3!", "5", "5!", "8"}),
        ({"EQ_bizStep": "commissioning"}, {"1", "1!", "7"}),
        ({"MATCH_epcClass": f"https://id.gs1.org/01/{GTIN}/10/{LOT}"}, {"1", "4", "1!", "4!"}),
        ({"gtin": GTIN, "GE_recordTime": _at(1006)}, {"1!", "5!", "4!", "7", "8"}),
        ({"GE_recordTime": _at(1006), "LT_recordTime": _at(1007)}, {"1!", "5!", "4!"}),
        ({"facility": "KC", "EQ_action": "ADD", "lot": LOT}, {"1", "1!"}),
        ({"facility": "HT"}, set()),
        # eventTime: device event n happened at AT + n minutes; a declaration keeps it.
        ({"LT_eventTime": AT_PLUS_2}, {"1", "1!"}),
    ],
)
def test_filters_treat_a_declaration_as_the_event_it_withdraws(
    client: FlaskClient,
    engine: Engine,
    scenario: Voided,
    params: dict[str, str],
    expected: set[str],
) -> None:
    assert set(_names(scenario, _query(client, engine, **params))) == expected


def test_pages_hold_a_voids_declarations_together(
    client: FlaskClient, engine: Engine, scenario: Voided
) -> None:
    headers = _headers(engine)
    resp = client.get("/epcis/events", query_string={"perPage": 5}, headers=headers)
    first = resp.get_json(force=True)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    # Events 1-5 are 6 EPCIS events (the correction is two); the void's three come next, whole.
    assert _names(scenario, first) == ["1", "2", "3", "4", "3!", "5"]
    link = resp.headers["Link"]
    resp = client.get(link[len("<http://localhost") : link.index(">")], headers=headers)
    second = resp.get_json(force=True)["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert validation_errors(resp.get_json(force=True)) == []
    assert _names(scenario, second) == ["1!", "5!", "4!", "7", "8"]


def test_json_ld_expands_the_reason_to_the_cbv_term(
    client: FlaskClient, engine: Engine, scenario: Voided
) -> None:
    doc = client.get("/epcis/events", headers=_headers(engine)).get_json(force=True)
    expanded = json.dumps(jsonld.expand(doc, {"documentLoader": _loader}))
    assert "https://ref.gs1.org/cbv/ER-did_not_occur" in expanded
    assert "https://ocop-kit.example/voc/voidedBy" in expanded
    assert str(uuid.UUID(scenario.events[5].id)) in expanded
