"""Issue 17: batch-page views served from nginx's micro-cache are counted as scans.

Debian's nginx runs the site ``ocop server provision`` renders, on loopback, in front of a real
``ocop server web`` worker; consumers open batch pages over TLS. The views the app renders (the
answer's ``X-Cache`` is MISS or EXPIRED) are logged by the app; the rest nginx writes to its scan
log and ``ocop server import-scans`` stores. Every view becomes exactly one row, with the place
the app would have given it; importing again (a restart) adds nothing; a rotated log is read to
its end before the new one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from firmware_config.server import ServerSpec
from ocop_cli.broker import free_port, wait_for_port
from sync_server.consumer.scans import place_key, place_of
from sync_server.store.db import scans
from tests.conftest import require_program
from tests.integration.harness import Processes, ServerEnv, make_server
from tests.nginx_site import DOMAIN, loopback_spec, start_nginx
from tests.security.net import ATTACKER, USER, session_from
from tests.tls_certs import TlsFiles, make_tls_files
from tests.unit.server.consumer import GTIN, LOT, enrol_device, sync_batch

pytestmark = pytest.mark.integration
APP_SAW = {"MISS", "EXPIRED", "BYPASS"}


@dataclass
class Site:
    server: ServerEnv
    spec: ServerSpec
    tls: TlsFiles
    nginx: subprocess.Popen[bytes]

    @property
    def scan_log(self) -> Path:
        return Path(self.spec.scan_log)

    def get(self, source: str, path: str) -> tuple[int, str]:
        """One consumer's view: the status and whether nginx answered from its cache."""
        resp = session_from(source).get(
            f"https://127.0.0.1:{self.spec.https_port}{path}",
            headers={"Host": DOMAIN},
            verify=str(self.tls.ca),
            timeout=30,
        )
        return resp.status_code, resp.headers["X-Cache"]

    def rows(self) -> list[tuple[str, str, str | None, str | None, str]]:
        with self.server.engine.connect() as conn:
            query = select(
                scans.c.lot, scans.c.verdict, scans.c.gtin, scans.c.facility_code, scans.c.place
            ).order_by(scans.c.id)
            return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(query)]

    def import_scans(self) -> str:
        config, log = str(self.server.config_path), str(self.scan_log)
        command = ["server", "--config", config, "import-scans", "--log", log]
        done = subprocess.run(
            [sys.executable, "-m", "ocop_cli.main", *command],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture
def site(tmp_path: Path, procs: Processes) -> Iterator[Site]:
    program = require_program("nginx")
    server = make_server(
        tmp_path,
        free_port(),  # web workers only: no broker needed
        http_toml="proxy_hops = 1\n",
        extra_toml="[scans]\nper_network_hour = 1000\n",
    )
    sync_batch(server.engine, enrol_device(server.engine))
    tls = make_tls_files(tmp_path / "tls")
    spec = loopback_spec(
        tmp_path,
        tls,
        nginx_log_dir=str(tmp_path / "nginx-logs"),
        micro_cache_s=60,  # views a test makes within a minute come from the cache
    )
    Path(spec.nginx_log_dir).mkdir()
    port = spec.web_ports[0]
    args = ["server", "--config", str(server.config_path), "web", "--port", str(port)]
    procs.start(args, tmp_path / "web.log")
    assert wait_for_port(port, 30), "ocop server web did not start"
    nginx = start_nginx(program, spec, tmp_path)
    try:
        yield Site(server, spec, tls, nginx)
    finally:
        nginx.terminate()
        nginx.wait(10)


def _views(site: Site, source: str, path: str, count: int) -> Counter[tuple[int, bool]]:
    """``count`` views of ``path``: (status, whether the app rendered it) → how many."""
    seen: Counter[tuple[int, bool]] = Counter()
    for _ in range(count):
        status, cache = site.get(source, path)
        seen[(status, cache in APP_SAW)] += 1
    return seen


def _wait_for_rows(site: Site, count: int) -> None:
    """The app writes batch-page scans in the background (group commit): wait for them."""
    deadline = time.monotonic() + 30
    while len(site.rows()) < count and time.monotonic() < deadline:
        time.sleep(0.1)


def test_every_view_through_the_micro_cache_is_one_scan(site: Site) -> None:
    page, short, missing = f"/01/{GTIN}/10/{LOT}", f"/l/{LOT}", "/l/KC-NM-000000-99"
    seen = _views(site, USER, page, 25) + _views(site, ATTACKER, short, 10)
    seen += _views(site, USER, missing, 3) + _views(site, USER, "/01/123/10/X", 2)
    # The cache answered most of them: the app rendered each page once.
    assert seen == Counter(
        {
            (200, True): 2,
            (200, False): 33,
            (404, True): 2,  # the missing lot and the invalid GTIN
            (404, False): 3,
        }
    )
    _wait_for_rows(site, 3)
    assert len(site.rows()) == 3  # what the app saw: two batch pages, one missing lot

    out = site.import_scans()
    assert out.startswith("35 scans imported") and "(1 lines not counted)" in out, out
    rows = site.rows()
    assert len(rows) == 38  # every view once; the invalid GTIN's views are no scan, as in the app
    key = place_key(site.server.config.web_secret_key())
    user, attacker = place_of(USER, key), place_of(ATTACKER, key)
    assert Counter(rows) == Counter(
        {
            (LOT, "batch", GTIN, "KC", user): 25,
            (LOT, "batch", None, "KC", attacker): 10,
            ("KC-NM-000000-99", "not_found", None, None, user): 3,
        }
    )

    # A restart of the importer reads nothing twice.
    assert site.import_scans().startswith("0 scans imported")
    assert len(site.rows()) == 38


def test_a_rotated_log_is_read_to_its_end_then_the_new_one(site: Site) -> None:
    page = f"/l/{LOT}"
    first = _views(site, USER, page, 5)
    site.import_scans()
    before_rotation = _views(site, USER, page, 7)  # in the old file, not imported yet
    # What logrotate does on Debian: rename, then tell nginx to reopen its logs.
    os.rename(site.scan_log, site.scan_log.with_name(site.scan_log.name + ".1"))
    site.nginx.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not site.scan_log.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    after_rotation = _views(site, USER, page, 4)
    assert site.scan_log.exists()

    site.import_scans()
    site.import_scans()  # and once more, as after a restart
    with site.server.engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(scans)).scalar_one()
    assert count == sum((first + before_rotation + after_rotation).values()) == 16
