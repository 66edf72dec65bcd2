"""Debian's nginx running the site ``ocop server provision`` renders, on loopback, in a test's
folder (tests/security/test_nginx_limits.py, tests/integration/test_scan_import.py)."""

from __future__ import annotations

import getpass
import subprocess
from pathlib import Path
from typing import Any

from firmware_config.server import ServerSpec, render_bundle
from ocop_cli.broker import free_port, wait_for_port
from tests.tls_certs import TlsFiles

DOMAIN = "trace.hatinh.gov.vn"


def loopback_spec(tmp_path: Path, tls: TlsFiles, **overrides: Any) -> ServerSpec:
    """The province bundle's spec with every port free on loopback and every folder in
    ``tmp_path``; ``overrides`` change any field."""
    fields: dict[str, Any] = {
        "domain": DOMAIN,
        "web_workers": 1,
        "web_base_port": free_port(),
        "data_dir": str(tmp_path / "data"),
        "config_dir": str(tmp_path / "etc"),
        "tls_cert": str(tls.cert),
        "tls_key": str(tls.key),
        "tls_ca": str(tls.ca),
        "http_port": free_port(),
        "https_port": free_port(),
        "nginx_bind": "127.0.0.1",
        "nginx_cache_dir": str(tmp_path / "nginx-cache"),
        "nginx_log_dir": str(tmp_path),
        "acme_root": str(tmp_path / "acme"),
    }
    return ServerSpec(**{**fields, **overrides})


def start_nginx(program: str, spec: ServerSpec, tmp_path: Path) -> subprocess.Popen[bytes]:
    """Render the bundle and run its nginx site as a non-daemon inside a minimal nginx.conf;
    returns once it listens on ``spec.https_port`` (the error log is in the failure)."""
    bundle = tmp_path / "bundle"
    render_bundle(spec, bundle)
    root = tmp_path / "nginx"
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (root / sub).mkdir(parents=True)
    conf = root / "nginx.conf"
    conf.write_text(
        f"user {getpass.getuser()};\nworker_processes 1;\npid {root}/nginx.pid;\n"
        f"error_log {root}/error.log;\ndaemon off;\nevents {{ worker_connections 512; }}\n"
        f"http {{\n    access_log off;\n    client_body_temp_path {root}/body;\n"
        f"    proxy_temp_path {root}/proxy;\n    fastcgi_temp_path {root}/fastcgi;\n"
        f"    uwsgi_temp_path {root}/uwsgi;\n    scgi_temp_path {root}/scgi;\n"
        f"    include {bundle / 'nginx-ocop.conf'};\n}}\n",
        encoding="utf-8",
    )
    proc = subprocess.Popen(
        [program, "-p", str(root), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    if not wait_for_port(spec.https_port, 10):
        proc.terminate()
        proc.wait(10)
        raise AssertionError((root / "error.log").read_text())
    return proc
