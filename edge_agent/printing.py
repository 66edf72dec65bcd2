"""Print a closed batch's labels on the configured printer and record the print run."""

from __future__ import annotations

from datetime import date

from edge_agent.agent import Agent
from edge_agent.batches import DomainError, get_batch, record_labels_printed
from label_printer.model import LabelContent
from label_printer.render_pdf import render_pdf
from label_printer.render_png import render_png
from label_printer.transports import PrinterError
from trace_protocol.envelope import Event
from trace_protocol.links import build_batch_url

MAX_COPIES = 500


def label_content(agent: Agent, batch_id: str, lang: str = "vi") -> LabelContent:
    catalog = agent.catalog()
    batch = get_batch(agent.journal.db, batch_id)
    if batch is None:
        raise DomainError("batch_not_found")
    if batch.status != "closed":
        raise DomainError("batch_not_closed")
    if catalog is None:
        raise DomainError("unknown_product")
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
        url=build_batch_url(catalog.public_base_url, batch.lot, product.gtin),
        extra_lines=(("Sản lượng lô: " if lang == "vi" else "Batch: ") + quantity,)
        if quantity
        else (),
        language=lang,
    )


def print_labels(agent: Agent, batch_id: str, copies: int, lang: str = "vi") -> Event:
    """Render PNG + PDF, send them to the printer, then record ``labels.printed``."""
    if not 1 <= copies <= MAX_COPIES:
        raise DomainError("copies_invalid", max=MAX_COPIES)
    content = label_content(agent, batch_id, lang)
    try:
        png = agent.printer.send(f"{content.lot}.png", render_png(content))
        pdf = agent.printer.send(f"{content.lot}-x{copies}.pdf", render_pdf(content, copies=copies))
    except (PrinterError, OSError) as exc:
        raise DomainError("printer", reason=str(exc)) from exc
    event = record_labels_printed(
        agent.journal,
        batch_id,
        copies,
        ["png", "pdf"],
        agent.config.printer.kind,
        [png.name, pdf.name],
    )
    agent.written()
    return event
