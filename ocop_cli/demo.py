"""``ocop demo``: a local broker, the server and one edge agent with the seeds' facilities."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from importlib import resources
from pathlib import Path
from types import FrameType

from ocop_cli.broker import BrokerError, Mosquitto, wait_for_port

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


def _write_configs(data: Path, mqtt_port: int, server_port: int, edge_port: int) -> None:
    (data / "server.toml").write_text(
        f'data_dir = "{(data / "server").resolve()}"\n'
        f'public_base_url = "http://127.0.0.1:{server_port}"\n\n'
        f"[http]\nport = {server_port}\n\n[mqtt]\nport = {mqtt_port}\n",
        encoding="utf-8",
    )
    subprocess.run(
        _ocop(
            "edge",
            "init",
            "--device-id",
            DEMO_DEVICE,
            "--data-dir",
            str(data / "edge"),
            "--out",
            str(data / "edge.toml"),
            "--mqtt-port",
            str(mqtt_port),
            "--ui-port",
            str(edge_port),
        ),
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _setup_server(data: Path) -> None:
    srv = ["server", "--config", str(data / "server.toml")]
    subprocess.run(_ocop(*srv, "init-db"), check=True, stdout=subprocess.DEVNULL)
    catalogs = resources.files("ocop_cli") / "data"
    for name in DEMO_CATALOGS:
        with resources.as_file(catalogs / name) as path:
            subprocess.run(_ocop(*srv, "import-catalog", str(path)), check=True)
    key = subprocess.run(
        _ocop("edge", "--config", str(data / "edge.toml"), "show-key"),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    subprocess.run(
        _ocop(
            *srv,
            "register-device",
            "--device",
            DEMO_DEVICE,
            "--facility",
            DEMO_FACILITY,
            "--public-key",
            key,
        ),
        check=True,
    )


def _seed_edge(data: Path, public_base_url: str) -> None:
    """Record one finished rice batch on the demo agent, so a consumer page exists at once."""
    import json

    from edge_agent import batches
    from edge_agent.agent import open_agent
    from edge_agent.config import load_config
    from trace_protocol.catalog import parse_catalog

    agent = open_agent(load_config(data / "edge.toml"), with_sync=False)
    try:
        if agent.journal.head() > 0:
            return
        raw = json.loads((resources.files("ocop_cli") / "data" / DEMO_CATALOGS[0]).read_text())
        catalog = parse_catalog({**raw, "version": 1, "public_base_url": public_base_url})
        agent.accept_catalog(catalog)
        batch = batches.open_batch(agent.journal, catalog, "NM", "")
        batch_id = batch.body["batch"]
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
    broker = Mosquitto(data / "broker", args.mqtt_port or None)
    try:
        broker.start()
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    children: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    try:
        _write_configs(data, broker.port, args.server_port, args.edge_port)
        _setup_server(data)
        _seed_edge(data, f"http://127.0.0.1:{args.server_port}")
        logs = (data / "server.log").open("ab"), (data / "edge.log").open("ab")
        children.append(
            subprocess.Popen(
                _ocop("server", "--config", str(data / "server.toml"), "run"),
                stdout=logs[0],
                stderr=subprocess.STDOUT,
            )
        )
        subprocess.run(
            _ocop("server", "--config", str(data / "server.toml"), "publish-config"), check=True
        )
        children.append(
            subprocess.Popen(
                _ocop("edge", "--config", str(data / "edge.toml"), "run"),
                stdout=logs[1],
                stderr=subprocess.STDOUT,
            )
        )
        for port, name in ((args.server_port, "server"), (args.edge_port, "edge agent")):
            if not wait_for_port(port, 45):
                print(
                    f"error: the {name} did not start on port {port}; see {data}/*.log",
                    file=sys.stderr,
                )
                return 1
        print(f"OCOP demo running (data in {data}):")
        print(f"  touchscreen (edge agent): http://127.0.0.1:{args.edge_port}/")
        print(f"  server, public pages:     http://127.0.0.1:{args.server_port}/")
        print(f"  MQTT broker:              127.0.0.1:{broker.port}")
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
