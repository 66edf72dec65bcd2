"""The kit as an attacker meets it: Mosquitto with per-device logins, `ocop server run`, and
enrolled `ocop edge run` agents, each a real process (issue 12)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocop_cli.broker import Mosquitto
from sync_server.devices.broker_auth import write_broker_auth
from tests.integration.harness import (
    EdgeEnv,
    Processes,
    ServerEnv,
    enrol_with_token,
    make_edge,
    make_server,
)


@dataclass
class SecuredKit:
    server: ServerEnv
    broker: Mosquitto
    auth_dir: Path
    passwords: dict[str, str]

    def enrol_edge(self, tmp: Path, dev: str, facility: str = "KC") -> EdgeEnv:
        """A device enrolled with a one-time token; its broker password where the agent looks."""
        edge = make_edge(tmp, dev, self.broker.port)
        password = enrol_with_token(self.server, dev, edge.key, facility)
        self.passwords[dev] = password
        (edge.dir / "data" / "mqtt-password").write_text(password + "\n", encoding="utf-8")
        self.sync_broker()
        return edge

    def enrol_key_only(self, dev: str, facility: str = "KC") -> str:
        """A device with no agent (the attacker's own): returns its broker password."""
        from trace_protocol.signing import DeviceKey

        password = enrol_with_token(self.server, dev, DeviceKey.generate(), facility)
        self.passwords[dev] = password
        self.sync_broker()
        return password

    def sync_broker(self) -> None:
        write_broker_auth(self.server.engine, self.auth_dir)
        self.broker.reload()


def start_secured_kit(
    tmp: Path, broker_factory: Callable[..., Mosquitto], procs: Processes
) -> SecuredKit:
    """Broker first (its password files exist before it starts), then the server on the
    broker's server listener."""
    auth_dir = tmp / "broker-auth"
    first = make_server(tmp, 0)
    write_broker_auth(first.engine, auth_dir)
    first.engine.dispose()
    broker = broker_factory(auth_dir=auth_dir)
    server = make_server(
        tmp,
        broker.server_port,
        f'[broker]\nauth_dir = "{auth_dir}"\nreload_command = "{broker.reload_command}"\n',
    )
    server.run(procs)
    return SecuredKit(server, broker, auth_dir, {})
