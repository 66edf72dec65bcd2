"""A genuine unit code's page, built from a few seconds' memory of its lot.

Every code of a lot shares the lot's facts (label keys, printed serial runs, facility), the
batch's record, its recall state and the rendered batch page around the code's own verdict. A
web worker keeps these per lot, language and recall generation for ``http.page_cache_s``
seconds (sync_server/web/page_cache.py) and per request only checks the code's signature, waits
for its scan to be stored and counted (sync_server/consumer/scan_writer.py) and renders the
verdict section into the kept page. Only a code judged genuine and printed is served this way:
anything doubtful (forged, never printed, not yet synced, no key) is judged again from the
database (sync_server/web/public.py), so a run printed a second ago is never called "never
printed" from memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, render_template
from markupsafe import Markup, escape

from sync_server.consumer.queries import BatchView, find_batch
from sync_server.consumer.scans import ScanSummary
from sync_server.consumer.unit_check import LotFacts, UnitVerdict, lot_facts
from sync_server.store.db import reading
from sync_server.trace.recalls import RecallInfo, is_recalled
from sync_server.web.context import engine
from sync_server.web.i18n import current_lang, switch_lang_url, vn_today, vndate
from sync_server.web.page_cache import PageCache
from sync_server.web.recall_state import generation
from sync_server.web.report_views import ReportForm, report_form

# Where the code's own parts go in a kept page (neither can come out of a template by chance:
# a comment the template does not write, and a NUL no text may hold).
UNIT_SLOT = Markup("<!--ocop:unit-verdict-->")
LANG_SLOT = "\x00ocop:switch-lang\x00"


@dataclass
class UnitLot:
    """What every code of a synced lot shares, kept by each web worker for a few seconds."""

    facts: LotFacts
    batch: BatchView
    recall: RecallInfo | None
    pages: dict[str, str] = field(default_factory=dict)  # language -> page with the slots
    # An unremarkable code's verdict section depends only on these: (language, serial,
    # verdict, day of its first scan); rendered once per key while the lot is kept.
    sections: dict[tuple[str, str, str, str], Markup] = field(default_factory=dict)


def unit_lot(lot: str, gtin: str | None) -> UnitLot | None:
    """The lot's shared parts, from memory or the database; None while its batch has not
    synced (that page is judged afresh each time)."""
    cache: PageCache = current_app.extensions["ocop_page_cache"]
    key = ("unit-lot", lot, gtin or "", generation())
    return cache.get_or_make(key, lambda: _load(lot, gtin))


def _load(lot: str, gtin: str | None) -> UnitLot | None:
    with reading(engine()) as conn:
        facts = lot_facts(conn, lot)
        batch = find_batch(conn, lot, gtin) if facts.synced else None
        recall = is_recalled(conn, lot) if batch is not None else None
    return None if batch is None else UnitLot(facts, batch, recall)


def render_unit(
    entry: UnitLot, verdict: UnitVerdict, serial: str, scans: ScanSummary | None, gtin: str | None
) -> str:
    """The batch page with this code's verdict, scan note and language link in it."""
    lang = current_lang()
    page = entry.pages.get(lang)
    if page is None:
        page = render_template(
            "batch.html",
            b=entry.batch,
            unit=verdict,
            unit_slot=UNIT_SLOT,
            switch_lang_url=lambda: LANG_SLOT,
            recall=entry.recall,
            today=vn_today(),
        )
        entry.pages[lang] = page
    report = report_form(verdict, scans, entry.facts.lot, serial, gtin, entry.batch.facility_now)
    if report is None and not (scans and scans.suspicious):
        key = (lang, serial, verdict.outcome, vndate(scans.first_at) if scans else "")
        section = entry.sections.get(key)
        if section is None:
            section = entry.sections[key] = _section(verdict, serial, scans, None)
    else:
        section = _section(verdict, serial, scans, report)
    return page.replace(UNIT_SLOT, section, 1).replace(LANG_SLOT, escape(switch_lang_url()), 1)


def _section(
    verdict: UnitVerdict, serial: str, scans: ScanSummary | None, report: ReportForm | None
) -> Markup:
    return Markup(
        render_template(
            "_unit_verdict.html", unit=verdict, serial=serial, scans=scans, report=report
        )
    )
