"""Two KC devices' journals of supply events (issue 15), a flaky delivery of them to ingest, and a
snapshot of what the server projected, for the supply projection tests."""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from sync_server.ingest.commit import ingest_chunks
from sync_server.store.db import batches
from sync_server.store.supply_tables import corrections, input_uses, receipts, shipments
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.bodies import opened_body
from trace_protocol import envelope as ev
from trace_protocol import supply_events as se
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk

LINE2 = "kc-line-2"
PADDY = {"code": "LUA", "name": "Lúa Ngọc Mầm", "name_en": "Ngọc Mầm paddy", "unit": "kg"}
FARMERS = {"id": "THT-TD", "name": "Tổ hợp tác Thạch Đài", "kind": "group"}
SHOP = {"id": "OCOP-HT", "name": "Cửa hàng OCOP Hà Tĩnh", "kind": "shop"}
# A CN label scanned at the door: a GS1 Digital Link whose lot joins the two facilities.
CN_LABEL = "https://trace.example.vn/01/08936123450014/10/CN-MO-240201-01"


def uid() -> str:
    return str(uuid.uuid4())


def received(receipt: str, lot: str, quantity: float, **extra: Any) -> dict[str, Any]:
    return {
        "receipt": receipt,
        "lot": lot,
        "supplier": FARMERS,
        "material": PADDY,
        "supplier_lot": "TD-03",
        "quantity": quantity,
        "unit": "kg",
        "received_on": "2024-03-01",
        **extra,
    }


def added(batch: str, receipt: str, lot: str, quantity: float, unit: str = "kg") -> dict[str, Any]:
    return {"batch": batch, "receipt": receipt, "lot": lot, "quantity": quantity, "unit": unit}


def shipped(shipment: str, batch: str, lot: str, quantity: float) -> dict[str, Any]:
    return {
        "shipment": shipment,
        "batch": batch,
        "lot": lot,
        "customer": SHOP,
        "quantity": quantity,
        "unit": "kg",
        "shipped_on": "2024-03-05",
        "note": "",
    }


def closed(batch: str, quantity: float) -> dict[str, Any]:
    return {"batch": batch, "quantity": quantity, "unit": "kg", "expiry_date": "2025-03-01"}


def corrected(e: Event, reason: str = "cân lại", **changes: Any) -> dict[str, Any]:
    return {
        "corrects": {"seq": e.seq, "id": e.id, "type": e.type},
        "changes": changes,
        "reason": reason,
    }


@dataclass
class Scenario:
    """Receipts on line 1, batches on both lines using them, shipments, corrections, a void."""

    a: ChainBuilder
    b: ChainBuilder
    ids: dict[str, str] = field(default_factory=dict)

    def build(self) -> dict[str, list[Event]]:
        a, b, ids = self.a, self.b, self.ids
        ids.update(r1=uid(), r2=uid(), ba=uid(), bv=uid(), bb=uid(), s1=uid(), s2=uid())
        r1 = a.next(se.INPUT_RECEIVED, received(ids["r1"], "KC-NL-240301-01", 1000))
        a.next(
            se.INPUT_RECEIVED,
            received(ids["r2"], "KC-NL-240301-02", 500, source={"url": CN_LABEL}),
        )
        a.next(ev.BATCH_OPENED, opened_body(ids["ba"], "KC-NM-240301-01"))
        a.next(se.INPUT_ADDED, added(ids["ba"], ids["r1"], "KC-NL-240301-01", 600))
        a.next(se.INPUT_ADDED, added(ids["ba"], ids["r2"], "KC-NL-240301-02", 400_000, "g"))
        close = a.next(ev.BATCH_CLOSED, closed(ids["ba"], 600))
        ship = a.next(se.LOT_SHIPPED, shipped(ids["s1"], ids["ba"], "KC-NM-240301-01", 200))
        a.next(se.RECORD_CORRECTED, corrected(r1, quantity=1100))
        a.next(se.RECORD_CORRECTED, corrected(ship, quantity=250, serials=[1, 250]))
        a.next(se.RECORD_CORRECTED, corrected(close, quantity=620))
        a.next(ev.BATCH_OPENED, opened_body(ids["bv"], "KC-NM-240301-02"))
        a.next(se.BATCH_VOIDED, {"batch": ids["bv"], "reason": "mở nhầm"})
        b.next(ev.BATCH_OPENED, opened_body(ids["bb"], "KC-NM-240302-01"))
        use = b.next(se.INPUT_ADDED, added(ids["bb"], ids["r1"], "KC-NL-240301-01", 300))
        b.next(ev.BATCH_CLOSED, closed(ids["bb"], 180))
        b.next(se.LOT_SHIPPED, shipped(ids["s2"], ids["bb"], "KC-NM-240302-01", 180))
        b.next(se.RECORD_CORRECTED, corrected(use, quantity=350))
        return {a.dev: a.events, b.dev: b.events}


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Every projected row the supply events decide, in a stable order (no server times)."""
    tables = {
        "receipts": [c for c in receipts.c if c.name != "received_at"],
        "input_uses": list(input_uses.c),
        "shipments": list(shipments.c),
        "corrections": list(corrections.c),
        "batches": [
            batches.c.dev_id,
            batches.c.batch_id,
            batches.c.lot,
            batches.c.status,
            batches.c.quantity,
            batches.c.expiry_date,
            batches.c.voided_at,
            batches.c.void_reason,
        ],
    }
    with engine.connect() as conn:
        return {
            name: sorted(tuple(r) for r in conn.execute(select(*cols)).all())
            for name, cols in tables.items()
        }


def deliver(
    engine: Engine, streams: dict[str, list[Event]], rng: random.Random, workers: int = 1
) -> int:
    """Send every device's events as a flaky network would: chunks of random length starting a
    little before or after what was acked (duplicates, gaps), several devices' chunks mixed in
    one ``ingest_chunks`` call, by ``workers`` threads at once, until everything is acked.
    Returns the number of ``ingest_chunks`` calls."""
    acked = dict.fromkeys(streams, 0)
    lock = threading.Lock()
    calls = [0]
    errors: list[BaseException] = []

    def pick(r: random.Random) -> list[tuple[str, bytes]] | None:
        """Chunks to send now; None once everything is acked. Empty when every chunk drawn
        started past the end of its stream (a start just after what was acked): draw again."""
        items = []
        with lock:
            pending = [d for d in streams if acked[d] < len(streams[d])]
            if not pending:
                return None
            for dev in r.sample(pending, r.randint(1, len(pending))):
                for _ in range(r.randint(1, 2)):
                    start = max(0, acked[dev] + r.randint(-2, 2))
                    evs = streams[dev][start : start + r.randint(1, 4)]
                    if evs:
                        items.append((dev, encode_chunk(dev, evs)))
        r.shuffle(items)
        return items

    def run(seed: int) -> None:
        r = random.Random(seed)
        try:
            for _ in range(2000):
                items = pick(r)
                if items is None:
                    return
                if not items:
                    continue
                results = ingest_chunks(engine, items)
                with lock:
                    calls[0] += 1
                    for (dev, _), res in zip(items, results, strict=True):
                        assert res.ack is None or res.ack.error is None, res.ack
                        if res.ack is not None:
                            acked[dev] = max(acked[dev], res.ack.upto)
            raise AssertionError(f"not delivered after 2000 rounds: {acked}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(rng.random(),)) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return calls[0]
