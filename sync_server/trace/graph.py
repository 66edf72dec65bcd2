"""The closure of a graph from its roots, one frontier at a time: pure, no SQL.

The caller gives the edges of a whole frontier at once (one database query per level of a
trace, never one per node); :func:`closure` keeps what it has seen, so cycles, diamonds and
self-loops end, and returns every node reachable from the roots with the edges met on the way.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

N = TypeVar("N", bound=Hashable)


@dataclass(frozen=True)
class Closure(Generic[N]):
    """What :func:`closure` found: the nodes reached (roots included) and the edges followed,
    each as ``(from, to)`` in the order the edge function gave them."""

    nodes: frozenset[N]
    edges: frozenset[tuple[N, N]]
    levels: int


def closure(
    roots: Iterable[N],
    edges_of: Callable[[frozenset[N]], Iterable[tuple[N, N]]],
    *,
    max_levels: int | None = None,
) -> Closure[N]:
    """Every node reachable from ``roots``. ``edges_of(frontier)`` returns the edges leaving the
    nodes of ``frontier`` (edges from other nodes are ignored); it is called once per level
    with the nodes first reached at the level before, so each node is expanded exactly once.
    ``max_levels`` stops after that many calls (None: until nothing new is reached)."""
    seen: set[N] = set(roots)
    found: set[tuple[N, N]] = set()
    frontier = frozenset(seen)
    levels = 0
    while frontier and (max_levels is None or levels < max_levels):
        levels += 1
        new: set[N] = set()
        for src, dst in edges_of(frontier):
            if src not in frontier:
                continue
            found.add((src, dst))
            if dst not in seen:
                seen.add(dst)
                new.add(dst)
        frontier = frozenset(new)
    return Closure(nodes=frozenset(seen), edges=frozenset(found), levels=levels)


def reverse(edges: Iterable[tuple[N, N]]) -> frozenset[tuple[N, N]]:
    """The same edges pointing the other way (a backward search's edges, in flow order)."""
    return frozenset((dst, src) for src, dst in edges)
