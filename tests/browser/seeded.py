"""A server that already holds one closed KC batch with unit labels, for the consumer-page tests:
the batch is recorded by the edge's own code and ingested as the sync would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update

from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from ocop_cli.broker import free_port
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import devices
from tests.integration.harness import KC_CATALOG, EdgeEnv, ServerEnv, enrol, make_edge, make_server
from tests.integration.prefill import prefill
from trace_protocol.catalog import parse_catalog
from trace_protocol.envelope import Event
from trace_protocol.messages import encode_chunk
from trace_protocol.unit_codes import encode_label_key, load_or_create_label_key


@dataclass(frozen=True)
class SeededBatch:
    server: ServerEnv
    edge: EdgeEnv
    batch_id: str
    lot: str
    label_key: bytes
    events: list[Event]


def server_with_a_closed_batch(tmp_path: Path, steps: int, server_toml: str = "") -> SeededBatch:
    """``steps`` recorded steps, closed with 25 units, three unit labels printed; the server
    has committed it all and knows the device's unit-label key, as enrolment would."""
    server = make_server(tmp_path, free_port(), server_toml)
    edge = make_edge(tmp_path, "kc-line-1", free_port())
    enrol(server, edge)
    prefill(edge, steps)
    config = load_config(edge.config_path)
    agent = open_agent(config, with_sync=False)
    try:
        opened = agent.journal.events_after(0, 1)[0]
        catalog = parse_catalog(
            {
                **json.loads(KC_CATALOG.read_text(encoding="utf-8")),
                "version": 1,
                "public_base_url": "http://x",
            }
        )
        batch_id = str(opened.body["batch"])
        batches.close_batch(agent.journal, catalog, batch_id, "25")
        batches.issue_labels(
            agent.journal, batch_id, copies=3, unit=True, fmt="pdf", printer="file"
        )
        events = agent.journal.events_after(0, 100)
    finally:
        agent.close()
    result = ingest_chunk(server.engine, edge.dev, encode_chunk(edge.dev, events))
    assert result.ack is not None and result.ack.upto == len(events)
    label_key = load_or_create_label_key(config.label_key_path)
    with server.engine.begin() as conn:
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == edge.dev)
            .values(label_key=encode_label_key(label_key))
        )
    return SeededBatch(server, edge, batch_id, str(opened.body["lot"]), label_key, events)
