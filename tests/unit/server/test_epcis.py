"""EPCIS 2.0 export: a real synced batch becomes a document valid against the official schema."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from jsonschema import FormatChecker
from sqlalchemy import Engine

from ocop_cli.main import main
from sync_server.epcis.document import export_lot, validation_errors, validator
from sync_server.epcis.ids import OCOP_VOC
from sync_server.ingest.commit import ingest_chunk
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import LOT, opened_body, step_body
from tests.unit.server.conftest import DEV
from trace_protocol.digital_link import parse_link
from trace_protocol.messages import encode_chunk

GTIN = "08936123450014"
BASE = "https://trace.example.vn"
# Copies of the official examples (../shared/standards/epcis/examples, GS1 terms in LICENSE).
EXAMPLES = Path(__file__).resolve().parent / "epcis_examples"
CREATED = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)


def _sync_demo_batch(engine: Engine, chain: ChainBuilder, *, gtin: str | None = GTIN) -> None:
    batch = new_batch_id()
    opened = opened_body(batch, LOT)
    opened["product"]["gtin"] = gtin
    chain.next("batch.opened", opened)  # 1
    chain.next(
        "snapshot.taken",
        {
            "batch": batch,
            "sha256": "0" * 64,
            "thumb_sha256": "1" * 64,
            "camera": "c",
            "purpose": "evidence",
        },
    )  # 2
    chain.next(
        "step.recorded",
        {
            **step_body(batch, "NHAP", 0.0),
            "name": "Nhập lúa",
            "values": {"do_am": 14.2, "khoi_luong": 1200.0},
            "units": {"do_am": "%", "khoi_luong": "kg"},
            "labels": {"do_am": "Độ ẩm", "khoi_luong": "Khối lượng"},
            "labels_en": {"do_am": "Moisture", "khoi_luong": "Weight"},
            "note": "riêng tư",
            "photos": ["0" * 64],
        },
    )  # 3
    chain.next("step.recorded", step_body(batch, "SAY", 45.0))  # 4
    chain.next(
        "batch.closed",
        {"batch": batch, "quantity": 25.0, "unit": "kg", "expiry_date": "2025-03-01"},
    )  # 5
    chain.next(
        "labels.printed",
        {"batch": batch, "kind": "batch", "copies": 10, "format": "pdf", "printer": "file"},
    )  # 6
    chain.next(
        "labels.printed",
        {
            "batch": batch,
            "kind": "unit",
            "copies": 3,
            "serial_from": 1,
            "serial_to": 3,
            "format": "pdf",
            "printer": "file",
        },
    )  # 7
    chain.next(
        "labels.printed",
        {
            "batch": batch,
            "kind": "unit",
            "copies": 500,
            "serial_from": 4,
            "serial_to": 503,
            "format": "pdf",
            "printer": "file",
        },
    )  # 8
    chain.next(
        "labels.printed",
        {
            "batch": batch,
            "kind": "unit",
            "copies": 3,
            "serial_from": 1,
            "serial_to": 3,
            "format": "pdf",
            "printer": "file",
            "reprint_of": 7,
        },
    )  # 9
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events)).committed == 9


def _export(engine: Engine, gtin: str | None = GTIN) -> dict[str, Any]:
    with engine.connect() as conn:
        doc = export_lot(conn, LOT, gtin, base_url=BASE, created=CREATED)
    assert doc is not None
    return doc


def test_format_checking_is_really_on() -> None:
    assert "uri" in FormatChecker().checkers
    assert "date-time" in FormatChecker().checkers
    validator()  # raises when a checker is missing


def test_demo_batch_exports_a_valid_document(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    _sync_demo_batch(engine, chain)
    doc = _export(engine)
    assert validation_errors(doc) == []
    events = doc["epcisBody"]["eventList"]
    # The snapshot is not exported; everything else is, in seq order.
    assert [e["ocop:seq"] for e in events] == [1, 3, 4, 5, 6, 7, 8, 9]
    lot_class = f"https://id.gs1.org/01/{GTIN}/10/{LOT}"
    opened, intake, drying, closed, batch_labels, units, big_run, reprint = events

    assert opened["action"] == "ADD" and opened["bizStep"] == "commissioning"
    assert opened["quantityList"] == [{"epcClass": lot_class}]
    assert opened["ilmd"]["cbvmda:lotNumber"] == LOT
    assert opened["ilmd"]["cbvmda:countryOfOrigin"] == "VN"  # the prefix the context defines
    assert doc["@context"][1] == {"ocop": OCOP_VOC}  # one IRI, whatever the deployment's URL
    assert opened["eventID"] == f"urn:uuid:{chain.events[0].id}"
    assert opened["ocop:eventHash"] == chain.events[0].hash
    assert opened["eventTime"] == chain.events[0].at
    assert opened["eventTimeZoneOffset"] == chain.events[0].at[-6:]
    assert opened["readPoint"] == {"id": f"{BASE}/facility/KC"}

    assert intake["action"] == "OBSERVE"
    assert intake["bizStep"] == f"{OCOP_VOC}bizStep-NHAP"
    reports = intake["sensorElementList"][0]["sensorReport"]
    assert [(r["type"], r["value"], r.get("uom")) for r in reports] == [
        (f"{OCOP_VOC}measurement-do_am", 14.2, "P1"),
        ("Mass", 1200.0, "KGM"),
    ]
    temp = drying["sensorElementList"][0]["sensorReport"][0]
    assert (temp["type"], temp["value"], temp["uom"]) == ("Temperature", 45.0, "CEL")
    assert "riêng tư" not in json.dumps(doc, ensure_ascii=False)  # the note is private

    assert closed["quantityList"] == [{"epcClass": lot_class, "quantity": 25.0, "uom": "KGM"}]
    assert closed["disposition"] == "active"
    assert closed["ocop:itemExpirationDate"] == "2025-03-01"

    assert (batch_labels["action"], batch_labels["bizStep"]) == ("OBSERVE", "encoding")
    assert (units["action"], units["bizStep"]) == ("ADD", "commissioning")
    assert units["epcList"] == [f"https://id.gs1.org/01/{GTIN}/21/{n}" for n in (1, 2, 3)]
    for uri in units["epcList"] + [lot_class]:
        parse_link(uri)  # a valid Digital Link; constrained: no query, no lot beside a serial
        assert "?" not in uri
    assert big_run["quantityList"] == [{"epcClass": lot_class, "quantity": 500}]
    assert (big_run["ocop:serialFrom"], big_run["ocop:serialTo"]) == ("4", "503")
    assert (reprint["action"], reprint["bizStep"], reprint["ocop:reprintOf"]) == (
        "OBSERVE",
        "encoding",
        7,
    )
    assert "ilmd" not in reprint


def test_product_without_gtin_uses_our_short_form(
    engine: Engine, device: str, chain: ChainBuilder
) -> None:
    _sync_demo_batch(engine, chain, gtin=None)
    doc = _export(engine, gtin=None)
    assert validation_errors(doc) == []
    events = doc["epcisBody"]["eventList"]
    assert events[0]["quantityList"] == [{"epcClass": f"{BASE}/l/{LOT}"}]
    assert events[5]["epcList"][0] == f"{BASE}/l/{LOT}/1"


def test_unknown_lot_gives_none(engine: Engine, device: str) -> None:
    with engine.connect() as conn:
        assert export_lot(conn, "KC-NM-000000-01", None, base_url=BASE, created=CREATED) is None


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.jsonld")))
def test_official_examples_validate(name: str) -> None:
    doc = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    assert validation_errors(doc) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("eventTimeZoneOffset",), "+7:00"),
        (("bizStep",), "Commissioning"),  # caught only by the uri format checker
        (("action",), None),
        (("quantityList", 0, "uom"), "kg"),
        (("ocop:seq",), "x"),  # stays valid: extension values are free...
    ],
)
def test_broken_documents_fail(
    engine: Engine, device: str, chain: ChainBuilder, path: tuple[Any, ...], value: Any
) -> None:
    _sync_demo_batch(engine, chain)
    doc = copy.deepcopy(_export(engine))
    target: Any = doc["epcisBody"]["eventList"][0]
    for part in path[:-1]:
        target = target[part]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    errors = validation_errors(doc)
    if path == ("ocop:seq",):
        assert errors == []
        doc["epcisBody"]["eventList"][0]["seq"] = 1  # ...but an unprefixed field is not
        assert validation_errors(doc) != []
    else:
        assert errors != []


def test_cli_export_and_unknown_lot(
    engine: Engine,
    device: str,
    chain: ChainBuilder,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _sync_demo_batch(engine, chain)
    config = tmp_path / "server.toml"
    config.write_text(
        f'database_url = "{engine.url}"\npublic_base_url = "{BASE}"\ndata_dir = "{tmp_path}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("OCOP_SERVER_CONFIG", str(config))
    assert main(["server", "export-epcis", "--lot", LOT, "--gtin", GTIN[1:]]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert validation_errors(doc) == []
    assert len(doc["epcisBody"]["eventList"]) == 8

    assert main(["server", "export-epcis", "--lot", "KC-NM-000000-01"]) == 2
    err = capsys.readouterr().err
    assert "no batch with lot KC-NM-000000-01" in err


def test_the_official_examples_are_there() -> None:
    assert len(list(EXAMPLES.glob("*.jsonld"))) == 8
