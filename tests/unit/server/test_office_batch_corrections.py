"""The office's batch page lists the corrections of the batch's own events in its journal (a
``record.corrected`` names the event it corrects, not the batch), and no one else's."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import Engine

from sync_server.devices.registry import register_device
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import make_app, officer_client
from tests.unit.server.supply_chain import LINE2, Scenario
from tests.unit.server.test_supply_projection import in_order
from trace_protocol.signing import DeviceKey


def test_the_batch_journal_shows_its_corrections(
    engine: Engine, device: str, chain: ChainBuilder, tmp_path: Path
) -> None:
    key = DeviceKey.generate()
    register_device(engine, LINE2, "KC", key.public_key_b64)
    scenario = Scenario(chain, ChainBuilder(key, LINE2))
    in_order(engine, scenario.build())
    client = officer_client(make_app(engine, tmp_path), engine)
    page = client.get(f"/office/batches/{DEV}/{scenario.ids['ba']}").get_data(as_text=True)
    rows = re.findall(r'<tr id="e\d+">.*?</tr>', page, re.S)
    fixes = [r for r in rows if "record.corrected" in r]
    # The shipment's and the close's corrections; the receipt's is not this batch's event.
    assert len(fixes) == 2, fixes
    assert all("cân lại" in r for r in fixes)
    other = client.get(f"/office/batches/{DEV}/{scenario.ids['bv']}").get_data(as_text=True)
    assert "record.corrected" not in other
