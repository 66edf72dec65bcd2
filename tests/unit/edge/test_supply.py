"""Issue 15's worker commands: receive, use, ship, correct, void; each appends one event or none."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge_agent import supply_queries as sq
from edge_agent.batches import DomainError, close_batch, issue_labels, open_batch, record_step
from edge_agent.corrections import correct
from edge_agent.journal import Journal
from edge_agent.queries import get_batch
from edge_agent.supply import receive, ship, use_input, void_batch
from tests.unit.edge.supply_catalog import supply_catalog
from trace_protocol import supply_events as se
from trace_protocol.catalog import Catalog
from trace_protocol.links import is_receipt_lot

NHAP_OK = {"do_am": "14,5", "khoi_luong": "1000"}


@pytest.fixture
def cat() -> Catalog:
    return supply_catalog()


def _receive(journal: Journal, cat: Catalog, qty: str = "1.500", lot: str = "THT-0301") -> str:
    event = receive(
        journal, cat, "", supplier_id="THT", material_code="LUA", supplier_lot=lot,
        quantity_text=qty,
    )  # fmt: skip
    return str(event.body["receipt"])


def _closed_batch(journal: Journal, cat: Catalog, qty: str = "600") -> str:
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    record_step(journal, cat, batch, "NHAP", NHAP_OK, "")
    close_batch(journal, cat, batch, qty)
    return batch


def test_receive_gives_a_receiving_lot_and_a_valid_body(journal: Journal, cat: Catalog) -> None:
    first = receive(
        journal, cat, "", supplier_id="THT", material_code="LUA", supplier_lot=" THT-0301 ",
        quantity_text="1.500,5", received_on="2024-02-29",
    )  # fmt: skip
    second = receive(
        journal, cat, "", supplier_id="ND1", material_code="LUA", supplier_lot="",
        quantity_text="20",
    )  # fmt: skip
    assert first.type == se.INPUT_RECEIVED
    assert se.body_problem(first.type, first.body) is None
    assert first.body["lot"] == "KC-NL-240301-01"
    assert second.body["lot"] == "KC-NL-240301-02"
    assert is_receipt_lot(first.body["lot"])
    assert first.body["quantity"] == 1500.5
    assert first.body["unit"] == "kg"
    assert first.body["supplier_lot"] == "THT-0301"
    assert first.body["received_on"] == "2024-02-29"
    assert first.body["supplier"]["certification"]["code"] == "VG-123"
    assert second.body["received_on"] == "2024-03-01"
    with journal.store.read() as db:
        row = sq.get_receipt(db, first.body["receipt"])
    assert row is not None
    assert (row.lot, row.left, row.supplier_name) == (
        "KC-NL-240301-01",
        1500.5,
        "Tổ hợp tác lúa Thống Nhất",
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"supplier_id": "NOPE"}, "unknown_supplier"),
        ({"material_code": "XX"}, "unknown_material"),
        ({"quantity_text": "0"}, "amount_invalid"),
        ({"quantity_text": "-3"}, "amount_invalid"),
        ({"quantity_text": "abc"}, "amount_invalid"),
        ({"quantity_text": "1.5"}, "amount_use_comma"),
        ({"received_on": "2024-03-02"}, "date_in_future"),
        ({"received_on": "hôm qua"}, "date_invalid"),
        ({"supplier_lot": "X" * 41}, "supplier_lot_too_long"),
        ({"unit": "bao"}, "unit_invalid"),
    ],
)
def test_receive_refuses_bad_input_and_saves_nothing(
    journal: Journal, cat: Catalog, kwargs: dict[str, str], code: str
) -> None:
    args = {"supplier_id": "THT", "material_code": "LUA", "supplier_lot": "", "quantity_text": "5"}
    with pytest.raises(DomainError) as err:
        receive(journal, cat, "", **{**args, **kwargs})  # type: ignore[arg-type]
    assert err.value.code == code
    assert journal.head() == 0


def test_use_beyond_stock_needs_an_override(journal: Journal, cat: Catalog) -> None:
    receipt = _receive(journal, cat, "100")
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    used = use_input(journal, cat, batch, receipt, "60")
    assert used.body["lot"] == "KC-NL-240301-01" and "override" not in used.body
    head = journal.head()
    with pytest.raises(DomainError) as err:
        use_input(journal, cat, batch, receipt, "50")
    assert (err.value.code, err.value.params["left"]) == ("stock_exceeded", 40.0)
    assert journal.head() == head
    forced = use_input(journal, cat, batch, receipt, "50", override=True)
    assert forced.body["override"] is True
    assert se.body_problem(forced.type, forced.body) is None
    with journal.store.read() as db:
        assert sq.stock_left(db, receipt) == -10
        assert [u.override for u in sq.batch_uses(db, batch)] == [False, True]
        assert sq.receipts(db, in_stock=True) == []


def test_use_refuses_unknown_receipt_closed_voided_and_recalled(
    journal: Journal, cat: Catalog
) -> None:
    receipt = _receive(journal, cat)
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    with pytest.raises(DomainError, match="unknown_receipt"):
        use_input(journal, cat, batch, "00000000-0000-4000-8000-000000000000", "1")
    recalled = supply_catalog(recalled=["THT-0301"])
    with pytest.raises(DomainError) as err:
        use_input(journal, recalled, batch, receipt, "1")
    assert (err.value.code, err.value.params["lot"]) == ("lot_recalled", "THT-0301")
    void_batch(journal, batch, "Mở nhầm")
    with pytest.raises(DomainError, match="batch_voided"):
        use_input(journal, cat, batch, receipt, "1")
    closed = _closed_batch(journal, cat)
    with pytest.raises(DomainError, match="batch_closed"):
        use_input(journal, cat, closed, receipt, "1")


def test_ship_a_closed_lot_with_quantity_or_serials(journal: Journal, cat: Catalog) -> None:
    batch = _closed_batch(journal, cat, "600")
    by_qty = ship(journal, cat, batch, customer_id="OCOP1", quantity_text="100", note="Giao sáng")
    by_serials = ship(journal, cat, batch, customer_id="NPP", serial_from="1", serial_to="50")
    assert se.body_problem(by_qty.type, by_qty.body) is None
    assert by_qty.body["customer"]["phone"] == "0232 123 456"
    assert (by_qty.body["lot"], by_qty.body["unit"]) == ("KC-NM-240301-01", "kg")
    assert by_serials.body["serials"] == [1, 50] and by_serials.body["quantity"] == 50
    with pytest.raises(DomainError) as err:
        ship(journal, cat, batch, customer_id="NPP", quantity_text="500")
    assert (err.value.code, err.value.params["left"]) == ("stock_exceeded", 450.0)
    assert ship(journal, cat, batch, customer_id="NPP", quantity_text="500", override=True).body[
        "override"
    ]
    with journal.store.read() as db:
        assert sq.shipped_total(db, batch) == 650


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"customer_id": "NOPE"}, "unknown_customer"),
        ({"quantity_text": "0"}, "amount_invalid"),
        ({"quantity_text": ""}, "amount_invalid"),
        ({"serial_from": "5", "serial_to": "2"}, "serials_invalid"),
        ({"note": "x" * 501}, "note_too_long"),
    ],
)
def test_ship_refuses_bad_input(
    journal: Journal, cat: Catalog, kwargs: dict[str, str], code: str
) -> None:
    batch = _closed_batch(journal, cat)
    head = journal.head()
    args = {"customer_id": "OCOP1", "quantity_text": "1", **kwargs}
    with pytest.raises(DomainError) as err:
        ship(journal, cat, batch, **args)  # type: ignore[arg-type]
    assert err.value.code == code
    assert journal.head() == head


def test_ship_refuses_an_open_or_recalled_lot(journal: Journal, cat: Catalog) -> None:
    receipt = _receive(journal, cat, "100", lot="THT-0301")
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    with pytest.raises(DomainError, match="batch_not_closed"):
        ship(journal, cat, batch, customer_id="OCOP1", quantity_text="1")
    use_input(journal, cat, batch, receipt, "10")
    record_step(journal, cat, batch, "NHAP", NHAP_OK, "")
    close_batch(journal, cat, batch, "8")
    for recalled in ("KC-NM-240301-01", "KC-NL-240301-01", "THT-0301"):
        with pytest.raises(DomainError) as err:
            ship(
                journal, supply_catalog(recalled=[recalled]), batch, customer_id="OCOP1",
                quantity_text="1", override=True,
            )  # fmt: skip
        assert (err.value.code, err.value.params["lot"]) == ("lot_recalled", recalled)
    other = _closed_batch(journal, cat)  # not derived from the recalled supplier lot
    assert ship(journal, supply_catalog(recalled=["THT-0301"]), other, customer_id="OCOP1",
                quantity_text="1")  # fmt: skip


def test_void_an_open_batch_then_nothing_more(journal: Journal, cat: Catalog) -> None:
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    with pytest.raises(DomainError, match="reason_missing"):
        void_batch(journal, batch, "  ")
    voided = void_batch(journal, batch, "Mở nhầm sản phẩm")
    assert se.body_problem(voided.type, voided.body) is None
    with journal.store.read() as db:
        row = get_batch(db, batch)
    assert row is not None and row.status == "voided"
    head = journal.head()
    attempts: list[Callable[[], object]] = [
        lambda: record_step(journal, cat, batch, "NHAP", NHAP_OK, ""),
        lambda: close_batch(journal, cat, batch, "5"),
        lambda: void_batch(journal, batch, "lần nữa"),
        lambda: issue_labels(journal, batch, copies=1, unit=False, fmt="pdf", printer="file"),
    ]
    for attempt in attempts:
        with pytest.raises(DomainError, match="batch_voided"):
            attempt()
    assert journal.head() == head
    closed = _closed_batch(journal, cat)
    with pytest.raises(DomainError, match="batch_closed"):
        void_batch(journal, closed, "muộn")


def test_corrections_apply_to_current_values_and_keep_the_original(
    journal: Journal, cat: Catalog
) -> None:
    received = receive(
        journal, cat, "", supplier_id="THT", material_code="LUA", supplier_lot="A1",
        quantity_text="100",
    )  # fmt: skip
    fixed = correct(
        journal, cat, received.seq, {"quantity": "120", "supplier_lot": "A2"}, "Cân lại"
    )
    assert fixed.body["corrects"] == {"seq": received.seq, "id": received.id, "type": received.type}
    assert fixed.body["changes"] == {"quantity": 120, "supplier_lot": "A2"}
    assert se.body_problem(fixed.type, fixed.body) is None
    receipt = str(received.body["receipt"])
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    step = record_step(journal, cat, batch, "NHAP", NHAP_OK, "ẩm")
    correct(journal, cat, step.seq, {"v_do_am": "13,5", "note": "khô"}, "Đo lại")
    use = use_input(journal, cat, batch, receipt, "100")
    with pytest.raises(DomainError) as err:
        correct(journal, cat, use.seq, {"quantity": "130"}, "Nhầm")
    assert (err.value.code, err.value.params["left"]) == ("stock_exceeded", 120.0)
    with pytest.raises(DomainError) as err:
        correct(journal, cat, received.seq, {"quantity": "90"}, "Nhầm")
    assert (err.value.code, err.value.params["used"]) == ("below_used", 100.0)
    forced = correct(journal, cat, use.seq, {"quantity": "130"}, "Đúng là 130", override=True)
    assert forced.body["override"] is True
    with journal.store.read() as db:
        original = sq.recorded_event(db, received.seq)
        row = sq.get_receipt(db, receipt)
        fixes = sq.corrections(db, [received.seq, step.seq])
        measured = db.conn.execute("SELECT measured, note FROM steps").fetchone()
    assert original is not None and original.body["quantity"] == 100  # the original stays
    assert row is not None and (row.quantity, row.supplier_lot, row.left) == (120, "A2", -10)
    assert [f.reason for f in fixes[received.seq]] == ["Cân lại"]
    assert fixes[step.seq][0].changes == {"values": {"do_am": 13.5}, "note": "khô"}
    assert '"do_am": 13.5' in measured[0] and '"khoi_luong": 1000' in measured[0]
    assert measured[1] == "khô"


@pytest.mark.parametrize(
    ("raw", "reason", "code"),
    [
        ({}, "vì", "nothing_changed"),
        ({"quantity": "0"}, "vì", "amount_invalid"),
        ({"quantity": "5"}, " ", "reason_missing"),
        ({"received_on": "2030-01-01"}, "vì", "date_in_future"),
    ],
)
def test_correction_bad_input(
    journal: Journal, cat: Catalog, raw: dict[str, str], reason: str, code: str
) -> None:
    received = receive(
        journal, cat, "", supplier_id="THT", material_code="LUA", supplier_lot="A1",
        quantity_text="100",
    )  # fmt: skip
    with pytest.raises(DomainError) as err:
        correct(journal, cat, received.seq, raw, reason)
    assert err.value.code == code
    assert journal.head() == received.seq


def test_correction_refuses_other_events_and_voided_batches(journal: Journal, cat: Catalog) -> None:
    opened = open_batch(journal, cat, "NM", "")
    with pytest.raises(DomainError, match="not_correctable"):
        correct(journal, cat, opened.seq, {"quantity": "1"}, "vì")
    with pytest.raises(DomainError, match="record_not_found"):
        correct(journal, cat, 99, {"quantity": "1"}, "vì")
    step = record_step(journal, cat, str(opened.body["batch"]), "NHAP", NHAP_OK, "")
    void_batch(journal, str(opened.body["batch"]), "nhầm")
    with pytest.raises(DomainError, match="batch_voided"):
        correct(journal, cat, step.seq, {"note": "x"}, "vì")


def test_correcting_a_shipment_and_a_finished_quantity(journal: Journal, cat: Catalog) -> None:
    batch = _closed_batch(journal, cat, "600")
    shipped = ship(journal, cat, batch, customer_id="NPP", serial_from="1", serial_to="50")
    correct(
        journal, cat, shipped.seq,
        {"serial_from": "11", "serial_to": "70", "quantity": "60", "note": "thêm"}, "Đếm lại",
    )  # fmt: skip
    with journal.store.read() as db:
        closed = sq.closed_seq(db, batch)
        (row,) = sq.batch_shipments(db, batch)
    assert (row.serial_from, row.serial_to, row.quantity, row.note) == (11, 70, 60, "thêm")
    assert closed is not None
    with pytest.raises(DomainError) as err:
        correct(journal, cat, closed, {"quantity": "50"}, "Cân lại")
    assert (err.value.code, err.value.params["used"]) == ("below_used", 60.0)
    correct(journal, cat, closed, {"quantity": "550", "expiry_date": "2025-03-01"}, "Cân lại")
    with journal.store.read() as db:
        fixed = get_batch(db, batch)
    assert fixed is not None and (fixed.quantity, fixed.expiry_date) == (550, "2025-03-01")


def test_a_recalled_supplier_lot_is_not_received_and_a_voided_batch_not_shipped(
    journal: Journal, cat: Catalog
) -> None:
    with pytest.raises(DomainError) as err:
        receive(
            journal, supply_catalog(recalled=["THT-0301"]), "", supplier_id="THT",
            material_code="LUA", supplier_lot="THT-0301", quantity_text="5",
        )  # fmt: skip
    assert (err.value.code, err.value.params["lot"]) == ("lot_recalled", "THT-0301")
    batch = str(open_batch(journal, cat, "NM", "").body["batch"])
    void_batch(journal, batch, "nhầm")
    head = journal.head()
    with pytest.raises(DomainError, match="batch_voided"):
        ship(journal, cat, batch, customer_id="OCOP1", quantity_text="1", override=True)
    assert journal.head() == head
