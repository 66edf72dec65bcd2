"""Start and stop a local Mosquitto from the system's ``mosquitto`` binary (demo and tests)."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

SEARCH_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class BrokerError(RuntimeError):
    """Mosquitto is missing or did not start; the message says what to do."""


def find_mosquitto() -> str:
    path = shutil.which("mosquitto") or shutil.which("mosquitto", path=SEARCH_PATH)
    if path is None:
        raise BrokerError("mosquitto is not installed: sudo apt-get install mosquitto")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, timeout_s: float, host: str = "127.0.0.1") -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Mosquitto:
    """One broker on loopback.

    With ``auth_dir`` it refuses anonymous clients and uses the password and ACL files that
    ``ocop server sync-broker`` writes there, on two listeners as in production
    (firmware_config's mosquitto-ocop.conf): ``port`` for devices, where Mosquitto replaces each
    client id with the username so that no device can disconnect another by reusing its client
    id, and ``server_port`` for the server's own clients, which only the server's user may use.
    Without ``auth_dir`` it is anonymous on one listener (127.0.0.1 only, tests) and
    ``server_port`` equals ``port``.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        persistence: bool = False,
        extra_conf: str = "",
        auth_dir: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.persistence = persistence
        self.extra_conf = extra_conf
        self.auth_dir = auth_dir
        self.server_port = free_port() if auth_dir is not None else self.port
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def conf_path(self) -> Path:
        return self.workdir / "mosquitto.conf"

    def write_conf(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.auth_dir is not None:
            acl = f"acl_file {self.auth_dir / 'acl'}"
            listeners = [
                "per_listener_settings true",
                f"listener {self.port} 127.0.0.1",
                "allow_anonymous false",
                f"password_file {self.auth_dir / 'passwd'}",
                acl,
                "use_username_as_clientid true",
                f"listener {self.server_port} 127.0.0.1",
                "allow_anonymous false",
                f"password_file {self.auth_dir / 'passwd-server'}",
                acl,
            ]
        else:
            listeners = [f"listener {self.port} 127.0.0.1", "allow_anonymous true"]
        lines = [
            # Started as root, Mosquitto would switch to the `mosquitto` user and lose access
            # to files this launcher's user wrote (auth files, persistence).
            f"user {getpass.getuser()}",
            *listeners,
            f"persistence {'true' if self.persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            self.extra_conf,
        ]
        self.conf_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, timeout_s: float = 10.0) -> None:
        self.write_conf()
        log = (self.workdir / "mosquitto.log").open("ab")
        self.proc = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.conf_path)], stdout=log, stderr=subprocess.STDOUT
        )
        if not (wait_for_port(self.port, timeout_s) and wait_for_port(self.server_port, timeout_s)):
            self.stop()
            raise BrokerError(f"mosquitto did not listen on port {self.port}; see {log.name}")

    def reload(self) -> None:
        """SIGHUP: Mosquitto re-reads its password and ACL files, keeping its clients."""
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)

    @property
    def reload_command(self) -> str:
        return f"kill -HUP {self.proc.pid}" if self.proc is not None else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> Mosquitto:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
