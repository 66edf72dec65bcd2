"""A trace as a tree from its root lots: nested branches for the CLI's text and the office page.

Backward, a lot's children are what it was made from; forward, what was made from it. A lot
met a second time (a diamond, or a cycle in bad data) is shown once more as ``repeated``
without its children, so the tree stays as small as the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

from sync_server.trace.model import OUTPUT, LotNode, ShipmentRow, Trace


@dataclass(frozen=True)
class Branch:
    """One lot in the tree, what hangs under it, and (forward) its shipments."""

    node: LotNode
    children: tuple[Branch, ...]
    repeated: bool = False
    shipments: tuple[ShipmentRow, ...] = ()


def build_tree(trace: Trace) -> tuple[Branch, ...]:
    """The branches from each of the trace's roots, depth first, children by date then lot."""
    nodes = {n.key: n for n in trace.lots}
    below: dict[str, list[str]] = {}
    for src, dst in trace.edges:
        parent, child = (src, dst) if trace.direction == "forward" else (dst, src)
        below.setdefault(parent, []).append(child)
    for children in below.values():
        children.sort(key=lambda k: (nodes[k].date, k))
    shipped: dict[str, list[ShipmentRow]] = {}
    for s in trace.shipments:
        shipped.setdefault(s.lot, []).append(s)
    expanded: set[str] = set()

    def grow(key: str) -> Branch:
        node = nodes[key]
        ships = tuple(shipped.get(node.lot, ())) if node.kind == OUTPUT else ()
        if key in expanded:
            return Branch(node=node, children=(), repeated=True)
        expanded.add(key)
        kids = tuple(grow(k) for k in below.get(key, ()))
        return Branch(node=node, children=kids, shipments=ships)

    return tuple(grow(k) for k in trace.roots if k in nodes)
