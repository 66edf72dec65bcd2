"""What the home and batch pages show of issue 15: inputs used, shipments, corrections ("sửa lúc
… vì …") and the recall banner, read in the page's own snapshot."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlite_utils import Database

from edge_agent import supply_queries as sq
from edge_agent.web.display import quantity, short_time
from edge_agent.web.i18n import translate


def correction_notes(db: Database, seqs: list[int], lang: str) -> dict[int, list[str]]:
    """Each corrected event's "sửa lúc … vì …" lines, oldest first."""
    return {
        seq: [
            translate("corrected_note", lang, at=short_time(c.at, lang=lang), reason=c.reason)
            for c in rows
        ]
        for seq, rows in sq.corrections(db, seqs).items()
    }


def batch_supply(
    db: Database, batch_id: str, recalled: tuple[str, ...], lang: str
) -> dict[str, Any]:
    """The batch page's inputs, shipments, their corrections and the recall reaching it."""
    uses = sq.batch_uses(db, batch_id)
    shipments = sq.batch_shipments(db, batch_id)
    hit = next((h for h in sq.recall_hits(db, recalled) if h.batch_id == batch_id), None)
    return {
        "uses": [
            {
                "seq": u.seq,
                "text": f"{u.material_name} · {u.lot} · {quantity(u.quantity, u.unit, lang)}",
                "supplier": u.supplier_name,
                "override": u.override,
            }
            for u in uses
        ],
        "shipments": [
            {
                "seq": s.seq,
                "customer": s.customer_name,
                "text": quantity(s.quantity, s.unit, lang)
                + (f" · No. {s.serial_from}–{s.serial_to}" if s.serial_from else ""),
                "day": s.shipped_on,
                "note": s.note,
                "override": s.override,
            }
            for s in shipments
        ],
        "recall": hit.via if hit else None,
    }


def install_recall_banner(app: Flask) -> None:
    """``recall_hits()`` in templates: this device's lots touched by the catalog's recalls."""

    def hits() -> list[sq.RecallHit]:
        agent = app.extensions["ocop_agent"]
        catalog = agent.catalog()
        if catalog is None or not catalog.recalled_lots:
            return []
        with agent.journal.store.read() as db:
            return sq.recall_hits(db, catalog.recalled_lots)

    app.jinja_env.globals["recall_hits"] = hits
