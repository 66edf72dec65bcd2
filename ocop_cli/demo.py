"""``ocop demo``: a local broker, the server and the seeds' facilities with their devices.

It walks the real path a province takes: the office imports catalogs and adds devices, a Pi
enrols with the one-time token and gets its own broker credentials; the broker refuses
anonymous clients. Everything lives under ``--data-dir`` and survives a restart. Which devices
exist and what they did is in ocop_cli/demo_fleet.py.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from functools import partial
from importlib import resources
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from ocop_cli import demo_fleet as fleet
from ocop_cli.broker import BrokerError, Mosquitto, free_port, wait_for_port
from ocop_cli.demo_args import add_arguments
from ocop_cli.demo_video import write_demo_video

DEMO_CATALOGS = ("kc-rice.json", "cuong-nga-honey.json", "huong-son-antler.json")
DEMO_DEVICE = fleet.KC_LINE.dev_id
DEMO_FACILITY = fleet.KC_LINE.facility
_ocop, _run = fleet.ocop, fleet.run_ocop


def register(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)
    parser.set_defaults(func=cmd_demo)


def _write_server_toml(
    data: Path, public_url: str, listen: str, mqtt_port: int, device_port: int, reload: str
) -> Path:
    """``mqtt_port`` is the broker's listener for the server's own clients, ``device_port`` the
    one devices use (ocop_cli/broker.py). The web server listens at ``listen``: the public URL's
    host (127.0.0.1 unless ``--public-url`` names another) and the server port."""
    parts = urlsplit(listen)
    path = data / "server.toml"
    path.write_text(
        f'data_dir = "{data / "server"}"\n'
        f'public_base_url = "{public_url}"\n\n'
        f'[http]\nhost = "{parts.hostname}"\nport = {_port_of(listen)}\n\n'
        f"[mqtt]\nport = {mqtt_port}\n\n"
        f'[broker]\nauth_dir = "{data / "broker-auth"}"\nreload_command = "{reload}"\n'
        f'device_host = "127.0.0.1"\ndevice_port = {device_port}\n',
        encoding="utf-8",
    )
    return path


def _port_of(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _public_url(args: argparse.Namespace) -> tuple[str, str]:
    """(the base URL on labels, the URL the demo itself uses to reach the server)."""
    port = args.server_port or (urlsplit(args.public_url).port if args.public_url else None)
    port = port or 8000
    if args.public_url is None:
        return f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    host = urlsplit(args.public_url).hostname or "127.0.0.1"
    local = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    if _port_of(args.public_url) != port:
        print(
            f"note: labels point at {args.public_url}, the server listens on {local}: "
            "only right behind a proxy that forwards one to the other"
        )
    return args.public_url, local


def _prepare_office(server_toml: Path) -> None:
    srv = ("server", "--config", str(server_toml))
    _run(*srv, "init-db")
    catalogs = resources.files("ocop_cli") / "data"
    for name in DEMO_CATALOGS:
        with resources.as_file(catalogs / name) as path:
            print(_run(*srv, "import-catalog", str(path)).strip())
    _run(*srv, "sync-broker")
    # The demo's office login: a random password in a 0600 file, never on the screen.
    secret = server_toml.parent / "office-admin-password"
    if not secret.exists():
        _run(*srv, "add-user", "admin", "--role", "admin", "--generate-to", str(secret))


def _enrol_device(
    data: Path,
    server_toml: Path,
    server_url: str,
    device: fleet.DemoDevice,
    mqtt_port: int,
    edge_port: int,
    camera: bool,
) -> Path:
    folder = data / device.folder
    edge_toml = data / f"{device.folder}.toml"
    _run(
        "edge",
        "init",
        "--device-id",
        device.dev_id,
        "--data-dir",
        str(folder),
        "--out",
        str(edge_toml),
        "--mqtt-port",
        str(mqtt_port),
        "--ui-port",
        str(edge_port),
    )
    if camera:
        video = write_demo_video(data / "camera" / "day-chuyen.avi")
        with edge_toml.open("a", encoding="utf-8") as fh:
            # The demo's file camera: a photo per recorded step, a periodic one every 5 minutes.
            fh.write(
                f'\n[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\ninterval_s = 300\n'
            )
    if (folder / "mqtt-password").exists():
        return edge_toml  # enrolled on an earlier run
    srv = ("server", "--config", str(server_toml))
    added = _run(*srv, "add-device", "--device", device.dev_id, "--facility", device.facility)
    token = re.search(r"--token (\S+)", added)
    if token is None:
        raise RuntimeError(f"unexpected add-device output: {added}")
    # The server's own address, which is the public URL's unless that one is behind a proxy.
    enrol = ("enroll", "--server", server_url, "--facility", device.facility)
    print(_run("edge", "--config", str(edge_toml), *enrol, f"--token={token.group(1)}").strip())
    return edge_toml


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        child.terminate()
    for child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)


def _start_once(
    data: Path,
    server_toml: Path,
    server_url: str,
    broker_port: int,
    device: fleet.DemoDevice,
    scanned: Mapping[str, dict[str, str]] | None = None,
) -> subprocess.Popen[bytes] | None:
    """A facility's agent that only runs until its seeded history has synced (first start)."""
    edge_toml = _enrol_device(
        data, server_toml, server_url, device, broker_port, free_port(), camera=False
    )
    fleet.seed_batch(edge_toml, device, scanned)
    if _synced(server_toml, data, device):
        return None  # synced on an earlier start; it stays quiet
    return _start(_ocop("edge", "--config", str(edge_toml), "run"), data / f"{device.folder}.log")


def _start_quiet_sites(
    data: Path, server_toml: Path, server_url: str, public_url: str, broker_port: int
) -> list[tuple[fleet.DemoDevice, subprocess.Popen[bytes]]]:
    """Cường Nga's agent, and Hương Sơn's, whose honey is Cường Nga's lot scanned from its
    label (issue 15): each runs until its seeded history has synced."""
    running = []
    honey = _start_once(data, server_toml, server_url, broker_port, fleet.HONEY)
    if honey is not None:
        running.append((fleet.HONEY, honey))
    label = fleet.label_source(public_url, data / f"{fleet.HONEY.folder}.toml")
    scanned = {fleet.HONEY.facility: label} if label else None
    antler = _start_once(data, server_toml, server_url, broker_port, fleet.ANTLER, scanned)
    if antler is not None:
        running.append((fleet.ANTLER, antler))
    return running


def _synced(server_toml: Path, data: Path, device: fleet.DemoDevice) -> bool:
    edge_toml = data / f"{device.folder}.toml"
    return fleet.server_device(server_toml, device.dev_id)[1] >= fleet.journal_head(edge_toml)


def _stop_once_synced(
    data: Path, server_toml: Path, running: list[tuple[fleet.DemoDevice, subprocess.Popen[bytes]]]
) -> None:
    """Each site's history reaches the server, then the site goes quiet (its agent stops)."""
    for device, child in running:
        fleet.wait_for(partial(_synced, server_toml, data, device), 30)
        _stop([child])


def cmd_demo(args: argparse.Namespace) -> int:
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    public_url, server_url = _public_url(args)
    host, port = urlsplit(server_url).hostname or "127.0.0.1", _port_of(server_url)
    server_toml = _write_server_toml(
        data, public_url, server_url, args.mqtt_port, args.mqtt_port, ""
    )
    children: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    broker = Mosquitto(data / "broker", args.mqtt_port or None, auth_dir=data / "broker-auth")
    try:
        _prepare_office(server_toml)
        broker.start()
        server_toml = _write_server_toml(
            data, public_url, server_url, broker.server_port, broker.port, broker.reload_command
        )
        children.append(
            _start(_ocop("server", "--config", str(server_toml), "run"), data / "server.log")
        )
        if not wait_for_port(port, 45, host):
            print(f"error: the server did not start; see {data}/server.log", file=sys.stderr)
            return 1
        edge_toml = _enrol_device(
            data, server_toml, server_url, fleet.KC_LINE, broker.port, args.edge_port, True
        )
        fleet.seed_batch(edge_toml, fleet.KC_LINE)
        fleet.register_unenrolled(server_toml)
        _run("server", "--config", str(server_toml), "publish-config")
        children.append(_start(_ocop("edge", "--config", str(edge_toml), "run"), data / "edge.log"))
        quiet = _start_quiet_sites(data, server_toml, server_url, public_url, broker.port)
        if not wait_for_port(args.edge_port, 45):
            print(f"error: the edge agent did not start; see {data}/edge.log", file=sys.stderr)
            return 1
        labels = fleet.print_labels(data, edge_toml, public_url)
        synced = labels is not None and fleet.wait_for(
            lambda: fleet.server_has_lot(server_toml, labels.lot), 30
        )
        _stop_once_synced(data, server_toml, quiet)
        _print_banner(data, args, server_url, broker, labels, synced)
        while not stop.wait(1):
            for child in children:
                if child.poll() is not None:
                    print(
                        f"error: a demo process exited ({child.args!r}); see {data}/*.log",
                        file=sys.stderr,
                    )
                    return 1
        return 0
    except (BrokerError, subprocess.CalledProcessError, RuntimeError) as exc:
        detail = getattr(exc, "stderr", "") or ""
        print(f"error: {exc} {detail}".strip(), file=sys.stderr)
        return 2
    finally:
        _stop(children)
        broker.stop()
        print("demo stopped")


def _print_banner(
    data: Path,
    args: argparse.Namespace,
    server_url: str,
    broker: Mosquitto,
    labels: fleet.PrintedLabels | None,
    synced: bool,
) -> None:
    print(f"OCOP demo running (data in {data}):")
    print(f"  touchscreen (edge agent): http://127.0.0.1:{args.edge_port}/")
    print(f"  server, public pages:     {server_url}/")
    print(
        f"  OCOP office:              {server_url}/office/"
        f"  (user admin, password in {data}/office-admin-password)"
    )
    print(
        f"  MQTT broker:              127.0.0.1:{broker.port} (per-device logins; "
        f"the server's own listener: {broker.server_port})"
    )
    print(
        f"  devices: {fleet.KC_LINE.dev_id} (KC, running), {fleet.HONEY.dev_id} (Cường Nga, "
        f"synced a batch, then stopped), {fleet.ANTLER.dev_id} (Hương Sơn, synced antler in "
        f"Cường Nga's honey, then stopped), {fleet.UNENROLLED_DEVICE} (Hương Sơn, never enrolled)"
    )
    if labels is None:
        print(f"  labels: none printed; see {data}/edge.log")
    else:
        print(f"  label printed (PNG):      {labels.png}")
        print(f"  its other labels (PNG/PDF) in {labels.png.parent}/")
        print(f"  consumer page of label 1: {labels.url}")
        if not synced:
            print("  (the batch is still syncing: that page may say 'details arriving' a moment)")
    print("Press Ctrl-C to stop.", flush=True)
