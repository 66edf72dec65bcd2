"""A genuine unit code's page built from its lot's kept parts (sync_server/web/unit_page.py) is
the page a full render gives, in both languages; doubtful codes are judged afresh."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import render_template
from sqlalchemy import Engine, select

from sync_server.consumer.queries import find_batch
from sync_server.consumer.scans import ScanSummary
from sync_server.consumer.unit_check import check_unit
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import scans
from sync_server.web.i18n import vn_today
from tests.unit.protocol.builders import ChainBuilder, new_batch_id
from tests.unit.server.bodies import opened_body, step_body
from tests.unit.server.consumer import (
    DEV,
    GTIN,
    LOT,
    enrol_device,
    make_app,
    sync_batch,
    unit_path,
)
from trace_protocol.messages import encode_chunk


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_kept_page_is_the_full_render(tmp_path: Path, engine: Engine, lang: str) -> None:
    sync_batch(engine, enrol_device(engine), printed=(1, 10))
    app = make_app(tmp_path, engine)
    client = app.test_client()
    path = unit_path("5") + f"&lang={lang}"
    client.get(unit_path("6") + f"&lang={lang}")  # another code of the lot fills the memory
    page = client.get(path).text
    with engine.connect() as conn:
        first = conn.execute(select(scans.c.at).where(scans.c.serial == "5")).scalar_one()
        verdict = check_unit(conn, LOT, "5", GTIN, unit_path("5").split("s=")[1])
        batch = find_batch(conn, LOT, GTIN)
    with app.test_request_context(path):
        full = render_template(
            "batch.html",
            b=batch,
            unit=verdict,
            serial="5",
            scans=ScanSummary(count=1, places=1, first_at=first, suspicious=False),
            report=None,
            recall=None,
            today=vn_today(),
        )
    assert page == full
    assert "Serial 5" in page or "sê-ri 5" in page
    assert "/21/5?s=" in page and "/21/6?s=" not in page  # the language link is this code's


def _printed(chain: ChainBuilder, batch: str, first: int, last: int) -> None:
    body = {"batch": batch, "kind": "unit", "copies": last - first + 1, "format": "pdf"}
    chain.next("labels.printed", {**body, "serial_from": first, "serial_to": last})


def test_a_run_printed_after_the_lot_was_kept_is_not_called_never_printed(
    tmp_path: Path, engine: Engine
) -> None:
    chain = ChainBuilder(enrol_device(engine), DEV)
    batch = new_batch_id()
    chain.next("batch.opened", opened_body(batch, LOT))
    chain.next("step.recorded", step_body(batch, "S0", 40.0))
    _printed(chain, batch, 1, 10)
    chain.next("batch.closed", {"batch": batch, "quantity": 120.0, "unit": "kg"})
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events)).committed == 4
    client = make_app(tmp_path, engine).test_client()
    assert "chưa từng được in" not in client.get(unit_path("5")).text  # the lot is now kept
    assert "chưa từng được in" in client.get(unit_path("11")).text
    _printed(chain, batch, 11, 20)  # the device prints another run; it syncs
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events[-1:])).committed == 1
    # The kept lot knows only 1-10: serial 11 is judged again from the database, at once.
    html = client.get(unit_path("11")).text
    assert "chưa từng được in" not in html and "Mã sản phẩm chính hãng" in html
