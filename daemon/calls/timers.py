"""Timers on the frame clock: call control's timeouts fire between ticks, never on wall time.

Because ``now`` is the board's tick count times 20 ms, a test that steps the board faster than real
time runs every timeout faster with no change here.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True)
class Timer:
    when: float
    seq: int
    fn: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = itertools.count()

    def call_at(self, when: float, fn: Callable[[], None]) -> Timer:
        t = Timer(when, next(self._seq), fn)
        heapq.heappush(self._heap, t)
        return t

    def run_due(self, now: float) -> int:
        n = 0
        while self._heap and self._heap[0].when <= now:
            t = heapq.heappop(self._heap)
            if not t.cancelled:
                t.fn()
                n += 1
        return n
