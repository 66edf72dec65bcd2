"""The touchscreen's view of a batch's photos: thumbnails grouped by the step that names them."""

from __future__ import annotations

import json

from sqlite_utils import Database

from edge_agent.queries import batch_thumbnails, step_event_bodies


def batch_photos(db: Database, batch_id: str) -> dict[int, list[str]]:
    """Thumbnails of the batch's photos by the step seq that names them (0: not a step's)."""
    thumbs = batch_thumbnails(db, batch_id)
    out: dict[int, list[str]] = {}
    named: set[str] = set()
    for seq, body in step_event_bodies(db, batch_id):
        shas = [sha for sha in json.loads(body).get("photos", []) if sha in thumbs]
        named.update(shas)
        out[seq] = [thumbs[sha] for sha in shas]
    out[0] = [thumb for full, thumb in thumbs.items() if full not in named]
    return out
