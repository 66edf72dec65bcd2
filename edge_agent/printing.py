"""What goes on a batch's labels: the label text, the batch URL, and unit URLs with their codes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date

from edge_agent.batches import After, DomainError, issue_labels
from edge_agent.journal import Journal
from edge_agent.queries import BatchRow
from label_printer.model import LabelContent
from trace_protocol.catalog import Catalog
from trace_protocol.envelope import Event
from trace_protocol.links import build_batch_url
from trace_protocol.unit_codes import (
    batch_mac,
    build_signed_batch_url,
    build_unit_url,
    format_serial,
    unit_mac,
)

MAX_COPIES = 2000


def batch_label(
    catalog: Catalog, batch: BatchRow, lang: str = "vi", label_key: bytes | None = None
) -> LabelContent:
    """The batch label; with the device's label key its URL carries a signed code (issue 15), so
    a label scanned before the batch synced gets the honest "details on their way" page."""
    if batch.status != "closed":
        raise DomainError("batch_not_closed")
    product = catalog.product(batch.product_code)
    if product is None:
        raise DomainError("unknown_product")
    fac = catalog.facility
    place = ", ".join(p for p in (fac.commune, fac.district, fac.province) if p)
    quantity = f"{batch.quantity:g} {batch.unit}" if batch.quantity else ""
    return LabelContent(
        product_name=product.name.get(lang),
        producer=f"{fac.name} — {place}" if place else fac.name,
        ocop_stars=product.ocop_stars,
        lot=batch.lot,
        production_date=date.fromisoformat(batch.production_date),
        expiry_date=date.fromisoformat(batch.expiry_date) if batch.expiry_date else None,
        url=build_signed_batch_url(
            catalog.public_base_url,
            batch.lot,
            batch_mac(label_key, batch.lot, product.gtin),
            product.gtin,
        )
        if label_key is not None
        else build_batch_url(catalog.public_base_url, batch.lot, product.gtin),
        extra_lines=(("Sản lượng lô: " if lang == "vi" else "Batch: ") + quantity,)
        if quantity
        else (),
        language=lang,
    )


def unit_labels(
    base: LabelContent, catalog: Catalog, gtin: str | None, label_key: bytes, first: int, last: int
) -> Iterator[LabelContent]:
    """One label per serial in ``first..last``, each with its own signed URL."""
    for number in range(first, last + 1):
        serial = format_serial(number)
        mac = unit_mac(label_key, base.lot, serial, gtin)
        url = build_unit_url(catalog.public_base_url, base.lot, serial, mac, gtin)
        yield replace(base, url=url, extra_lines=(*base.extra_lines, f"No. {serial}"))


def request_print(
    journal: Journal,
    batch_id: str,
    *,
    copies: int,
    unit: bool,
    fmt: str,
    printer: str,
    reprint_of: int | None = None,
    by: dict[str, str] | None = None,
    after: After | None = None,
) -> Event:
    """Validate and queue a print run; the queue prints it (and survives a restart)."""
    if reprint_of is None and not 1 <= copies <= MAX_COPIES:
        raise DomainError("copies_invalid", max=MAX_COPIES)
    return issue_labels(
        journal,
        batch_id,
        copies=copies,
        unit=unit,
        fmt=fmt,
        printer=printer,
        reprint_of=reprint_of,
        by=by,
        after=after,
    )
