"""Trace on SQLite and PostgreSQL (sync_server/trace/lots.py): backward and forward from output,
receiving and suppliers' lots, across facilities, with voided batches and cycles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event

from sync_server.store.db import create_schema, open_engine
from sync_server.trace import trace_backward, trace_forward, trace_json
from sync_server.trace.tree import Branch, build_tree
from tests.unit.server.trace_rows import (
    BK_IN,
    BK_OUT,
    HTX_IN,
    HTX_OUT,
    KC_IN,
    KC_OUT,
    KC_VOID,
    OTHER_IN,
    SUPPLIER_LOT,
    Chain,
    add_batch,
    add_receipt,
    seed_chain,
    ship,
    use,
)

S01 = f"S01/{SUPPLIER_LOT}"
S07 = f"S07/{SUPPLIER_LOT}"
KC_AS_SUPPLIER = f"KC/{KC_OUT}"


@pytest.fixture
def chain(engine: Engine) -> Chain:
    with engine.begin() as conn:
        return seed_chain(conn)


def test_forward_from_a_supplier_lot_reaches_both_facilities_and_the_third(
    engine: Engine, chain: Chain
) -> None:
    with engine.connect() as conn:
        t = trace_forward(conn, SUPPLIER_LOT, "S01")
    assert t.roots == (S01,)
    assert {n.key for n in t.lots} == {S01, KC_IN, HTX_IN, KC_OUT, KC_VOID, HTX_OUT, BK_IN, BK_OUT}
    assert set(t.edges) == {
        (S01, KC_IN),
        (S01, HTX_IN),
        (KC_IN, KC_OUT),
        (KC_IN, KC_VOID),
        (HTX_IN, HTX_OUT),
        (KC_OUT, BK_IN),  # the cross-facility join: BK scanned KC's label
        (BK_IN, BK_OUT),
    }
    # By day shipped, then lot: every customer to call back in a recall of the supplier's lot.
    assert [(s.lot, s.customer_id) for s in t.shipments] == [
        (HTX_OUT, "C05"),
        (KC_OUT, "C01"),
        (KC_OUT, "C02"),
        (BK_OUT, "C09"),
    ]
    c01 = t.shipments[1]
    assert (c01.customer_name, c01.phone, c01.address) == (
        "Cửa hàng OCOP C01",
        "0912 345 678",
        "Hà Tĩnh",
    )
    assert (c01.facility_code, c01.batch_id, c01.dev_id) == ("KC", chain.kc_batch, "kc-1")
    assert t.suppliers == ()


def test_a_voided_batch_is_kept_and_marked(engine: Engine, chain: Chain) -> None:
    with engine.connect() as conn:
        t = trace_forward(conn, KC_IN)
    voided = {n.lot: n.voided for n in t.lots if n.kind == "output"}
    assert voided == {KC_OUT: False, KC_VOID: True, BK_OUT: False}
    node = t.node(KC_VOID)
    assert node is not None
    assert (node.batch_id, node.receipt_id, node.dev_id) == (chain.void_batch, None, "kc-1")
    assert (node.name, node.name_en, node.date) == ("Gạo Ngọc Mầm", "Ngọc Mầm rice", "2026-11-22")


def test_a_supplier_lot_code_without_supplier_names_every_supplier(
    engine: Engine, chain: Chain
) -> None:
    with engine.connect() as conn:
        both = trace_forward(conn, SUPPLIER_LOT)
        only_s07 = trace_forward(conn, SUPPLIER_LOT, "S07")
        nobody = trace_forward(conn, SUPPLIER_LOT, "S99")
    assert both.roots == (S01, S07)
    assert (S07, OTHER_IN) in both.edges
    assert {n.key for n in only_s07.lots} == {S07, OTHER_IN}
    assert only_s07.shipments == ()
    assert not nobody.found
    assert nobody.lots == ()


def test_backward_crosses_facilities_to_the_supplier(engine: Engine, chain: Chain) -> None:
    with engine.connect() as conn:
        t = trace_backward(conn, BK_OUT)
    assert t.roots == (BK_OUT,)
    # BK's receipt names KC's lot as its supplier's lot too: the kit lot stands for it.
    assert {n.key for n in t.lots} == {BK_OUT, BK_IN, KC_OUT, KC_IN, S01}
    assert set(t.edges) == {
        (BK_IN, BK_OUT),
        (KC_OUT, BK_IN),
        (KC_IN, KC_OUT),
        (S01, KC_IN),
    }
    assert t.shipments == ()
    by_lot = {s.receipt_lot: s for s in t.suppliers}
    assert set(by_lot) == {BK_IN, KC_IN}
    assert (by_lot[KC_IN].supplier_id, by_lot[KC_IN].name, by_lot[KC_IN].facility_code) == (
        "S01",
        "Tổ hợp tác S01",
        "KC",
    )
    assert (by_lot[BK_IN].kind, by_lot[BK_IN].supplier_facility) == ("facility", "KC")
    kc_in = t.node(KC_IN)
    assert kc_in is not None and kc_in.receipt_id is not None and kc_in.kind == "receipt"
    assert (kc_in.name, kc_in.quantity, kc_in.unit) == ("Lúa Ngọc Mầm", 500.0, "kg")


def test_backward_from_a_receiving_lot_and_a_supplier_lot(engine: Engine, chain: Chain) -> None:
    with engine.connect() as conn:
        receipt = trace_backward(conn, HTX_IN)
        supplier = trace_backward(conn, SUPPLIER_LOT, "S01")
    assert set(receipt.edges) == {(S01, HTX_IN)}
    assert [s.facility_code for s in receipt.suppliers] == ["HTX"]
    assert {n.key for n in supplier.lots} == {S01}
    s01 = supplier.lots[0]
    # A supplier's lot is dated by the first day a facility of the kit received it.
    assert (s01.kind, s01.name, s01.date, s01.supplier_id) == (
        "supplier",
        "Tổ hợp tác S01",
        "2026-11-20",
        "S01",
    )


def test_a_kit_label_as_a_supplier_lot(engine: Engine, chain: Chain) -> None:
    """BK received KC's labelled lot: asked with KC as the supplier, the code is that supplier's
    lot; a receipt scanned from a label this server does not hold keeps its supplier's lot."""
    with engine.begin() as conn:
        add_receipt(conn, "BK-NL-261125A02", "X1", "ZZ-MO-261101A01", source_lot="ZZ-MO-261101A01")
    with engine.connect() as conn:
        as_supplier = trace_forward(conn, KC_OUT, "KC")
        foreign = trace_backward(conn, "BK-NL-261125A02")
    assert as_supplier.roots == (KC_AS_SUPPLIER,)
    assert set(as_supplier.edges) == {(KC_AS_SUPPLIER, BK_IN), (BK_IN, BK_OUT)}
    assert set(foreign.edges) == {("X1/ZZ-MO-261101A01", "BK-NL-261125A02")}


def test_unknown_lot(engine: Engine, chain: Chain) -> None:
    with engine.connect() as conn:
        for t in (trace_backward(conn, "KC-NM-000000A01"), trace_forward(conn, "nope")):
            assert not t.found
            assert (t.lots, t.edges, t.shipments) == ((), (), ())


def test_a_cycle_in_bad_data_ends(engine: Engine, chain: Chain) -> None:
    """BK's output received back by KC and used in KC's batch: a loop the closure must end."""
    with engine.begin() as conn:
        back = add_receipt(conn, "KC-NL-261128A01", "BK", BK_OUT, source_lot=BK_OUT)
        use(conn, "kc-1", chain.kc_batch, back, "KC-NL-261128A01")
    with engine.connect() as conn:
        forward = trace_forward(conn, KC_OUT)
        backward = trace_backward(conn, KC_OUT)
    assert (BK_OUT, "KC-NL-261128A01") in forward.edges
    assert ("KC-NL-261128A01", KC_OUT) in forward.edges
    assert {KC_OUT, BK_IN, BK_OUT, "KC-NL-261128A01"} <= {n.key for n in forward.lots}
    assert {S01, KC_IN, BK_OUT, BK_IN, KC_OUT} <= {n.key for n in backward.lots}
    tree = build_tree(forward)
    assert _repeated(tree) == {KC_OUT}  # shown again where the loop closes, without children


def _repeated(branches: tuple[Branch, ...]) -> set[str]:
    found: set[str] = set()
    for b in branches:
        if b.repeated:
            found.add(b.node.key)
        found |= _repeated(b.children)
    return found


def test_tree_and_json(engine: Engine, chain: Chain) -> None:
    with engine.connect() as conn:
        t = trace_forward(conn, SUPPLIER_LOT, "S01")
    (root,) = build_tree(t)
    assert root.node.key == S01
    assert [c.node.key for c in root.children] == [KC_IN, HTX_IN]  # by date
    kc_in = root.children[0]
    assert [c.node.key for c in kc_in.children] == [KC_OUT, KC_VOID]
    assert [s.customer_id for s in kc_in.children[0].shipments] == ["C01", "C02"]
    data = trace_json(t)
    assert data["roots"] == [S01]
    assert {"key": KC_IN, "lot": KC_IN, "kind": "receipt"}.items() <= next(
        n for n in data["lots"] if n["key"] == KC_IN
    ).items()
    assert [S01, KC_IN] in data["edges"]


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("width", [3, 40])
def test_queries_per_level_not_per_lot(engine: Engine, statements: list[str], width: int) -> None:
    """One supplier lot received by ``width`` facilities, each making a batch shipped once:
    the forward trace runs the same number of queries whatever the width."""
    with engine.begin() as conn:
        for i in range(width):
            fac, dev = f"F{i}", f"f{i}-1"
            rid = add_receipt(conn, f"{fac}-NL-261120A01", "S01", "WIDE", facility=fac, dev=dev)
            bid = add_batch(conn, f"{fac}-NM-261122A01", facility=fac, dev=dev)
            use(conn, dev, bid, rid, f"{fac}-NL-261120A01")
            ship(conn, dev, bid, f"{fac}-NM-261122A01", "C01", facility=fac)
    statements.clear()
    with engine.connect() as conn:
        t = trace_forward(conn, "WIDE")
    assert len(t.lots) == 1 + 2 * width
    assert len(t.shipments) == width
    selects = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    # resolve (3) + 3 levels of at most 3 queries + the shipments
    assert len(selects) <= 10, selects


def test_every_query_uses_an_index(tmp_path: Path) -> None:
    """SQLite's plan for every statement of a trace both ways: no table is read in full."""
    engine = open_engine("sqlite:///" + str(tmp_path / "plan.db"))
    create_schema(engine)
    with engine.begin() as conn:
        seed_chain(conn)
    seen: list[tuple[str, Any]] = []

    def record(_conn: object, _cursor: object, statement: str, params: Any, *_: object) -> None:
        seen.append((statement, params))

    event.listen(engine, "before_cursor_execute", record)
    with engine.connect() as conn:
        for lot in (SUPPLIER_LOT, KC_OUT, BK_OUT, KC_IN):
            trace_backward(conn, lot)
            trace_forward(conn, lot)
    event.remove(engine, "before_cursor_execute", record)
    full_scans = []
    with engine.connect() as conn:
        for statement, params in seen:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            full_scans += [
                (row[-1], statement)
                for row in plan
                if re.match(r"SCAN (receipts|batches|input_uses|shipments)\b", row[-1])
            ]
    engine.dispose()
    assert not full_scans


def test_backward_from_a_kit_lot_skips_the_supplier_search(
    engine: Engine, chain: Chain, statements: list[str]
) -> None:
    """A consumer page's recall check traces its lot backward on every view: an output or
    receiving lot resolves by its unique index alone, never by searching suppliers' lots."""
    with engine.connect() as conn:
        statements.clear()
        t = trace_backward(conn, BK_OUT)
        assert t.found
        searches = [s for s in statements if "receipts.supplier_lot =" in s or "WITH" in s]
        assert t.roots == (BK_OUT,) and statements and not searches
        statements.clear()
        assert trace_backward(conn, SUPPLIER_LOT).roots == (S01, S07)
        # A supplier's lot code alone: one probe of receipts_by_supplier_lot (migration 0008),
        # not a walk over every supplier id.
        searches = [s for s in statements if "receipts.supplier_lot =" in s]
        assert len(searches) == 1 and "supplier_id" not in searches[0].split("WHERE")[1]
        assert not any(s.lstrip().upper().startswith("WITH") for s in statements)
