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
    username: str = setting("", "MQTT username of the ingest worker (empty: anonymous).")
    share_group: str = setting("ingest", "Shared-subscription group of the ingest workers.")
    keepalive_s: int = setting(30, "MQTT keepalive in seconds.")
    reconnect_max_s: int = setting(30, "Longest delay between reconnect attempts, in seconds.")


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path = setting(Path("/var/lib/ocop-server"), "Database and blobs live here.")
    database_url: str = setting("", "SQLAlchemy URL; empty means SQLite at <data_dir>/server.db.")
    public_base_url: str = setting(
        "http://127.0.0.1:8000", "Base of every URL printed on labels (short host: QR size)."
    )
    http: HttpConfig = section(HttpConfig, "The web app (public pages, later the office).")
    mqtt: ServerMqttConfig = section(ServerMqttConfig, "The broker the ingest worker reads.")

    def __post_init__(self) -> None:
        if not self.public_base_url.startswith(("http://", "https://")):
            raise ValueError("public_base_url must be an http(s) URL")

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'server.db'}"

    def mqtt_password(self, environ: dict[str, str] | None = None) -> str | None:
        """From systemd credential ``mqtt-password`` or ``OCOP_SERVER_MQTT_PASSWORD``."""
        return read_secret(
            "mqtt-password", "OCOP_SERVER_MQTT_PASSWORD", dict(environ or os.environ)
        )


def load_config(path: Path | None) -> ServerConfig:
    """Read ``server.toml`` (or use the defaults when no file is given)."""
    if path is None:
        return ServerConfig()
    return build_section(ServerConfig, read_toml(path))


__all__ = ["ConfigError", "HttpConfig", "ServerConfig", "ServerMqttConfig", "load_config"]
