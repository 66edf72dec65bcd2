"""The end-of-run check: per device, the server's events are exactly what the simulator made.

For each device, seq by seq: the server holds the simulator's event (same hash, so same content,
same chain position and order), nothing twice, nothing the simulator did not make. Definitions:

- lost: a generated seq with no server row (after the drain; the run reports how long that took)
- duplicated: a seq or an event id committed more than once
- forks: a seq whose server hash differs from the generated one
- extra: server seqs beyond the device's generated head
- gaps: seqs missing on the server below its highest committed seq
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from sync_server.store.db import events


@dataclass
class CheckResult:
    devices: int = 0
    generated: int = 0
    committed: int = 0
    lost: int = 0
    duplicated: int = 0
    forks: int = 0
    extra: int = 0
    gaps: int = 0
    devices_incomplete: int = 0
    examples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.forks or self.extra or self.gaps)

    def note(self, text: str) -> None:
        if len(self.examples) < 10:
            self.examples.append(text)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def server_rows(engine: Engine, prefix: str) -> dict[str, list[tuple[int, str, str]]]:
    """``{dev: [(seq, hash, id), …]}`` ordered by seq, for devices whose id starts ``prefix``."""
    out: dict[str, list[tuple[int, str, str]]] = {}
    q = (
        select(events.c.dev_id, events.c.seq, events.c.hash, events.c.id)
        .where(events.c.dev_id.like(f"{prefix}%"))
        .order_by(events.c.dev_id, events.c.seq)
    )
    with engine.connect() as conn:
        for dev, seq, hash_, id_ in conn.execute(q):
            out.setdefault(dev, []).append((int(seq), str(hash_), str(id_)))
    return out


def check(
    generated: dict[str, list[str]], server: dict[str, list[tuple[int, str, str]]]
) -> CheckResult:
    res = CheckResult(devices=len(generated))
    for dev, hashes in sorted(generated.items()):
        rows = server.get(dev, [])
        res.generated += len(hashes)
        res.committed += len(rows)
        dup_seq = sum(n - 1 for n in Counter(r[0] for r in rows).values())
        dup_id = sum(n - 1 for n in Counter(r[2] for r in rows).values())
        if dup_seq or dup_id:
            res.duplicated += max(dup_seq, dup_id)
            res.note(f"{dev}: {dup_seq} seqs and {dup_id} ids committed more than once")
        by_seq = {r[0]: r[1] for r in rows}
        lost = [s for s in range(1, len(hashes) + 1) if s not in by_seq]
        forks = [s for s, h in by_seq.items() if s <= len(hashes) and h != hashes[s - 1]]
        extra = [s for s in by_seq if s > len(hashes)]
        top = max(by_seq, default=0)
        gaps = [s for s in range(1, top) if s not in by_seq]
        res.lost += len(lost)
        res.forks += len(forks)
        res.extra += len(extra)
        res.gaps += len(gaps)
        if lost:
            res.devices_incomplete += 1
            res.note(f"{dev}: {len(lost)} of {len(hashes)} not committed, first seq {lost[0]}")
        if forks:
            res.note(f"{dev}: server hash differs at seqs {forks[:5]}")
        if extra:
            res.note(f"{dev}: server holds seqs {extra[:5]} beyond the generated {len(hashes)}")
    unknown = sorted(set(server) - set(generated))
    for dev in unknown:
        res.extra += len(server[dev])
        res.note(f"{dev}: server holds events of a device no simulator ran")
    return res
