"""Stand-ins for the print queue's tests: a printer that is offline for a while, a closed batch,
and a queue on the test's journal."""

from __future__ import annotations

from edge_agent.batches import close_batch, open_batch, record_step
from edge_agent.journal import Journal
from edge_agent.print_queue import PrintQueue
from label_printer.transports import FilePrinter, PrinterError
from trace_protocol.catalog import Catalog

KEY = bytes(range(32))


class FlakyPrinter:
    """A physical printer stand-in (none is attached here): offline for the first ``fail`` sends."""

    def __init__(self, inner: FilePrinter, fail: int) -> None:
        self.inner, self.fail, self.sent = inner, fail, 0

    def send(self, name: str, data: bytes) -> object:
        if self.fail > 0:
            self.fail -= 1
            raise PrinterError("printer offline (paper out?)")
        self.sent += 1
        return self.inner.send(name, data)


def closed_batch(journal: Journal, catalog: Catalog) -> tuple[str, str]:
    opened = open_batch(journal, catalog, "NM", "")
    record_step(journal, catalog, opened.body["batch"], "XAT", {}, "")
    close_batch(journal, catalog, opened.body["batch"], "5")
    return opened.body["batch"], opened.body["lot"]


def make_queue(journal: Journal, catalog: Catalog, printer: object) -> PrintQueue:
    return PrintQueue(journal, lambda: catalog, KEY, printer)  # type: ignore[arg-type]
