"""A province-sized server database for the trace bench, bulk-loaded straight into the tables.

Not through MQTT ingest: rows go in with the DB-API's ``executemany`` (SQLite, one transaction,
journal off while loading) or ``COPY … FROM STDIN`` (PostgreSQL), into a schema the server's own
migrations made, so the indexes are the real ones. The events look like real ones in size (a
body of a few hundred bytes, id, hash, prev, signature) but their hashes and signatures are not
valid: nothing here verifies them. Seeded: the same size gives the same database.

The province: facilities in three tiers. Tier 0 (half) receive only from farmers and from
cooperatives whose weekly lot is received by many facilities; tiers 1 and 2 receive half their
material from a lower tier's output lots (a receipt scanned from the label: ``source_lot``),
popular mills more often. Every batch uses its day's receipt and the one before, and is shipped
once. So a cooperative's lot reaches tens to hundreds of lots over three tiers.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import random
import sqlite3
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

Row = tuple[Any, ...]

COOPS = 20  # cooperatives whose weekly lot many tier-0 facilities receive
FARMERS = 5  # farmers of each facility
COOP_SHARE = 0.35  # of a tier-0 facility's receipts
CROSS_SHARE = 0.5  # of a tier-1/2 facility's receipts: another facility's output lot
START = datetime.date(2025, 1, 1)
T0 = 1_735_689_600.0  # START as a Unix time: received_at grows from there


@dataclass(frozen=True)
class Size:
    facilities: int
    batches: int  # per facility; as many receipts, and (2 + steps + 3) events per batch
    steps: int = 14

    @property
    def lots(self) -> int:
        return 2 * self.facilities * self.batches

    @property
    def events(self) -> int:
        return self.facilities * self.batches * (1 + 1 + 2 + self.steps + 1)


FULL = Size(300, 500)  # 300,000 lots, 3,000,000 events
QUICK = Size(12, 24)


@dataclass
class Province:
    """What the bench needs to know of the database it was given."""

    size: Size
    gtin: str
    counts: Counter[str] = field(default_factory=Counter)
    coop_lots: Counter[tuple[str, str]] = field(default_factory=Counter)  # receipts per lot
    tier: dict[str, int] = field(default_factory=dict)  # facility code -> tier


class Sink(Protocol):
    def load(self, table: str, columns: Sequence[str], rows: list[Row]) -> None: ...

    def heads(self, rows: list[Row]) -> None:
        """Each device's (head_seq, head_hash, dev_id) once its events are in."""


class SqliteSink:
    """One write transaction on a raw sqlite3 connection, journal and syncs off while loading
    (a bench database: a crash means generating it again); WAL again at the end."""

    def __init__(self, path: str) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute("PRAGMA cache_size=-400000")
        self.db.execute("BEGIN")

    def load(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        marks = ",".join("?" * len(columns))
        self.db.executemany(f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})", rows)

    def heads(self, rows: list[Row]) -> None:
        self.db.executemany("UPDATE devices SET head_seq = ?, head_hash = ? WHERE dev_id = ?", rows)

    def close(self) -> None:
        self.db.execute("COMMIT")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.close()


class PostgresSink:
    """``COPY … FROM STDIN`` on one psycopg connection, committed at the end."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.db = psycopg.connect(dsn)

    def load(self, table: str, columns: Sequence[str], rows: list[Row]) -> None:
        statement = f"COPY {table} ({','.join(columns)}) FROM STDIN"
        with self.db.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def heads(self, rows: list[Row]) -> None:
        with self.db.cursor() as cur:
            cur.executemany(
                "UPDATE devices SET head_seq = %s, head_hash = %s WHERE dev_id = %s", rows
            )

    def close(self) -> None:
        self.db.commit()
        # What autovacuum would do within a minute of such a load: plans on real statistics.
        self.db.autocommit = True
        self.db.execute("ANALYZE")
        self.db.close()


EVENT_COLS: tuple[str, ...] = (
    "dev_id",
    "seq",
    "id",
    "type",
    "at",
    "clock",
    "body",
    "prev",
    "hash",
    "sig",
)
EVENT_COLS += ("batch_id", "received_at")
BATCH_COLS: tuple[str, ...] = (
    "dev_id",
    "batch_id",
    "lot",
    "gtin",
    "facility_code",
    "product_code",
    "product",
)
BATCH_COLS += ("facility", "production_date", "opened_at", "status", "closed_at", "quantity")
BATCH_COLS += ("unit", "expiry_date", "public_lot", "received_at")
RECEIPT_COLS: tuple[str, ...] = (
    "receipt_id",
    "dev_id",
    "seq",
    "facility_code",
    "lot",
    "supplier_id",
    "supplier",
)
RECEIPT_COLS += ("material_code", "material", "supplier_lot", "source", "source_lot", "quantity")
RECEIPT_COLS += ("unit", "received_on", "at", "received_at")
USE_COLS: tuple[str, ...] = (
    "dev_id",
    "seq",
    "batch_id",
    "receipt_id",
    "receipt_lot",
    "quantity",
    "unit",
)
USE_COLS += ("override", "at")
SHIP_COLS: tuple[str, ...] = (
    "shipment_id",
    "dev_id",
    "seq",
    "facility_code",
    "batch_id",
    "lot",
    "customer_id",
)
SHIP_COLS += ("customer", "quantity", "unit", "shipped_on", "note", "override", "at")
DEVICE_COLS = ("dev_id", "facility_code", "registered_at", "lot_index", "head_seq")
FACILITY_COLS: tuple[str, ...] = ("code", "name", "commune", "district", "province", "catalog")
FACILITY_COLS += ("catalog_version", "published_version")

MATERIAL = {"code": "LUA", "name": "Lúa tươi", "name_en": "Fresh paddy"}
STEP = (
    '{{"batch":"{b}","step":"XAT","name":"Xát trắng","name_en":"Milling",'
    '"values":{{"t":{t},"m":{m}}},"units":{{"t":"°C","m":"%"}},'
    '"labels":{{"t":"Nhiệt độ","m":"Độ ẩm"}},"labels_en":{{"t":"Temperature","m":"Moisture"}},'
    '"note":"ca sáng, máy số 2"}}'
)


def _uuid(kind: int, fac: int, n: int) -> str:
    return f"{kind:08x}-{fac:04x}-4000-8000-{n:012x}"


def _day(i: int) -> str:
    """The date of a facility's batch or receipt number ``i`` (two a day)."""
    return str(START + datetime.timedelta(days=i // 2))


def _lot(code: str, product: str, i: int) -> str:
    """``F001-NM-250101A01``: trace_protocol.links.build_lot's form, device letter A."""
    return f"{code}-{product}-{_day(i)[2:].replace('-', '')}A{i % 2 + 1:02d}"


class _Device:
    """One facility's tablet: its hash chain (fake hashes and signatures) and event rows."""

    def __init__(self, fac: int, tier: int) -> None:
        self.fac = fac
        self.tier = tier
        self.code = f"F{fac:03d}"
        self.dev = f"f{fac:03d}-a"
        self.seq = 0
        self.prev: str | None = None

    def event(self, out: list[Row], kind: str, i: int, body: str, batch: str | None) -> Row:
        self.seq += 1
        at = f"{_day(i)}T{7 + self.seq % 10:02d}:{self.seq % 60:02d}:00+07:00"
        digest = hashlib.blake2b(f"{self.dev}/{self.seq}".encode(), digest_size=32).hexdigest()
        received = T0 + (i // 2) * 86_400 + self.fac + self.seq * 1e-3
        row = (
            self.dev, self.seq, _uuid(1, self.fac, self.seq), kind, at, "synced", body,
            self.prev, digest, (digest + digest)[:86] + "==", batch, received,
        )  # fmt: skip
        out.append(row)
        self.prev = digest
        return row

    def head(self) -> Row:
        return (self.seq, self.prev, self.dev)


@dataclass
class _Day:
    """The rows of one day, all facilities: loaded together, then dropped."""

    events: list[Row] = field(default_factory=list)
    batches: list[Row] = field(default_factory=list)
    receipts: list[Row] = field(default_factory=list)
    uses: list[Row] = field(default_factory=list)
    shipments: list[Row] = field(default_factory=list)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


CUSTOMER = {
    "id": "OCOP-HT",
    "name": "Cửa hàng OCOP Hà Tĩnh",
    "kind": "shop",
    "address": "TP Hà Tĩnh",
    "phone": "0900 000 001",
}


class _Builder:
    def __init__(self, size: Size, product: dict[str, Any], seed: int) -> None:
        self.size = size
        self.rng = random.Random(seed)
        self.gtin = str(product["gtin"])
        self.snapshot = {k: product[k] for k in ("code", "name", "gtin", "unit") if k in product}
        n = size.facilities
        tiers = [0 if f <= n // 2 else 1 if f <= n * 5 // 6 else 2 for f in range(1, n + 1)]
        self.devices = [_Device(f, t) for f, t in zip(range(1, n + 1), tiers, strict=True)]
        self.by_tier = {t: [d for d in self.devices if d.tier == t] for t in (0, 1, 2)}
        # Popular mills: a lower tier's facility is chosen by a Zipf-like weight.
        self.weights = {t: [1 / (k + 1) for k in range(len(self.by_tier[t]))] for t in (0, 1)}
        self.coop_lots: Counter[tuple[str, str]] = Counter()

    def supplier(self, d: _Device, i: int) -> tuple[dict[str, Any], str, str | None]:
        """Who the morning's material came from: a cooperative's weekly lot, a farmer's lot,
        or another facility's output lot scanned from its label (supplier, lot, source lot)."""
        pick, day = self.rng.random(), i // 2
        if d.tier == 0 and pick < COOP_SHARE:
            c = self.rng.randrange(COOPS)
            sid, lot = f"HTX{c:02d}", f"HTX{c:02d}-T{day // 7:03d}"
            self.coop_lots[(sid, lot)] += 1
            name, kind, public = f"HTX nông nghiệp số {c}", "group", True
        elif d.tier > 0 and pick < CROSS_SHARE and day > 0:
            mill = self.rng.choices(self.by_tier[d.tier - 1], self.weights[d.tier - 1])[0]
            back = self.rng.randint(1, min(7, day))
            lot = _lot(mill.code, "NM", 2 * (day - back) + self.rng.randrange(2))
            supplier = {"id": mill.code, "name": f"Cơ sở {mill.code}", "kind": "facility"}
            return {**supplier, "facility": mill.code, "public_name": True}, lot, lot
        else:
            k = self.rng.randrange(FARMERS)
            sid, lot = f"ND{d.fac:03d}{k}", f"{d.fac:03d}{k}-{i:04d}"
            name, kind, public = f"Hộ nông dân {d.fac}-{k}", "farmer", False
        supplier = {"id": sid, "name": name, "kind": kind, "province": "Hà Tĩnh"}
        return {**supplier, "public_name": public}, lot, None

    def receipt(self, out: _Day, d: _Device, i: int) -> None:
        receipt, lot, date = _uuid(2, d.fac, i), _lot(d.code, "NL", i), _day(i)
        supplier, supplier_lot, source_lot = self.supplier(d, i)
        source = {"label": f"https://trace.example/01/{self.gtin}/10/{source_lot}"}
        qty = float(400 + self.rng.randrange(400))
        body = {
            "receipt": receipt,
            "lot": lot,
            "supplier": supplier,
            "supplier_lot": supplier_lot,
            "material": MATERIAL,
            "quantity": qty,
            "unit": "kg",
            "received_on": date,
        }
        if source_lot:
            body["source"] = source
        e = d.event(out.events, "input.received", i, _dumps(body), None)
        out.receipts.append(
            (receipt, d.dev, e[1], d.code, lot, supplier["id"], _dumps(supplier), "LUA",
             _dumps(MATERIAL), supplier_lot, _dumps(source) if source_lot else None, source_lot,
             qty, "kg", date, e[4], e[11])
        )  # fmt: skip

    def batch(self, out: _Day, d: _Device, i: int) -> None:
        """Batch ``i``: opened, uses receipt ``i`` and ``i - 1``, steps, closed, shipped."""
        batch, lot, date = _uuid(3, d.fac, i), _lot(d.code, "NM", i), _day(i)
        opened = {
            "batch": batch,
            "lot": lot,
            "product": self.snapshot,
            "facility": {"code": d.code},
            "production_date": date,
        }
        first = d.event(out.events, "batch.opened", i, _dumps(opened), batch)
        for j in (i - 1, i) if i else (i,):
            used = _lot(d.code, "NL", j)
            body = {"batch": batch, "receipt": _uuid(2, d.fac, j), "lot": used, "quantity": 200.0}
            e = d.event(out.events, "input.added", i, _dumps({**body, "unit": "kg"}), batch)
            out.uses.append(
                (d.dev, e[1], batch, _uuid(2, d.fac, j), used, 200.0, "kg", False, e[4])
            )
        for s in range(self.size.steps + (0 if i else 1)):  # batch 0 has one use: one step more
            body_text = STEP.format(b=batch, t=30 + s % 7, m=14 + s % 3)
            d.event(out.events, "step.recorded", i, body_text, batch)
        qty = float(200 + self.rng.randrange(200))
        closing = {"batch": batch, "quantity": qty, "unit": "kg"}
        closed = d.event(out.events, "batch.closed", i, _dumps(closing), batch)
        out.batches.append(
            (d.dev, batch, lot, self.gtin, d.code, "NM", _dumps(self.snapshot),
             _dumps({"code": d.code}), date, first[4], "closed", closed[4], qty, "kg", None, lot,
             first[11])
        )  # fmt: skip
        shipment = _uuid(4, d.fac, i)
        shipping = {
            "shipment": shipment,
            "batch": batch,
            "lot": lot,
            "customer": CUSTOMER,
            "quantity": qty,
            "unit": "kg",
            "shipped_on": date,
        }
        e = d.event(out.events, "lot.shipped", i, _dumps(shipping), batch)
        out.shipments.append(
            (shipment, d.dev, e[1], d.code, batch, lot, "OCOP-HT", _dumps(CUSTOMER), qty, "kg",
             date, "", False, e[4])
        )  # fmt: skip


def generate(
    size: Size, sinks: Sequence[Sink], kc_catalog: dict[str, Any], seed: int = 15
) -> Province:
    """Load a province of ``size`` into every sink (the same rows into each), a day at a time."""
    b = _Builder(size, kc_catalog["products"][0], seed)
    province = Province(size, b.gtin, coop_lots=b.coop_lots)
    province.tier = {d.code: d.tier for d in b.devices}

    def feed(table: str, cols: Sequence[str], rows: list[Row]) -> None:
        province.counts[table] += len(rows)
        for sink in sinks:
            sink.load(table, cols, rows)

    feed("facilities", FACILITY_COLS, _facility_rows(size, kc_catalog))
    feed("devices", DEVICE_COLS, [(d.dev, d.code, T0, 1, 0) for d in b.devices])
    for day in range((size.batches + 1) // 2):
        out = _Day()
        for d in b.devices:
            for i in range(2 * day, min(2 * day + 2, size.batches)):
                b.receipt(out, d, i)
                b.batch(out, d, i)
        feed("events", EVENT_COLS, out.events)
        feed("batches", BATCH_COLS, out.batches)
        feed("receipts", RECEIPT_COLS, out.receipts)
        feed("input_uses", USE_COLS, out.uses)
        feed("shipments", SHIP_COLS, out.shipments)
    for sink in sinks:
        sink.heads([d.head() for d in b.devices])
    return province


def _facility_rows(size: Size, kc_catalog: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for f in range(1, size.facilities + 1):
        code = f"F{f:03d}"
        catalog = json.loads(json.dumps(kc_catalog))
        catalog["facility"] = {**catalog["facility"], "code": code, "name": f"Cơ sở {code}"}
        fac = catalog["facility"]
        rows.append(
            (code, fac["name"], fac.get("commune", ""), fac.get("district", ""),
             fac.get("province", ""), _dumps(catalog), 1, 1)
        )  # fmt: skip
    return rows
