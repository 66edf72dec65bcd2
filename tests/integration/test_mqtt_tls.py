"""The agent syncs over TLS to a broker whose certificate it checks (mqtt.tls, mqtt.ca_file)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ocop_cli.broker import Mosquitto, free_port
from tests.integration.harness import Processes, enrol, make_edge, make_server, wait_until
from tests.integration.prefill import prefill
from tests.tls_certs import make_tls_files


def _tls_broker(tmp_path: Path, broker_factory: Callable[..., Mosquitto]) -> tuple[Mosquitto, int]:
    tls = make_tls_files(tmp_path / "tls")
    tls_port = free_port()
    broker = broker_factory(
        extra_conf=(
            f"listener {tls_port} 127.0.0.1\n"
            f"cafile {tls.ca}\ncertfile {tls.cert}\nkeyfile {tls.key}\n"
            "tls_version tlsv1.2\n"
        )
    )
    return broker, tls_port


def test_agent_syncs_over_tls_and_refuses_a_broker_it_cannot_verify(
    tmp_path: Path, broker_factory: Callable[..., Mosquitto]
) -> None:
    broker, tls_port = _tls_broker(tmp_path, broker_factory)
    server = make_server(tmp_path, broker.port)  # the server stays on the loopback listener
    good = make_edge(
        tmp_path, "kc-line-1", tls_port, tls=True, ca_file=str(tmp_path / "tls" / "ca.pem")
    )
    # A CA the broker's certificate does not chain to: the agent must not connect.
    other = make_tls_files(tmp_path / "other-ca", ca_name="Somebody else")
    bad = make_edge(tmp_path, "kc-line-2", tls_port, tls=True, ca_file=str(other.ca))
    procs = Processes()
    try:
        for edge in (good, bad):
            enrol(server, edge)
        head = prefill(good, 5)
        prefill(bad, 5)
        server.run(procs)
        good.run(procs)
        bad.run(procs)
        wait_until(lambda: good.acked() == head, 30, "sync over TLS")
        assert server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = 'kc-line-1'") == head
        wait_until(
            lambda: "certificate verify failed" in (bad.dir / "log").read_text(errors="replace"),
            30,
            "the untrusted broker refused",
        )
        assert bad.acked() == 0
        assert server.scalar("SELECT COUNT(*) FROM events WHERE dev_id = 'kc-line-2'") == 0
    finally:
        procs.stop_all()
