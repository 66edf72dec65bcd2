"""Fill an edge journal in-process (the agent not running) for sync tests that need volume."""

from __future__ import annotations

from edge_agent import batches
from edge_agent.agent import open_agent
from edge_agent.config import load_config
from tests.integration.harness import KC_CATALOG, EdgeEnv
from trace_protocol.catalog import parse_catalog


def prefill(edge: EdgeEnv, steps: int, base_url: str = "http://127.0.0.1:1") -> int:
    """One batch with ``steps`` milling steps; returns the journal head."""
    import json

    agent = open_agent(load_config(edge.config_path), with_sync=False)
    obj = json.loads(KC_CATALOG.read_text(encoding="utf-8"))
    catalog = parse_catalog({**obj, "version": 1, "public_base_url": base_url})
    agent.accept_catalog(catalog)
    opened = batches.open_batch(agent.journal, catalog, "NM", "")
    for _ in range(steps):
        batches.record_step(agent.journal, catalog, opened.body["batch"], "XAT", {}, "")
    head = agent.journal.head()
    agent.close()
    return head
