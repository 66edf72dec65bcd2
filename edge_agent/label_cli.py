"""``ocop label print``: print a batch's labels from the command line through the print queue."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from edge_agent import queries
from edge_agent.config import PRINT_FORMATS, EdgeConfig

if TYPE_CHECKING:
    from edge_agent.agent import Agent


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "print", help="print a batch's labels (same queue as the touchscreen)"
    )
    p.add_argument("--config", help="edge.toml (default: $OCOP_EDGE_CONFIG or /etc/ocop/edge.toml)")
    p.add_argument("--lot", required=True, help="the batch's lot code")
    p.add_argument("--copies", type=int, default=1, help="how many labels")
    p.add_argument("--unit", action="store_true", help="one serial and signed code per label")
    p.add_argument("--reprint", type=int, help="repeat the print run with this event seq")
    p.add_argument("--format", choices=PRINT_FORMATS, help="override printer.format")
    p.set_defaults(func=cmd_print)


def cmd_print(args: argparse.Namespace) -> int:
    from edge_agent.agent import open_agent
    from edge_agent.cli import _config

    cfg = _config(args)
    agent = open_agent(cfg, with_sync=False)
    try:
        return _print(agent, cfg, args)
    finally:
        agent.close()


def _print(agent: Agent, cfg: EdgeConfig, args: argparse.Namespace) -> int:
    from edge_agent.batches import DomainError
    from edge_agent.printing import request_print
    from edge_agent.web.i18n import translate

    with agent.journal.store.read() as db:
        batch_id = queries.batch_id_for_lot(db, args.lot)
    if batch_id is None:
        print(f"error: no batch with lot {args.lot}", file=sys.stderr)
        return 2
    try:
        event = request_print(
            agent.journal,
            batch_id,
            copies=args.copies,
            unit=args.unit,
            fmt=args.format or cfg.printer.format,
            printer=cfg.printer.kind,
            reprint_of=args.reprint,
        )
    except DomainError as exc:
        print(f"error: {translate('err_' + exc.code, 'en', **exc.params)}", file=sys.stderr)
        return 2
    queue = agent.print_queue
    with agent.journal.store.read() as db:
        job_id = queries.print_job_for_event(db, event.seq)
    assert job_id is not None  # queued in the event's own transaction
    queue.run_once(only=job_id)
    job = next(j for j in queue.jobs(batch_id) if j.id == job_id)
    serials = event.body.get("serial_from"), event.body.get("serial_to")
    print(
        f"print run {event.seq}: {job.done}/{job.copies} labels, state {job.state}"
        + (f", serials {serials[0]}-{serials[1]}" if serials[0] else "")
    )
    if job.state != "done":
        print(f"the agent's queue will retry: {job.error}", file=sys.stderr)
        return 1
    return 0
