"""The trace closure (sync_server/trace/graph.py) on random graphs equals a brute-force search."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sync_server.trace.graph import closure, reverse

Edge = tuple[int, int]


def brute_force(roots: set[int], edges: set[Edge]) -> set[int]:
    """Reachability by relaxing every edge until nothing changes (no frontier, no queue)."""
    reached = set(roots)
    changed = True
    while changed:
        changed = False
        for src, dst in edges:
            if src in reached and dst not in reached:
                reached.add(dst)
                changed = True
    return reached


@st.composite
def graphs(draw: st.DrawFn) -> tuple[set[int], set[Edge]]:
    n = draw(st.integers(1, 25))
    node = st.integers(0, n - 1)
    edges = draw(st.sets(st.tuples(node, node), max_size=80))  # cycles, diamonds, self-loops
    roots = draw(st.sets(node, min_size=0, max_size=4))
    return roots, edges


@settings(max_examples=300, deadline=None)
@given(graphs(), st.booleans())
def test_closure_equals_brute_force(graph: tuple[set[int], set[Edge]], leaky: bool) -> None:
    roots, edges = graph
    frontiers: list[frozenset[int]] = []

    def edges_of(frontier: frozenset[int]) -> list[Edge]:
        frontiers.append(frontier)
        # A leaky edge function also returns edges of nodes outside the frontier: ignored.
        return sorted(edges) if leaky else sorted(e for e in edges if e[0] in frontier)

    found = closure(roots, edges_of)
    expected = brute_force(roots, edges)
    assert found.nodes == expected
    assert found.edges == {e for e in edges if e[0] in expected}
    # Each node is expanded exactly once, one call per level.
    assert sum(len(f) for f in frontiers) == len(expected)
    assert set().union(*frontiers) == expected if frontiers else not expected
    assert found.levels == len(frontiers)


@given(graphs())
def test_backward_is_forward_on_the_reversed_graph(graph: tuple[set[int], set[Edge]]) -> None:
    roots, edges = graph
    back = reverse(edges)
    found = closure(roots, lambda f: [e for e in back if e[0] in f])
    assert found.nodes == brute_force(roots, set(back))
    assert reverse(found.edges) <= edges


def test_max_levels_stops_early() -> None:
    chain = [(i, i + 1) for i in range(10)]
    found = closure([0], lambda f: [e for e in chain if e[0] in f], max_levels=3)
    assert found.nodes == {0, 1, 2, 3}
    assert found.levels == 3


def test_a_self_loop_and_a_cycle_end() -> None:
    edges = [(1, 1), (1, 2), (2, 3), (3, 1)]
    found = closure([1], lambda f: [e for e in edges if e[0] in f])
    assert found.nodes == {1, 2, 3}
    assert found.edges == set(edges)
    assert found.levels == 3  # {1}, {2}, {3}; then nothing new
