"""EPCIS 2.0 of receipts, uses, shipments, corrections and recalls (issue 15): every kind valid
against the official schema with format checking on, found by the query filters, paged exactly
once, and expanding under JSON-LD to the CBV terms and to the kit's one vocabulary IRI.

The supply tables are filled by the projections of another part of issue 15; these tests insert
the committed events and the rows directly, so they test the EPCIS side alone.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask.testing import FlaskClient
from pyld import jsonld
from sqlalchemy import Engine, insert, update

from sync_server.accounts.users import create_api_token
from sync_server.config import ServerConfig
from sync_server.epcis.document import export_lot, validation_errors
from sync_server.epcis.ids import OCOP_VOC
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import events
from sync_server.store.supply_tables import corrections, recall_lots, recalls, receipts
from sync_server.web import create_app
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body
from tests.unit.server.conftest import DEV
from tests.unit.server.test_epcis import BASE, CREATED, EXAMPLES, GTIN
from trace_protocol.digital_link import parse_link
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk

R1, R2 = "KC-NL-240301-01", "KC-NL-240301-02"  # build_receipt_lot("KC", 2024-03-01, n)
LOT_CLASS = f"https://id.gs1.org/01/{GTIN}/10/{LOT}"
R1_CLASS, R2_CLASS = f"{BASE}/l/{R1}", f"{BASE}/l/{R2}"
HT_LOT = "HT-XY-240305-01"
WORKER = "Nguyễn Văn Worker-Q9"
CONTEXT = json.loads((EXAMPLES / "context" / "epcis-context.jsonld").read_text(encoding="utf-8"))
CONTEXT_URL = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _supplier(sid: str, **more: Any) -> dict[str, Any]:
    return {"id": sid, "name": f"Tổ hợp tác {sid}", "kind": "group", "province": "Hà Tĩnh", **more}


def _received(receipt: str, lot: str, supplier: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {
        "receipt": receipt,
        "lot": lot,
        "supplier": supplier,
        "material": {"code": "LUA", "name": "Lúa tươi", "name_en": "Paddy", "unit": "kg"},
        "supplier_lot": "ND-7",
        "quantity": 500.0,
        "unit": "kg",
        "received_on": "2024-03-01",
        "by": {"id": "wq9", "name": WORKER},  # the signed-in worker: for the office only
        **more,
    }


class Chain:
    """The scenario: one batch with two receipts, two shipments, corrections and a bad body."""

    def __init__(self, engine: Engine, chain: ChainBuilder) -> None:
        self.batch = new_batch_id()
        self.r1, self.r2 = new_batch_id(), new_batch_id()
        b = self.batch
        chain.next("batch.opened", opened_body(b, LOT))  # 1
        assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events)).committed == 1
        private = _supplier("S1", public_name=False)
        kit = _supplier("HT", kind="facility", facility="HT", public_name=True, name="HTX HT")
        scanned = {"url": f"{BASE}/l/{HT_LOT}", "lot": HT_LOT}
        added = {"batch": b, "unit": "kg"}
        shipped = {"batch": b, "lot": LOT, "shipped_on": "2024-03-02", "note": ""}
        # Corrections name an event appended before them: their bodies are made when appended.
        more: list[tuple[str, dict[str, Any] | Callable[[], dict[str, Any]]]] = [
            ("input.received", _received(self.r1, R1, private)),  # 2
            ("input.received", _received(self.r2, R2, kit, source=scanned, unit="tấn")),  # 3
            ("input.added", {**added, "receipt": self.r1, "lot": R1, "quantity": 300.0}),  # 4
            ("input.added", {**added, "receipt": self.r2, "lot": R2, "quantity": 0.05}),  # 5
            ("batch.closed", {"batch": b, "quantity": 250.0, "unit": "kg"}),  # 6
            (
                "lot.shipped",
                {
                    **shipped,
                    "shipment": new_batch_id(),
                    "customer": {"id": "C1", "name": "Cửa hàng OCOP Hà Tĩnh", "kind": "shop"},
                    "quantity": 3,
                    "unit": "gói",
                    "serials": [1, 3],
                },
            ),  # 7
            (
                "lot.shipped",
                {
                    **shipped,
                    "shipment": new_batch_id(),
                    "customer": {"id": "C2", "name": "Nhà phân phối Vinh", "kind": "distributor"},
                    "quantity": 150.0,
                    "unit": "kg",
                },
            ),  # 8
            ("record.corrected", lambda: self._fix(chain, 4, {"quantity": 280.0})),  # 9
            ("record.corrected", lambda: self._fix(chain, 4, {"quantity": 290.0})),  # 10
            ("record.corrected", lambda: self._fix(chain, 2, {"supplier_lot": "ND-8"})),  # 11
            ("input.added", {**added, "receipt": self.r1, "lot": R1, "quantity": -1}),  # 12 bad
        ]
        rows = []
        for kind, made in more:
            e = chain.next(kind, made() if callable(made) else made)
            rows.append(_row(e, received_at=1000.0 + e.seq))
        with engine.begin() as conn:
            conn.execute(update(events).where(events.c.seq == 1).values(received_at=1001.0))
            conn.execute(insert(events), rows)
            for seq, receipt, lot, unit in ((2, self.r1, R1, "kg"), (3, self.r2, R2, "tấn")):
                body = chain.events[seq - 1].body
                conn.execute(
                    insert(receipts).values(
                        receipt_id=receipt, dev_id=DEV, seq=seq, facility_code="KC", lot=lot,
                        supplier_id=body["supplier"]["id"], supplier=body["supplier"],
                        material_code="LUA", material=body["material"], supplier_lot="ND-7",
                        source=body.get("source"), quantity=500.0, unit=unit,
                        received_on="2024-03-01", at=chain.events[seq - 1].at, received_at=1000.0,
                    )
                )  # fmt: skip
            for seq in (9, 10, 11):
                body = chain.events[seq - 1].body
                conn.execute(
                    insert(corrections).values(
                        dev_id=DEV, seq=seq, corrects_seq=body["corrects"]["seq"],
                        corrects_id=body["corrects"]["id"], corrects_type=body["corrects"]["type"],
                        changes=body["changes"], reason=body["reason"], at=chain.events[seq - 1].at,
                    )
                )  # fmt: skip
            # A supplier's lot recalled (closure: the receiving lot and the batch), then lifted;
            # later the batch's lot alone.
            recall = {"reason": "aflatoxin", "created_by": "lan"}
            conn.execute(
                insert(recalls).values(
                    id=1, lot="ND-7", supplier_id="S1", created_at=5000.0, lifted_at=6000.0,
                    lifted_by="lan", lift_reason="mẫu lại đạt", **recall,
                )
            )  # fmt: skip
            conn.execute(insert(recalls).values(id=2, lot=LOT, created_at=7000.0, **recall))
            conn.execute(
                insert(recall_lots),
                [
                    {"recall_id": 1, "lot": R1, "kind": "receipt"},
                    {"recall_id": 1, "lot": LOT, "kind": "output"},
                    {"recall_id": 2, "lot": LOT, "kind": "output"},
                ],
            )
        self.events = chain.events

    @staticmethod
    def _fix(chain: ChainBuilder, seq: int, changes: dict[str, Any]) -> dict[str, Any]:
        target = chain.events[seq - 1]
        return {
            "corrects": {"seq": seq, "id": target.id, "type": target.type},
            "changes": changes,
            "reason": "cân sai",
        }

    def uuid(self, seq: int) -> str:
        return f"urn:uuid:{self.events[seq - 1].id}"


def _row(e: Event, *, received_at: float) -> dict[str, Any]:
    batch = e.body.get("batch")
    return {
        "dev_id": e.dev, "seq": e.seq, "id": e.id, "type": e.type, "at": e.at, "clock": e.clock,
        "body": e.body, "prev": e.prev, "hash": e.hash, "sig": e.sig,
        "batch_id": batch if isinstance(batch, str) else None, "received_at": received_at,
    }  # fmt: skip


@pytest.fixture
def scenario(engine: Engine, device: str, chain: ChainBuilder) -> Chain:
    return Chain(engine, chain)


@pytest.fixture
def client(engine: Engine, scenario: Chain, tmp_path: Path) -> FlaskClient:
    config = ServerConfig(data_dir=tmp_path, public_base_url=BASE)
    return create_app(config, engine).test_client()


def _headers(engine: Engine) -> dict[str, str]:
    name = f"partner-{uuid.uuid4().hex[:8]}"  # a new token each time: names are unique
    return {"Authorization": f"Bearer {create_api_token(engine, name)}"}


def _query(client: FlaskClient, engine: Engine, **params: str) -> list[dict[str, Any]]:
    resp = client.get("/epcis/events", query_string=params, headers=_headers(engine))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    doc = resp.get_json(force=True)
    assert validation_errors(doc) == []
    found: list[dict[str, Any]] = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return found


def _key(event: dict[str, Any]) -> str:
    """An event's ID, marked when it is an error declaration (which repeats an ID)."""
    return event["eventID"] + ("!" if "errorDeclaration" in event else "")


def _by_id(found: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_key(e): e for e in found}


def _export(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        doc = export_lot(conn, LOT, GTIN, base_url=BASE, created=CREATED)
    assert doc is not None
    return doc


def test_every_kind_is_valid_in_the_export_and_the_query(
    client: FlaskClient, engine: Engine, scenario: Chain
) -> None:
    doc = _export(engine)
    assert validation_errors(doc) == []
    exported = doc["epcisBody"]["eventList"]
    queried = _query(client, engine)
    for found in (exported, queried):
        kinds = {(e["type"], e.get("bizStep"), e.get("disposition")) for e in found}
        assert ("ObjectEvent", "receiving", "in_progress") in kinds
        assert ("TransformationEvent", None, "in_progress") in kinds
        assert ("ObjectEvent", "shipping", "in_transit") in kinds
        assert ("ObjectEvent", None, "recalled") in kinds
        assert any("errorDeclaration" in e for e in found)
        ids = {_key(e) for e in found}
        assert scenario.uuid(12) not in ids  # a body the projections refuse is not exported
        assert WORKER not in json.dumps(found, ensure_ascii=False)
        assert "wq9" not in json.dumps(found)
    # The document holds one step back (receipts), the batch, its corrections and recalls.
    assert [_key(e) for e in exported[:2]] == [scenario.uuid(2), scenario.uuid(3)]
    # seq 2-8 and the opening, 3 corrections of two events each, a recall, its lifting, a recall
    assert len(exported) == len(queried) == 8 + 3 * 2 + 3
    assert {_key(e) for e in exported} == {_key(e) for e in queried}


def test_receiving_names_the_supplier_and_its_lot(
    client: FlaskClient, engine: Engine, scenario: Chain
) -> None:
    found = _by_id(_query(client, engine))
    r1, r2 = found[scenario.uuid(2)], found[scenario.uuid(3)]
    assert (r1["action"], r1["bizStep"]) == ("ADD", "receiving")
    assert r1["quantityList"] == [{"epcClass": R1_CLASS, "quantity": 500.0, "uom": "KGM"}]
    supplier = f"{BASE}/facility/KC/supplier/S1"
    assert r1["sourceList"] == [
        {"type": "owning_party", "source": supplier},
        {"type": "possessing_party", "source": supplier},
    ]
    assert r1["destinationList"][0] == {
        "type": "owning_party",
        "destination": f"{BASE}/facility/KC",
    }
    assert r1["ilmd"]["cbvmda:lotNumber"] == R1
    assert r1["ilmd"]["ocop:supplierLot"] == "ND-7"
    assert "ocop:name" not in r1["ocop:supplier"]  # a farmer group that is not public
    assert "Tổ hợp tác S1" not in json.dumps(found, ensure_ascii=False)
    # A supplier that is a facility of the kit is that facility; the scanned label is its lot.
    assert r2["sourceList"][0]["source"] == f"{BASE}/facility/HT"
    assert r2["ilmd"]["ocop:supplierEPCClass"] == f"{BASE}/l/{HT_LOT}"
    assert r2["ocop:supplier"]["ocop:name"] == "HTX HT"
    assert r2["quantityList"][0]["uom"] == "TNE"


def test_a_use_is_a_transformation_into_the_batch(
    client: FlaskClient, engine: Engine, scenario: Chain
) -> None:
    found = _by_id(_query(client, engine))
    use1, use2 = found[scenario.uuid(4)], found[scenario.uuid(5)]
    assert use1["type"] == "TransformationEvent"
    assert use1["inputQuantityList"] == [{"epcClass": R1_CLASS, "quantity": 300.0, "uom": "KGM"}]
    assert use2["inputQuantityList"] == [{"epcClass": R2_CLASS, "quantity": 0.05, "uom": "KGM"}]
    assert use1["outputQuantityList"] == [{"epcClass": LOT_CLASS}]
    assert use1["transformationID"] == use2["transformationID"] == f"urn:uuid:{scenario.batch}"
    closed = found[scenario.uuid(6)]
    assert closed["quantityList"] == [{"epcClass": LOT_CLASS, "quantity": 250.0, "uom": "KGM"}]


def test_shipping_names_the_customer(client: FlaskClient, engine: Engine, scenario: Chain) -> None:
    found = _by_id(_query(client, engine))
    units, bulk = found[scenario.uuid(7)], found[scenario.uuid(8)]
    for event, customer in ((units, "C1"), (bulk, "C2")):
        assert (event["action"], event["bizStep"], event["disposition"]) == (
            "OBSERVE",
            "shipping",
            "in_transit",
        )
        assert event["destinationList"] == [
            {"type": "owning_party", "destination": f"{BASE}/facility/KC/customer/{customer}"},
            {"type": "possessing_party", "destination": f"{BASE}/facility/KC/customer/{customer}"},
        ]
        assert event["sourceList"][0] == {"type": "owning_party", "source": f"{BASE}/facility/KC"}
    assert units["epcList"] == [f"https://id.gs1.org/01/{GTIN}/21/{n}" for n in (1, 2, 3)]
    for uri in units["epcList"]:
        parse_link(uri)
    assert bulk["quantityList"] == [{"epcClass": LOT_CLASS, "quantity": 150.0, "uom": "KGM"}]
    assert bulk["ocop:customer"] == {"ocop:name": "Nhà phân phối Vinh", "ocop:kind": "distributor"}


def test_corrections_are_error_declarations_of_the_version_they_correct(
    client: FlaskClient, engine: Engine, scenario: Chain
) -> None:
    found = _by_id(_query(client, engine))
    u = scenario.uuid
    # First correction of the use (seq 4): the original, declared wrong, points at version 2.
    first = found[u(4) + "!"]
    assert first["errorDeclaration"]["reason"] == "incorrect_data"
    assert first["errorDeclaration"]["declarationTime"] == scenario.events[8].at
    assert first["errorDeclaration"]["correctiveEventIDs"] == [u(9)]
    assert first["inputQuantityList"][0]["quantity"] == 300.0
    assert first["ocop:seq"] == 4
    assert found[u(9)]["inputQuantityList"][0]["quantity"] == 280.0
    assert found[u(9)]["eventTime"] == scenario.events[3].at  # when the use happened
    assert (found[u(9)]["ocop:seq"], found[u(9)]["ocop:corrects"]) == (9, u(4))
    # The second correction declares version 2 wrong, not the original again.
    second = found[u(9) + "!"]
    assert second["inputQuantityList"][0]["quantity"] == 280.0
    assert second["errorDeclaration"]["correctiveEventIDs"] == [u(10)]
    assert found[u(10)]["inputQuantityList"][0]["quantity"] == 290.0
    # A receipt's correction.
    assert found[u(2) + "!"]["ilmd"]["ocop:supplierLot"] == "ND-7"
    assert found[u(11)]["ilmd"]["ocop:supplierLot"] == "ND-8"
    assert found[u(11)]["bizStep"] == "receiving"


def test_a_correction_naming_another_event_is_not_exported(
    client: FlaskClient, engine: Engine, scenario: Chain, chain: ChainBuilder
) -> None:
    wrong = Chain._fix(chain, 4, {"quantity": 1.0})
    wrong["corrects"]["type"] = "lot.shipped"  # seq 4 is a use, not a shipment
    e = chain.next("record.corrected", wrong)
    with engine.begin() as conn:
        conn.execute(insert(events).values(**_row(e, received_at=1013.0)))
    found = {_key(event) for event in _query(client, engine)}
    assert scenario.uuid(9) in found
    assert f"urn:uuid:{e.id}" not in found
    assert len(found) == 17


def test_recalls_and_their_lifting(client: FlaskClient, engine: Engine, scenario: Chain) -> None:
    recalled = _query(client, engine, EQ_disposition="recalled")
    assert [sorted(q["epcClass"] for q in e["quantityList"]) for e in recalled] == [
        sorted([R1_CLASS, LOT_CLASS]),
        [LOT_CLASS],
    ]
    assert recalled[0]["ocop:recalledLot"] == "ND-7"
    assert recalled[0]["eventTime"].endswith("+07:00")
    assert "readPoint" not in recalled[0]
    lifted = [e for e in _query(client, engine, lot=R1) if "ocop:liftsRecall" in e]
    assert len(lifted) == 1
    assert lifted[0]["disposition"] == "active"
    assert lifted[0]["ocop:liftsRecall"] == recalled[0]["eventID"]
    assert lifted[0]["recordTime"] == "1970-01-01T01:40:00.000+00:00"


TRANSFORMED_R1 = {"4", "4!", "9", "9!", "10"}
CORRECTIONS = {"4!", "9", "9!", "10", "2!", "11"}
T_0109Z = "2024-03-01T01:09:00Z"


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"EQ_bizStep": "receiving"}, {"2", "3", "2!", "11"}),
        ({"EQ_bizStep": "urn:epcglobal:cbv:bizstep:shipping"}, {"7", "8"}),
        ({"eventType": "TransformationEvent"}, {"4", "5", "4!", "9", "9!", "10"}),
        ({"EQ_disposition": "recalled"}, {"recall1", "recall2"}),
        ({"MATCH_epcClass": R1_CLASS}, {"2", "2!", "11", "recall1", "lift1"}),
        ({"MATCH_anyEPCClass": R1_CLASS}, {"2", "2!", "11", *TRANSFORMED_R1, "recall1", "lift1"}),
        ({"MATCH_inputEPCClass": R2_CLASS}, {"5"}),
        ({"MATCH_outputEPCClass": LOT_CLASS}, {"4", "5", "4!", "9", "9!", "10"}),
        ({"MATCH_epc": f"https://id.gs1.org/01/{GTIN}/21/2"}, {"7"}),
        ({"MATCH_anyEPC": f"https://id.gs1.org/01/{GTIN}/21/3"}, {"7"}),
        ({"lot": R2}, {"3", "5"}),
        ({"lot": R1, "EQ_action": "ADD"}, {"2", "2!", "11"}),
        ({"gtin": GTIN, "EQ_disposition": "recalled"}, {"recall1", "recall2"}),
        ({"facility": "HT"}, set()),
        ({"facility": "KC", "EQ_disposition": "active"}, {"6", "lift1"}),
        # Time windows: eventTime of device events is 08:00 + seq minutes (+07:00).
        ({"GE_eventTime": "2024-03-01T08:07:00+07:00", "LT_eventTime": T_0109Z}, {"7", "8"}),
        ({"GE_recordTime": _at(4800)}, {"recall1", "lift1", "recall2"}),
        # Record times: device event n was received at 1000 + n seconds, recalls from 5000.
        ({"GE_recordTime": _at(1003), "LT_recordTime": _at(1005)}, {"3", "4"}),
        ({"GE_recordTime": _at(1009), "LT_recordTime": _at(1200)}, CORRECTIONS),
    ],
)
def test_filters_find_the_new_events(
    client: FlaskClient,
    engine: Engine,
    scenario: Chain,
    params: dict[str, str],
    expected: set[str],
) -> None:
    names = {scenario.uuid(s) + bang: f"{s}{bang}" for s in range(1, 13) for bang in ("", "!")}
    found = _query(client, engine, **params)
    recalls_ = {e["eventID"]: e for e in _query(client, engine, EQ_action="OBSERVE")}
    for key, event in recalls_.items():
        if "ocop:recalledLot" in event:
            number = "2" if event["ocop:recalledLot"] == LOT else "1"
            names[key] = ("lift" if "ocop:liftsRecall" in event else "recall") + number
    assert {names[_key(e)] for e in found} == expected


def _pages(client: FlaskClient, engine: Engine, per_page: int) -> Iterator[list[dict[str, Any]]]:
    headers = _headers(engine)
    url: str | None = "/epcis/events?" + urlencode({"perPage": per_page})
    while url is not None:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200
        doc = resp.get_json(force=True)
        assert validation_errors(doc) == []
        yield doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = resp.headers.get("Link")
        if link is None:
            return
        match = re.fullmatch(r'<http://localhost(/epcis/events\?[^>]+)>; rel="next"', link)
        assert match is not None
        url = match.group(1)


@pytest.mark.parametrize("per_page", [1, 2, 3, 7])
def test_pages_hold_every_new_event_exactly_once(
    client: FlaskClient, engine: Engine, scenario: Chain, per_page: int
) -> None:
    full = _query(client, engine)
    seen = [_key(e) for page in _pages(client, engine, per_page) for e in page]
    assert seen == [_key(e) for e in full]
    assert len(seen) == len(set(seen)) == 17
    # Recalls and the lifting take their place in record order: after every device event here.
    assert [("ocop:recalledLot" in e) for e in full][-4:] == [False, True, True, True]


def test_events_ingested_and_projected_for_real_export_and_query(
    engine: Engine, device: str, chain: ChainBuilder, tmp_path: Path
) -> None:
    """The same kinds through ingest_chunk: the real binding and projections fill receipts and
    corrections, and the documents still hold the receipt and the error declaration."""
    b, receipt = new_batch_id(), new_batch_id()
    chain.next("batch.opened", opened_body(b, LOT))
    chain.next("input.received", _received(receipt, R1, _supplier("S1")))
    use = chain.next(
        "input.added", {"batch": b, "receipt": receipt, "lot": R1, "quantity": 3.0, "unit": "kg"}
    )
    fix = {"corrects": {"seq": 3, "id": use.id, "type": use.type}, "changes": {"quantity": 2.5}}
    chain.next("record.corrected", {**fix, "reason": "cân sai"})
    chain.next("batch.closed", {"batch": b, "quantity": 2.0, "unit": "kg"})
    result = ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events))
    assert (result.committed, result.quarantined) == (5, 0)
    exported = _export(engine)
    assert validation_errors(exported) == []
    app = create_app(ServerConfig(data_dir=tmp_path, public_base_url=BASE), engine)
    queried = _query(app.test_client(), engine)
    # One step back comes first in the batch's document; the query keeps record (seq) order.
    assert exported["epcisBody"]["eventList"][0]["bizStep"] == "receiving"
    assert [e.get("bizStep") for e in queried][:2] == ["commissioning", "receiving"]
    for found in (exported["epcisBody"]["eventList"], queried):
        declared = [e for e in found if "errorDeclaration" in e]
        assert [e["eventID"] for e in declared] == [f"urn:uuid:{use.id}"]
        quantities = [
            e["inputQuantityList"][0]["quantity"] for e in found if "inputQuantityList" in e
        ]
        assert quantities == [3.0, 3.0, 2.5]


def _loader(url: str, options: Any = None) -> dict[str, Any]:
    assert url == CONTEXT_URL, url  # offline: only the official context, from our copy
    return {"contextUrl": None, "documentUrl": url, "document": CONTEXT}


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def test_json_ld_expands_to_cbv_terms_and_one_vocabulary(
    client: FlaskClient, engine: Engine, scenario: Chain
) -> None:
    for doc in (
        _export(engine),
        client.get("/epcis/events", headers=_headers(engine)).get_json(force=True),
    ):
        expanded = jsonld.expand(doc, {"documentLoader": _loader})
        keys = [k for k, _ in _walk(expanded)]
        ids = {v for k, v in _walk(expanded) if k == "@id"}
        # The CBV country of origin, as the official examples write it (cbvmda:).
        assert "urn:epcglobal:cbv:mda:countryOfOrigin" in keys
        assert "urn:epcglobal:cbv:mda#countryOfOrigin" not in keys
        # Every kit term of the compact document expands under the one vocabulary IRI.
        ours = {k for k, _ in _walk(doc) if k.startswith("ocop:")}
        assert ours and {OCOP_VOC + k.removeprefix("ocop:") for k in ours} <= set(keys)
        assert not [k for k in keys if "/epcis/voc/" in k or k.startswith("ocop:")]
        for term in (
            "BizStep-receiving",
            "BizStep-shipping",
            "Disp-in_transit",
            "Disp-recalled",
            "ER-incorrect_data",
            "SDT-owning_party",
            "SDT-possessing_party",
        ):
            assert f"https://ref.gs1.org/cbv/{term}" in ids
        assert f"{OCOP_VOC}bizStep-closed" in ids
        assert "https://ref.gs1.org/epcis/TransformationEvent" in json.dumps(expanded)
