"""Decode JSON from an untrusted peer within bounds: size, nesting depth, node count, no NaN.

Issue 12, finding 3: ``json.loads`` of ``[`` × 2000 raises ``RecursionError`` (and a 5,000-digit
number raises a plain ``ValueError``), neither of which callers expecting ``JSONDecodeError``
caught. Here every way a payload can fail becomes one :class:`JSONBoundsError`.

Depth is bounded while decoding by CPython's C scanner, which raises ``RecursionError`` past the
interpreter's recursion limit (a documented, tested behaviour of the ``json`` module, so no deep
structure is ever built), and then, exactly, by an iterative walk that stops at ``max_depth`` or
``max_nodes``: nothing downstream (hashing, canonical JSON, templates) meets a structure deeper
than the protocol allows, and a payload can cost at most ``max_nodes`` steps of Python.
"""

from __future__ import annotations

import json
from typing import Any

DEFAULT_MAX_DEPTH = 20
DEFAULT_MAX_NODES = 100_000


class JSONBoundsError(ValueError):
    """The payload is not JSON, or it is JSON beyond the bounds; the message says which."""


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def loads_bounded(
    payload: bytes | str,
    *,
    max_bytes: int,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Any:
    """Decode ``payload``; raise :class:`JSONBoundsError` for anything out of bounds.

    ``max_depth`` counts containers: ``{"a": [1]}`` has depth 2, a bare scalar depth 0.
    """
    if len(payload) > max_bytes:
        raise JSONBoundsError(f"payload of {len(payload)} bytes exceeds {max_bytes}")
    try:
        value = json.loads(payload, parse_constant=_no_constants)
    except RecursionError:
        raise JSONBoundsError(f"JSON nested deeper than {max_depth} levels") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, int digits limit, NaN
        raise JSONBoundsError(f"payload is not JSON: {str(exc)[:200]}") from None
    check_bounds(value, max_depth=max_depth, max_nodes=max_nodes)
    return value


def check_bounds(
    value: Any, *, max_depth: int = DEFAULT_MAX_DEPTH, max_nodes: int = DEFAULT_MAX_NODES
) -> None:
    """Raise :class:`JSONBoundsError` if ``value`` is deeper or larger than allowed."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > max_nodes:
            raise JSONBoundsError(f"JSON has more than {max_nodes} values")
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > max_depth:
            raise JSONBoundsError(f"JSON nested deeper than {max_depth} levels")
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
            else:
                nodes += 1
        if nodes > max_nodes:
            raise JSONBoundsError(f"JSON has more than {max_nodes} values")
