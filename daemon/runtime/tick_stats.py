"""How long the daemon's ticks take: a fixed histogram that costs a few operations per tick, read as
percentiles (p50, p99, p99.9, worst) by ``status`` and the load benchmark.

The worst tick matters more than the median: a tick that runs past its 20 ms (or past the board's
transmit buffer) is lost audio and a broken MF sequence. Buckets are 50 us wide up to 100 ms; a
tick beyond that lands in the last bucket (the exact worst is kept apart).
"""

from __future__ import annotations

import numpy as np

BUCKET_S = 50e-6
BUCKETS = 2000  # 0 .. 100 ms


class TickStats:
    def __init__(self) -> None:
        self.counts = np.zeros(BUCKETS + 1, np.int64)
        self.count = 0
        self.worst_s = 0.0
        self.over_frame = 0  # ticks that took longer than a 20 ms frame

    def add(self, cost_s: float) -> None:
        """One tick's cost, in seconds (called on every tick: constant work)."""
        i = int(cost_s / BUCKET_S)
        self.counts[i if i < BUCKETS else BUCKETS] += 1
        self.count += 1
        if cost_s > self.worst_s:
            self.worst_s = cost_s
        if cost_s > 0.020:
            self.over_frame += 1

    def percentile_ms(self, p: float) -> float:
        """The upper edge (ms) of the bucket holding the ``p``-th percentile; 0 with no ticks yet."""
        if self.count == 0:
            return 0.0
        rank = int(np.ceil(p * self.count / 100.0 - 1e-9))  # 99.9 % of 1000 is 999, not 1000
        i = int(np.searchsorted(np.cumsum(self.counts), max(rank, 1)))
        edge = self.worst_s if i >= BUCKETS else min((i + 1) * BUCKET_S, self.worst_s)
        return round(edge * 1000, 3)

    def summary(self) -> dict[str, float | int]:
        return {"ticks": self.count, "p50_ms": self.percentile_ms(50), "p99_ms": self.percentile_ms(99),
                "p999_ms": self.percentile_ms(99.9), "worst_ms": round(self.worst_s * 1000, 3),
                "over_20ms": self.over_frame}
