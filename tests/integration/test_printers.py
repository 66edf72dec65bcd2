"""Printers end to end: a raw port-9100 listener receives exactly the golden bytes, and a real
CUPS from Debian (started here, on a free port, with the cups-pdf driver) prints a sticker
sheet whose PDF output, rasterised by pdftoppm at 300 dpi, still scans to every unit URL.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator

import cv2
import pytest

from label_printer import PrinterError, open_printer, render_pdf_sheet
from ocop_cli.broker import free_port, wait_for_port
from tests.conftest import CI, require_program
from tests.unit.label_printer.qr_decode import decode_multi
from tests.unit.label_printer.test_thermal import GOLDEN, JOB, RENDERERS, SAMPLE, UNIT_URL

pytestmark = pytest.mark.integration

CUPS_PDF_BACKEND = pathlib.Path("/usr/lib/cups/backend/cups-pdf")
CUPS_PDF_PPD = pathlib.Path("/usr/share/ppd/cups-pdf/CUPS-PDF_noopt.ppd")
CUPS_PDF_CONFIG_DIR = pathlib.Path("/etc/cups")  # cups-pdf reads cups-pdf-<uri>.conf only here


def require(condition: bool, message: str) -> None:
    """Like ``require_program`` for anything else: fail under CI=true, skip elsewhere."""
    if not condition:
        if CI:
            pytest.fail(message)
        pytest.skip(message)


@dataclasses.dataclass
class RawListener:
    port: int
    received: bytearray
    done: threading.Event


@pytest.fixture
def raw_listener() -> Iterator[RawListener]:
    """A stand-in network label printer: accepts one connection on 127.0.0.1, reads to EOF."""
    server = socket.create_server(("127.0.0.1", 0))
    listener = RawListener(server.getsockname()[1], bytearray(), threading.Event())

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            while chunk := conn.recv(65536):
                listener.received.extend(chunk)
        listener.done.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener
    server.close()
    thread.join(5)


@pytest.mark.parametrize("fmt", sorted(RENDERERS))
def test_raw_9100_listener_receives_the_golden_bytes(fmt: str, raw_listener: RawListener) -> None:
    golden = (GOLDEN / f"job.{fmt}").read_bytes()
    data = RENDERERS[fmt](JOB)
    assert data == golden
    open_printer(f"tcp://127.0.0.1:{raw_listener.port}?timeout=5").send(f"job.{fmt}", data)
    assert raw_listener.done.wait(5)
    assert bytes(raw_listener.received) == golden


@dataclasses.dataclass
class Cups:
    port: int
    queue: str
    out: pathlib.Path


CUPSD_CONF = """Listen 127.0.0.1:{port}
LogLevel info
Browsing No
WebInterface No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow all
</Location>
<Policy default>
  <Limit All>
    Order deny,allow
    Allow all
  </Limit>
</Policy>
"""
CUPS_FILES_CONF = """ServerRoot {root}/conf
RequestRoot {root}/spool
TempDir {root}/spool/tmp
CacheDir {root}/cache
StateDir {root}/state
AccessLog {root}/log/access_log
ErrorLog {root}/log/error_log
PageLog {root}/log/page_log
FileDevice No
Sandboxing Relaxed
SystemGroup root
"""
CUPS_PDF_CONF = "Out {root}/out\nAnonDirName {root}/out\nSpool {root}/pdf-spool\nGrp root\n"


@pytest.fixture
def cups() -> Iterator[Cups]:
    """A private cupsd on a free port with one cups-pdf queue writing into a temp folder."""
    programs = {name: require_program(name) for name in ("cupsd", "lpadmin", "lp", "pdftoppm")}
    require(CUPS_PDF_BACKEND.exists(), "cups-pdf is not installed (printer-driver-cups-pdf)")
    require(CUPS_PDF_PPD.exists(), f"{CUPS_PDF_PPD} is missing (printer-driver-cups-pdf)")
    require(os.geteuid() == 0, "the cups-pdf backend runs only under a cupsd started as root")
    # Not pytest's tmp_path: CUPS filters run as user lp and must reach the spool.
    root = pathlib.Path(tempfile.mkdtemp(prefix="ocop-cups-"))
    root.chmod(0o755)
    for sub in ("conf", "spool/tmp", "cache", "state", "log", "out", "pdf-spool"):
        (root / sub).mkdir(parents=True)
    (root / "spool/tmp").chmod(0o1777)
    port, name = free_port(), f"ocoptest{uuid.uuid4().hex[:8]}"
    (root / "conf/cupsd.conf").write_text(CUPSD_CONF.format(port=port))
    (root / "conf/cups-files.conf").write_text(CUPS_FILES_CONF.format(root=root))
    pdf_conf = CUPS_PDF_CONFIG_DIR / f"cups-pdf-{name}.conf"
    pdf_conf.write_text(CUPS_PDF_CONF.format(root=root))
    log = (root / "log/cupsd.out").open("wb")
    cupsd = subprocess.Popen(
        [
            programs["cupsd"],
            "-f",
            "-c",
            root / "conf/cupsd.conf",
            "-s",
            root / "conf/cups-files.conf",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for_port(port, 15), (root / "log/cupsd.out").read_text()
        subprocess.run(
            [programs["lpadmin"], "-h", f"127.0.0.1:{port}", "-p", "OCOP_PDF", "-E",
             "-v", f"cups-pdf:/{name}", "-P", CUPS_PDF_PPD],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        yield Cups(port, "OCOP_PDF", root / "out")
    finally:
        cupsd.terminate()
        try:
            cupsd.wait(10)
        except subprocess.TimeoutExpired:
            cupsd.kill()
            cupsd.wait()
        log.close()
        pdf_conf.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)


def wait_for_pdf(folder: pathlib.Path, timeout_s: float = 90) -> pathlib.Path:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = [p for p in folder.glob("*.pdf") if p.stat().st_size > 0]
        if done:
            time.sleep(0.5)  # cups-pdf writes, then renames nothing: let it finish
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"cups-pdf wrote no PDF into {folder} within {timeout_s} s")


def test_cups_prints_a_sheet_that_still_scans(cups: Cups, tmp_path: pathlib.Path) -> None:
    contents = [dataclasses.replace(SAMPLE, url=UNIT_URL.format(n)) for n in range(24)]
    printer = open_printer(f"cups://127.0.0.1:{cups.port}/{cups.queue}")
    job = printer.send("ocop-sheet", render_pdf_sheet(contents))
    assert isinstance(job, str) and job.startswith(f"{cups.queue}-")
    printed = wait_for_pdf(cups.out)
    subprocess.run(
        [require_program("pdftoppm"), "-r", "300", "-gray", "-png", printed, tmp_path / "page"],
        check=True,
        timeout=120,
    )
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 1
    image = cv2.imread(str(pages[0]), cv2.IMREAD_GRAYSCALE)
    assert image is not None
    found = decode_multi(image)
    assert found == {c.url for c in contents}


def test_cups_unknown_queue_is_a_printer_error(cups: Cups) -> None:
    with pytest.raises(PrinterError, match="CUPS refused the label job for printer NOPE"):
        open_printer(f"cups://127.0.0.1:{cups.port}/NOPE").send("x", b"%PDF-1.4\n")
    with contextlib.suppress(FileNotFoundError):
        assert not list(cups.out.iterdir())
