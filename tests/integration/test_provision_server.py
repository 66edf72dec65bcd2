"""Issue 7: the server bundle of ``ocop server provision`` checked by the real programs:
systemd-analyze, Mosquitto (TLS for devices, loopback for the server), nginx, bash, shellcheck."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion

from firmware_config.server import ServerSpec, manifest, render_bundle
from ocop_cli.broker import free_port, wait_for_port
from sync_server.devices.broker_auth import SERVER_USER, server_password, write_broker_auth
from tests.conftest import require_program
from tests.integration.harness import enrol_with_token, make_server, wait_until
from tests.tls_certs import TlsFiles, make_tls_files
from trace_protocol import topics
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration
DOMAIN = "trace.hatinh.gov.vn"


@dataclass
class Box:
    """A bundle rendered with this test's ports and folders."""

    tmp: Path
    spec: ServerSpec
    bundle: Path
    tls: TlsFiles


@pytest.fixture
def box(tmp_path: Path) -> Box:
    tls = make_tls_files(tmp_path / "tls")
    prefix = tmp_path / "prefix"
    (prefix / "bin").mkdir(parents=True)
    stub = prefix / "bin" / "ocop"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    spec = ServerSpec(
        domain=DOMAIN,
        mqtt_domain="localhost",
        web_workers=1,
        web_base_port=free_port(),
        prefix=str(prefix),
        data_dir=str(tmp_path / "data"),
        config_dir=str(tmp_path / "etc"),
        backup_dir=str(tmp_path / "backups"),
        tls_cert=str(tls.cert),
        tls_key=str(tls.key),
        tls_ca=str(tls.ca),
        mosquitto_cert_dir=str(tmp_path / "mosquitto-certs"),
        device_port=free_port(),
        device_bind="127.0.0.1",
        local_mqtt_port=free_port(),
        http_port=free_port(),
        https_port=free_port(),
        nginx_bind="127.0.0.1",
        nginx_cache_dir=str(tmp_path / "nginx-cache"),
        nginx_log_dir=str(tmp_path),
        acme_root=str(tmp_path / "acme"),
    )
    bundle = tmp_path / "bundle"
    render_bundle(spec, bundle)
    return Box(tmp_path, spec, bundle, tls)


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False, env=env)


# --- systemd ----------------------------------------------------------------------------------


def test_systemd_analyze_verifies_every_unit(box: Box) -> None:
    analyze = require_program("systemd-analyze")
    units = [
        f"ocop-web@{box.spec.web_ports[0]}.service",  # an instance of the template beside it
        "ocop-ingest@1.service",
        "ocop-server.target",
        "ocop-backup.service",
        "ocop-backup.timer",
        "ocop-scan-import.service",
    ]
    for unit in units:
        done = _run([analyze, "verify", str(box.bundle / unit)])
        assert done.returncode == 0 and done.stderr == "", (unit, done.stderr)
    # And it does catch mistakes: a unit whose program is missing fails.
    (box.tmp / "prefix" / "bin" / "ocop").unlink()
    done = _run([analyze, "verify", str(box.bundle / "ocop-backup.service")])
    assert done.returncode != 0 and "ocop" in done.stderr


# --- Mosquitto --------------------------------------------------------------------------------


@pytest.fixture
def broker(box: Box) -> Iterator[dict[str, str]]:
    """Mosquitto started the way Debian starts it (a main file that includes conf.d), with the
    rendered ocop.conf, the certificate copied as ocop-certs.sh would, and broker files written
    by the server for two enrolled devices. Yields the passwords."""
    mosquitto = require_program("mosquitto")
    server = make_server(box.tmp / "server", 0)
    passwords = {
        dev: enrol_with_token(server, dev, DeviceKey.generate())
        for dev in ("kc-line-1", "kc-line-2")
    }
    auth_dir = Path(box.spec.broker_auth_dir)
    write_broker_auth(server.engine, auth_dir)
    passwords[SERVER_USER] = server_password(auth_dir)
    certs = Path(box.spec.mosquitto_cert_dir)
    certs.mkdir()
    shutil.copy(box.tls.cert, box.spec.mosquitto_certfile)
    shutil.copy(box.tls.key, box.spec.mosquitto_keyfile)
    shutil.copy(box.tls.ca, box.spec.mosquitto_cafile)
    (box.tmp / "mosquitto-db").mkdir()
    confd = box.tmp / "mosquitto" / "conf.d"
    confd.mkdir(parents=True)
    shutil.copy(box.bundle / "mosquitto-ocop.conf", confd / "ocop.conf")
    main_conf = box.tmp / "mosquitto" / "mosquitto.conf"
    main_conf.write_text(
        # Debian's /etc/mosquitto/mosquitto.conf, with this test's user and folders.
        f"user {getpass.getuser()}\n"
        "persistence true\n"
        f"persistence_location {box.tmp}/mosquitto-db/\n"
        "log_dest stderr\n"
        f"include_dir {confd}\n",
        encoding="utf-8",
    )
    log = (box.tmp / "mosquitto.log").open("wb")
    proc = subprocess.Popen([mosquitto, "-c", str(main_conf)], stdout=log, stderr=log)
    try:
        for port in (box.spec.device_port, box.spec.local_mqtt_port):
            assert wait_for_port(port, 10), (box.tmp / "mosquitto.log").read_text()
        yield passwords
    finally:
        proc.terminate()
        proc.wait(10)
        server.engine.dispose()


class Client:
    """A paho client that records its CONNACK and the messages it receives."""

    def __init__(
        self,
        port: int,
        user: str | None,
        password: str | None,
        ca: Path | None,
        client_id: str = "",
    ) -> None:
        self.rc: str | None = None
        self.answered = threading.Event()
        self.messages: list[tuple[str, bytes]] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        if ca is not None:
            self.c.tls_set(ca_certs=str(ca))
        if user is not None:
            self.c.username_pw_set(user, password)
        self.c.on_connect = self._on_connect
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()
        assert self.answered.wait(10), "no CONNACK"

    def _on_connect(self, c: mqtt.Client, u: object, f: object, rc: object, p: object) -> None:
        self.rc = str(rc)
        self.answered.set()

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def test_mosquitto_lets_in_only_enrolled_devices_over_tls(box: Box, broker: dict[str, str]) -> None:
    port, ca = box.spec.device_port, box.tls.ca
    for user, password in ((None, None), ("kc-line-1", "wrong"), ("kc-other", "x")):
        c = Client(port, user, password, ca)
        assert c.rc == "Not authorized", (user, c.rc)
        c.close()
    device = Client(port, "kc-line-1", broker["kc-line-1"], ca)
    assert device.rc == "Success"
    # The server's ingest user on the loopback listener (plain MQTT), anonymous refused there.
    anonymous = Client(box.spec.local_mqtt_port, None, None, None)
    assert anonymous.rc == "Not authorized"
    anonymous.close()
    server = Client(box.spec.local_mqtt_port, SERVER_USER, broker[SERVER_USER], None)
    assert server.rc == "Success"
    try:
        # One ACL across both listeners: the device's events reach the server's subscription.
        done = threading.Event()
        server.c.on_subscribe = lambda *a: done.set()
        server.c.subscribe(topics.wildcard(topics.EVENTS), qos=1)
        assert done.wait(5)
        events = topics.build_topic("kc-line-1", topics.EVENTS)
        device.c.publish(events, b"chunk", qos=1).wait_for_publish(5)
        wait_until(lambda: (events, b"chunk") in server.messages, 5, "the device's events")
    finally:
        device.close()
        server.close()


def test_mosquitto_keeps_devices_and_the_server_on_their_own_listeners(
    box: Box, broker: dict[str, str]
) -> None:
    """Issue 12, finding 6: a device's password opens only the device listener, where its client
    id is its username, so it cannot close another device's session by taking its client id."""
    port, ca = box.spec.device_port, box.tls.ca
    on_server_port = Client(box.spec.local_mqtt_port, "kc-line-1", broker["kc-line-1"], None)
    assert on_server_port.rc == "Not authorized"
    on_server_port.close()
    server_on_device_port = Client(port, SERVER_USER, broker[SERVER_USER], ca)
    assert server_on_device_port.rc == "Not authorized"
    server_on_device_port.close()
    lost = threading.Event()
    victim = Client(port, "kc-line-1", broker["kc-line-1"], ca, client_id="edge-kc-line-1")
    victim.c.on_disconnect = lambda *a: lost.set()
    attacker = Client(port, "kc-line-2", broker["kc-line-2"], ca, client_id="edge-kc-line-1")
    try:
        assert victim.rc == attacker.rc == "Success"
        assert not lost.wait(2), "the other device's connection was closed"
        assert victim.c.is_connected()
    finally:
        attacker.close()
        victim.close()


# A plain MQTT 3.1.1 CONNECT (clean session, keep-alive 60 s, client id "test"): a broker that
# spoke plain MQTT on this port would answer it with a CONNACK (first byte 0x20), even a refusal.
PLAIN_CONNECT = bytes.fromhex("101000044d5154540402003c000474657374")


def _answer_until_closed(sock: socket.socket) -> tuple[bytes, bool]:
    """What the peer sends before it closes the connection, and whether it closed it (an orderly
    close or a reset) rather than falling silent for the socket's timeout."""
    answer = b""
    while len(answer) < 4096:
        try:
            chunk = sock.recv(4096)
        except ConnectionResetError:
            return answer, True
        except TimeoutError:
            return answer, False
        if not chunk:
            return answer, True
        answer += chunk
    return answer, False


def test_mosquitto_device_port_speaks_only_tls(box: Box, broker: dict[str, str]) -> None:
    """Something listens on the device port (the TCP connection is accepted), and a plain MQTT
    CONNECT sent on it gets no CONNACK: the TLS listener closes the connection instead."""
    with socket.create_connection(("127.0.0.1", box.spec.device_port), timeout=5) as sock:
        sock.sendall(PLAIN_CONNECT)
        answer, closed = _answer_until_closed(sock)
    assert not answer.startswith(b"\x20"), "a plain MQTT client got a CONNACK on the TLS listener"
    assert closed, "the TLS listener kept a plain MQTT connection open"


# --- nginx ------------------------------------------------------------------------------------


def _nginx_main_conf(box: Box) -> Path:
    """A minimal nginx.conf like Debian's, with every runtime path in the test's folder."""
    root = box.tmp / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "nginx.conf"
    conf.write_text(
        f"user {getpass.getuser()};\n"
        "worker_processes 1;\n"
        f"pid {root}/nginx.pid;\n"
        f"error_log {root}/error.log;\n"
        "daemon off;\n"
        "events { worker_connections 64; }\n"
        "http {\n"
        f"    access_log {root}/access.log;\n"
        f"    client_body_temp_path {root}/body;\n"
        f"    proxy_temp_path {root}/proxy;\n"
        f"    fastcgi_temp_path {root}/fastcgi;\n"
        f"    uwsgi_temp_path {root}/uwsgi;\n"
        f"    scgi_temp_path {root}/scgi;\n"
        f"    include {box.bundle / 'nginx-ocop.conf'};\n"
        "}\n",
        encoding="utf-8",
    )
    return conf


def test_nginx_accepts_the_site(box: Box) -> None:
    nginx = require_program("nginx")
    conf = _nginx_main_conf(box)
    done = _run([nginx, "-t", "-p", str(conf.parent), "-c", str(conf)])
    assert done.returncode == 0, done.stderr
    assert "test is successful" in done.stderr


class _App(BaseHTTPRequestHandler):
    """Stands in for the web workers: counts requests per path, echoes what nginx sent."""

    hits: ClassVar[dict[str, int]] = {}
    seen_xff: ClassVar[list[str]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        _App.hits[self.path] = _App.hits.get(self.path, 0) + 1
        _App.seen_xff.append(self.headers.get("X-Forwarded-For", ""))
        body = f"{self.path} #{_App.hits[self.path]}".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        if "lang=" in self.path:
            self.send_header("Set-Cookie", "lang=en; Max-Age=31536000; SameSite=Lax")
        self.end_headers()
        self.wfile.write(body)

    do_GET = _answer
    do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def nginx(box: Box) -> Iterator[str]:
    """nginx running the rendered site in front of a stand-in app; yields the HTTPS base URL."""
    program = require_program("nginx")
    _App.hits, _App.seen_xff = {}, []
    app = ThreadingHTTPServer(("127.0.0.1", box.spec.web_ports[0]), _App)
    threading.Thread(target=app.serve_forever, daemon=True).start()
    conf = _nginx_main_conf(box)
    proc = subprocess.Popen(
        [program, "-p", str(conf.parent), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port(box.spec.https_port, 10), (conf.parent / "error.log").read_text()
        yield f"https://127.0.0.1:{box.spec.https_port}"
    finally:
        proc.terminate()
        proc.wait(10)
        app.shutdown()
        app.server_close()


def _get(box: Box, url: str, cookies: dict[str, str] | None = None) -> requests.Response:
    return requests.get(
        url, headers={"Host": DOMAIN}, cookies=cookies, verify=str(box.tls.ca), timeout=10
    )


def _put(box: Box, url: str, size: int) -> int:
    return requests.put(
        url, data=b"x" * size, headers={"Host": DOMAIN}, verify=str(box.tls.ca), timeout=10
    ).status_code


def test_nginx_micro_caches_batch_pages_but_never_unit_pages_office_or_api(
    box: Box, nginx: str
) -> None:
    batch = "/01/08936123450014/10/KC-NM-261122-01"
    first, second = _get(box, nginx + batch), _get(box, nginx + batch)
    assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("MISS", "HIT")
    assert second.text == f"{batch} #1" and _App.hits[batch] == 1
    assert "max-age" in second.headers["Strict-Transport-Security"]
    for path in (
        batch + "/21/0007",
        "/l/KC-NM-261122-01/0007",
        "/office/",
        "/api/v1/enroll",
        "/epcis/events",
        "/healthz",
    ):
        for _ in range(2):
            resp = _get(box, nginx + path)
            assert resp.status_code == 200 and "X-Cache" not in resp.headers, path
        assert _App.hits[path] == 2, path
    # A response that sets a cookie is never stored; the language cookie is part of the key.
    for _ in range(2):
        _get(box, nginx + "/l/KC-NM-261122-01?lang=en")
    assert _App.hits["/l/KC-NM-261122-01?lang=en"] == 2
    _get(box, nginx + "/l/KC-NM-261122-01", cookies={"lang": "vi"})
    _get(box, nginx + "/l/KC-NM-261122-01", cookies={"lang": "en"})
    assert _App.hits["/l/KC-NM-261122-01"] == 2
    # The app sees the client's address for scan places (http.proxy_hops = 1).
    assert set(_App.seen_xff) == {"127.0.0.1"}


def test_nginx_redirects_http_and_takes_upload_chunks(box: Box, nginx: str) -> None:
    plain = requests.get(
        f"http://127.0.0.1:{box.spec.http_port}/l/KC-NM-261122-01",
        headers={"Host": DOMAIN},
        allow_redirects=False,
        timeout=10,
    )
    assert plain.status_code == 301
    assert plain.headers["Location"] == (
        f"https://{DOMAIN}:{box.spec.https_port}/l/KC-NM-261122-01"
    )
    url = nginx + "/api/v1/blobs/" + "a" * 64
    assert _put(box, url, 1 << 20) == 200  # the largest upload chunk
    assert _put(box, url, 2 << 20) == 413


# --- install.sh -------------------------------------------------------------------------------


def test_install_script_is_valid_bash_and_shellcheck_clean(box: Box) -> None:
    bash = require_program("bash")
    shellcheck = require_program("shellcheck")
    for script in ("install.sh", "ocop-certs.sh"):
        done = _run([bash, "-n", str(box.bundle / script)])
        assert done.returncode == 0, done.stderr
        done = _run([shellcheck, "--severity=style", str(box.bundle / script)])
        assert done.returncode == 0, done.stdout


def test_install_script_puts_every_file_where_the_manifest_says(tmp_path: Path) -> None:
    bash = require_program("bash")
    spec = ServerSpec(domain=DOMAIN)
    bundle = tmp_path / "bundle"
    render_bundle(spec, bundle)
    root = tmp_path / "root"
    ocop = root / spec.ocop.lstrip("/")
    ocop.parent.mkdir(parents=True)
    ocop.write_text("#!/bin/sh\n")
    ocop.chmod(0o755)
    env = {**os.environ, "DESTDIR": str(root), "OCOP_SKIP_APT": "1", "OCOP_SKIP_SYSTEM": "1"}
    done = _run([bash, str(bundle / "install.sh")], env=env)
    assert done.returncode == 0, done.stderr
    for e in manifest(spec):
        if e.dest == "-":
            continue
        installed = root / e.dest.lstrip("/")
        assert installed.read_bytes() == (bundle / e.name).read_bytes(), e.dest
        assert installed.stat().st_mode & 0o777 == e.mode, e.dest
    link = root / "etc/nginx/sites-enabled/ocop"
    assert os.readlink(link) == "../sites-available/ocop" and link.exists()
    for folder in (spec.data_dir, spec.broker_auth_dir, spec.backup_dir, spec.nginx_cache_dir):
        assert (root / folder.lstrip("/")).is_dir(), folder
