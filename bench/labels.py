"""Benchmark label rendering: 1,000 unit labels per format against a naive baseline (issue #5).

Run from the repository root: ``.venv/bin/python -m bench.labels`` (``--help`` for options).
The baseline is what a first attempt does per label: ``qrcode.make()`` plus a PIL image,
measured in the same run (and without even drawing the text, so the ratios are a lower
bound). Each format renders the whole job in one call, text caches cleared first, so it
pays for its one text raster; the best of ``--repeats`` runs counts. Prints a table and
writes the figures to ``bench/results-labels.json``. Bounded: the slow per-label paths
(baseline, PNG) stop after ``--budget`` seconds and report the rate measured so far.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import pathlib
import platform
import sys
import time
from collections.abc import Callable, Sequence

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from label_printer import LabelContent, render_escpos, render_pdf_sheet, render_png
from label_printer import job as label_job
from label_printer.render_tspl import render_tspl
from label_printer.render_zpl import render_zpl

RESULTS = pathlib.Path(__file__).with_name("results-labels.json")
GOALS = {"zpl": 50.0, "tspl": 50.0, "pdf-sheet": 5.0, "png": 5.0}  # x baseline: issues 5, 17
SAMPLE = LabelContent(
    product_name="Gạo Ngọc Mầm",
    producer="Công ty TNHH MTV KC — Thạch Đài, Thạch Hà, Hà Tĩnh",
    ocop_stars=4,
    lot="KC-NM-261122-01",
    production_date=datetime.date(2022, 11, 26),
    expiry_date=datetime.date(2023, 11, 26),
    url="-",
    extra_lines=("Khối lượng tịnh: 5 kg",),
)
UNIT_URL = "https://ocop.vn/01/08930000000017/10/KC-NM-261122-01/21/{:06d}?s={:08X}"


def unit_labels(count: int) -> list[LabelContent]:
    """``count`` unit labels of one batch, each with its own serial and signature."""
    return [
        dataclasses.replace(SAMPLE, url=UNIT_URL.format(n, (n * 2654435761) & 0xFFFFFFFF))
        for n in range(1, count + 1)
    ]


def per_label_rate(render: Callable[[LabelContent], object], labels: Sequence[LabelContent],
                   budget_s: float) -> tuple[int, float]:  # fmt: skip
    """Render one label at a time until done or out of time: (labels done, seconds)."""
    start = time.perf_counter()
    done = 0
    for content in labels:
        render(content)
        done += 1
        if time.perf_counter() - start > budget_s:
            break
    return done, time.perf_counter() - start


def naive(content: LabelContent) -> object:
    return qrcode.make(content.url, error_correction=ERROR_CORRECT_M).get_image()


def job_rate(render: Callable[[list[LabelContent]], bytes], labels: list[LabelContent],
             repeats: int) -> tuple[int, float, int]:  # fmt: skip
    """Best time of ``repeats`` whole-job renders, text caches cleared before each."""
    best, size = float("inf"), 0
    for _ in range(repeats):
        label_job.clear_caches()
        start = time.perf_counter()
        size = len(render(labels))
        best = min(best, time.perf_counter() - start)
    return len(labels), best, size


def run(count: int, repeats: int, budget_s: float) -> dict[str, object]:
    labels = unit_labels(count)
    rows: dict[str, dict[str, float]] = {}
    done, seconds = per_label_rate(naive, labels, budget_s)
    baseline = done / seconds
    rows["baseline"] = {"labels": done, "seconds": seconds, "per_second": baseline, "ratio": 1.0}
    jobs: dict[str, Callable[[list[LabelContent]], bytes]] = {
        "zpl": render_zpl,
        "tspl": render_tspl,
        "escpos": render_escpos,
        "pdf-sheet": render_pdf_sheet,
    }
    for name, render in jobs.items():
        done, seconds, size = job_rate(render, labels, repeats)
        rate = done / seconds
        rows[name] = {"labels": done, "seconds": seconds, "per_second": rate,
                      "ratio": rate / baseline, "bytes": size}  # fmt: skip
    label_job.clear_caches()
    done, seconds = per_label_rate(render_png, labels, budget_s)
    rows["png"] = {"labels": done, "seconds": seconds, "per_second": done / seconds,
                   "ratio": done / seconds / baseline}  # fmt: skip
    met = {name: rows[name]["ratio"] >= goal for name, goal in GOALS.items()}
    return {
        "labels": count,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
        "goals": GOALS,
        "goals_met": met,
        "results": rows,
    }


def table(report: dict[str, object]) -> str:
    rows = report["results"]
    assert isinstance(rows, dict)
    lines = [f"{'format':<10} {'labels':>6} {'seconds':>8} {'labels/s':>10} {'x base':>8}  goal"]
    for name, row in rows.items():
        goal = GOALS.get(name)
        verdict = (
            "" if goal is None else f">= {goal:g}x " + ("ok" if row["ratio"] >= goal else "MISSED")
        )
        lines.append(
            f"{name:<10} {row['labels']:>6} {row['seconds']:>8.3f} {row['per_second']:>10.0f} "
            f"{row['ratio']:>7.1f}x  {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.labels", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--labels", type=int, default=1000, help="unit labels per format")
    parser.add_argument("--repeats", type=int, default=3, help="runs per format; the best counts")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds at most for each per-label path (baseline, png)")  # fmt: skip
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="JSON results file")
    parser.add_argument("--check", action="store_true", help="exit 1 if a goal is missed")
    args = parser.parse_args(argv)
    report = run(args.labels, max(1, args.repeats), args.budget)
    print(table(report))
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")
    met = report["goals_met"]
    assert isinstance(met, dict)
    return 1 if args.check and not all(met.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
