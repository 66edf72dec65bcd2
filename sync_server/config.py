"""The server's config: ``server.toml`` sections as validated dataclasses."""

from __future__ import annotations

import os
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
    threads: int = setting(8, "Worker threads of the WSGI server (waitress).")


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
class ServerConfig:
    data_dir: Path = setting(Path("/var/lib/ocop-server"), "Database and blobs live here.")
    database_url: str = setting("", "SQLAlchemy URL; empty means SQLite at <data_dir>/server.db.")
    public_base_url: str = setting(
        "http://127.0.0.1:8000", "Base of every URL printed on labels (short host: QR size)."
    )
    http: HttpConfig = section(HttpConfig, "The web app (public pages, later the office).")
    mqtt: ServerMqttConfig = section(ServerMqttConfig, "The broker the ingest worker reads.")
    broker: BrokerConfig = section(BrokerConfig, "Per-device broker access (enrolment).")

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


def load_config(path: Path | None) -> ServerConfig:
    """Read ``server.toml`` (or use the defaults when no file is given)."""
    if path is None:
        return ServerConfig()
    return build_section(ServerConfig, read_toml(path))


__all__ = [
    "BrokerConfig",
    "ConfigError",
    "HttpConfig",
    "ServerConfig",
    "ServerMqttConfig",
    "load_config",
]
