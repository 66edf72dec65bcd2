"""The demo's devices, their seeded batches and the labels printed at start (issue 13).

Three facilities, three honest states on the office dashboard, each made by real processes:

- KC's ``kc-line-1`` runs for the whole demo (online);
- Cường Nga's ``cn-mat-ong-1`` enrols, syncs one honey batch through its own agent and stops
  (stale, then offline once ``office.offline_after_s`` has passed): a site that went quiet;
- Hương Sơn's ``hs-nhung-1`` does the same with a batch of antler in honey made from Cường Nga's
  lot, received as if scanned from its label (issue 15: a trace that crosses facilities);
  ``hs-nhung-2`` is registered by the office but never enrolled (offline, never heard from),
  which makes the facility offline.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from trace_protocol.catalog import Catalog

if TYPE_CHECKING:
    from edge_agent.journal import Journal


@dataclass(frozen=True)
class DemoDevice:
    dev_id: str
    facility: str
    folder: str  # under --data-dir
    product: str
    steps: tuple[tuple[str, dict[str, str], str], ...]
    quantity: str
    # Issue 15: raw material received (supplier, material, supplier's lot, received, used in the
    # batch) and shipments of the finished lot (customer, quantity), from the catalog's lists.
    receipts: tuple[tuple[str, str, str, str, str], ...] = ()
    shipments: tuple[tuple[str, str], ...] = ()


KC_LINE = DemoDevice(
    "kc-line-1",
    "KC",
    "edge",
    "NM",
    (
        ("NHAP", {"do_am": "14", "khoi_luong": "1500"}, "Lúa Ngọc Mầm vụ Đông Xuân"),
        ("SAY", {"nhiet_do": "42"}, ""),
        ("XAT", {}, ""),
        ("DONG", {"so_tui": "190"}, "Túi 5 kg hút chân không"),
    ),
    "950",
    # Paddy from contract farmer groups and a farmer of Thạch Đài (seed 000): 950 kg of rice
    # from 1,500 kg of paddy, inside the catalog's expected yield (0.55-0.7).
    receipts=(("THT-DH", "LUA", "DH-DX-03", "1000", "1000"), ("ND-HOA", "LUA", "", "600", "500")),
    shipments=(("OCOP-HT", "200"), ("NPP-VINH", "500")),
)
HONEY = DemoDevice(
    "cn-mat-ong-1",
    "CN",
    "edge-cuong-nga",
    "MO",
    (
        ("THU", {"so_cau": "24"}, "Mật hoa rừng Hương Sơn"),
        ("LOC", {}, ""),
        ("HA", {"thuy_phan": "19"}, ""),
        ("CHAI", {}, "Chai thủy tinh 500 ml"),
    ),
    "120",
    # Honey from member beekeepers; part of the lot goes to Hương Sơn, a facility of the kit
    # whose catalog makes antler in honey from it (a trace that crosses facilities).
    receipts=(("XV-AN", "MAT", "", "80", "80"), ("XV-BINH", "MAT", "SK2-11", "60", "50")),
    shipments=(("OCOP-HT", "40"), ("HS", "20")),
)
ANTLER = DemoDevice(
    "hs-nhung-1",
    "HS",
    "edge-huong-son",
    "NHMO",
    (("TRON", {"ngay": "30"}, "Nhung sấy thái lát ngâm mật ong"), ("DONG", {}, "Hũ 250 ml")),
    "60",
    # Dried antler from the deer farmers of Sơn Giang; honey from Cường Nga, a facility of the
    # kit: its receipt names Cường Nga's lot as scanned from its label (seed_batch's `scanned`).
    receipts=(("HN-SG", "NHUNG", "SG-0312", "1500", "1200"), ("CN", "MAT", "", "20", "18")),
)
# Registered by the office, its one-time token never used: the office's "never enrolled" state.
UNENROLLED_DEVICE, UNENROLLED_FACILITY = "hs-nhung-2", "HS"
LABEL_COPIES = 3
MANIFEST = "demo-labels.json"


def ocop(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocop_cli.main", *args]


def run_ocop(*args: str) -> str:
    return subprocess.run(ocop(*args), check=True, capture_output=True, text=True).stdout


def seed_batch(
    edge_toml: Path, device: DemoDevice, scanned: Mapping[str, dict[str, str]] | None = None
) -> None:
    """Record one finished batch in an empty journal (the agent not running yet). ``scanned``
    maps a supplier id to the lot label its delivery was scanned from (``parse_lot_label``)."""
    from edge_agent import batches, supply
    from edge_agent.agent import open_agent
    from edge_agent.clock import ask_server_time
    from edge_agent.config import load_config

    agent = open_agent(load_config(edge_toml), with_sync=False)
    try:
        catalog = agent.catalog()
        if agent.journal.head() > 0 or catalog is None:
            return
        # The server's clock vouches for ours, so the seeded events honestly say "synced".
        ask_server_time(agent.journal.clock.server, agent.upload_base_url())
        batch_id = batches.open_batch(agent.journal, catalog, device.product, "").body["batch"]
        _record_inputs(agent.journal, catalog, batch_id, device, scanned or {})
        for step, values, note in device.steps:
            batches.record_step(agent.journal, catalog, batch_id, step, values, note)
        batches.close_batch(agent.journal, catalog, batch_id, device.quantity)
        for customer, quantity in device.shipments:
            supply.ship(
                agent.journal, catalog, batch_id, customer_id=customer, quantity_text=quantity
            )
    finally:
        agent.close()


def _record_inputs(
    journal: Journal,
    catalog: Catalog,
    batch_id: str,
    device: DemoDevice,
    scanned: Mapping[str, dict[str, str]],
) -> None:
    """Receive the device's raw material and use it in the open batch, through the edge's own
    domain functions (edge_agent/supply.py), as the touchscreen does; a scanned label fills the
    supplier's lot and the receipt's ``source``, as the touchscreen's "Quét mã" does."""
    from edge_agent import supply

    for supplier, material, supplier_lot, received, used in device.receipts:
        source = scanned.get(supplier)
        receipt = supply.receive(
            journal,
            catalog,
            "",
            supplier_id=supplier,
            material_code=material,
            supplier_lot=source["lot"] if source else supplier_lot,
            quantity_text=received,
            source=source,
        )
        supply.use_input(journal, catalog, batch_id, receipt.body["receipt"], used)


def _edge_db(edge_toml: Path) -> sqlite3.Connection:
    from edge_agent.config import load_config

    path = load_config(edge_toml).journal_path
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def journal_head(edge_toml: Path) -> int:
    with _edge_db(edge_toml) as conn:
        return int(conn.execute("SELECT MAX(seq) FROM events").fetchone()[0] or 0)


def seeded_lot(edge_toml: Path) -> tuple[str, str] | None:
    """(lot, product code) of the agent's first finished batch."""
    with _edge_db(edge_toml) as conn:
        row = conn.execute(
            "SELECT lot, product_code FROM batches WHERE status = 'closed'"
            " ORDER BY opened_seq LIMIT 1"
        ).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def edge_catalog(edge_toml: Path) -> Catalog | None:
    """The catalog the agent holds now (it may have just arrived on the config topic)."""
    from trace_protocol.catalog import CatalogError, decode_catalog

    with _edge_db(edge_toml) as conn:
        row = conn.execute("SELECT payload FROM catalog WHERE id = 1").fetchone()
    try:
        return decode_catalog(row[0].encode()) if row else None
    except CatalogError:
        return None


def _base_url_of(edge_toml: Path) -> str | None:
    catalog = edge_catalog(edge_toml)
    return catalog.public_base_url if catalog else None


def server_device(server_toml: Path, dev_id: str) -> tuple[bool, int]:
    """(registered, committed head) of ``dev_id`` in the server's registry."""
    from sync_server.config import load_config
    from sync_server.service import open_server_engine
    from sync_server.store.db import devices, reading

    engine = open_server_engine(load_config(server_toml))
    try:
        with reading(engine) as conn:
            row = conn.execute(select(devices.c.head_seq).where(devices.c.dev_id == dev_id)).first()
    finally:
        engine.dispose()
    return (row is not None, int(row[0] or 0) if row else 0)


def server_has_lot(server_toml: Path, lot: str) -> bool:
    from sync_server.config import load_config
    from sync_server.service import open_server_engine
    from sync_server.store.db import batches, reading

    engine = open_server_engine(load_config(server_toml))
    try:
        with reading(engine) as conn:
            found = conn.execute(select(batches.c.lot).where(batches.c.lot == lot)).first()
            return found is not None
    finally:
        engine.dispose()


def label_source(base_url: str, edge_toml: Path) -> dict[str, str] | None:
    """What scanning the batch label of the agent's seeded lot gives the receiving form (the
    touchscreen's "Quét mã", edge_agent/qr_scan.py); None before the agent has a closed batch."""
    from edge_agent.qr_scan import parse_lot_label
    from trace_protocol.links import build_batch_url

    seeded = seeded_lot(edge_toml)
    if seeded is None:
        return None
    catalog = edge_catalog(edge_toml)
    product = catalog.product(seeded[1]) if catalog else None
    return parse_lot_label(build_batch_url(base_url, seeded[0], product.gtin if product else None))


def register_unenrolled(server_toml: Path) -> None:
    """Hương Sơn's second device: created by the office, its token never used."""
    if server_device(server_toml, UNENROLLED_DEVICE)[0]:
        return
    # The one-time token goes nowhere: nobody enrols this device (it is a secret; not shown).
    run_ocop(
        "server",
        "--config",
        str(server_toml),
        "add-device",
        "--device",
        UNENROLLED_DEVICE,
        "--facility",
        UNENROLLED_FACILITY,
    )


def wait_for(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


@dataclass(frozen=True)
class PrintedLabels:
    png: Path
    url: str
    lot: str


def print_labels(data: Path, edge_toml: Path, base_url: str) -> PrintedLabels | None:
    """Unit labels of the seeded batch, printed once per public base URL through the kit's print
    path (``ocop label print``: the journal's ``labels.printed`` and the agent's print queue)
    to the demo's file printer. None when the agent has no closed batch or catalog."""
    from edge_agent.config import load_config
    from trace_protocol.unit_codes import (
        build_unit_url,
        format_serial,
        load_or_create_label_key,
        unit_mac,
    )

    manifest = data / MANIFEST
    if manifest.exists():
        known = json.loads(manifest.read_text(encoding="utf-8"))
        if known.get("base_url") == base_url and Path(known["png"]).exists():
            return PrintedLabels(Path(known["png"]), known["url"], known["lot"])
    seeded = seeded_lot(edge_toml)
    # The running agent receives the catalog with this base URL on its retained config topic.
    if seeded is None or not wait_for(lambda: _base_url_of(edge_toml) == base_url, 20):
        return None
    lot, product_code = seeded
    command = ("label", "print", "--config", str(edge_toml), "--lot", lot, "--unit")
    done = subprocess.run(
        ocop(*command, "--copies", str(LABEL_COPIES)),
        capture_output=True,
        text=True,
    )
    match = re.search(r"print run (\d+): .*serials (\w+)-", done.stdout)
    if match is None:
        raise RuntimeError(f"ocop label print: {done.stdout} {done.stderr}")
    cfg = load_config(edge_toml)
    seq, first = match.group(1), match.group(2)
    # Either this command or the agent's own print thread prints the job: wait for the file.
    pattern = f"{lot}-run{seq}-1-*-0.png"
    if not wait_for(lambda: any(cfg.label_dir.glob(pattern)), 20):
        return None
    png = sorted(cfg.label_dir.glob(pattern))[0]
    catalog = edge_catalog(edge_toml)
    product = catalog.product(product_code) if catalog else None
    gtin = product.gtin if product else None
    key = load_or_create_label_key(cfg.label_key_path)
    serial = format_serial(int(first))
    url = build_unit_url(base_url, lot, serial, unit_mac(key, lot, serial, gtin), gtin)
    manifest.write_text(
        json.dumps({"base_url": base_url, "png": str(png), "url": url, "lot": lot}),
        encoding="utf-8",
    )
    return PrintedLabels(png, url, lot)
