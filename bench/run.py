"""Run the benchmarks of issue #8 and report each figure beside its baseline from the same run.

``make bench`` (or ``.venv/bin/python -m bench``) runs them all, prints the table and writes
``bench/results.json``; docs/benchmarks.md says what each figure means. ``--quick`` runs
tiny sizes: only to check the code works (tests/integration/test_bench_smoke.py).
"""

from __future__ import annotations

import argparse
import pathlib
import tempfile
import time
import traceback
from collections.abc import Callable

from bench import drain, footprint, ingest, nginx, trace, web
from bench import labels as label_bench
from bench.report import (
    MIN_RATIO,
    BenchResult,
    Figure,
    build_report,
    machine_line,
    markdown_table,
    text_table,
    write_report,
)

RESULTS = pathlib.Path(__file__).with_name("results.json")
NAMES = ("ingest", "drain", "web", "labels", "footprint", "trace", "nginx")


def run_labels(workdir: pathlib.Path, *, quick: bool) -> BenchResult:
    """bench/labels.py as it is (issue #5), its rows turned into figures."""
    count, repeats, budget = (20, 1, 1.0) if quick else (1000, 3, 10.0)
    report = label_bench.run(count, repeats, budget)
    rows = report["results"]
    assert isinstance(rows, dict)
    base = float(rows["baseline"]["per_second"])
    figures = [
        Figure(
            "labels",
            f"{name} labels/s",
            float(row["per_second"]),
            "labels/s",
            base,
            "qrcode+PIL per label",
            label_bench.GOALS.get(name),
            MIN_RATIO if name in label_bench.GOALS else "",
        )
        for name, row in rows.items()
        if name != "baseline"
    ]
    return BenchResult(figures, {"labels": count, "results": rows})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--only",
        action="append",
        choices=NAMES,
        help="run only this benchmark (repeat for several)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run")
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--workdir", type=pathlib.Path, help="scratch folder (default: temporary)")
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=2,
        help="ocop server ingest processes in the ingest benchmark",
    )
    parser.add_argument(
        "--drain-workers",
        type=int,
        default=1,
        help="ocop server ingest processes in the drain benchmark",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args(argv)
    benches: dict[str, Callable[[pathlib.Path], BenchResult]] = {
        "ingest": lambda d: ingest.run(d, quick=args.quick, workers=args.ingest_workers),
        "drain": lambda d: drain.run(d, quick=args.quick, workers=args.drain_workers),
        "web": lambda d: web.run(d, quick=args.quick),
        "labels": lambda d: run_labels(d, quick=args.quick),
        "footprint": lambda d: footprint.run(d, quick=args.quick),
        "trace": lambda d: trace.run(d, quick=args.quick),
        "nginx": lambda d: nginx.run(d, quick=args.quick),
    }
    chosen = args.only or list(NAMES)
    results: dict[str, BenchResult] = {}
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ocop-bench-") as tmp:
        root = args.workdir or pathlib.Path(tmp)
        for name in chosen:
            print(f"== {name} …", flush=True)
            start = time.perf_counter()
            try:
                result = benches[name](root / name)
            except Exception:  # report the others; this one is marked as failed
                traceback.print_exc()
                failed.append(name)
                result = BenchResult(details={"error": traceback.format_exc(limit=3)})
            result.seconds = time.perf_counter() - start
            results[name] = result
            print(f"   {name} took {result.seconds:.0f} s", flush=True)
    report = build_report(results, quick=args.quick)
    figures = [f for r in results.values() for f in r.figures]
    print()
    print(text_table(figures))
    print(f"\nMachine: {machine_line(report['machine'])}")
    print(f"Goals met: {report['goals']['passed']} of {report['goals']['total']}")
    if failed:
        print(f"Benchmarks that failed to run: {', '.join(failed)}")
    write_report(report, args.out)
    (args.out.with_suffix(".md")).write_text(
        f"{markdown_table(figures)}\n\nMachine: {machine_line(report['machine'])}\n",
        encoding="utf-8",
    )
    print(f"written to {args.out} and {args.out.with_suffix('.md')}")
    return 1 if failed or (args.check and not report["goals_met"]) else 0
