"""Batch labels carry a signed code (issue 15): printed offline, the QR's URL verifies under the
device's label key on the batch URL, so a scan before sync gets the honest page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np

from edge_agent.batches import issue_labels
from edge_agent.journal import Journal
from edge_agent.printing import batch_label
from edge_agent.queries import get_batch
from label_printer.transports import FilePrinter
from tests.unit.edge.print_fakes import KEY, closed_batch, make_queue
from trace_protocol.catalog import Catalog
from trace_protocol.unit_codes import verify_batch_mac, verify_unit_mac

GTIN = "08936123450014"


def _decode(png: Path) -> str:
    image = cv2.imdecode(np.frombuffer(png.read_bytes(), np.uint8), cv2.IMREAD_GRAYSCALE)
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return str(text)


def test_printed_batch_labels_carry_a_code_that_verifies(
    journal: Journal, catalog: Catalog, tmp_path: Path
) -> None:
    batch_id, lot = closed_batch(journal, catalog)
    issue_labels(journal, batch_id, copies=2, unit=False, fmt="png", printer="file")
    queue = make_queue(journal, catalog, FilePrinter(tmp_path))
    assert queue.run_once()
    urls = [_decode(p) for p in sorted(tmp_path.glob("*.png"))]
    assert urls and len(set(urls)) == 1  # every copy carries the same signed URL
    parsed = urlparse(urls[0])
    assert parsed.path == f"/01/{GTIN}/10/{lot}"  # the batch URL as before, plus its code
    mac = parse_qs(parsed.query)["s"][0]
    assert verify_batch_mac(KEY, lot, GTIN, mac)
    assert not verify_batch_mac(bytes(32), lot, GTIN, mac)
    assert not verify_unit_mac(KEY, lot, "", GTIN, mac)


def test_without_a_key_the_batch_url_stays_unsigned(journal: Journal, catalog: Catalog) -> None:
    batch_id, lot = closed_batch(journal, catalog)
    with journal.store.read() as db:
        batch = get_batch(db, batch_id)
    assert batch is not None
    assert batch_label(catalog, batch).url.endswith(f"/01/{GTIN}/10/{lot}")
    assert "?s=" in batch_label(catalog, batch, label_key=KEY).url
