"""Bounded-memory latency histograms (log buckets, ~4 % wide) that merge across processes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

BASE = 1.04
MIN_S = 1e-4  # everything faster lands in bucket 0


def _bucket(seconds: float) -> int:
    if seconds <= MIN_S:
        return 0
    return 1 + int(math.log(seconds / MIN_S, BASE))


def _upper(bucket: int) -> float:
    return MIN_S * BASE**bucket


@dataclass
class Histogram:
    counts: dict[int, int] = field(default_factory=dict)
    n: int = 0
    total: float = 0.0
    max: float = 0.0

    def add(self, seconds: float) -> None:
        b = _bucket(seconds)
        self.counts[b] = self.counts.get(b, 0) + 1
        self.n += 1
        self.total += seconds
        self.max = max(self.max, seconds)

    def merge(self, other: Histogram) -> None:
        for b, c in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + c
        self.n += other.n
        self.total += other.total
        self.max = max(self.max, other.max)

    def quantile(self, q: float) -> float:
        """The upper edge of the bucket holding the q-quantile (never above the max)."""
        if self.n == 0:
            return 0.0
        rank = q * self.n
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                return min(_upper(b), self.max)
        return self.max

    def summary(self) -> dict[str, float]:
        return {
            "n": self.n,
            "mean_s": round(self.total / self.n, 4) if self.n else 0.0,
            "p50_s": round(self.quantile(0.50), 4),
            "p95_s": round(self.quantile(0.95), 4),
            "p99_s": round(self.quantile(0.99), 4),
            "max_s": round(self.max, 4),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "counts": {str(b): c for b, c in self.counts.items()},
            "n": self.n,
            "total": self.total,
            "max": self.max,
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Histogram:
        return cls(
            {int(b): int(c) for b, c in obj["counts"].items()},
            int(obj["n"]),
            float(obj["total"]),
            float(obj["max"]),
        )
