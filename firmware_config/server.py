"""The files of one province's server box: a validated spec rendered into a bundle folder.

``ocop server provision`` (firmware_config/server_cli.py) builds a :class:`ServerSpec` and calls
:func:`render_bundle`; the templates are in ``firmware_config/templates/server/``. What each file
configures and where it goes is in the bundle's MANIFEST and in docs/provisioning-server.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from firmware_config.render import render_dir, templates
from trace_protocol.blobs import MAX_CHUNK_BYTES
from trace_protocol.messages import MAX_PAYLOAD_BYTES

# A host name as it goes into URLs, nginx's server_name and certificates (lower case, dotted).
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST_RE = re.compile(rf"^(?=.{{1,253}}\Z){_LABEL}(\.{_LABEL})*\Z")
# Paths end up unquoted in nginx, Mosquitto and systemd files: no spaces, quotes, ';', '%', '$'.
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/@+-]*\Z")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}\Z")
_CALENDAR_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z")

SERVER_USER = (
    "ocop-server"  # sync_server.devices.broker_auth.SERVER_USER (firmware_config may not import it)
)
# Edge defaults (edge_agent/config.py): chunks a device may have unacknowledged, events per chunk.
WINDOW_CHUNKS = 4
TYPICAL_CHUNK_BYTES = 128 * 1024  # 100 events of ~1 KB, rounded up


class SpecError(ValueError):
    """A value of the server spec is not usable; the message names the option."""


@dataclass(frozen=True)
class ServerSpec:
    """Everything that differs between two province boxes. Defaults suit Debian 12 and 500 Pis."""

    domain: str
    mqtt_domain: str = ""  # empty: the same as domain
    ingest_workers: int = 2
    web_workers: int = 2
    web_base_port: int = 8001  # web workers listen on 127.0.0.1:base, base+1, …
    web_threads: int = 8
    fleet_size: int = 500
    data_dir: str = "/var/lib/ocop-server"
    prefix: str = "/opt/ocop"  # the virtualenv with bin/ocop
    config_dir: str = "/etc/ocop"
    auth_dir: str = ""  # empty: <config_dir>/broker
    backup_dir: str = "/var/backups/ocop"
    keep_backups: int = 14
    backup_time: str = "02:30"
    tls_cert: str = ""  # empty: certbot's /etc/letsencrypt/live/<domain>/fullchain.pem
    tls_key: str = ""  # empty: certbot's privkey.pem beside it
    tls_ca: str = ""  # empty: the system CA store (a public CA such as Let's Encrypt)
    mosquitto_cert_dir: str = "/etc/mosquitto/certs"
    device_port: int = 8883
    device_bind: str = ""  # empty: every address
    local_mqtt_port: int = 1883
    local_mqtt_bind: str = "127.0.0.1"
    http_port: int = 80
    https_port: int = 443
    nginx_bind: str = ""  # empty: every address
    nginx_cache_dir: str = "/var/cache/nginx/ocop"
    acme_root: str = "/var/www/letsencrypt"
    nginx_log_dir: str = "/var/log/nginx"  # Debian's; logrotate rotates *.log in it daily
    micro_cache_s: int = 5
    user: str = "ocop"
    reload_command: str = "systemctl reload mosquitto"

    def __post_init__(self) -> None:
        for name in ("domain", "mqtt_domain"):
            value = getattr(self, name)
            if (value or name == "domain") and not _HOST_RE.match(value):
                raise SpecError(f"--{name.replace('_', '-')}: {value!r} is not a host name")
        for name in (
            "data_dir",
            "prefix",
            "config_dir",
            "auth_dir",
            "backup_dir",
            "tls_cert",
            "tls_key",
            "tls_ca",
            "mosquitto_cert_dir",
            "nginx_cache_dir",
            "acme_root",
            "nginx_log_dir",
        ):
            value = getattr(self, name)
            if value and not _PATH_RE.match(value):
                raise SpecError(
                    f"--{name.replace('_', '-')}: {value!r} must be an absolute path of letters, "
                    "digits and . _ / @ + -"
                )
        for name, low, high in (
            ("ingest_workers", 1, 64),
            ("web_workers", 1, 64),
            ("web_threads", 1, 256),
            ("fleet_size", 1, 200_000),
            ("keep_backups", 1, 10_000),
            ("micro_cache_s", 1, 60),
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not low <= value <= high:
                raise SpecError(f"--{name.replace('_', '-')}: {value} is not in {low}-{high}")
        ports = {
            "device_port": self.device_port,
            "local_mqtt_port": self.local_mqtt_port,
            "http_port": self.http_port,
            "https_port": self.https_port,
        }
        ports.update({f"web port {p}": p for p in self.web_ports})
        for name, port in ports.items():
            if not 1 <= port <= 65535:
                raise SpecError(f"{name}: {port} is not a TCP port")
        if len(set(ports.values())) != len(ports):
            raise SpecError(f"two listeners share a port: {sorted(ports.items())}")
        if not _USER_RE.match(self.user):
            raise SpecError(f"user: {self.user!r} is not a system user name")
        if not _CALENDAR_RE.match(self.backup_time):
            raise SpecError(f"backup time {self.backup_time!r}: expected HH:MM")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise SpecError("--tls-cert and --tls-key go together")

    # Derived values, used by the templates and the tests.
    @property
    def device_host(self) -> str:
        return self.mqtt_domain or self.domain

    @property
    def public_base_url(self) -> str:
        port = "" if self.https_port == 443 else f":{self.https_port}"
        return f"https://{self.domain}{port}"

    @property
    def web_ports(self) -> list[int]:
        return [self.web_base_port + i for i in range(self.web_workers)]

    @property
    def scan_log(self) -> str:
        """nginx's log of cached batch-page views, imported by ocop-scan-import.service."""
        return f"{self.nginx_log_dir}/ocop-scans.log"

    @property
    def broker_auth_dir(self) -> str:
        return self.auth_dir or f"{self.config_dir}/broker"

    @property
    def server_toml(self) -> str:
        return f"{self.config_dir}/server.toml"

    @property
    def ocop(self) -> str:
        return f"{self.prefix}/bin/ocop"

    @property
    def cert_path(self) -> str:
        return self.tls_cert or f"/etc/letsencrypt/live/{self.domain}/fullchain.pem"

    @property
    def key_path(self) -> str:
        return self.tls_key or f"/etc/letsencrypt/live/{self.domain}/privkey.pem"

    @property
    def ca_path(self) -> str:
        return self.tls_ca or "/etc/ssl/certs/ca-certificates.crt"

    @property
    def mosquitto_certfile(self) -> str:
        return f"{self.mosquitto_cert_dir}/ocop-fullchain.pem"

    @property
    def mosquitto_keyfile(self) -> str:
        return f"{self.mosquitto_cert_dir}/ocop-privkey.pem"

    @property
    def mosquitto_cafile(self) -> str:
        return f"{self.mosquitto_cert_dir}/ocop-ca.pem" if self.tls_ca else self.ca_path


@dataclass(frozen=True)
class BrokerLimits:
    """Mosquitto's queue limits for a fleet, with the arithmetic written out for the config."""

    max_queued_messages: int
    max_queued_bytes: int
    max_inflight_messages: int
    message_size_limit: int
    max_open_files: int


def broker_limits(fleet_size: int) -> BrokerLimits:
    """Each device has at most WINDOW_CHUNKS event chunks plus one status unacknowledged, and the
    ingest workers subscribe with clean sessions to one shared subscription: in the worst case
    (the other workers restarting) one worker's queue holds everything the fleet has in flight.
    A message dropped past a limit costs only a resend (devices resend after their ack timeout)."""
    queued = fleet_size * (WINDOW_CHUNKS + 1)
    return BrokerLimits(
        max_queued_messages=queued,
        max_queued_bytes=queued * TYPICAL_CHUNK_BYTES,
        # Per client, broker → client. A device receives at most WINDOW_CHUNKS acks, its config
        # and a command at once; an ingest worker handles one chunk per transaction, so more in
        # flight only moves the queue into its memory. Mosquitto's default covers both.
        max_inflight_messages=20,
        message_size_limit=MAX_PAYLOAD_BYTES,
        # One descriptor per connection, plus files and headroom.
        max_open_files=max(4096, 2 * fleet_size + 1024),
    )


@dataclass(frozen=True)
class ManifestEntry:
    name: str  # path inside the bundle
    dest: str  # where install.sh puts it; "-" = stays in the bundle
    mode: int
    owner: str
    purpose: str


def manifest(spec: ServerSpec) -> list[ManifestEntry]:
    """Every file of the bundle: where it goes and what it configures."""
    u = spec.user
    units = "/etc/systemd/system"
    return [
        ManifestEntry("MANIFEST", "-", 0o644, "-", "this list"),
        ManifestEntry(
            "install.sh",
            "-",
            0o755,
            "-",
            "installs packages, user, folders and these files; enables the units (run as root)",
        ),
        ManifestEntry(
            "server.toml",
            spec.server_toml,
            0o640,
            f"root:{u}",
            f"the server: {spec.public_base_url}, web behind nginx (proxy_hops 1), "
            "broker files and reload, device broker address",
        ),
        ManifestEntry(
            "mosquitto-ocop.conf",
            "/etc/mosquitto/conf.d/ocop.conf",
            0o644,
            "root:root",
            f"the broker: TLS listener {spec.device_port} for devices, loopback "
            f"{spec.local_mqtt_port} for the server, passwords/ACL, persistence, queue limits",
        ),
        ManifestEntry(
            "mosquitto-limits.conf",
            "/etc/systemd/system/mosquitto.service.d/ocop.conf",
            0o644,
            "root:root",
            "systemd drop-in: open-file limit of Mosquitto for the fleet's connections",
        ),
        ManifestEntry(
            "ocop-certs.sh",
            "/etc/letsencrypt/renewal-hooks/deploy/ocop-certs.sh",
            0o755,
            "root:root",
            "copies the TLS certificate and key where Mosquitto can read them; restarts it "
            "(certbot runs it after every renewal)",
        ),
        ManifestEntry(
            "nginx-ocop.conf",
            "/etc/nginx/sites-available/ocop",
            0o644,
            "root:root",
            "the proxy: HTTP to HTTPS, TLS, micro-cache for public batch pages (cached views "
            "logged for the scan import), no cache for unit labels/office/API, upload size",
        ),
        ManifestEntry(
            "ocop-web@.service",
            f"{units}/ocop-web@.service",
            0o644,
            "root:root",
            "one web worker per port (instance name = port), sandboxed",
        ),
        ManifestEntry(
            "ocop-ingest@.service",
            f"{units}/ocop-ingest@.service",
            0o644,
            "root:root",
            "one ingest worker per instance (shared MQTT subscription), sandboxed",
        ),
        ManifestEntry(
            "ocop-scan-import.service",
            f"{units}/ocop-scan-import.service",
            0o644,
            "root:root",
            f"`ocop server import-scans`: batch-page views nginx served from its cache "
            f"({spec.scan_log}) stored as scans",
        ),
        ManifestEntry(
            "ocop-server.target",
            f"{units}/ocop-server.target",
            0o644,
            "root:root",
            f"starts {spec.web_workers} web and {spec.ingest_workers} ingest workers and the "
            "scan import together",
        ),
        ManifestEntry(
            "ocop-backup.service",
            f"{units}/ocop-backup.service",
            0o644,
            "root:root",
            f"`ocop server backup` into {spec.backup_dir}, keeping {spec.keep_backups} snapshots",
        ),
        ManifestEntry(
            "ocop-backup.timer",
            f"{units}/ocop-backup.timer",
            0o644,
            "root:root",
            f"runs the backup daily at {spec.backup_time}",
        ),
        ManifestEntry(
            "polkit-ocop-mosquitto.rules",
            "/etc/polkit-1/rules.d/50-ocop-mosquitto.rules",
            0o644,
            "root:root",
            f"lets user {u} run `systemctl reload mosquitto` (after enrolment and revocation)",
        ),
    ]


def template_context(spec: ServerSpec) -> dict[str, Any]:
    entries = manifest(spec)
    width = max(len(e.name) for e in entries)
    dest_width = max(len(e.dest) for e in entries)
    return {
        "s": spec,
        "limits": broker_limits(spec.fleet_size),
        "window_chunks": WINDOW_CHUNKS,
        "typical_chunk_kib": TYPICAL_CHUNK_BYTES // 1024,
        "server_user": SERVER_USER,
        # Upload chunks are at most MAX_CHUNK_BYTES; the rest is headroom for the enrolment JSON.
        "max_body_kib": MAX_CHUNK_BYTES // 1024 + 64,
        "manifest": entries,
        "name_width": width,
        "dest_width": dest_width,
    }


def render_bundle(spec: ServerSpec, out: Path) -> list[ManifestEntry]:
    """Write every file of the bundle into ``out``; returns the manifest."""
    entries = manifest(spec)
    written = render_dir(
        templates("server"), out, template_context(spec), modes={e.name: e.mode for e in entries}
    )
    listed = {e.name for e in entries}
    if set(written) != listed:  # the templates and the manifest must name the same files
        raise SpecError(f"bundle files {sorted(written)} differ from the manifest {sorted(listed)}")
    return entries
