"""Recalls (issue 15): what a recall covers, lifting it, which lots a page calls recalled (also a
batch made from a recalled lot after the recall), and the lots the facilities' catalogs carry.
On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from sync_server.devices.recalled_lots import recalled_lots_by_facility, update_recalled_lots
from sync_server.devices.registry import import_catalog
from sync_server.store.db import facilities
from sync_server.store.supply_tables import recall_lots, recalls
from sync_server.trace.recalls import (
    RecallError,
    call_back_list,
    grow_recalls,
    is_recalled,
    lift,
    list_recalls,
    recall,
    recall_generation,
)
from tests.unit.server.conftest import CATALOG, REPO
from tests.unit.server.recall_chain import (
    CN_BATCH,
    CN_RECEIPT,
    KC_BATCH,
    KC_RECEIPT,
    OTHER_BATCH,
    SUPPLIER,
    SUPPLIER_LOT,
    add_batch,
    add_use,
    build_chain,
)

LATE_BATCH = "KC-NM-240310A01"


@pytest.fixture
def chain_engine(engine: Engine) -> Engine:
    with engine.begin() as conn:
        build_chain(conn)
    return engine


def test_a_supplier_lot_recall_covers_every_lot_derived_from_it(chain_engine: Engine) -> None:
    with chain_engine.begin() as conn:
        made = recall(conn, SUPPLIER_LOT, "Dư lượng thuốc trừ sâu", "an", SUPPLIER, now=1000.0)
    assert made.active and made.created_by == "an" and made.created_at == 1000.0
    assert made.reason == "Dư lượng thuốc trừ sâu" and made.supplier_id == SUPPLIER
    assert set(made.lots) == {
        (KC_RECEIPT, "receipt"),
        (KC_BATCH, "output"),
        (CN_RECEIPT, "receipt"),
        (CN_BATCH, "output"),
    }
    with chain_engine.connect() as conn:
        for lot in (KC_RECEIPT, KC_BATCH, CN_RECEIPT, CN_BATCH):
            info = is_recalled(conn, lot)
            assert info is not None and info.recall_id == made.id, lot
            assert info.reason == "Dư lượng thuốc trừ sâu" and info.created_at == 1000.0
        assert is_recalled(conn, OTHER_BATCH) is None
        calls = call_back_list(conn, made).shipments
    assert {(s.customer_name, s.phone, s.lot) for s in calls} == {
        ("Cửa hàng OCOP Hà Tĩnh", "0912345678", KC_BATCH),
        ("Chợ Hương Sơn", "0987654321", CN_BATCH),
    }


def test_a_batch_made_from_a_recalled_lot_after_the_recall_is_recalled(engine: Engine) -> None:
    with engine.begin() as conn:
        chain = build_chain(conn)
        made = recall(conn, KC_RECEIPT, "Nấm mốc", "an")
    assert (KC_RECEIPT, "receipt") in made.lots and (CN_BATCH, "output") in made.lots
    # After the recall, another batch uses the recalled receipt (a device that synced late).
    with engine.begin() as conn:
        late = add_batch(conn, LATE_BATCH, "KC", "kc-test-1")
        add_use(conn, "kc-test-1", late, chain.receipt_ids[KC_RECEIPT], KC_RECEIPT)
    with engine.connect() as conn:
        info = is_recalled(conn, LATE_BATCH)
        assert info is not None and info.recall_id == made.id and info.via == KC_RECEIPT
        stored = set(conn.execute(select(recall_lots.c.lot)).scalars())
    assert LATE_BATCH not in stored  # not in the recall's list until it grows
    with engine.begin() as conn:
        assert grow_recalls(conn) == 1
        assert grow_recalls(conn) == 0
        assert (LATE_BATCH, "output") in list_recalls(conn)[0].lots


def test_an_input_recalled_after_the_batch_recalls_the_batch_through_its_history(
    chain_engine: Engine,
) -> None:
    """Recall of the CN receipt: the CN batch is covered; the KC batch upstream is not."""
    with chain_engine.begin() as conn:
        recall(conn, CN_RECEIPT, "Bao bì hỏng", "an")
    with chain_engine.connect() as conn:
        assert is_recalled(conn, CN_BATCH) is not None
        assert is_recalled(conn, KC_BATCH) is None
        assert is_recalled(conn, KC_RECEIPT) is None


def test_lifting_is_its_own_recorded_action(chain_engine: Engine) -> None:
    with chain_engine.connect() as conn:
        before = recall_generation(conn)
    with chain_engine.begin() as conn:
        made = recall(conn, KC_BATCH, "Nghi nhiễm khuẩn", "an", now=1000.0)
    with chain_engine.connect() as conn:
        recalled_gen = recall_generation(conn)
        assert is_recalled(conn, CN_BATCH) is not None
    assert recalled_gen != before
    with chain_engine.begin() as conn:
        lifted = lift(conn, made.id, "Kết quả kiểm nghiệm đạt", "binh", now=2000.0)
    assert not lifted.active
    assert (lifted.lifted_by, lifted.lifted_at, lifted.lift_reason) == (
        "binh",
        2000.0,
        "Kết quả kiểm nghiệm đạt",
    )
    assert (lifted.created_by, lifted.reason) == ("an", "Nghi nhiễm khuẩn")  # kept
    with chain_engine.connect() as conn:
        assert is_recalled(conn, KC_BATCH) is None and is_recalled(conn, CN_BATCH) is None
        assert recall_generation(conn) not in (before, recalled_gen)
        assert [r.id for r in list_recalls(conn)] == [made.id]
        assert list_recalls(conn, active_only=True) == []
    with chain_engine.begin() as conn, pytest.raises(RecallError) as err:
        lift(conn, made.id, "again", "binh")
    assert err.value.code == "lifted"
    # Lifted, the lot may be recalled again.
    with chain_engine.begin() as conn:
        again = recall(conn, KC_BATCH, "Lần hai", "an")
    assert again.id != made.id


@pytest.mark.parametrize(
    ("lot", "reason", "field", "code"),
    [
        ("", "x", "lot", "lot_missing"),
        ("KC-NM-991231A01", "x", "lot", "lot_unknown"),
        (KC_BATCH, "   ", "reason", "reason_missing"),
        (KC_BATCH, "x" * 501, "reason", "reason_long"),
    ],
)
def test_bad_input_saves_nothing(
    chain_engine: Engine, lot: str, reason: str, field: str, code: str
) -> None:
    with chain_engine.begin() as conn, pytest.raises(RecallError) as err:
        recall(conn, lot, reason, "an")
    assert (err.value.field, err.value.code) == (field, code)
    with chain_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(recalls)).scalar() == 0
        assert conn.execute(select(func.count()).select_from(recall_lots)).scalar() == 0


def test_an_active_recall_of_the_same_lot_is_refused_and_unknown_ids_too(
    chain_engine: Engine,
) -> None:
    with chain_engine.begin() as conn:
        recall(conn, KC_BATCH, "x", "an")
    with chain_engine.begin() as conn, pytest.raises(RecallError) as err:
        recall(conn, KC_BATCH, "y", "an")
    assert err.value.code == "already"
    with chain_engine.begin() as conn, pytest.raises(RecallError) as err:
        lift(conn, 999, "x", "an")
    assert err.value.code == "unknown"


def test_facilities_catalogs_carry_their_own_recalled_lots(chain_engine: Engine) -> None:
    import_catalog(chain_engine, CATALOG, "http://x")
    import_catalog(chain_engine, REPO / "ocop_cli" / "data" / "cuong-nga-honey.json", "http://x")

    def versions() -> dict[str, tuple[int, list[str]]]:
        with chain_engine.connect() as conn:
            rows = conn.execute(
                select(facilities.c.code, facilities.c.catalog_version, facilities.c.catalog)
            ).all()
        return {code: (v, list(c.get("recalled_lots", []))) for code, v, c in rows}

    start = versions()
    with chain_engine.begin() as conn:
        made = recall(conn, SUPPLIER_LOT, "x", "an")
    with chain_engine.connect() as conn:
        assert recalled_lots_by_facility(conn) == {
            "KC": sorted([KC_BATCH, KC_RECEIPT]),
            "CN": sorted([CN_BATCH, CN_RECEIPT]),
        }
    assert sorted(update_recalled_lots(chain_engine, "http://x")) == ["CN", "KC"]
    now = versions()
    assert now["KC"] == (start["KC"][0] + 1, sorted([KC_BATCH, KC_RECEIPT]))
    assert now["CN"] == (start["CN"][0] + 1, sorted([CN_BATCH, CN_RECEIPT]))
    assert update_recalled_lots(chain_engine, "http://x") == []  # unchanged: no new version
    with chain_engine.begin() as conn:
        lift(conn, made.id, "ok", "an")
    assert sorted(update_recalled_lots(chain_engine, "http://x")) == ["CN", "KC"]
    lifted = versions()
    assert lifted["KC"] == (start["KC"][0] + 2, []) and lifted["CN"] == (start["CN"][0] + 2, [])
