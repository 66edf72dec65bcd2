"""The edge agent's config: ``edge.toml`` sections as validated dataclasses."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from label_printer.formats import FORMATS
from trace_protocol.envelope import DEVICE_ID_RE
from trace_protocol.messages import CAMERA_NAME_RE
from trace_protocol.settings import (
    ConfigError,
    build_section,
    read_secret,
    read_toml,
    section,
    setting,
)


@dataclass(frozen=True)
class UiConfig:
    host: str = setting("127.0.0.1", "Address the touchscreen UI listens on (keep it local).")
    port: int = setting(8080, "Port of the touchscreen UI.")
    default_language: str = setting("vi", "Language the touchscreen starts in: 'vi' or 'en'.")
    allowed_hosts: tuple[str, ...] = setting(
        (),
        "More host names the UI answers to (besides localhost, 127.0.0.1, ::1, the device's"
        " hostname and ui.host); any other Host header is refused (DNS rebinding).",
    )
    worker_idle_min: int = setting(
        10, "With worker PINs in the catalog: minutes without a tap before the PIN is asked again."
    )

    def __post_init__(self) -> None:
        if self.default_language not in ("vi", "en"):
            raise ValueError("ui.default_language must be 'vi' or 'en'")
        if not 1 <= self.worker_idle_min <= 720:
            raise ValueError("ui.worker_idle_min must be between 1 and 720")
        for name in self.allowed_hosts:
            if not isinstance(name, str) or not name or name == "*" or set(name) & set("/ @"):
                raise ValueError(f"ui.allowed_hosts: {name!r} is not a host name")


@dataclass(frozen=True)
class MqttConfig:
    host: str = setting("127.0.0.1", "MQTT broker host.")
    port: int = setting(1883, "MQTT broker port.")
    username: str = setting("", "MQTT username; empty means the device id.")
    keepalive_s: int = setting(
        30, "MQTT keepalive in seconds; the broker declares us gone after 1.5x."
    )
    chunk_size: int = setting(100, "Events per published chunk (1-500).")
    window_chunks: int = setting(4, "Chunks in flight before waiting for an ack.")
    ack_timeout_s: float = setting(
        10.0, "Resend from the last acked seq when acks stall this long."
    )
    status_interval_s: float = setting(30.0, "Seconds between retained status updates.")
    reconnect_min_s: float = setting(
        1.0, "First reconnect delay; doubles (jittered) to reconnect_max_s."
    )
    reconnect_max_s: float = setting(60.0, "Longest reconnect delay.")
    tls: bool = setting(False, "Connect with TLS (the province broker's port 8883).")
    ca_file: str = setting(
        "", "PEM file of the CA that signed the broker's certificate; empty = the system's CAs."
    )

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_size <= 500:
            raise ValueError("mqtt.chunk_size must be between 1 and 500")
        if self.ca_file and not self.tls:
            raise ValueError("mqtt.ca_file is set but mqtt.tls is false")


PRINT_FORMATS = ("png+pdf", *FORMATS)


@dataclass(frozen=True)
class PrinterConfig:
    url: str = setting(
        "",
        "Where labels go: empty = files in printer.directory; cups://QUEUE, tcp://host:9100,"
        " usb:///dev/usb/lp0, file:///dir.",
    )
    format: str = setting(
        "png+pdf", "Label output: png+pdf, png, pdf, pdf-sheet, zpl (Zebra), tspl, escpos."
    )
    directory: str = setting("", "Folder for the file printer; empty means <data_dir>/labels.")

    def __post_init__(self) -> None:
        if self.format not in PRINT_FORMATS:
            raise ValueError(f"printer.format must be one of {', '.join(PRINT_FORMATS)}")
        if self.url and "://" not in self.url:
            raise ValueError("printer.url must look like cups://QUEUE or tcp://host:9100")

    @property
    def kind(self) -> str:
        """The transport, recorded in ``labels.printed``: file, cups, tcp or usb."""
        return self.url.split("://", 1)[0] if self.url else "file"


@dataclass(frozen=True)
class CameraConfig:
    name: str = setting("", "Camera name, unique on this device (shown to workers and the office).")
    uri: str = setting(
        "", "Source: picamera2[:N], usb:N, rtsp://…, http(s)://… (MJPEG), file:PATH, folder:PATH."
    )
    interval_s: float = setting(0.0, "Periodic snapshot every this many seconds; 0 = none.")
    evidence: bool = setting(True, "Take a photo of the line whenever a step is recorded.")
    public_periodic: bool = setting(
        False, "Let consumers see (face-blurred) periodic snapshots; evidence is public anyway."
    )
    health_interval_s: float = setting(5.0, "Read a frame this often to check the camera.")

    def __post_init__(self) -> None:
        if not self.name or not self.uri:
            raise ValueError("every camera needs a name and a uri")
        if not CAMERA_NAME_RE.match(self.name):
            # The name travels in the signed status; the server refuses any other (issue 12).
            raise ValueError(
                f"camera name {self.name[:40]!r}: up to 32 letters, digits, space, '_', '.', '-'"
            )


@dataclass(frozen=True)
class StorageConfig:
    photo_quota_mb: int = setting(
        2000, "Disk space photos may use; older ones are evicted past it."
    )
    min_free_mb: int = setting(200, "Below this free disk space periodic capture stops (alert).")


@dataclass(frozen=True)
class UploadConfig:
    server_url: str = setting("", "Where photos go (PUT /api/v1/blobs); empty = the catalog's URL.")
    bandwidth_kbps: int = setting(256, "Upload budget in kilobits per second; 0 = unlimited.")
    chunk_kb: int = setting(256, "Upload chunk size in KiB (a cut resumes from the last chunk).")

    def __post_init__(self) -> None:
        if not 1 <= self.chunk_kb <= 1024:
            raise ValueError("upload.chunk_kb must be between 1 and 1024")


@dataclass(frozen=True)
class EdgeConfig:
    device_id: str = setting("", "This device's id (also its MQTT username). Required.")
    data_dir: Path = setting(Path("/var/lib/ocop-edge"), "Journal, key and files live here.")
    lot_prefix: str = setting("", "Start of every lot code (<= 5 chars); empty = facility code.")
    assume_clock_synced: bool = setting(
        False,
        "Mark events' clock synced even when neither the kernel (adjtimex STA_UNSYNC clear) nor "
        "systemd-timesyncd's flag says an NTP client has set it.",
    )
    ui: UiConfig = section(UiConfig, "The touchscreen web UI.")
    mqtt: MqttConfig = section(MqttConfig, "The sync link to the central broker.")
    printer: PrinterConfig = section(PrinterConfig, "Where labels go.")
    cameras: tuple[CameraConfig, ...] = setting((), "Cameras, one [[cameras]] table each.")
    storage: StorageConfig = section(StorageConfig, "Disk limits for photos.")
    upload: UploadConfig = section(UploadConfig, "Photo upload to the server.")

    def __post_init__(self) -> None:
        names = [c.name for c in self.cameras]
        if len(set(names)) != len(names):
            raise ValueError("camera names must be unique")
        if not DEVICE_ID_RE.match(self.device_id):
            raise ValueError("device_id is required: lower-case letters, digits and '-'")
        if len(self.lot_prefix) > 5 or not self.lot_prefix.isascii():
            raise ValueError("lot_prefix must be at most 5 ASCII characters")

    @property
    def journal_path(self) -> Path:
        return self.data_dir / "journal.db"

    @property
    def key_path(self) -> Path:
        return self.data_dir / "device-key.pem"

    @property
    def photo_dir(self) -> Path:
        return self.data_dir / "photos"

    @property
    def label_dir(self) -> Path:
        return Path(self.printer.directory) if self.printer.directory else self.data_dir / "labels"

    @property
    def printer_url(self) -> str:
        return self.printer.url or f"file://{self.label_dir.resolve()}"

    @property
    def mqtt_username(self) -> str:
        return self.mqtt.username or self.device_id

    @property
    def label_key_path(self) -> Path:
        """The secret behind unit-label codes (0600); the server gets it once, at enrolment."""
        return self.data_dir / "label-key"

    @property
    def ui_secret_path(self) -> Path:
        """Key that signs the touchscreen's session cookie (CSRF token, worker); mode 0600."""
        return self.data_dir / "ui-secret"

    @property
    def password_path(self) -> Path:
        """Where ``ocop edge enroll`` keeps the broker password (mode 0600)."""
        return self.data_dir / "mqtt-password"

    def mqtt_password(self, environ: dict[str, str] | None = None) -> str | None:
        """From systemd credential ``mqtt-password``, ``OCOP_MQTT_PASSWORD``, or the file
        enrolment wrote; never logged."""
        secret = read_secret("mqtt-password", "OCOP_MQTT_PASSWORD", dict(environ or os.environ))
        if secret is None and self.password_path.exists():
            secret = self.password_path.read_text(encoding="utf-8").strip() or None
        return secret


def load_config(path: Path) -> EdgeConfig:
    """Read and validate ``edge.toml``; raises :class:`ConfigError` naming the bad key.

    ``<data_dir>/device-id``, written when the office let this device continue under a new
    id (edge_agent/continuation.py, docs/protocol.md "Unblocking"), overrides ``device_id``.
    """
    config = build_section(EdgeConfig, read_toml(path))
    identity = config.data_dir / "device-id"
    if identity.is_file():
        dev = identity.read_text(encoding="utf-8").strip()
        if DEVICE_ID_RE.match(dev):
            config = replace(config, device_id=dev)
    return config


__all__ = ["ConfigError", "EdgeConfig", "MqttConfig", "PrinterConfig", "UiConfig", "load_config"]
