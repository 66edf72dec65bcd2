"""A print job of 120 unit labels through an offline printer, a power cut and a restart (moved from
tests/unit/edge/test_print_queue.py, issue 14: it renders 120 PDFs, about 10 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from edge_agent.batches import issue_labels
from edge_agent.catalog_store import load_catalog, store_catalog
from edge_agent.database import EdgeDatabase, open_edge_db
from edge_agent.journal import Journal
from edge_agent.projections import project
from label_printer.transports import FilePrinter
from tests.unit.edge.conftest import DEV, FixedClock, kc_catalog
from tests.unit.edge.print_fakes import FlakyPrinter, closed_batch, make_queue
from trace_protocol.catalog import Catalog
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EdgeDatabase]:
    store = open_edge_db(tmp_path / "j.db")
    yield store
    store.close()


@pytest.fixture
def db(store: EdgeDatabase) -> Database:
    return store.writer


@pytest.fixture
def journal(store: EdgeDatabase) -> Journal:
    return Journal(store, DeviceKey.generate(), DEV, FixedClock(assume_synced=True), project)


@pytest.fixture
def catalog(db: Database) -> Catalog:
    assert store_catalog(db, kc_catalog())
    stored = load_catalog(db)
    assert stored is not None
    return stored


def test_offline_printer_waits_and_a_restart_resumes_without_reprinting(
    journal: Journal, catalog: Catalog, tmp_path: Path
) -> None:
    batch_id, _ = closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=120, unit=True, fmt="pdf", printer="file")
    printer = FlakyPrinter(FilePrinter(tmp_path), fail=1)
    queue = make_queue(journal, catalog, printer)
    assert queue.run_once()
    (job,) = queue.jobs(batch_id)
    assert (job.state, job.done) == ("waiting", 0)
    assert "offline" in job.error
    assert not queue.run_once()  # not due again before its retry time
    journal.store.writer.conn.execute("UPDATE print_jobs SET next_try = 0")

    class Crash(Exception):
        pass

    class CrashAfterFirstChunk(FlakyPrinter):
        def send(self, name: str, data: bytes) -> object:
            if "-51-" in name:
                raise Crash  # the power goes mid-job, after 50 labels were sent
            return super().send(name, data)

    with pytest.raises(Crash):
        make_queue(journal, catalog, CrashAfterFirstChunk(FilePrinter(tmp_path), 0)).run_once()
    (job,) = make_queue(journal, catalog, FilePrinter(tmp_path)).jobs(batch_id)
    assert (job.state, job.done) == ("printing", 50)
    # After the restart a new queue picks the job up where the saved progress says.
    after = FlakyPrinter(FilePrinter(tmp_path), fail=0)
    restarted = make_queue(journal, catalog, after)
    assert not restarted.run_once()  # still marked printing: nobody else may take it …
    assert restarted.recover() == 1  # … until the agent starts again
    assert restarted.run_once()
    (job,) = make_queue(journal, catalog, after).jobs(batch_id)
    assert (job.state, job.done) == ("done", 120)
    assert after.sent == 70  # labels 51..120 only: one PDF per label in this format
    assert len(list(tmp_path.glob("*.pdf"))) == 120
