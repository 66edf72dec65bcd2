"""Issue 12, finding 9: the nginx site ``ocop server provision`` renders limits each client address
(``limit_req`` per location, ``limit_conn`` per server) and never rate-limits ``/healthz``.

Debian's nginx runs the rendered site, as a non-daemon in the test's folder, in front of a
stand-in app (nginx's behaviour is under test here, not the app's)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.nginx_site import DOMAIN, loopback_spec, start_nginx
from tests.security.net import ATTACKER, USER, session_from
from tests.tls_certs import TlsFiles, make_tls_files

pytestmark = pytest.mark.integration


class _App(BaseHTTPRequestHandler):
    """Stands in for the web workers; ``?slow`` answers after a second and a half."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if "slow" in self.path:
            time.sleep(1.5)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass
class Site:
    base: str
    tls: TlsFiles


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    program = require_program("nginx")
    tls = make_tls_files(tmp_path / "tls")
    spec = loopback_spec(tmp_path, tls)
    app = ThreadingHTTPServer(("127.0.0.1", spec.web_ports[0]), _App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    try:
        proc = start_nginx(program, spec, tmp_path)
    except BaseException:
        app.shutdown()
        app.server_close()
        raise
    try:
        yield Site(f"https://127.0.0.1:{spec.https_port}", tls)
    finally:
        proc.terminate()
        proc.wait(10)
        app.shutdown()
        app.server_close()


def _statuses(site: Site, source: str, path: str, count: int) -> Counter[int]:
    s = session_from(source)
    return Counter(
        s.get(
            site.base + path, headers={"Host": DOMAIN}, verify=str(site.tls.ca), timeout=10
        ).status_code
        for _ in range(count)
    )


def test_pages_past_the_burst_get_429_from_nginx(site: Site) -> None:
    start = time.monotonic()
    seen = _statuses(site, ATTACKER, "/l/KC-NM-261204-01/0007", 80)
    elapsed = time.monotonic() - start
    # burst 40 plus 10 a second refilled while the loop ran; the rest is refused.
    assert seen[200] <= 41 + 10 * elapsed + 1, (seen, elapsed)
    assert seen[429] >= 80 - (41 + 10 * elapsed + 1), (seen, elapsed)
    # Another address is not affected, and the health check is never rate-limited.
    assert _statuses(site, USER, "/l/KC-NM-261204-01/0007", 5) == Counter({200: 5})
    assert _statuses(site, ATTACKER, "/healthz", 80) == Counter({200: 80})


def test_one_address_gets_at_most_20_requests_in_progress(site: Site) -> None:
    def one(_: int) -> int:
        s = session_from(ATTACKER)
        url = site.base + "/healthz?slow"
        return s.get(url, headers={"Host": DOMAIN}, verify=str(site.tls.ca), timeout=20).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        seen = Counter(pool.map(one, range(30)))
    assert seen[200] <= 20 and seen[429] >= 10, seen
    assert _statuses(site, USER, "/healthz", 3) == Counter({200: 3})
