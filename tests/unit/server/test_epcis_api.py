"""GET /epcis/events: auth, every filter, paging exactly once, and schema-valid query documents."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, insert, update

from sync_server.accounts.users import create_api_token, create_user, revoke_api_token
from sync_server.config import ServerConfig
from sync_server.devices.registry import register_device
from sync_server.epcis import query as epcis_query
from sync_server.epcis.document import validation_errors
from sync_server.epcis.ids import OCOP_VOC
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import events, facilities
from sync_server.web import create_app
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.test_epcis import BASE, GTIN, _sync_demo_batch
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

DEV2 = "ht-test-2"
LOT2 = "HT-XY-240305-01"
PASSWORD = "mật-khẩu-đủ-dài"
LOT_CLASS = f"https://id.gs1.org/01/{GTIN}/10/{LOT}"
# The demo batch exports 8 events (seq 1, 3-9); the second batch 3 (seq 1-3).
ALL = {("kc-test-1", s) for s in (1, 3, 4, 5, 6, 7, 8, 9)} | {(DEV2, s) for s in (1, 2, 3)}


def _second_batch(engine: Engine) -> None:
    """Another facility's batch, without a GTIN, received later than the demo batch."""
    with engine.begin() as conn:
        conn.execute(
            insert(facilities).values(code="HT", name="HTX Hương Trà", catalog={"products": []})
        )
    key = DeviceKey.generate()
    register_device(engine, DEV2, "HT", key.public_key_b64)
    chain = ChainBuilder(key, DEV2)
    batch = new_batch_id()
    opened = opened_body(batch, LOT2)
    opened["product"]["gtin"] = None
    opened["facility"] = {**opened["facility"], "code": "HT", "name": "HTX Hương Trà"}
    chain.next("batch.opened", opened)
    chain.next("step.recorded", step_body(batch, "SAY", 50.0))
    chain.next("batch.closed", {"batch": batch, "quantity": 10.0, "unit": "kg"})
    assert ingest_chunk(engine, DEV2, encode_chunk(DEV2, chain.events)).committed == 3
    with engine.begin() as conn:  # record times we can filter on
        conn.execute(update(events).where(events.c.dev_id != DEV2).values(received_at=1000.0))
        conn.execute(update(events).where(events.c.dev_id == DEV2).values(received_at=2000.0))


@pytest.fixture
def client(engine: Engine, device: str, chain: ChainBuilder, tmp_path: Path) -> FlaskClient:
    _sync_demo_batch(engine, chain)
    _second_batch(engine)
    config = ServerConfig(data_dir=tmp_path, public_base_url=BASE)
    return create_app(config, engine).test_client()


def _token(engine: Engine) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_api_token(engine, 'partner')}"}


def _keys(doc: dict[str, Any]) -> list[tuple[str, int]]:
    return [(e["ocop:device"], e["ocop:seq"]) for e in _events(doc)]


def _events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    events_: list[dict[str, Any]] = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    return events_


def test_anonymous_gets_401_with_a_bearer_challenge(client: FlaskClient) -> None:
    resp = client.get("/epcis/events")
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert resp.get_json()["type"] == "epcisException:SecurityException"


def test_revoked_or_wrong_token_gets_401(client: FlaskClient, engine: Engine) -> None:
    headers = _token(engine)
    assert client.get("/epcis/events", headers=headers).status_code == 200
    revoke_api_token(engine, "partner")
    assert client.get("/epcis/events", headers=headers).status_code == 401
    wrong = {"Authorization": "Bearer not-a-token"}
    assert client.get("/epcis/events", headers=wrong).status_code == 401


def test_token_gets_a_valid_query_document_of_every_batch(
    client: FlaskClient, engine: Engine
) -> None:
    resp = client.get("/epcis/events", headers=_token(engine))
    assert resp.status_code == 200
    assert resp.mimetype == "application/ld+json"
    assert resp.headers["GS1-EPCIS-Version"] == "2.0.0"
    assert "Link" not in resp.headers
    doc = resp.get_json(force=True)
    assert validation_errors(doc) == []
    assert doc["type"] == "EPCISQueryDocument"
    assert doc["epcisBody"]["queryResults"]["queryName"] == "SimpleEventQuery"
    assert set(_keys(doc)) == ALL and len(_keys(doc)) == len(ALL)
    assert all(e["recordTime"].startswith("1970-01-01T00:") for e in _events(doc)[:8])
    vocab = doc["epcisBody"]["queryResults"]["resultsBody"]["vocabularyList"]
    locations = next(v for v in vocab if v["type"].endswith("Location"))
    assert [e["id"] for e in locations["vocabularyElementList"]] == [
        f"{BASE}/facility/KC",
        f"{BASE}/facility/HT",
    ]


def test_logged_in_office_user_gets_200(client: FlaskClient, engine: Engine) -> None:
    create_user(engine, "lan", PASSWORD, "officer")
    page = client.get("/office/login").get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    resp = client.post(
        "/office/login", data={"csrf": match.group(1), "username": "lan", "password": PASSWORD}
    )
    assert resp.status_code == 302
    resp = client.get("/epcis/events")
    assert resp.status_code == 200
    assert len(_events(resp.get_json(force=True))) == len(ALL)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"eventType": "ObjectEvent"}, ALL),
        ({"eventType": "AggregationEvent|TransactionEvent"}, set()),
        ({"GE_eventTime": "2024-03-01T08:05:00+07:00"}, {k for k in ALL if k[1] >= 5}),
        # The same instant in UTC: times are compared as instants, not as strings.
        ({"LT_eventTime": "2024-03-01T01:03:00Z"}, {k for k in ALL if k[1] < 3}),
        ({"GE_recordTime": "1970-01-01T00:20:00Z"}, {k for k in ALL if k[0] == DEV2}),
        ({"LT_recordTime": "1970-01-01T00:20:00+00:00"}, {k for k in ALL if k[0] != DEV2}),
        (
            {"EQ_bizStep": "commissioning"},
            {("kc-test-1", 1), ("kc-test-1", 7), ("kc-test-1", 8), (DEV2, 1)},
        ),
        (
            {"EQ_bizStep": "https://ref.gs1.org/cbv/BizStep-encoding"},
            {("kc-test-1", s) for s in (6, 9)},
        ),
        ({"EQ_bizStep": f"{OCOP_VOC}bizStep-SAY"}, {("kc-test-1", 4), (DEV2, 2)}),
        ({"EQ_action": "ADD"}, {("kc-test-1", 1), ("kc-test-1", 7), ("kc-test-1", 8), (DEV2, 1)}),
        ({"EQ_disposition": "active"}, {("kc-test-1", s) for s in (5, 7, 8, 9)} | {(DEV2, 3)}),
        ({"EQ_bizLocation": f"{BASE}/facility/HT"}, {k for k in ALL if k[0] == DEV2}),
        ({"EQ_readPoint": f"{BASE}/facility/KC"}, {k for k in ALL if k[0] != DEV2}),
        ({"MATCH_epc": f"https://id.gs1.org/01/{GTIN}/21/2"}, {("kc-test-1", s) for s in (7, 9)}),
        ({"MATCH_anyEPC": f"https://id.gs1.org/01/{GTIN}/21/9"}, set()),
        ({"MATCH_anyEPCClass": LOT_CLASS}, {("kc-test-1", s) for s in (1, 3, 4, 5, 6, 8)}),
        ({"MATCH_epcClass": f"{BASE}/l/{LOT2}"}, {k for k in ALL if k[0] == DEV2}),
        ({"lot": LOT2}, {k for k in ALL if k[0] == DEV2}),
        ({"lot": f"{LOT}|{LOT2}"}, ALL),
        ({"gtin": GTIN[1:]}, {k for k in ALL if k[0] != DEV2}),
        ({"facility": "HT"}, {k for k in ALL if k[0] == DEV2}),
        ({"facility": "HT", "EQ_bizStep": "commissioning"}, {(DEV2, 1)}),
    ],
)
def test_each_filter_filters(
    client: FlaskClient, engine: Engine, params: dict[str, str], expected: set[tuple[str, int]]
) -> None:
    resp = client.get("/epcis/events", query_string=params, headers=_token(engine))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    doc = resp.get_json(force=True)
    assert set(_keys(doc)) == expected
    assert validation_errors(doc) == []


def test_repeated_parameters_are_a_list(client: FlaskClient, engine: Engine) -> None:
    url = "/epcis/events?facility=HT&facility=KC&EQ_action=ADD"
    doc = client.get(url, headers=_token(engine)).get_json(force=True)
    assert set(_keys(doc)) == {("kc-test-1", 1), ("kc-test-1", 7), ("kc-test-1", 8), (DEV2, 1)}


STEPS = "|".join(
    [
        "commissioning",
        "encoding",
        *(f"{OCOP_VOC}bizStep-{s}" for s in ("NHAP", "SAY", "closed")),
    ]
)


@pytest.mark.parametrize(("per_page", "chunk"), [(1, 500), (3, 500), (10, 500), (11, 500), (2, 2)])
def test_pages_cover_every_event_exactly_once(
    client: FlaskClient,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    per_page: int,
    chunk: int,
) -> None:
    monkeypatch.setattr(epcis_query, "_SCAN_CHUNK", chunk)  # several SQL reads per page
    headers = _token(engine)
    url: str | None = "/epcis/events?" + urlencode({"perPage": per_page, "EQ_bizStep": STEPS})
    seen: list[tuple[str, int]] = []
    pages = 0
    while url is not None:
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200
        doc = resp.get_json(force=True)
        assert validation_errors(doc) == []
        assert 1 <= len(_events(doc)) <= per_page
        seen += _keys(doc)
        pages += 1
        link = resp.headers.get("Link")
        if link is None:
            url = None
            continue
        match = re.fullmatch(r'<(http://localhost/epcis/events\?[^>]+)>; rel="next"', link)
        assert match is not None, link
        parts = urlsplit(match.group(1))
        assert parse_qs(parts.query)["perPage"] == [str(per_page)]
        url = f"{parts.path}?{parts.query}"
    assert sorted(seen) == sorted(ALL)
    assert pages == -(-len(ALL) // per_page)


def test_a_sparse_filter_reads_past_many_chunks(
    client: FlaskClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(epcis_query, "_SCAN_CHUNK", 2)
    headers = _token(engine)
    resp = client.get("/epcis/events?EQ_bizStep=commissioning&perPage=1", headers=headers)
    assert _keys(resp.get_json(force=True)) == [("kc-test-1", 1)]
    resp = client.get("/epcis/events?facility=HT&perPage=3", headers=headers)
    assert _keys(resp.get_json(force=True)) == [(DEV2, 1), (DEV2, 2), (DEV2, 3)]
    assert "Link" not in resp.headers


def test_a_token_only_works_for_its_own_query(client: FlaskClient, engine: Engine) -> None:
    headers = _token(engine)
    link = client.get("/epcis/events?perPage=2&facility=KC", headers=headers).headers["Link"]
    token = parse_qs(urlsplit(link[1:].split(">")[0]).query)["nextPageToken"][0]
    ok = client.get(f"/epcis/events?perPage=5&facility=KC&nextPageToken={token}", headers=headers)
    assert ok.status_code == 200  # a different page size is fine...
    assert _keys(ok.get_json(force=True))[0] == ("kc-test-1", 4)
    other = client.get(f"/epcis/events?facility=HT&nextPageToken={token}", headers=headers)
    assert other.status_code == 400  # ...other filters are not
    payload, mac = token.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    for bad in (forged, "x", "a.b.c", "' OR 1=1 --", ""):
        resp = client.get(
            "/epcis/events", query_string={"facility": "KC", "nextPageToken": bad}, headers=headers
        )
        assert resp.status_code == 400
        assert resp.get_json()["parameter"] == "nextPageToken"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"LT_eventTime": "2024-03-01T08:00:00"}, "LT_eventTime"),  # no time zone
        ({"GE_recordTime": "2024-13-01T00:00:00Z"}, "GE_recordTime"),
        ({"eventType": "ObjectEvent|ThingEvent"}, "eventType"),
        ({"perPage": "0"}, "perPage"),
        ({"perPage": "1001"}, "perPage"),
        ({"perPage": "ten"}, "perPage"),
        ({"EQ_action": "DESTROY"}, "EQ_action"),
        ({"gtin": "12345"}, "gtin"),
        ({"EQ_bizstep": "commissioning"}, "EQ_bizstep"),  # unknown names are refused
    ],
)
def test_bad_parameters_give_400_naming_them(
    client: FlaskClient, engine: Engine, params: dict[str, str], parameter: str
) -> None:
    resp = client.get("/epcis/events", query_string=params, headers=_token(engine))
    assert resp.status_code == 400
    problem = resp.get_json()
    assert problem["parameter"] == parameter
    assert problem["type"] == "epcisException:QueryParameterException"
    assert problem["detail"]


def test_unencoded_plus_in_a_time_still_works(client: FlaskClient, engine: Engine) -> None:
    # curl users often send "+07:00" unencoded; it arrives as a space.
    resp = client.get(
        "/epcis/events?GE_eventTime=2024-03-01T08:09:00+07:00", headers=_token(engine)
    )
    assert resp.status_code == 200
    assert set(_keys(resp.get_json(force=True))) == {("kc-test-1", 9)}
