"""The print queue: unit labels with signed codes, progress, restart, printer offline, reprint."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np

from edge_agent.batches import issue_labels
from edge_agent.journal import Journal
from label_printer.transports import FilePrinter
from tests.unit.edge.print_fakes import KEY, closed_batch, make_queue
from trace_protocol.catalog import Catalog
from trace_protocol.unit_codes import unit_mac, verify_unit_mac


def _decode(png: Path) -> str:
    image = cv2.imdecode(np.frombuffer(png.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


def test_unit_labels_carry_serials_and_codes_that_verify(
    journal: Journal, catalog: Catalog, tmp_path: Path
) -> None:
    batch_id, lot = closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=3, unit=True, fmt="png", printer="file")
    queue = make_queue(journal, catalog, FilePrinter(tmp_path))
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
    batch_id, lot = closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=3, unit=True, fmt="zpl", printer="tcp")
    queue = make_queue(journal, catalog, open_printer(f"tcp://127.0.0.1:{port}"))
    assert queue.run_once()
    listener.join(10)
    server.close()
    job = bytes(received).decode("ascii")
    assert job.count("^XA") == job.count("^XZ") == 3
    for serial in ("1", "2", "3"):
        mac = unit_mac(KEY, lot, serial, "08936123450014")
        # ^FH makes "_" the hex escape: a "_" of the code travels as "_5F".
        assert f"/10/{lot}/21/{serial}?s={mac}".replace("_", "_5F") in job
