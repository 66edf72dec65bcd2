"""Issue #2 acceptance: `ocop demo` serves both UIs within 60 s and stops cleanly on Ctrl-C.

Issue 13: it prints a label file and the consumer URL on it (a genuine unit page once the batch
has synced), gives three facilities devices in three liveness states that `ocop server devices`
reports exactly as the office does, and with `--public-url` serves and prints labels there.
Issue 15: Hương Sơn's antler in honey is made from Cường Nga's labelled honey lot, so its
backward trace crosses two facilities to the beekeepers' lot; the EPCIS export validates.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from ocop_cli.broker import free_port, wait_for_port
from sync_server.epcis.document import validation_errors
from tests.conftest import require_program
from tests.integration.harness import wait_until
from tests.unit.label_printer.qr_decode import decode

pytestmark = pytest.mark.integration

GENUINE_UNIT = "Mã sản phẩm chính hãng"  # sync_server/web/i18n.py unit_genuine, vi


class Demo:
    """``ocop demo`` as a subprocess, its output read line by line while it runs."""

    def __init__(self, data: Path, *args: str) -> None:
        self.lines: list[str] = []
        self.ready = threading.Event()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ocop_cli.main", "demo", "--data-dir", str(data), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Press Ctrl-C" in line:
                self.ready.set()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def printed(self, label: str) -> str:
        match = re.search(rf"^\s*{re.escape(label)}\s+(\S+)$", self.text, re.MULTILINE)
        assert match, self.text
        return match.group(1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        time.sleep(0.2)  # the reader's last lines
        return self.proc.returncode


def _office(base: str, data: Path) -> requests.Session:
    """Logged in as the demo's admin, whose password is only in a 0600 file."""
    office = requests.Session()
    login = office.get(f"{base}/office/login", timeout=5)
    token = re.search(r'name="csrf" value="([^"]+)"', login.text)
    assert token is not None
    office.post(
        f"{base}/office/login",
        data={
            "username": "admin",
            "password": (data / "office-admin-password").read_text(encoding="utf-8").strip(),
            "csrf": token.group(1),
        },
        timeout=5,
    ).raise_for_status()
    return office


def _states(html: str, attribute: str) -> dict[str, str]:
    """``{code: state}`` of the dashboard's facility rows (or a device page's heading)."""
    rows = re.findall(rf'{attribute}="([^"]+)">.*?data-state="(\w+)"', html, re.DOTALL)
    return dict(rows)


def _epcis_kinds(office: requests.Session, url: str) -> set[str]:
    """Each page of ``GET /epcis/events`` validated (sync_server/epcis/document.py); returns
    the events' bizSteps and types seen."""
    kinds: set[str] = set()
    for _ in range(100):
        resp = office.get(url, timeout=10)
        assert resp.status_code == 200, resp.text
        document = resp.json()
        assert validation_errors(document) == [], validation_errors(document)[:5]
        for event in document["epcisBody"]["queryResults"]["resultsBody"]["eventList"]:
            kinds.add(str(event["type"]))
            kinds.add(str(event.get("bizStep", "")))
        found = re.search(r'<([^>]+)>; rel="next"', resp.headers.get("Link", ""))
        if found is None:
            return kinds
        url = found.group(1)
    raise AssertionError("more than 100 pages of EPCIS events")


def _assert_crosses_facilities(ocop: list[str], antler_lot: str, honey_lot: str) -> None:
    """``ocop server trace ANTLER --backward --json`` reaches beekeeper XV-BINH's lot through
    Cường Nga's honey batch and its receipt at Hương Sơn (two facilities)."""
    done = subprocess.run(
        [*ocop, "trace", antler_lot, "--backward", "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    trace = json.loads(done.stdout)
    assert trace["direction"] == "backward" and trace["roots"] == [antler_lot]
    lots = {n["key"]: n for n in trace["lots"]}
    edges = {(frm, to) for frm, to in trace["edges"]}  # the way the material flowed
    # XV-BINH/SK2-11 -> Cường Nga's receipt -> honey lot (CN) -> Hương Sơn's receipt -> antler
    (hs_receipt,) = [r for r, to in edges if to == antler_lot and (honey_lot, r) in edges]
    (cn_receipt,) = [r for r, to in edges if to == honey_lot and ("XV-BINH/SK2-11", r) in edges]
    assert (lots[hs_receipt]["kind"], lots[hs_receipt]["facility_code"]) == ("receipt", "HS")
    assert (lots[honey_lot]["kind"], lots[honey_lot]["facility_code"]) == ("output", "CN")
    assert (lots[cn_receipt]["kind"], lots[cn_receipt]["facility_code"]) == ("receipt", "CN")
    assert lots["XV-BINH/SK2-11"]["kind"] == "supplier"
    assert lots[antler_lot]["facility_code"] == "HS"


def _label_url(png: Path) -> str:
    with Image.open(png) as image:
        return decode(image)


def test_demo_serves_server_and_touchscreen_then_stops_on_ctrl_c(tmp_path: Path) -> None:
    require_program("mosquitto")
    server_port, edge_port = free_port(), free_port()
    base = f"http://127.0.0.1:{server_port}"
    started = time.monotonic()
    demo = Demo(tmp_path, "--server-port", str(server_port), "--edge-port", str(edge_port))
    try:
        assert wait_for_port(server_port, 60) and wait_for_port(edge_port, 60)
        assert time.monotonic() - started < 60
        home = requests.get(f"{base}/", timeout=5)
        touch = requests.get(f"http://127.0.0.1:{edge_port}/", timeout=5)
        assert home.status_code == touch.status_code == 200
        assert "Gạo Ngọc Mầm" in touch.text
        assert demo.ready.wait(60), demo.text
        # The seeded batch syncs on its own and its public page appears.
        wait_until(
            lambda: "KC-NM-" in requests.get(f"{base}/", timeout=5).text,
            30,
            "the demo batch on the server",
        )
        # A label printed through the kit's print path, and the consumer URL its QR carries.
        png, url = (
            Path(demo.printed("label printed (PNG):")),
            demo.printed("consumer page of label 1:"),
        )
        assert png.is_file() and png.parent == tmp_path / "edge" / "labels"
        assert _label_url(png) == url
        assert re.fullmatch(rf"{base}/01/\d{{14}}/10/KC-NM-\w+/21/1\?s=[\w-]+", url), url
        unit = requests.get(url, timeout=5)
        assert unit.status_code == 200 and 'class="verdict ok"' in unit.text
        assert GENUINE_UNIT in unit.text
        # The demo machine's clock is vouched for (here by the server's clock, issue 13), so its
        # steps carry no "device clock not synced" warning.
        assert "chưa đồng bộ" not in unit.text
        lot_page = requests.get(url.split("/21/")[0], timeout=5)
        assert lot_page.status_code == 200 and "chưa đồng bộ" not in lot_page.text
        # Issue 15: the seeded batch's actual paddy, received through the edge's own paths from
        # the catalog's contract farmers (a farmer private: the place, not the name).
        assert "Nguồn nguyên liệu của lô" in lot_page.text
        assert "Tổ hợp tác lúa Ngọc Mầm thôn Đông Hà" in lot_page.text
        assert "Nông dân, xã Thạch Đài" in lot_page.text and "Nguyễn Văn Hòa" not in lot_page.text
        assert "TCVN 11888:2017" in lot_page.text

        office = _office(base, tmp_path)
        dash = office.get(f"{base}/office/", timeout=5)
        assert dash.status_code == 200 and "Công ty TNHH MTV KC" in dash.text
        # Three facilities, each with a device, in three different states.
        facilities = _states(dash.text, "data-facility")
        assert facilities == {"KC": "online", "CN": "stale", "HS": "offline"}, facilities
        # `ocop server devices` answers from the same liveness module as the office pages.
        config = str(tmp_path / "server.toml")
        listed = subprocess.run(
            [sys.executable, "-m", "ocop_cli.main", "server", "--config", config, "devices"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        cli = dict(re.findall(r'"device": "([^"]+)".*?"state": "(\w+)"', listed))
        assert cli == {
            "kc-line-1": "online",
            "cn-mat-ong-1": "stale",
            "hs-nhung-1": "stale",  # synced its antler batch, then stopped
            "hs-nhung-2": "offline",  # never enrolled: Hương Sơn is offline
        }
        for dev, state in cli.items():
            page = office.get(f"{base}/office/devices/{dev}", timeout=5).text
            assert re.search(rf'<h1>.*data-state="{state}"', page), (dev, state)
        # The honey device synced its history before it went quiet.
        cn_page = office.get(f"{base}/office/facilities/CN", timeout=5).text
        assert "CN-MO-" in cn_page
        # Issue 15: the honey lot's trace, both ways: member beekeepers' honey in, and out to an
        # OCOP shop and to Hương Sơn, another facility of the kit.
        honey_lot = re.search(r"CN-MO-\w+", cn_page)
        assert honey_lot is not None
        ocop = [sys.executable, "-m", "ocop_cli.main", "server", "--config", config]
        trace = subprocess.run(
            [*ocop, "trace", honey_lot.group(0)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        assert "XV-BINH/SK2-11" in trace and "Mật ong thô" in trace
        assert "Cửa hàng giới thiệu sản phẩm OCOP Hà Tĩnh" in trace
        assert "Công ty CP Nông nghiệp Hương Sơn" in trace
        # Issue 15: antler in honey at Hương Sơn, from Cường Nga's labelled lot: the backward
        # trace crosses both facilities to the beekeeper's own lot.
        hs_page = office.get(f"{base}/office/facilities/HS", timeout=5).text
        antler_lot = re.search(r"HS-NHMO-\w+", hs_page)
        assert antler_lot is not None, hs_page
        _assert_crosses_facilities(ocop, antler_lot.group(0), honey_lot.group(0))
        # Issue 15: the demo chain's EPCIS events, every page of the query interface, validate
        # against the official schema with format checking, receiving to shipping.
        kinds = _epcis_kinds(office, f"{base}/epcis/events?perPage=50")
        assert {"receiving", "TransformationEvent", "shipping"} <= kinds, kinds
        received = office.get(
            f"{base}/epcis/events",
            params={"facility": "HS", "EQ_bizStep": "receiving"},
            timeout=10,
        ).json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        scanned = {e["ilmd"].get("ocop:supplierEPCClass") for e in received}
        assert f"{base}/l/{honey_lot.group(0)}" in scanned, received

        # The office names the scan's verdict in words and labels the journal's values.
        batch_link = re.search(r'href="(/office/batches/kc-line-1/[^"]+)"', dash.text) or re.search(
            r'href="(/office/batches/kc-line-1/[^"]+)"',
            office.get(f"{base}/office/facilities/KC", timeout=5).text,
        )
        assert batch_link is not None
        batch = office.get(base + batch_link.group(1), timeout=5).text
        assert "Chính hãng" in batch and ">genuine<" not in batch
        device = office.get(f"{base}/office/devices/kc-line-1", timeout=5).text
        assert "<dt>Độ ẩm</dt><dd>14 %</dd>" in device and "<dt>values</dt>" not in device
        assert "<dt>Số lô</dt>" in device and "<dt>lot</dt>" not in device
    finally:
        code = demo.stop()
    text = demo.text
    assert code == 0, text
    assert f"{base}/" in text and f"http://127.0.0.1:{edge_port}/" in text
    assert "demo stopped" in text
    assert (tmp_path / "office-admin-password").read_text(encoding="utf-8").strip() not in text
    leftovers = subprocess.run(
        ["pgrep", "-f", str(tmp_path)], capture_output=True, text=True
    ).stdout.split()
    assert leftovers == []


def test_public_url_binds_there_and_goes_on_the_labels(tmp_path: Path) -> None:
    """``--public-url http://127.0.0.2:PORT``: the server listens on that address only and
    the printed labels' QR codes point there (a phone on the LAN scans the same way)."""
    require_program("mosquitto")
    port = free_port()
    public = f"http://127.0.0.2:{port}"
    demo = Demo(tmp_path, "--public-url", public, "--edge-port", str(free_port()))
    try:
        assert demo.ready.wait(90), demo.text
        assert wait_for_port(port, 5, host="127.0.0.2")
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass  # loopback's 127.0.0.1 is not served when another address is asked for
        assert f"server, public pages:     {public}/" in demo.text
        png, url = (
            Path(demo.printed("label printed (PNG):")),
            demo.printed("consumer page of label 1:"),
        )
        assert url.startswith(f"{public}/01/") and _label_url(png) == url
        wait_until(
            lambda: GENUINE_UNIT in requests.get(url, timeout=5).text, 30, "a genuine unit page"
        )
    finally:
        assert demo.stop() == 0, demo.text
