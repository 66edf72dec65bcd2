"""``ocop server provision``: the spec's checks and what the rendered files say (no programs run;
tests/integration/test_provision_server.py runs Mosquitto, nginx, systemd-analyze, shellcheck)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from firmware_config.server import ServerSpec, SpecError, broker_limits, manifest, render_bundle
from ocop_cli.main import main
from sync_server.config import load_config

DOMAIN = "trace.hatinh.gov.vn"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    out = tmp_path / "bundle"
    render_bundle(ServerSpec(domain=DOMAIN, mqtt_domain="mqtt.hatinh.gov.vn"), out)
    return out


def test_cli_renders_every_manifest_file_with_its_mode(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "box"
    args = ["server", "provision", "--out", str(out), "--domain", DOMAIN, "--fleet-size", "800"]
    assert main([*args, "--web-workers", "3", "--keep-backups", "7"]) == 0
    assert "install.sh" in capsys.readouterr().out
    spec = ServerSpec(domain=DOMAIN, fleet_size=800, web_workers=3, keep_backups=7)
    entries = manifest(spec)
    assert sorted(p.name for p in out.iterdir()) == sorted(e.name for e in entries)
    for e in entries:
        assert (out / e.name).stat().st_mode & 0o777 == e.mode, e.name
    listed = (out / "MANIFEST").read_text(encoding="utf-8")
    for e in entries:
        assert re.search(rf"^{re.escape(e.name)} +{re.escape(e.dest)} +{e.mode:04o} ", listed, re.M)
    assert "--keep 7" in (out / "ocop-backup.service").read_text(encoding="utf-8")
    target = (out / "ocop-server.target").read_text(encoding="utf-8")
    assert "ocop-web@8003.service" in target and "ocop-ingest@2.service" in target


def test_cli_refuses_bad_values(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "box"
    assert main(["server", "provision", "--out", str(out), "--domain", "Trace Ha Tinh"]) == 2
    assert "--domain" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"domain": "https://trace.example.vn"}, "--domain"),
        ({"mqtt_domain": "mqtt_.example.vn"}, "--mqtt-domain"),
        ({"data_dir": "var/lib/ocop"}, "--data-dir"),
        ({"backup_dir": "/var/backups/my backups"}, "--backup-dir"),
        ({"prefix": "/opt/ocop;rm"}, "--prefix"),
        ({"ingest_workers": 0}, "--ingest-workers"),
        ({"fleet_size": 0}, "--fleet-size"),
        ({"keep_backups": 0}, "--keep-backups"),
        ({"device_port": 1883}, "share a port"),
        ({"web_base_port": 442, "web_workers": 2}, "share a port"),
        ({"tls_cert": "/etc/ssl/ocop.pem"}, "--tls-key"),
        ({"backup_time": "25:00"}, "HH:MM"),
    ],
)
def test_spec_rejects(changes: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        ServerSpec(**{"domain": DOMAIN, **changes})  # type: ignore[arg-type]


def test_server_toml_loads_with_the_servers_own_loader(bundle: Path) -> None:
    cfg = load_config(bundle / "server.toml")
    assert cfg.public_base_url == f"https://{DOMAIN}"
    assert (cfg.http.host, cfg.http.port, cfg.http.proxy_hops) == ("127.0.0.1", 8001, 1)
    assert (cfg.mqtt.host, cfg.mqtt.port, cfg.mqtt.username) == ("127.0.0.1", 1883, "ocop-server")
    assert cfg.auth_dir == Path("/etc/ocop/broker")
    assert cfg.broker.reload_command == "systemctl reload mosquitto"
    assert (cfg.broker.device_host, cfg.broker.device_port) == ("mqtt.hatinh.gov.vn", 8883)
    assert cfg.data_dir == Path("/var/lib/ocop-server") and cfg.database_url == ""


def test_a_non_default_https_port_is_in_the_public_url(tmp_path: Path) -> None:
    render_bundle(ServerSpec(domain=DOMAIN, https_port=8443), tmp_path)
    assert load_config(tmp_path / "server.toml").public_base_url == f"https://{DOMAIN}:8443"
    assert "https://$host:8443$request_uri" in (tmp_path / "nginx-ocop.conf").read_text()


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            found.setdefault(words[0], []).append(" ".join(words[1:]))
    return found


def test_mosquitto_conf_refuses_anonymous_and_sizes_queues_from_the_fleet(
    tmp_path: Path,
) -> None:
    render_bundle(ServerSpec(domain=DOMAIN, fleet_size=2000), tmp_path)
    conf = _directives((tmp_path / "mosquitto-ocop.conf").read_text(encoding="utf-8"))
    # One block per listener (issue 12): the server's loopback one, then the devices' TLS one,
    # each with its own password file; only the devices' binds client ids to usernames.
    assert conf["per_listener_settings"] == ["true"]
    assert conf["allow_anonymous"] == ["false", "false"]
    assert conf["listener"] == ["1883 127.0.0.1", "8883"]
    assert conf["password_file"] == [
        "/etc/ocop/broker/passwd-server",
        "/etc/ocop/broker/passwd",
    ]
    assert conf["acl_file"] == ["/etc/ocop/broker/acl", "/etc/ocop/broker/acl"]
    assert conf["use_username_as_clientid"] == ["true"]
    assert conf["tls_version"] == ["tlsv1.2"] and conf["persistence"] == ["true"]
    limits = broker_limits(2000)
    assert limits.max_queued_messages == 2000 * 5
    assert conf["max_queued_messages"] == ["10000"]
    assert conf["max_queued_bytes"] == [str(10000 * 128 * 1024)]
    assert conf["message_size_limit"] == ["1048576"]
    assert "LimitNOFILE=5024" in (tmp_path / "mosquitto-limits.conf").read_text()


def test_units_run_the_kit_sandboxed(bundle: Path) -> None:
    web = (bundle / "ocop-web@.service").read_text(encoding="utf-8")
    assert "ExecStart=/opt/ocop/bin/ocop server --config /etc/ocop/server.toml web --port %i" in web
    for name in ("ocop-web@.service", "ocop-ingest@.service", "ocop-backup.service"):
        text = (bundle / name).read_text(encoding="utf-8")
        for line in (
            "User=ocop",
            "ProtectSystem=strict",
            "NoNewPrivileges=yes",
            "PrivateTmp=yes",
        ):
            assert line in text.splitlines(), (name, line)
        assert "/var/lib/ocop-server" in text.split("ReadWritePaths=")[1].splitlines()[0]
    assert "Restart=on-failure" in web
    timer = (bundle / "ocop-backup.timer").read_text(encoding="utf-8")
    assert "OnCalendar=*-*-* 02:30:00" in timer and "Persistent=true" in timer


# --- nginx: which location answers a path, following nginx's documented matching rules -------

_LOCATION = re.compile(r"^\s*location\s+(=|\^~|~)?\s*(\S+)\s*\{(.*?)^\s*\}", re.M | re.S)


def _tls_server(conf: str) -> str:
    return conf[conf.index("ssl http2") :]


def _location(conf: str, path: str) -> str:
    """The body of the location nginx picks for ``path``: an exact match, else the longest
    prefix; unless that prefix has ``^~``, the first matching regex wins over it."""
    blocks = [(m.group(1) or "", m.group(2), m.group(3)) for m in _LOCATION.finditer(conf)]
    for kind, arg, body in blocks:
        if kind == "=" and arg == path:
            return body
    prefixes = [(arg, kind, body) for kind, arg, body in blocks if kind in ("", "^~")]
    matching = [p for p in prefixes if path.startswith(p[0])]
    best = max(matching, key=lambda p: len(p[0])) if matching else None
    if best is not None and best[1] == "^~":
        return best[2]
    for kind, arg, body in blocks:
        if kind == "~" and re.search(arg, path):
            return body
    assert best is not None, path
    return best[2]


@pytest.mark.parametrize(
    ("path", "cached"),
    [
        ("/", True),
        ("/01/08936123450014/10/KC-NM-261122-01", True),
        ("/l/KC-NM-261122-01", True),
        ("/f/KC", True),
        ("/p/KC/NM", True),
        ("/static/public/site.css", True),
        ("/blobs/" + "a" * 64, True),
        ("/01/08936123450014/10/KC-NM-261122-01/21/0007", False),
        ("/l/KC-NM-261122-01/0007", False),
        ("/office", False),
        ("/office/login", False),
        ("/office/static/office.css", False),
        ("/office/blobs/" + "a" * 64, False),
        ("/api/v1/enroll", False),
        ("/api/v1/blobs/" + "a" * 64, False),
        ("/epcis/events", False),
        ("/healthz", False),
    ],
)
def test_nginx_caches_only_public_pages_that_log_nothing(
    bundle: Path, path: str, cached: bool
) -> None:
    body = _location(_tls_server((bundle / "nginx-ocop.conf").read_text()), path)
    assert "proxy_pass http://ocop_web;" in body
    assert ("proxy_cache ocop_micro;" in body) is cached


def test_nginx_site_proxies_with_client_address_and_fits_upload_chunks(bundle: Path) -> None:
    conf = (bundle / "nginx-ocop.conf").read_text(encoding="utf-8")
    server = _tls_server(conf)
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in server
    assert "client_max_body_size 1088k;" in server  # 1 MiB chunks + headroom
    assert "proxy_cache_lock on;" in server and "proxy_cache_use_stale updating" in server
    assert "proxy_cache_valid 200 404 5s;" in server
    assert "$cookie_lang" in server  # the page language is part of the cache key
    assert "proxy_ignore_headers Set-Cookie" not in conf  # Set-Cookie responses stay uncached
    assert "server 127.0.0.1:8001" in conf and "server 127.0.0.1:8002" in conf
    assert "return 301 https://$host$request_uri;" in conf
    assert f"ssl_certificate /etc/letsencrypt/live/{DOMAIN}/fullchain.pem;" in conf


def test_province_ca_certificates_go_to_nginx_and_mosquitto(tmp_path: Path) -> None:
    spec = ServerSpec(
        domain=DOMAIN,
        tls_cert="/etc/ssl/hatinh/fullchain.pem",
        tls_key="/etc/ssl/hatinh/key.pem",
        tls_ca="/etc/ssl/hatinh/ca.pem",
    )
    render_bundle(spec, tmp_path)
    assert "ssl_certificate /etc/ssl/hatinh/fullchain.pem;" in (
        tmp_path / "nginx-ocop.conf"
    ).read_text(encoding="utf-8")
    hook = (tmp_path / "ocop-certs.sh").read_text(encoding="utf-8")
    assert "/etc/ssl/hatinh/ca.pem /etc/mosquitto/certs/ocop-ca.pem" in hook
    conf = _directives((tmp_path / "mosquitto-ocop.conf").read_text(encoding="utf-8"))
    assert conf["cafile"] == ["/etc/mosquitto/certs/ocop-ca.pem"]


def test_install_script_never_sets_a_password_and_prints_the_admin_command(bundle: Path) -> None:
    script = (bundle / "install.sh").read_text(encoding="utf-8")
    assert script.startswith("#!/usr/bin/env bash\n") and "set -euo pipefail" in script
    assert "add-user admin --role admin" in script
    assert "--password" not in script
