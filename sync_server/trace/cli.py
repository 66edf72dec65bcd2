"""``ocop server trace LOT``: a lot's trace backward or forward, as a text tree or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from sync_server.trace.lots import trace_backward, trace_forward
from sync_server.trace.model import OUTPUT, RECEIPT, LotNode, Trace, trace_json
from sync_server.trace.tree import Branch, build_tree

KIND_TEXT = {
    OUTPUT: "Lô thành phẩm / output lot",
    RECEIPT: "Lô nhập / receiving lot",
    "supplier": "Lô nhà cung cấp / supplier lot",
}
TITLE = {
    "backward": "Truy xuất ngược (nguồn gốc) / backward trace (inputs)",
    "forward": "Truy xuất xuôi (nơi nhận) / forward trace (uses and customers)",
}


def register_trace(sub: Any, config: Callable[[argparse.Namespace], Any]) -> None:
    """Add ``trace`` to ``ocop server``'s sub-commands."""
    p = sub.add_parser(
        "trace",
        help="trace a lot backward (inputs, suppliers) or forward (uses, customers)",
        description="LOT is an output lot, a receiving lot or a supplier's lot code.",
    )
    p.add_argument("lot", metavar="LOT")
    way = p.add_mutually_exclusive_group()
    way.add_argument("--backward", dest="direction", action="store_const", const="backward")
    way.add_argument("--forward", dest="direction", action="store_const", const="forward")
    p.add_argument("--supplier", metavar="ID", help="the supplier whose lot code LOT is")
    p.add_argument("--json", action="store_true", help="print JSON instead of a text tree")
    p.set_defaults(func=lambda args: cmd_trace(args, config(args)), direction=None)


def cmd_trace(args: argparse.Namespace, cfg: Any) -> int:
    """Both directions unless ``--backward`` or ``--forward``; exit 2 for an unknown lot."""
    from sync_server.service import open_server_engine
    from sync_server.store.db import reading

    ways = [args.direction] if args.direction else ["backward", "forward"]
    engine = open_server_engine(cfg)
    with reading(engine) as conn:
        traces = [
            (trace_backward if way == "backward" else trace_forward)(conn, args.lot, args.supplier)
            for way in ways
        ]
    engine.dispose()
    if not traces[0].found:
        which = f"{args.supplier}/{args.lot}" if args.supplier else args.lot
        print(f"error: không có lô {which} / no lot {which} on this server", file=sys.stderr)
        return 2
    if args.json:
        data: Any = [trace_json(t) for t in traces]
        print(json.dumps(data[0] if len(data) == 1 else data, ensure_ascii=False, indent=2))
    else:
        print("\n\n".join(render_text(t) for t in traces))
    return 0


def render_text(trace: Trace) -> str:
    """The trace as an indented tree, Vietnamese first, then suppliers or shipments."""
    lines = [f"{TITLE[trace.direction]}: {trace.root}"]
    for branch in build_tree(trace):
        _branch_lines(branch, "", "", lines)
    if trace.suppliers:
        lines += ["", "Nhà cung cấp / suppliers:"]
        for s in trace.suppliers:
            place = ", ".join(p for p in (s.commune, s.district, s.province) if p)
            lot = f" lô/lot {s.supplier_lot}" if s.supplier_lot else ""
            extra = f" · {s.certification}" if s.certification else ""
            lines.append(
                f"  {s.name} ({s.supplier_id}, {s.kind}){extra} · {place or '-'} →{lot}"
                f" {s.receipt_lot} @ {s.facility_code} {s.received_on}"
                f" · {s.material} {_qty(s.quantity)} {s.unit}"
            )
    if trace.direction == "forward":
        lines += ["", f"Giao hàng / shipments: {len(trace.shipments)}"]
        for sh in trace.shipments:
            contact = " · ".join(p for p in (sh.phone, sh.address) if p)
            lines.append(
                f"  {sh.shipped_on} {sh.lot} → {sh.customer_name} ({sh.customer_id})"
                f" {_qty(sh.quantity)} {sh.unit}" + (f" · {contact}" if contact else "")
            )
    return "\n".join(lines)


def _branch_lines(branch: Branch, lead: str, child_lead: str, out: list[str]) -> None:
    out.append(
        lead + _node_text(branch.node) + (" (đã nêu / see above)" if branch.repeated else "")
    )
    for sh in branch.shipments:
        out.append(
            f"{child_lead}   ⇢ giao / shipped {sh.shipped_on}: {sh.customer_name}"
            f" {_qty(sh.quantity)} {sh.unit}"
        )
    for i, child in enumerate(branch.children):
        last = i == len(branch.children) - 1
        _branch_lines(
            child,
            child_lead + ("└─ " if last else "├─ "),
            child_lead + ("   " if last else "│  "),
            out,
        )


def _node_text(n: LotNode) -> str:
    parts = [f"{KIND_TEXT[n.kind]} {n.key}"]
    if n.name:
        parts.append(n.name + (f" ({n.name_en})" if n.name_en and n.name_en != n.name else ""))
    if n.quantity is not None:
        parts.append(f"{_qty(n.quantity)} {n.unit}".strip())
    if n.facility_code:
        parts.append(n.facility_code)
    if n.date:
        parts.append(n.date)
    text = " · ".join(parts)
    return text + " [ĐÃ HỦY / VOIDED]" if n.voided else text


def _qty(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"
