"""The print queue: unit labels with signed codes, progress, restart, printer offline, reprint."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest

from edge_agent.batches import close_batch, issue_labels, open_batch, record_step
from edge_agent.journal import Journal
from edge_agent.print_queue import PrintQueue
from label_printer.transports import FilePrinter, PrinterError
from trace_protocol.catalog import Catalog
from trace_protocol.unit_codes import unit_mac, verify_unit_mac

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


def _closed_batch(journal: Journal, catalog: Catalog) -> tuple[str, str]:
    opened = open_batch(journal, catalog, "NM", "")
    record_step(journal, catalog, opened.body["batch"], "XAT", {}, "")
    close_batch(journal, catalog, opened.body["batch"], "5")
    return opened.body["batch"], opened.body["lot"]


def _queue(journal: Journal, catalog: Catalog, printer: object) -> PrintQueue:
    return PrintQueue(journal, lambda: catalog, KEY, printer)  # type: ignore[arg-type]


def _decode(png: Path) -> str:
    image = cv2.imdecode(np.frombuffer(png.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


def test_unit_labels_carry_serials_and_codes_that_verify(
    journal: Journal, catalog: Catalog, tmp_path: Path
) -> None:
    batch_id, lot = _closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=3, unit=True, fmt="png", printer="file")
    queue = _queue(journal, catalog, FilePrinter(tmp_path))
    assert queue.run_once()
    (job,) = queue.jobs(batch_id)
    assert (job.state, job.done, job.copies) == ("done", 3, 3)
    urls = [_decode(p) for p in sorted(tmp_path.glob("*.png"))]
    assert len(urls) == 3
    for serial, url in zip(("1", "2", "3"), urls, strict=True):
        parsed = urlparse(url)
        assert parsed.path == f"/01/08936123450014/10/{lot}/21/{serial}"
        mac = parse_qs(parsed.query)["s"][0]
        assert verify_unit_mac(KEY, lot, serial, "08936123450014", mac)
        assert not verify_unit_mac(KEY, lot, str(int(serial) + 1), "08936123450014", mac)


def test_offline_printer_waits_and_a_restart_resumes_without_reprinting(
    journal: Journal, catalog: Catalog, tmp_path: Path
) -> None:
    batch_id, _ = _closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=120, unit=True, fmt="pdf", printer="file")
    printer = FlakyPrinter(FilePrinter(tmp_path), fail=1)
    queue = _queue(journal, catalog, printer)
    assert queue.run_once()
    (job,) = queue.jobs(batch_id)
    assert (job.state, job.done) == ("waiting", 0)
    assert "offline" in job.error
    assert not queue.run_once()  # not due again before its retry time
    journal.db.conn.execute("UPDATE print_jobs SET next_try = 0")

    class Crash(Exception):
        pass

    class CrashAfterFirstChunk(FlakyPrinter):
        def send(self, name: str, data: bytes) -> object:
            if "-51-" in name:
                raise Crash  # the power goes mid-job, after 50 labels were sent
            return super().send(name, data)

    with pytest.raises(Crash):
        _queue(journal, catalog, CrashAfterFirstChunk(FilePrinter(tmp_path), 0)).run_once()
    (job,) = _queue(journal, catalog, FilePrinter(tmp_path)).jobs(batch_id)
    assert (job.state, job.done) == ("printing", 50)
    # After the restart a new queue picks the job up where the saved progress says.
    after = FlakyPrinter(FilePrinter(tmp_path), fail=0)
    restarted = _queue(journal, catalog, after)
    assert not restarted.run_once()  # still marked printing: nobody else may take it …
    assert restarted.recover() == 1  # … until the agent starts again
    assert restarted.run_once()
    (job,) = _queue(journal, catalog, after).jobs(batch_id)
    assert (job.state, job.done) == ("done", 120)
    assert after.sent == 70  # labels 51..120 only: one PDF per label in this format
    assert len(list(tmp_path.glob("*.pdf"))) == 120


def test_unit_labels_reach_a_raw_9100_printer_as_zpl(
    journal: Journal, catalog: Catalog, tmp_path: Path
) -> None:
    import socket
    import threading

    from label_printer.printers import open_printer

    received = bytearray()
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def accept() -> None:  # one connection, read to EOF: a raw port-9100 printer
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(65536):
                received.extend(data)

    listener = threading.Thread(target=accept, daemon=True)
    listener.start()
    batch_id, lot = _closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=3, unit=True, fmt="zpl", printer="tcp")
    queue = _queue(journal, catalog, open_printer(f"tcp://127.0.0.1:{port}"))
    assert queue.run_once()
    listener.join(10)
    server.close()
    job = bytes(received).decode("ascii")
    assert job.count("^XA") == job.count("^XZ") == 3
    for serial in ("1", "2", "3"):
        mac = unit_mac(KEY, lot, serial, "08936123450014")
        # ^FH makes "_" the hex escape: a "_" of the code travels as "_5F".
        assert f"/10/{lot}/21/{serial}?s={mac}".replace("_", "_5F") in job
