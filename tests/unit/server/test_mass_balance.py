"""Mass balance per batch (issue 15): inputs used, in the product's input unit, against output,
judged by the catalog's expected yield; the office batch page warns when it is off."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from sync_server.devices.registry import import_catalog
from sync_server.ingest.commit import ingest_chunk
from sync_server.ingest.mass_balance import Use, convert, mass_balance
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.bodies import opened_body
from tests.unit.server.conftest import CATALOG, DEV
from tests.unit.server.office_client import make_app, officer_client
from tests.unit.server.supply_chain import added, closed, corrected, received, uid
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.messages import encode_chunk

PADDY = [{"code": "LUA", "name": "Lúa", "unit": "kg"}]
RICE: dict[str, Any] = {"materials": PADDY, "expected_yield": {"min": 0.55, "max": 0.7}}


@pytest.mark.parametrize(
    ("output", "uses", "verdict"),
    [
        (600, [Use("LUA", 1000, "kg")], "ok"),
        (600, [Use("LUA", 500, "kg"), Use("LUA", 500_000, "g")], "ok"),
        (600, [Use("LUA", 1, "tan")], "ok"),
        (300, [Use("LUA", 1000, "kg")], "low"),
        (900, [Use("LUA", 1000, "kg")], "high"),
        (550, [Use("LUA", 1000, "kg")], "ok"),  # the range's ends are in it
        (700, [Use("LUA", 1000, "kg")], "ok"),
        (600, [], "unknown"),  # no input recorded yet
        (None, [Use("LUA", 1000, "kg")], "unknown"),  # not closed
        (600, [Use("LUA", 1000, "l")], "unknown"),  # litres of paddy: not comparable
        (600, [Use("MAT", 1000, "kg")], "unknown"),  # not this product's material
    ],
)
def test_mass_balance_verdicts(output: float | None, uses: list[Use], verdict: str) -> None:
    assert mass_balance(RICE, output, uses).verdict == verdict


def test_without_an_expected_yield_or_with_mixed_input_units_it_is_unknown() -> None:
    assert mass_balance({"materials": PADDY}, 600, [Use("LUA", 1000, "kg")]).verdict == "unknown"
    mixed = {**RICE, "materials": [*PADDY, {"code": "NUOC", "name": "Nước", "unit": "l"}]}
    assert mass_balance(mixed, 600, [Use("LUA", 1000, "kg")]).verdict == "unknown"
    assert mass_balance({**RICE, "expected_yield": "lots"}, 600, []).verdict == "unknown"


def test_the_ratio_is_output_per_input_unit() -> None:
    got = mass_balance(RICE, 300, [Use("LUA", 0.5, "tan")])
    assert (got.input_total, got.input_unit, got.yield_ratio) == (500, "kg", 0.6)
    assert convert(250, "ml", "l") == 0.25 and convert(1, "chai", "kg") is None


def _kc_with_yield(engine: Engine) -> None:
    catalog = json.loads(Path(CATALOG).read_text(encoding="utf-8"))
    for product in catalog["products"]:
        if product["code"] == "NM":
            product.update(RICE)
    import_catalog(engine, catalog, "http://x")


def test_the_office_batch_page_warns_of_a_low_yield_and_counts_corrections(
    engine: Engine, device: str, chain: ChainBuilder, tmp_path: Path
) -> None:
    _kc_with_yield(engine)
    receipt, batch = uid(), uid()
    use = added(batch, receipt, "KC-NL-240301-01", 1000)
    evs = [
        chain.next(se.INPUT_RECEIVED, received(receipt, "KC-NL-240301-01", 1000)),
        chain.next(ev.BATCH_OPENED, opened_body(batch)),
        chain.next(se.INPUT_ADDED, use),
        chain.next(ev.BATCH_CLOSED, closed(batch, 300)),
    ]
    ack = ingest_chunk(engine, DEV, encode_chunk(DEV, evs)).ack
    assert ack is not None and ack.error is None
    client = officer_client(make_app(engine, tmp_path), engine)
    page = client.get(f"/office/batches/{DEV}/{batch}").get_data(as_text=True)
    assert "mass-balance-low" in page and "Hiệu suất thấp bất thường" in page
    assert "dự kiến 0,55–0,7" in page
    english = client.get(f"/office/batches/{DEV}/{batch}?lang=en").get_data(as_text=True)
    assert "Yield unusually low" in english
    # The worker corrects the use (500 kg went in, not 1000): the page follows the current value.
    fix = chain.next(se.RECORD_CORRECTED, corrected(evs[2], quantity=500))
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, [fix])).ack is not None
    page = client.get(f"/office/batches/{DEV}/{batch}").get_data(as_text=True)
    assert "mass-balance-ok" in page and "Hiệu suất thấp" not in page
