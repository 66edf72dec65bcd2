"""The touchscreen's view of a batch's photos: thumbnails grouped by the step that names them."""

from __future__ import annotations

import json

from edge_agent.agent import Agent


def batch_photos(agent: Agent, batch_id: str) -> dict[int, list[str]]:
    """Thumbnails of the batch's photos by the step seq that names them (0: not a step's)."""
    with agent.journal.lock:
        conn = agent.journal.db.conn
        thumbs = dict(
            conn.execute(
                "SELECT f.photo_sha256, f.sha256 FROM photo_files f JOIN photos p"
                " ON p.sha256 = f.photo_sha256 WHERE p.batch_id = ? AND f.kind = 'thumb'"
                " AND f.evicted_at IS NULL",
                (batch_id,),
            ).fetchall()
        )
        step_bodies = conn.execute(
            "SELECT e.seq, e.body FROM events e JOIN steps s ON s.seq = e.seq WHERE s.batch_id = ?",
            (batch_id,),
        ).fetchall()
    out: dict[int, list[str]] = {}
    named: set[str] = set()
    for seq, body in step_bodies:
        shas = [sha for sha in json.loads(body).get("photos", []) if sha in thumbs]
        named.update(shas)
        out[seq] = [thumbs[sha] for sha in shas]
    out[0] = [thumb for full, thumb in thumbs.items() if full not in named]
    return out
