"""One Pi's provisioning bundle: the validated spec, and rendering it into a folder.

The folder goes on the SD card's boot partition (``/boot/firmware/ocop/``); its ``firstboot.sh``
installs everything on the Pi's first boot. Nothing secret is in it except the one-time
enrolment token, which first boot deletes after use. See docs/provisioning-pi.md.
"""

from __future__ import annotations

import re
import shutil
import zoneinfo
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from firmware_config.render import render_dir, templates
from trace_protocol.envelope import DEVICE_ID_RE

DISPLAYS = ("touchscreen", "hdmi")
CAMERAS = ("picamera", "usb", "none")
# Mirrors edge_agent.config.PRINT_FORMATS (firmware_config may not import the agent; a unit
# test keeps the two equal).
PRINT_FORMATS = ("png+pdf", "png", "pdf", "pdf-sheet", "zpl", "tspl", "escpos")
CAMERA_URIS = {"picamera": "picamera2", "usb": "usb:0"}

BOOT_DIR = "/boot/firmware"  # Raspberry Pi OS Bookworm mounts the FAT boot partition here
CONFIG_DIR = "/etc/ocop"
AGENT_USER = "ocop"
KIOSK_USER = "ocop-kiosk"
CA_PATH = f"{CONFIG_DIR}/mqtt-ca.pem"
TOKEN_FILE = "enrol-token"
KIT_DIR = "kit"
EXECUTABLE = 0o755

# The catalog's facility code rule (trace_protocol/catalog.py: 1-5 of letters, digits, - and _).
_FACILITY_RE = re.compile(r"^[A-Za-z0-9_-]{1,5}\Z")
# Paths end up unquoted in systemd units and TOML: keep them to characters that need no quoting.
_PATH_RE = re.compile(r"^/[A-Za-z0-9._/+-]*\Z")
_HOST_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?\Z")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.~=+/-]{8,200}\Z")
_SPEC_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\[\],<>=!~@:/+-]*\Z")


class SpecError(ValueError):
    """A provisioning option that cannot work; the message names the option."""


def _kit_version() -> str:
    try:
        return metadata.version("ocop-edge-kit")
    except metadata.PackageNotFoundError:
        return ""


def default_kit_spec() -> str:
    version = _kit_version()
    return f"ocop-edge-kit=={version}" if version else "ocop-edge-kit"


# A Pi installs the kit with its [edge] extra: OpenCV, no PostgreSQL driver (issue 14).
EDGE_EXTRA = "edge"
_NAMED_RE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[(?P<extras>[^\]]*)\])?(?P<rest>\s*(?:[<>=!~@;].*)?)\Z"
)


def with_edge_extra(requirement: str) -> str:
    """``requirement`` (``ocop-edge-kit==0.1.0``) with the ``[edge]`` extra added.

    A requirement that does not start with a project name (a path or URL) is left as it is.
    """
    named = _NAMED_RE.match(requirement)
    if named is None:
        return requirement
    extras = [e.strip() for e in (named["extras"] or "").split(",") if e.strip()]
    if EDGE_EXTRA not in extras:
        extras.append(EDGE_EXTRA)
    return f"{named['name']}[{','.join(extras)}]{named['rest']}"


@dataclass(frozen=True)
class DeviceSpec:
    """Everything that differs from one Pi to the next; validated on construction."""

    facility: str
    device: str
    server: str
    token: str
    mqtt_host: str = ""  # empty: the server URL's host
    mqtt_port: int = 0  # 0: 8883 with TLS, else 1883
    mqtt_tls: bool = False
    mqtt_ca: Path | None = None  # the province CA's certificate (PEM); implies TLS
    ui_port: int = 8080
    display: str = "touchscreen"
    camera: str = "picamera"
    camera_interval_s: int = 300
    timezone: str = "Asia/Ho_Chi_Minh"
    ntp: tuple[str, ...] = ("vn.pool.ntp.org",)
    lot_prefix: str = ""  # empty: the facility code
    printer_url: str = ""
    printer_format: str = "png+pdf"
    kit_wheel: Path | None = None
    kit_spec: str = field(default_factory=default_kit_spec)
    prefix: str = "/opt/ocop"
    data_dir: str = "/var/lib/ocop-edge"
    bundle_dir: str = f"{BOOT_DIR}/ocop"

    def __post_init__(self) -> None:
        if not _FACILITY_RE.match(self.facility):
            raise SpecError(
                f"--facility {self.facility!r}: 1-5 letters, digits, '-' or '_' (the catalog code)"
            )
        if not DEVICE_ID_RE.match(self.device):
            raise SpecError(
                f"--device {self.device!r}: lower-case letters, digits and '-', 2-63 characters"
            )
        _check_url("--server", self.server)
        if not _TOKEN_RE.match(self.token):
            raise SpecError("--token: the one-time token printed by `ocop server add-device`")
        host = self.mqtt_host or urlsplit(self.server).hostname or ""
        if not _HOST_RE.match(host):
            raise SpecError(f"--mqtt-host {host!r}: not a host name or address")
        object.__setattr__(self, "mqtt_host", host)
        if self.mqtt_ca is not None:
            _check_ca(self.mqtt_ca)
            object.__setattr__(self, "mqtt_tls", True)
        if not self.mqtt_port:
            object.__setattr__(self, "mqtt_port", 8883 if self.mqtt_tls else 1883)
        for option, port in (("--mqtt-port", self.mqtt_port), ("--ui-port", self.ui_port)):
            if not 1 <= port <= 65535:
                raise SpecError(f"{option} {port}: must be 1-65535")
        if self.display not in DISPLAYS:
            raise SpecError(f"--display {self.display!r}: one of {', '.join(DISPLAYS)}")
        if self.camera not in CAMERAS:
            raise SpecError(f"--camera {self.camera!r}: one of {', '.join(CAMERAS)}")
        if self.camera_interval_s < 0:
            raise SpecError("--camera-interval: seconds, 0 or more (0 = no periodic snapshots)")
        _check_timezone(self.timezone)
        if not self.ntp or not all(_HOST_RE.match(server) for server in self.ntp):
            raise SpecError(f"--ntp {' '.join(self.ntp)!r}: NTP server host names")
        lot = self.lot_prefix or self.facility
        if len(lot) > 5 or not _FACILITY_RE.match(lot):
            raise SpecError(f"--lot-prefix {lot!r}: at most 5 letters, digits, '-' or '_'")
        object.__setattr__(self, "lot_prefix", lot)
        if self.printer_format not in PRINT_FORMATS:
            raise SpecError(
                f"--printer-format {self.printer_format!r}: one of {', '.join(PRINT_FORMATS)}"
            )
        if self.printer_url and (
            "://" not in self.printer_url
            or any(c.isspace() or c in "\"'\\" for c in self.printer_url)
        ):
            raise SpecError(f"--printer-url {self.printer_url!r}: like cups://QUEUE, tcp://h:9100")
        if self.kit_wheel is not None:
            if self.kit_wheel.suffix != ".whl" or not self.kit_wheel.is_file():
                raise SpecError(f"--kit-wheel {self.kit_wheel}: not a .whl file")
            if not _SPEC_RE.match(self.kit_wheel.name):
                raise SpecError(f"--kit-wheel {self.kit_wheel.name!r}: unusual file name")
        elif not _SPEC_RE.match(self.kit_spec):
            raise SpecError(
                f"--kit-spec {self.kit_spec!r}: a pip requirement such as ocop-edge-kit==0.1.0"
            )
        for option, path in (
            ("--prefix", self.prefix),
            ("--data-dir", self.data_dir),
            ("--bundle-dir", self.bundle_dir),
        ):
            _check_path(option, path)

    @property
    def state_directory(self) -> str:
        """systemd's ``StateDirectory=`` when the data dir is under /var/lib, else empty."""
        rel = PurePosixPath(self.data_dir).relative_to("/")
        parts = rel.parts
        if len(parts) >= 3 and parts[:2] == ("var", "lib"):
            return str(PurePosixPath(*parts[2:]))
        return ""


def _check_url(option: str, url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SpecError(f"{option} {url!r}: an http(s):// URL, e.g. https://trace.example.vn")
    if parts.query or parts.fragment or any(c.isspace() or c in "\"'\\" for c in url):
        raise SpecError(f"{option} {url!r}: the server's base URL only (no query or spaces)")


def _check_ca(path: Path) -> None:
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"--mqtt-ca {path}: cannot read a PEM file ({exc})") from exc
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise SpecError(f"--mqtt-ca {path}: no PEM certificate in it")
    if "PRIVATE KEY" in text:
        raise SpecError(f"--mqtt-ca {path}: holds a private key; give the CA certificate only")


def _check_timezone(name: str) -> None:
    if not re.match(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*\Z", name):
        raise SpecError(f"--timezone {name!r}: an IANA zone such as Asia/Ho_Chi_Minh")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise SpecError(f"--timezone {name!r}: unknown time zone") from exc


def _check_path(option: str, path: str) -> None:
    pure = PurePosixPath(path)
    if not _PATH_RE.match(path) or ".." in pure.parts or str(pure) != path or path == "/":
        raise SpecError(
            f"{option} {path!r}: an absolute path of letters, digits, '.', '_', '-', '+' and '/'"
        )


@dataclass(frozen=True)
class ManifestEntry:
    """One file of the bundle: where it goes on the Pi and what it configures."""

    path: str
    destination: str
    purpose: str


def manifest(spec: DeviceSpec) -> list[ManifestEntry]:
    """Every file of the bundle, in the order README and MANIFEST list them."""
    here = spec.bundle_dir
    entries = [
        ManifestEntry("README.txt", f"{here}/README.txt", "instructions (Vietnamese, English)"),
        ManifestEntry("MANIFEST", f"{here}/MANIFEST", "this list"),
        ManifestEntry(
            "bootstrap.sh",
            f"{here}/bootstrap.sh",
            "run once (cloud-init, systemd.run= or by hand): installs and enables"
            " ocop-firstboot.service",
        ),
        ManifestEntry(
            "firstboot.sh",
            f"{here}/firstboot.sh",
            "run by ocop-firstboot.service until it succeeds: packages, users, venv, kit,"
            " files, enrolment, units",
        ),
        ManifestEntry(
            "user-data",
            f"{BOOT_DIR}/user-data",
            "cloud-init #cloud-config that runs bootstrap.sh (images with cloud-init)",
        ),
        ManifestEntry(
            "cmdline.txt.append",
            f"appended to the one line of {BOOT_DIR}/cmdline.txt (by hand)",
            "images without cloud-init: runs bootstrap.sh once via systemd.run=",
        ),
        ManifestEntry(
            "config.txt.append",
            f"appended to {BOOT_DIR}/config.txt by firstboot.sh",
            f"hardware watchdog, camera ({spec.camera}), display ({spec.display})",
        ),
        ManifestEntry(
            "pip-constraints.txt",
            f"{here}/pip-constraints.txt",
            "pip constraints for installing the kit (numpy from apt with picamera2)",
        ),
        ManifestEntry(
            "kiosk.sh",
            f"{spec.prefix}/bin/ocop-kiosk",
            f"waits for the touchscreen UI, then cage + chromium --kiosk on port {spec.ui_port}",
        ),
        ManifestEntry(
            TOKEN_FILE,
            f"{here}/{TOKEN_FILE} (shredded after enrolment)",
            "the one-time enrolment token: the only secret in this folder",
        ),
    ]
    entries += [
        ManifestEntry(f"files{dest}", dest, purpose) for dest, purpose in installed_files(spec)
    ]
    if spec.kit_wheel is not None:
        entries.append(
            ManifestEntry(
                f"{KIT_DIR}/{spec.kit_wheel.name}",
                f"{here}/{KIT_DIR}/{spec.kit_wheel.name}",
                f"the kit, pip-installed into {spec.prefix}",
            )
        )
    return entries


def installed_files(spec: DeviceSpec) -> list[tuple[str, str]]:
    """Files firstboot.sh copies from ``files/`` to the same path on the Pi, with purposes."""
    ca = (
        [(CA_PATH, "the CA certificate that signed the broker's (public, for mqtt.ca_file)")]
        if spec.mqtt_ca is not None
        else []
    )
    return [
        (f"{CONFIG_DIR}/edge.toml", f"the agent's config (device {spec.device}); no secrets"),
        *ca,
        ("/etc/systemd/system/ocop-edge.service", "the agent, sandboxed, restarted always"),
        ("/etc/systemd/system/ocop-kiosk.service", "the touchscreen browser on tty1"),
        (
            "/etc/systemd/system/ocop-firstboot.service",
            f"first-boot install, skipped once {spec.data_dir}/.provisioned exists",
        ),
        (
            "/etc/systemd/system.conf.d/ocop-watchdog.conf",
            "systemd pets the hardware watchdog (reboot on a hang)",
        ),
        ("/etc/systemd/journald.conf.d/ocop.conf", "logs in RAM only (SD card wear)"),
        (
            "/etc/systemd/timesyncd.conf.d/ocop.conf",
            f"NTP servers: {' '.join(spec.ntp)} (the agent's clock flag)",
        ),
    ]


# Output files that are executable scripts.
_MODES = {"bootstrap.sh": EXECUTABLE, "firstboot.sh": EXECUTABLE, "kiosk.sh": EXECUTABLE}


def context(spec: DeviceSpec) -> dict[str, Any]:
    """The variables every device template sees."""
    apt = ["python3-venv", "chromium", "cage", "fonts-dejavu-core", "systemd-timesyncd"]
    if spec.camera == "picamera":
        apt.append("python3-picamera2")
    return {
        "spec": spec,
        "device": spec.device,
        "facility": spec.facility,
        "server": spec.server.rstrip("/"),
        "prefix": spec.prefix,
        "data_dir": spec.data_dir,
        "state_directory": spec.state_directory,
        "bundle_dir": spec.bundle_dir,
        "boot_dir": BOOT_DIR,
        "config_dir": CONFIG_DIR,
        "agent_user": AGENT_USER,
        "kiosk_user": KIOSK_USER,
        "ui_port": spec.ui_port,
        "ui_url": f"http://127.0.0.1:{spec.ui_port}/",
        "camera_uri": CAMERA_URIS.get(spec.camera, ""),
        "ca_file": CA_PATH if spec.mqtt_ca is not None else "",
        "apt_packages": apt,
        "installed": [dest for dest, _ in installed_files(spec)],
        "kit_wheel": f"{KIT_DIR}/{spec.kit_wheel.name}" if spec.kit_wheel else "",
        "kit_spec": with_edge_extra(spec.kit_spec),
        "kit_extra": EDGE_EXTRA,
        "token_file": TOKEN_FILE,
        "manifest": manifest(spec),
        "kit_version": _kit_version() or "unknown",
    }


class BundleExistsError(SpecError):
    """The output folder already holds files (pass force to overwrite)."""


def render_bundle(spec: DeviceSpec, out: Path, force: bool = False) -> list[str]:
    """Write the bundle for ``spec`` into ``out``; return its files (relative, sorted)."""
    if out.exists() and not out.is_dir():
        raise SpecError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise BundleExistsError(f"--out {out}: folder is not empty (use --force to overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    written = render_dir(templates("device"), out, context(spec), _MODES)
    token = out / TOKEN_FILE
    token.unlink(missing_ok=True)
    token.touch(mode=0o600)
    token.chmod(0o600)
    token.write_text(spec.token + "\n", encoding="utf-8")
    written.append(TOKEN_FILE)
    if spec.mqtt_ca is not None:
        ca = out / "files" / CA_PATH.lstrip("/")
        shutil.copyfile(spec.mqtt_ca, ca)
        ca.chmod(0o644)
        written.append(f"files{CA_PATH}")
    if spec.kit_wheel is not None:
        (out / KIT_DIR).mkdir(exist_ok=True)
        shutil.copyfile(spec.kit_wheel, out / KIT_DIR / spec.kit_wheel.name)
        written.append(f"{KIT_DIR}/{spec.kit_wheel.name}")
    return sorted(written)
