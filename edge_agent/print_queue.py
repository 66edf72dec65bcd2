"""The agent's print queue: jobs survive restarts, resume where they stopped, wait and retry
while the printer is offline, and report progress to the touchscreen."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from itertools import islice
from typing import Protocol

from edge_agent.background import Background
from edge_agent.batches import DomainError
from edge_agent.journal import Journal
from edge_agent.printing import batch_label, unit_labels
from edge_agent.queries import JobView as JobView  # the touchscreen's view of a job
from edge_agent.queries import get_batch, print_jobs
from label_printer.formats import EXTENSIONS, THERMAL_FORMATS, render_labels
from label_printer.model import LabelContent
from label_printer.render_pdf import render_pdf
from label_printer.render_png import render_png
from label_printer.transports import PrinterError
from trace_protocol.catalog import Catalog

log = logging.getLogger(__name__)
CHUNK = 50  # labels rendered and sent at a time; progress is saved after each chunk
RETRY_MAX_S = 60.0


class Printer(Protocol):
    def send(self, name: str, data: bytes) -> object: ...


def render_chunk(fmt: str, contents: list[LabelContent]) -> list[tuple[str, bytes]]:
    """Bytes for one chunk of labels as ``(file suffix, data)`` pairs.

    ``png`` gives one image per distinct label, ``pdf`` one page per label; ``png+pdf`` (the
    file printer's default) both: images to check on screen, pages to print.
    """
    if fmt in THERMAL_FORMATS or fmt == "pdf-sheet":
        # One job file in the printer's own language: text raster once, a QR per label.
        return [(f"job.{EXTENSIONS[fmt]}", render_labels(fmt, contents))]
    if fmt not in ("png", "pdf", "png+pdf"):
        raise DomainError("format_unknown", format=fmt)
    same = all(c == contents[0] for c in contents)
    distinct = contents[:1] if same else contents
    out: list[tuple[str, bytes]] = []
    if "png" in fmt:
        out += [(f"{i}.png", render_png(c)) for i, c in enumerate(distinct)]
    if "pdf" in fmt:
        if same:
            out.append(("all.pdf", render_pdf(contents[0], copies=len(contents))))
        else:
            out += [(f"{i}.pdf", render_pdf(c)) for i, c in enumerate(contents)]
    return out


class PrintQueue(Background):
    thread_name = "print"

    def __init__(
        self,
        journal: Journal,
        catalog: Callable[[], Catalog | None],
        label_key: bytes,
        printer: Printer,
        render: Callable[[str, list[LabelContent]], list[tuple[str, bytes]]] = render_chunk,
    ) -> None:
        self.journal = journal
        self._catalog = catalog
        self._label_key = label_key
        self.printer = printer
        self._render = render
        super().__init__()

    def start(self) -> None:
        self.recover()
        super().start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            if not self.run_once():
                self._sleep(2.0)

    def recover(self) -> int:
        """At start: jobs left 'printing' by a crash or power cut go back in the queue."""
        with self.journal.store.write() as db:
            cur = db.conn.execute("UPDATE print_jobs SET state = 'queued' WHERE state = 'printing'")
        return cur.rowcount

    def run_once(self, only: int | None = None) -> bool:
        """Work on the oldest due job (or job ``only``) until it is done or must wait.

        The job is claimed first, so the agent and ``ocop label print`` never print the same
        job twice. False when no job was due.
        """
        with self.journal.store.write() as db:
            conn = db.conn
            row = conn.execute(
                "SELECT id, state FROM print_jobs WHERE state IN ('queued', 'waiting')"
                " AND next_try <= ? AND (? IS NULL OR id = ?) ORDER BY id LIMIT 1",
                (time.time(), only, only),
            ).fetchone()
            if row is None:
                return False
            claimed = conn.execute(
                "UPDATE print_jobs SET state = 'printing' WHERE id = ? AND state = ?", row
            ).rowcount
        if claimed != 1:
            return False
        self._process(int(row[0]))
        return True

    def _process(self, job_id: int) -> None:
        with self.journal.store.read() as db:
            seq, batch_id, kind, copies, first, fmt, done, error = db.conn.execute(
                "SELECT seq, batch_id, kind, copies, serial_from, format, done, error"
                " FROM print_jobs WHERE id = ?",
                (job_id,),
            ).fetchone()
            batch = get_batch(db, batch_id)
        catalog = self._catalog()
        try:
            if catalog is None or batch is None:
                raise DomainError("unknown_product")
            base = batch_label(catalog, batch, label_key=self._label_key)
            product = catalog.product(batch.product_code)
            gtin = product.gtin if product else None
            labels = (
                unit_labels(base, catalog, gtin, self._label_key, first, first + copies - 1)
                if kind == "unit"
                else (base for _ in range(copies))
            )
            pending = islice(labels, done, None)
            while chunk := list(islice(pending, CHUNK)):
                names = []
                for suffix, data in self._render(fmt, chunk):
                    name = f"{batch.lot}-run{seq}-{done + 1}-{done + len(chunk)}-{suffix}"
                    self.printer.send(name, data)
                    names.append(name)
                done += len(chunk)
                self._progress(job_id, done, names)
                if self._stop.is_set():
                    return
        except (PrinterError, OSError) as exc:
            wait = min(RETRY_MAX_S, 2.0 * (2 ** min(error.count("|"), 5)))
            log.warning("print job %s waits for the printer: %s", job_id, exc)
            self._set(
                job_id, state="waiting", error=f"{exc}|{error}"[:500], next_try=time.time() + wait
            )
            return
        except DomainError as exc:
            log.error("print job %s failed: %s", job_id, exc.code)
            self._set(job_id, state="failed", error=exc.code)
            return
        self._set(job_id, state="done", error="")

    def _set(self, job_id: int, **values: object) -> None:
        cols = ", ".join(f"{k} = ?" for k in values)
        with self.journal.store.write() as db:
            db.conn.execute(
                f"UPDATE print_jobs SET {cols} WHERE id = ?", (*values.values(), job_id)
            )

    def _progress(self, job_id: int, done: int, names: list[str]) -> None:
        with self.journal.store.transaction() as db:
            conn = db.conn
            files = json.loads(
                conn.execute("SELECT files FROM print_jobs WHERE id = ?", (job_id,)).fetchone()[0]
            )
            conn.execute(
                "UPDATE print_jobs SET done = ?, files = ? WHERE id = ?",
                (done, json.dumps(files + names), job_id),
            )

    def jobs(self, batch_id: str) -> list[JobView]:
        with self.journal.store.read() as db:
            return print_jobs(db, batch_id)
