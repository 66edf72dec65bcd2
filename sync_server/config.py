"""The server's config: ``server.toml`` sections as validated dataclasses."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from trace_protocol.settings import (
    ConfigError,
    build_section,
    read_secret,
    read_toml,
    section,
    setting,
)


@dataclass(frozen=True)
class HttpConfig:
    host: str = setting("127.0.0.1", "Address the web app listens on.")
    port: int = setting(8000, "Port of the web app.")
    threads: int = setting(
        32,
        "Worker threads of the WSGI server (waitress). More than the cores: a unit page waits "
        "for its scan's group commit, and the waiting threads make the group.",
    )
    page_cache_s: float = setting(
        5.0, "Seconds a rendered public batch page is reused (scans are still logged); 0 = off."
    )
    proxy_hops: int = setting(
        0,
        "Reverse proxies in front of the app whose X-Forwarded-For is trusted; 0 = use the "
        "connecting address (scan places are judged from the client address).",
    )

    connection_limit: int = setting(
        1000, "Open connections the web app keeps at most (waitress); more wait to be accepted."
    )
    connections_per_network: int = setting(
        32,
        "Open connections one client network (/24, /48) may hold; more are answered 503 and "
        "closed. 0 = no cap; not applied behind a proxy (proxy_hops > 0: nginx limit_conn).",
    )

    def __post_init__(self) -> None:
        if self.proxy_hops < 0:
            raise ValueError("http: proxy_hops must be >= 0")
        if self.connection_limit < 1 or self.connections_per_network < 0:
            raise ValueError("http: need connection_limit >= 1 and connections_per_network >= 0")


@dataclass(frozen=True)
class ServerMqttConfig:
    host: str = setting("127.0.0.1", "MQTT broker host.")
    port: int = setting(1883, "MQTT broker port.")
    username: str = setting("ocop-server", "MQTT username of the server's own clients.")
    share_group: str = setting("ingest", "Shared-subscription group of the ingest workers.")
    keepalive_s: int = setting(30, "MQTT keepalive in seconds.")
    reconnect_max_s: int = setting(30, "Longest delay between reconnect attempts, in seconds.")


@dataclass(frozen=True)
class BrokerConfig:
    auth_dir: str = setting(
        "", "Where the broker's password and ACL files are written; empty = <data_dir>/broker."
    )
    reload_command: str = setting(
        "", "Command that makes Mosquitto reload them, e.g. 'systemctl reload mosquitto'."
    )
    device_host: str = setting("", "Broker host devices connect to (told at enrolment).")
    device_port: int = setting(8883, "Broker port devices connect to (told at enrolment).")
    token_ttl_hours: float = setting(72.0, "How long an enrolment token stays valid.")


@dataclass(frozen=True)
class OfficeConfig:
    stale_after_s: int = setting(
        900, "A device not heard from for this long (or that said goodbye) shows as stale."
    )
    offline_after_s: int = setting(
        86400, "Not heard from for this long: offline, and a 'silent' alert is raised."
    )
    session_hours: float = setting(12.0, "How long an office login lasts.")
    tile_url: str = setting(
        "",
        "Map tile URL template, e.g. 'https://tile.example.org/{z}/{x}/{y}.png'; empty = "
        "facilities drawn on a plain background (works offline).",
    )
    tile_attribution: str = setting("", "Attribution text the tile provider requires.")
    name: str = setting(
        "", "The office's name shown to consumers on a doubtful label's page; empty = not shown."
    )
    contact_phone: str = setting(
        "", "Phone number consumers are given to report a doubtful product; empty = none."
    )
    contact_email: str = setting(
        "", "E-mail address consumers are given to report a doubtful product; empty = none."
    )

    def __post_init__(self) -> None:
        if not 0 < self.stale_after_s < self.offline_after_s:
            raise ValueError("office: need 0 < stale_after_s < offline_after_s")
        if self.session_hours <= 0:
            raise ValueError("office: session_hours must be positive")


@dataclass(frozen=True)
class ScansConfig:
    window_days: int = setting(30, "Scans of one code are judged over this many days.")
    max_scans: int = setting(
        20, "More scans of one unit code than this in the window: warn 'scanned often'."
    )
    max_places: int = setting(
        3, "Unit code scanned from more networks (places) than this in the window: warn."
    )
    per_network_hour: int = setting(
        30,
        "Scans of one code from one network (/24, /48) logged per hour and web worker at most; "
        "more views are served but not logged.",
    )

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.max_scans < 1 or self.max_places < 1:
            raise ValueError("scans: window_days, max_scans and max_places must be >= 1")
        if self.per_network_hour < 1:
            raise ValueError("scans: per_network_hour must be >= 1")


@dataclass(frozen=True)
class SmtpConfig:
    host: str = setting(
        "", "SMTP server the office's e-mail notifications go through; empty = no e-mail."
    )
    port: int = setting(587, "SMTP port (587: submission with STARTTLS; 25: plain relay).")
    starttls: bool = setting(
        True, "Upgrade the connection with STARTTLS before logging in (certificate checked)."
    )
    ca_file: str = setting(
        "", "PEM file of the CA that signed the SMTP server's certificate; empty = system CAs."
    )
    username: str = setting(
        "", "SMTP login; empty = no login. The password is a secret (docs/config.md)."
    )
    from_address: str = setting(
        "", "The notifications' From address, e.g. 'OCOP Hà Tĩnh <ocop@example.gov.vn>'."
    )
    timeout_s: float = setting(30.0, "Seconds an SMTP connection or reply may take.")

    def __post_init__(self) -> None:
        if self.host and "@" not in self.from_address:
            raise ValueError("smtp: from_address (an e-mail address) is needed with a host")
        if not 0 < self.port < 65536 or self.timeout_s <= 0:
            raise ValueError("smtp: need a port in 1-65535 and timeout_s > 0")

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class NotifyConfig:
    office_url: str = setting(
        "",
        "Base URL of the office in the mails' links (e.g. 'https://ocop.example.gov.vn'); "
        "empty = public_base_url.",
    )
    interval_s: float = setting(
        30.0, "How often alerts are matched to subscriptions and due mails are sent."
    )
    throttle_minutes: float = setting(
        60.0,
        "One officer gets at most one mail per alert kind and device in this window; later "
        "alerts wait and are folded into the next mail ('and N more').",
    )
    digest_hour: int = setting(7, "Hour (Vietnam time, 0-23) the daily digest mails are sent.")

    def __post_init__(self) -> None:
        if self.office_url and not self.office_url.startswith(("http://", "https://")):
            raise ValueError("notify: office_url must be an http(s) URL")
        if self.interval_s <= 0 or self.throttle_minutes < 0:
            raise ValueError("notify: need interval_s > 0 and throttle_minutes >= 0")
        if not 0 <= self.digest_hour <= 23:
            raise ValueError("notify: digest_hour must be 0-23")


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path = setting(Path("/var/lib/ocop-server"), "Database and blobs live here.")
    database_url: str = setting("", "SQLAlchemy URL; empty means SQLite at <data_dir>/server.db.")
    public_base_url: str = setting(
        "http://127.0.0.1:8000", "Base of every URL printed on labels (short host: QR size)."
    )
    http: HttpConfig = section(HttpConfig, "The web app: public pages, device APIs and the office.")
    mqtt: ServerMqttConfig = section(ServerMqttConfig, "The broker the ingest worker reads.")
    broker: BrokerConfig = section(BrokerConfig, "Per-device broker access (enrolment).")
    office: OfficeConfig = section(OfficeConfig, "The office pages: liveness, sessions, map.")
    scans: ScansConfig = section(ScansConfig, "Consumer scan logging and its warnings.")
    smtp: SmtpConfig = section(SmtpConfig, "The mail server e-mail notifications go through.")
    notify: NotifyConfig = section(NotifyConfig, "E-mail notifications of alerts to officers.")

    def __post_init__(self) -> None:
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an http(s) URL")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'server.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def auth_dir(self) -> Path:
        return Path(self.broker.auth_dir) if self.broker.auth_dir else self.data_dir / "broker"

    def web_secret_key(self, environ: dict[str, str] | None = None) -> bytes:
        """The key that signs office sessions: systemd credential ``web-secret-key``,
        ``OCOP_SERVER_WEB_SECRET``, or one generated once in ``<data_dir>/web-secret-key``
        (mode 0600). Every web worker of one server must share it."""
        secret = read_secret(
            "web-secret-key", "OCOP_SERVER_WEB_SECRET", dict(environ or os.environ)
        )
        if secret:
            return secret.encode()
        path = self.data_dir / "web-secret-key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".web-secret-key.{os.getpid()}")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)  # atomic: a second worker keeps the first one's key
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text(encoding="utf-8").strip().encode()

    def mqtt_password(self, environ: dict[str, str] | None = None) -> str | None:
        """From systemd credential ``mqtt-password``, ``OCOP_SERVER_MQTT_PASSWORD``, or the
        password ``ocop server sync-broker`` generated in :attr:`auth_dir`."""
        secret = read_secret(
            "mqtt-password", "OCOP_SERVER_MQTT_PASSWORD", dict(environ or os.environ)
        )
        generated = self.auth_dir / "server-password"
        if secret is None and generated.exists():
            secret = generated.read_text(encoding="utf-8").strip()
        return secret

    def smtp_password(self, environ: dict[str, str] | None = None) -> str | None:
        """The SMTP login's password: systemd credential ``smtp-password`` or
        ``OCOP_SMTP_PASSWORD``; never in server.toml."""
        return read_secret("smtp-password", "OCOP_SMTP_PASSWORD", dict(environ or os.environ))

    @property
    def office_url(self) -> str:
        """Where the mails' links point: the office's own URL, else the public one."""
        return (self.notify.office_url or self.public_base_url).rstrip("/")


def load_config(path: Path | None) -> ServerConfig:
    """Read ``server.toml`` (or use the defaults when no file is given)."""
    if path is None:
        return ServerConfig()
    return build_section(ServerConfig, read_toml(path))


__all__ = [
    "BrokerConfig",
    "ConfigError",
    "HttpConfig",
    "NotifyConfig",
    "OfficeConfig",
    "ScansConfig",
    "ServerConfig",
    "ServerMqttConfig",
    "SmtpConfig",
    "load_config",
]
