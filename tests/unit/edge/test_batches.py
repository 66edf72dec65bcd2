"""Worker commands on batches: each checks its rules and appends one event, or none."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from sqlite_utils import Database

from edge_agent.batches import (
    MAX_NOTE,
    DomainError,
    close_batch,
    issue_labels,
    open_batch,
    record_step,
)
from edge_agent.catalog_store import load_catalog, store_catalog
from edge_agent.clock import Clock
from edge_agent.database import EdgeDatabase
from edge_agent.journal import Journal
from edge_agent.projections import project
from edge_agent.queries import get_batch
from tests.unit.edge.conftest import ICT, FixedClock, kc_catalog
from trace_protocol.catalog import Catalog
from trace_protocol.envelope import Event

NHAP_OK = {"do_am": "14,5", "khoi_luong": "1000"}


def test_catalog_store_keeps_the_newest(db: Database) -> None:
    assert load_catalog(db) is None
    assert store_catalog(db, kc_catalog(2))
    assert not store_catalog(db, kc_catalog(1))
    stored = load_catalog(db)
    assert stored == kc_catalog(2)
    assert store_catalog(db, kc_catalog(2))  # the same version again is fine
    assert store_catalog(db, kc_catalog(3))
    newest = load_catalog(db)
    assert newest is not None
    assert newest.version == 3


def test_open_batch_lot_format_and_counter(journal: Journal, catalog: Catalog) -> None:
    first = open_batch(journal, catalog, "NM", "")
    second = open_batch(journal, catalog, "NM", "")
    assert first.type == "batch.opened"
    assert first.body["lot"] == "KC-NM-240301-01"
    assert second.body["lot"] == "KC-NM-240301-02"
    assert first.body["batch"] != second.body["batch"]
    assert first.body["production_date"] == "2024-03-01"
    assert first.body["catalog_version"] == 1
    assert first.body["product"]["gtin"] == "08936123450014"
    assert first.body["facility"]["name"] == "Công ty TNHH MTV KC"
    row = get_batch(journal.store.writer, first.body["batch"])
    assert row is not None
    assert (row.lot, row.status, row.product_code, row.product_name) == (
        "KC-NM-240301-01",
        "open",
        "NM",
        "Gạo Ngọc Mầm",
    )


def test_lot_counter_restarts_on_a_new_day_and_per_prefix(
    store: EdgeDatabase,
    key,
    catalog: Catalog,  # type: ignore[no-untyped-def]
) -> None:
    day1 = Journal(store, key, "kc-test-1", FixedClock(), project)
    day2 = Journal(
        store, key, "kc-test-1", FixedClock(at=datetime(2024, 3, 2, 7, tzinfo=ICT)), project
    )
    assert open_batch(day1, catalog, "NM", "").body["lot"] == "KC-NM-240301-01"
    assert open_batch(day2, catalog, "NM", "").body["lot"] == "KC-NM-240302-01"
    assert open_batch(day1, catalog, "NM", "ab").body["lot"] == "AB-NM-240301-01"
    assert open_batch(day1, catalog, "NM", "").body["lot"] == "KC-NM-240301-02"


def test_open_batch_with_the_real_clock(store: EdgeDatabase, key, catalog: Catalog) -> None:  # type: ignore[no-untyped-def]
    journal = Journal(store, key, "kc-test-1", Clock(), project)
    before = datetime.now().astimezone().date()
    event = open_batch(journal, catalog, "NM", "")
    after = datetime.now().astimezone().date()
    lot_day = event.body["production_date"]
    assert lot_day in (before.isoformat(), after.isoformat())
    assert event.body["lot"] == f"KC-NM-{date.fromisoformat(lot_day):%y%m%d}-01"


def test_open_batch_unknown_product_writes_nothing(journal: Journal, catalog: Catalog) -> None:
    with pytest.raises(DomainError) as err:
        open_batch(journal, catalog, "XX", "")
    assert err.value.code == "unknown_product"
    assert journal.head() == 0


def test_100th_batch_of_the_day_is_refused(journal: Journal, catalog: Catalog) -> None:
    for _ in range(99):
        open_batch(journal, catalog, "NM", "")
    with pytest.raises(DomainError) as err:
        open_batch(journal, catalog, "NM", "")
    assert err.value.code == "lot_unavailable"
    assert journal.head() == 99


@pytest.fixture
def batch_id(journal: Journal, catalog: Catalog) -> str:
    return str(open_batch(journal, catalog, "NM", "").body["batch"])


def test_record_step_parses_values(journal: Journal, catalog: Catalog, batch_id: str) -> None:
    event = record_step(journal, catalog, batch_id, "NHAP", NHAP_OK, "  lúa khô  ")
    assert event.type == "step.recorded"
    assert event.seq == 2
    assert event.body["values"] == {"do_am": 14.5, "khoi_luong": 1000.0}
    assert event.body["units"] == {"do_am": "%", "khoi_luong": "kg"}
    assert event.body["labels"] == {"do_am": "Độ ẩm", "khoi_luong": "Khối lượng"}
    assert event.body["name"] == "Nhập lúa nguyên liệu"
    assert event.body["note"] == "lúa khô"
    row = journal.store.writer.conn.execute(
        "SELECT seq, batch_id, step_code, measured, note FROM steps"
    ).fetchone()
    assert row[:3] == (2, batch_id, "NHAP")
    assert json.loads(row[3]) == {"do_am": 14.5, "khoi_luong": 1000.0}
    assert row[4] == "lúa khô"
    batch = get_batch(journal.store.writer, batch_id)
    assert batch is not None
    assert batch.last_seq == 2


def test_step_without_fields_and_range_bounds(
    journal: Journal, catalog: Catalog, batch_id: str
) -> None:
    assert record_step(journal, catalog, batch_id, "XAT", {}, "").body["values"] == {}
    lo = record_step(journal, catalog, batch_id, "SAY", {"nhiet_do": "25"}, "")
    hi = record_step(journal, catalog, batch_id, "SAY", {"nhiet_do": "70"}, "")
    assert (lo.body["values"], hi.body["values"]) == ({"nhiet_do": 25.0}, {"nhiet_do": 70.0})
    note = record_step(journal, catalog, batch_id, "XAT", {}, "n" * MAX_NOTE)
    assert note.body["note"] == "n" * 500


@pytest.mark.parametrize(
    ("step", "values", "note", "code"),
    [
        ("NOPE", {}, "", "unknown_step"),
        ("NHAP", {"do_am": "14"}, "", "value_missing"),
        ("NHAP", {"do_am": "14", "khoi_luong": "   "}, "", "value_missing"),
        ("NHAP", {"do_am": "abc", "khoi_luong": "1"}, "", "value_not_number"),
        ("NHAP", {"do_am": "nan", "khoi_luong": "1"}, "", "value_not_number"),
        ("NHAP", {"do_am": "14", "khoi_luong": "inf"}, "", "value_not_number"),
        ("NHAP", {"do_am": "30,1", "khoi_luong": "1"}, "", "value_out_of_range"),
        ("NHAP", {"do_am": "14.5", "khoi_luong": "1"}, "", "value_use_comma"),
        ("NHAP", {"do_am": "14", "khoi_luong": "1.5"}, "", "value_use_comma"),
        ("NHAP", {"do_am": "7,9", "khoi_luong": "1"}, "", "value_out_of_range"),
        ("NHAP", {"do_am": "14", "khoi_luong": "-1"}, "", "value_out_of_range"),
        ("SAY", {"nhiet_do": "71"}, "", "value_out_of_range"),
        ("XAT", {}, "n" * (MAX_NOTE + 1), "note_too_long"),
    ],
)
def test_record_step_errors_write_no_event(
    journal: Journal,
    catalog: Catalog,
    batch_id: str,
    step: str,
    values: dict[str, str],
    note: str,
    code: str,
) -> None:
    head = journal.head()
    with pytest.raises(DomainError) as err:
        record_step(journal, catalog, batch_id, step, values, note)
    assert err.value.code == code
    assert journal.head() == head
    assert journal.store.writer.conn.execute("SELECT COUNT(*) FROM steps").fetchone()[0] == 0


def test_out_of_range_error_names_the_field_and_bounds(
    journal: Journal, catalog: Catalog, batch_id: str
) -> None:
    with pytest.raises(DomainError) as err:
        record_step(journal, catalog, batch_id, "NHAP", {"do_am": "31", "khoi_luong": "1"}, "")
    assert err.value.params == {"field": "Độ ẩm", "key": "do_am", "min": "8", "max": "30"}


def test_record_step_on_unknown_batch(journal: Journal, catalog: Catalog) -> None:
    with pytest.raises(DomainError) as err:
        record_step(journal, catalog, "no-such-batch", "XAT", {}, "")
    assert err.value.code == "batch_not_found"
    assert journal.head() == 0


def test_close_batch_requires_a_step(journal: Journal, catalog: Catalog, batch_id: str) -> None:
    with pytest.raises(DomainError) as err:
        close_batch(journal, catalog, batch_id, "10")
    assert err.value.code == "no_steps"
    assert journal.head() == 1
    batch = get_batch(journal.store.writer, batch_id)
    assert batch is not None
    assert batch.status == "open"


@pytest.mark.parametrize("quantity", ["0", "-1", "abc", "", "nan", "inf", "0,0"])
def test_close_batch_requires_a_positive_quantity(
    journal: Journal, catalog: Catalog, batch_id: str, quantity: str
) -> None:
    record_step(journal, catalog, batch_id, "XAT", {}, "")
    with pytest.raises(DomainError) as err:
        close_batch(journal, catalog, batch_id, quantity)
    assert err.value.code == "quantity_invalid"
    assert journal.head() == 2


def test_close_batch(journal: Journal, catalog: Catalog, batch_id: str) -> None:
    record_step(journal, catalog, batch_id, "XAT", {}, "")
    event = close_batch(journal, catalog, batch_id, " 12,5 ")
    # 2024-03-01 + 365 days (a leap year's March onwards) = 2025-03-01.
    assert event.body == {
        "batch": batch_id,
        "quantity": 12.5,
        "unit": "kg",
        "expiry_date": "2025-03-01",
    }
    batch = get_batch(journal.store.writer, batch_id)
    assert batch is not None
    assert (batch.status, batch.quantity, batch.unit, batch.expiry_date, batch.last_seq) == (
        "closed",
        12.5,
        "kg",
        "2025-03-01",
        3,
    )


def test_closed_batch_takes_no_more_steps(
    journal: Journal, catalog: Catalog, batch_id: str
) -> None:
    record_step(journal, catalog, batch_id, "XAT", {}, "")
    close_batch(journal, catalog, batch_id, "5")
    with pytest.raises(DomainError) as err:
        record_step(journal, catalog, batch_id, "XAT", {}, "")
    assert err.value.code == "batch_closed"
    assert err.value.params == {"lot": "KC-NM-240301-01"}
    with pytest.raises(DomainError) as err:
        close_batch(journal, catalog, batch_id, "5")
    assert err.value.code == "batch_closed"
    assert journal.head() == 3


def test_labels_only_after_close(journal: Journal, catalog: Catalog, batch_id: str) -> None:
    def issue(
        batch: str, copies: int = 10, unit: bool = False, reprint: int | None = None
    ) -> Event:
        return issue_labels(
            journal, batch, copies=copies, unit=unit, fmt="pdf", printer="file", reprint_of=reprint
        )

    with pytest.raises(DomainError) as err:
        issue(batch_id)
    assert err.value.code == "batch_not_closed"
    assert journal.head() == 1
    with pytest.raises(DomainError) as err:
        issue("nope")
    assert err.value.code == "batch_not_found"

    record_step(journal, catalog, batch_id, "XAT", {}, "")
    close_batch(journal, catalog, batch_id, "5")
    event = issue(batch_id)
    assert (event.type, event.seq) == ("labels.printed", 4)
    assert "serial_from" not in event.body  # batch labels carry no serials
    # Unit serials count per lot, offline, from the runs already in the journal.
    first = issue(batch_id, copies=100, unit=True)
    second = issue(batch_id, copies=5, unit=True)
    assert (first.body["serial_from"], first.body["serial_to"]) == (1, 100)
    assert (second.body["serial_from"], second.body["serial_to"]) == (101, 105)
    # A reprint is on record, repeats the run it names and mints nothing new.
    again = issue(batch_id, copies=999, reprint=first.seq)
    assert again.body["reprint_of"] == first.seq
    assert (again.body["copies"], again.body["serial_from"], again.body["serial_to"]) == (
        100,
        1,
        100,
    )
    assert issue(batch_id, copies=1, unit=True).body["serial_from"] == 106
    with pytest.raises(DomainError) as err:
        issue(batch_id, reprint=9999)
    assert err.value.code == "reprint_unknown"
    # Each run queued its print job in the same transaction as its event.
    jobs = journal.store.writer.conn.execute(
        "SELECT seq, kind, copies, serial_from, state FROM print_jobs"
    )
    assert [tuple(r) for r in jobs] == [
        (4, "batch", 10, None, "queued"),
        (5, "unit", 100, 1, "queued"),
        (6, "unit", 5, 101, "queued"),
        (7, "unit", 100, 1, "queued"),
        (8, "unit", 1, 106, "queued"),
    ]
    batch = get_batch(journal.store.writer, batch_id)
    assert batch is not None
    assert batch.last_seq == 8
