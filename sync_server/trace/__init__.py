"""Trace (issue 15): from any lot, the graph backward to its inputs and suppliers and forward to
the batches that used it and their customers, across the kit's facilities.

``graph`` is the pure closure, ``lots`` its queries on the server's tables, ``model`` the
result, ``tree`` the result as nested lists for the CLI and the office page. Imports ``store``
and ``config`` only; ``web`` may import it.
"""

from __future__ import annotations

from sync_server.trace.lots import trace_backward, trace_forward
from sync_server.trace.model import LotNode, ShipmentRow, SupplierRow, Trace, trace_json

__all__ = [
    "LotNode",
    "ShipmentRow",
    "SupplierRow",
    "Trace",
    "trace_backward",
    "trace_forward",
    "trace_json",
]
