"""Who runs SQL on the edge: the store owns the connections, the touchscreen only reads through
``edge_agent/queries.py`` (issue 14). Checked on the source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
WEB = sorted((ROOT / "edge_agent" / "web").rglob("*.py"))
SQL = re.compile(r"\bexecute\(|\b(SELECT|INSERT INTO|DELETE FROM|UPDATE \w+ SET)\b")
# The journal's connection and lock belong to edge_agent/database.py; the rest of the agent asks
# the store for a reader or the writer.
REACH_IN = re.compile(r"\bjournal\.(db\b(?!\")|lock\b)|\.writer\b|\bdb\.conn\.close\(")


@pytest.mark.parametrize("path", WEB, ids=lambda p: str(p.relative_to(ROOT)))
def test_touchscreen_modules_contain_no_sql(path: Path) -> None:
    hits = [
        f"{n}: {line.strip()}"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SQL.search(line)
    ]
    assert hits == []


def test_the_checks_find_what_they_look_for() -> None:
    assert SQL.search('db.conn.execute("SELECT lot FROM batches")')
    assert SQL.search('"UPDATE print_jobs SET done = ?"')
    assert not SQL.search("render_template('batch.html', selected=True)")
    assert REACH_IN.search("with agent.journal.lock:")
    assert REACH_IN.search("rows = agent.journal.db.conn.execute(q)")
    assert REACH_IN.search("get_batch(agent.journal.db, batch_id)")
    assert not REACH_IN.search("with agent.journal.store.read() as db:")
    assert not REACH_IN.search('return self.data_dir / "journal.db"')


def test_only_the_store_and_the_journal_touch_the_connections() -> None:
    owners = {"edge_agent/database.py", "edge_agent/journal.py"}
    hits = []
    for path in sorted((ROOT / "edge_agent").rglob("*.py")):
        name = str(path.relative_to(ROOT))
        if name in owners:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if REACH_IN.search(line):
                hits.append(f"{name}:{n}: {line.strip()}")
    assert hits == []
