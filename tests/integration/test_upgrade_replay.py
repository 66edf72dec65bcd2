"""An old server meets a new agent's events, then is upgraded (issue 15, "Upgrades"), on SQLite
and PostgreSQL.

The old server is the real code from before issue 15 (commit ``OLD_SERVER``, taken out of git
into a folder and run as its own process): it migrates its database to its own newest revision,
then verifies and commits a new agent's receipts, uses, shipments, corrections and a void without
knowing them (the chain never stalls). ``ocop server init-db`` of this checkout then migrates the
database and replays the journal once: the supply projections are exactly what a server that
knew the events all along made of them.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.commit import ingest_chunks
from sync_server.store.db import create_schema, events, open_engine
from sync_server.store.supply_tables import projection_versions
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.alembic_head import head_revision
from tests.unit.server.conftest import CATALOG, DEV, REPO
from tests.unit.server.supply_chain import LINE2, Scenario, snapshot
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey

pytestmark = pytest.mark.integration

OLD_SERVER = "abc6df7"  # the last commit before issue 15 touched the server
OLD_INGEST = """
import json, sys
from pathlib import Path
import sync_server
from sync_server.store.db import create_schema, open_engine
from sync_server.store.migrations import current_revision
from sync_server.devices.registry import import_catalog, register_device
from sync_server.ingest.commit import ingest_chunk
url, catalog, plan = sys.argv[1], Path(sys.argv[2]), json.loads(Path(sys.argv[3]).read_text())
assert Path(sync_server.__file__).resolve().is_relative_to(Path.cwd().resolve())
engine = open_engine(url)
create_schema(engine)
import_catalog(engine, catalog, "http://x")
for dev, key in plan["devices"].items():
    register_device(engine, dev, "KC", key)
acks = []
for dev, payload in plan["chunks"]:
    ack = ingest_chunk(engine, dev, payload.encode()).ack
    acks.append([dev, ack.upto, ack.error.code if ack.error else None])
with engine.connect() as conn:
    print(json.dumps({"revision": current_revision(conn), "acks": acks}))
"""


def _old_server(tmp: Path) -> Path:
    """The server's code as it was at OLD_SERVER, in a folder of its own."""
    folder = tmp / "old"
    folder.mkdir()
    got = subprocess.run(
        ["git", "-C", str(REPO), "archive", OLD_SERVER, "sync_server", "trace_protocol"],
        capture_output=True,
    )
    assert got.returncode == 0, (
        f"commit {OLD_SERVER} is not in this clone (a shallow clone?): {got.stderr.decode()}"
    )
    archive = got.stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def test_an_old_server_commits_new_events_and_projects_them_after_its_upgrade(
    database_url: str, tmp_path: Path
) -> None:
    keys = DeviceKey.generate(), DeviceKey.generate()
    streams = Scenario(ChainBuilder(keys[0], DEV), ChainBuilder(keys[1], LINE2)).build()
    # Line 2's use of line 1's receipt first, in two chunks per device: any order must do.
    chunks = [
        (dev, encode_chunk(dev, part).decode())
        for dev in (LINE2, DEV)
        for part in (streams[dev][:3], streams[dev][3:])
    ]
    plan = tmp_path / "plan.json"
    plan.write_text(
        json.dumps(
            {
                "devices": {DEV: keys[0].public_key_b64, LINE2: keys[1].public_key_b64},
                "chunks": chunks,
            }
        )
    )
    old = subprocess.run(
        [sys.executable, "-c", OLD_INGEST, database_url, str(CATALOG), str(plan)],
        cwd=_old_server(tmp_path),
        capture_output=True,
        text=True,
    )
    assert old.returncode == 0, old.stderr
    report = json.loads(old.stdout.splitlines()[-1])
    assert report["revision"] == "0005"
    # The old server committed everything, refused nothing: the chain did not stall.
    assert report["acks"][-1] == [DEV, len(streams[DEV]), None]
    assert [a[2] for a in report["acks"]] == [None] * 4
    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            assert "receipts" not in inspect(conn).get_table_names()
            assert len(conn.execute(select(events.c.seq)).all()) == sum(map(len, streams.values()))

        conf = tmp_path / "server.toml"
        conf.write_text(
            f'data_dir = "{tmp_path / "srv"}"\ndatabase_url = "{database_url}"\n', encoding="utf-8"
        )
        cmd = [sys.executable, "-m", "ocop_cli.main", "server", "--config", str(conf), "init-db"]
        upgraded = subprocess.run(cmd, capture_output=True, text=True, check=True)
        assert f"database ready at revision {head_revision()}" in upgraded.stdout
        with engine.connect() as conn:
            assert conn.execute(select(projection_versions.c.version)).scalar() == 1
        got = snapshot(engine)
    finally:
        engine.dispose()
    assert got == _known_all_along(tmp_path, keys, streams)


def _known_all_along(
    tmp: Path,
    keys: tuple[DeviceKey, DeviceKey],
    streams: dict[str, list[Event]],
) -> dict[str, list[tuple[object, ...]]]:
    """What this server projects when it receives the same journals itself."""
    engine = open_engine(f"sqlite:///{tmp / 'new.db'}")
    try:
        create_schema(engine)
        import_catalog(engine, CATALOG, "http://x")
        register_device(engine, DEV, "KC", keys[0].public_key_b64)
        register_device(engine, LINE2, "KC", keys[1].public_key_b64)
        ingest_chunks(engine, [(d, encode_chunk(d, evs)) for d, evs in streams.items()])
        return snapshot(engine)
    finally:
        engine.dispose()
