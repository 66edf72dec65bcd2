"""``ocop demo``: a local broker, the server and one edge agent with the seeds' facilities.

It walks the real path a province takes: the office imports catalogs and adds a device, the Pi
enrols with the one-time token and gets its own broker credentials; the broker refuses
anonymous clients. Everything lives under ``--data-dir`` and survives a restart.
"""

from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
from importlib import resources
from pathlib import Path
from types import FrameType

from ocop_cli.broker import BrokerError, Mosquitto, wait_for_port
from ocop_cli.demo_video import write_demo_video

DEMO_CATALOGS = ("kc-rice.json", "cuong-nga-honey.json", "huong-son-antler.json")
DEMO_DEVICE = "kc-line-1"
DEMO_FACILITY = "KC"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=Path("demo-data"))
    parser.add_argument("--mqtt-port", type=int, default=0, help="0 = a free port")
    parser.add_argument("--server-port", type=int, default=8000)
    parser.add_argument("--edge-port", type=int, default=8080)
    parser.set_defaults(func=cmd_demo)


def _ocop(*args: str) -> list[str]:
    return [sys.executable, "-m", "ocop_cli.main", *args]


def _run(*args: str) -> str:
    done = subprocess.run(_ocop(*args), check=True, capture_output=True, text=True)
    return done.stdout


def _write_server_toml(
    data: Path, mqtt_port: int, device_port: int, server_port: int, reload: str
) -> Path:
    """``mqtt_port`` is the broker's listener for the server's own clients, ``device_port`` the
    one devices use (ocop_cli/broker.py)."""
    path = data / "server.toml"
    path.write_text(
        f'data_dir = "{data / "server"}"\n'
        f'public_base_url = "http://127.0.0.1:{server_port}"\n\n'
        f"[http]\nport = {server_port}\n\n[mqtt]\nport = {mqtt_port}\n\n"
        f'[broker]\nauth_dir = "{data / "broker-auth"}"\nreload_command = "{reload}"\n'
        f'device_host = "127.0.0.1"\ndevice_port = {device_port}\n',
        encoding="utf-8",
    )
    return path


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


def _enrol_device(data: Path, server_toml: Path, mqtt_port: int, edge_port: int) -> Path:
    edge_toml = data / "edge.toml"
    _run(
        "edge",
        "init",
        "--device-id",
        DEMO_DEVICE,
        "--data-dir",
        str(data / "edge"),
        "--out",
        str(edge_toml),
        "--mqtt-port",
        str(mqtt_port),
        "--ui-port",
        str(edge_port),
    )
    video = write_demo_video(data / "camera" / "day-chuyen.avi")
    with edge_toml.open("a", encoding="utf-8") as fh:
        # The demo's file camera: a photo per recorded step, a periodic one every 5 minutes.
        fh.write(f'\n[[cameras]]\nname = "day-chuyen"\nuri = "file:{video}"\ninterval_s = 300\n')
    if (data / "edge" / "mqtt-password").exists():
        return edge_toml  # enrolled on an earlier run
    added = _run(
        "server",
        "--config",
        str(server_toml),
        "add-device",
        "--device",
        DEMO_DEVICE,
        "--facility",
        DEMO_FACILITY,
    )
    match = re.search(r"on the Pi: ocop edge (enroll .*)$", added, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"unexpected add-device output: {added}")
    print(_run("edge", "--config", str(edge_toml), *match.group(1).split()).strip())
    return edge_toml


def _seed_edge(edge_toml: Path) -> None:
    """Record one finished rice batch on the demo agent, so a consumer page exists at once."""
    from edge_agent import batches
    from edge_agent.agent import open_agent
    from edge_agent.config import load_config

    agent = open_agent(load_config(edge_toml), with_sync=False)
    try:
        catalog = agent.catalog()
        if agent.journal.head() > 0 or catalog is None:
            return
        batch_id = batches.open_batch(agent.journal, catalog, "NM", "").body["batch"]
        for step, values, note in (
            ("NHAP", {"do_am": "14.2", "khoi_luong": "1200"}, "Lúa Ngọc Mầm vụ Đông Xuân"),
            ("SAY", {"nhiet_do": "42"}, ""),
            ("XAT", {}, ""),
            ("DONG", {"so_tui": "190"}, "Túi 5 kg hút chân không"),
        ):
            batches.record_step(agent.journal, catalog, batch_id, step, values, note)
        batches.close_batch(agent.journal, catalog, batch_id, "950")
    finally:
        agent.journal.db.conn.close()


def cmd_demo(args: argparse.Namespace) -> int:
    data: Path = args.data_dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    server_toml = _write_server_toml(data, args.mqtt_port, args.mqtt_port, args.server_port, "")
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
            data, broker.server_port, broker.port, args.server_port, broker.reload_command
        )
        logs = (data / "server.log").open("ab"), (data / "edge.log").open("ab")
        children.append(
            subprocess.Popen(
                _ocop("server", "--config", str(server_toml), "run"),
                stdout=logs[0],
                stderr=subprocess.STDOUT,
            )
        )
        if not wait_for_port(args.server_port, 45):
            print(f"error: the server did not start; see {data}/server.log", file=sys.stderr)
            return 1
        edge_toml = _enrol_device(data, server_toml, broker.port, args.edge_port)
        _seed_edge(edge_toml)
        _run("server", "--config", str(server_toml), "publish-config")
        children.append(
            subprocess.Popen(
                _ocop("edge", "--config", str(edge_toml), "run"),
                stdout=logs[1],
                stderr=subprocess.STDOUT,
            )
        )
        if not wait_for_port(args.edge_port, 45):
            print(f"error: the edge agent did not start; see {data}/edge.log", file=sys.stderr)
            return 1
        print(f"OCOP demo running (data in {data}):")
        print(f"  touchscreen (edge agent): http://127.0.0.1:{args.edge_port}/")
        print(f"  server, public pages:     http://127.0.0.1:{args.server_port}/")
        print(
            f"  OCOP office:              http://127.0.0.1:{args.server_port}/office/"
            f"  (user admin, password in {data}/office-admin-password)"
        )
        print(
            f"  MQTT broker:              127.0.0.1:{broker.port} (per-device logins; "
            f"the server's own listener: {broker.server_port})"
        )
        print("Press Ctrl-C to stop.", flush=True)
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
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        broker.stop()
        print("demo stopped")
