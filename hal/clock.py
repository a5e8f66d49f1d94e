"""The frame clock: time as the board counts it.

The board is the clock master. Every 20 ms it delivers tick n; the host's notion of "now" for
everything that touches lines (signalling timers, cadences, timeouts) is ``n * 0.020`` seconds.
A test that steps an in-process board as fast as it likes therefore runs on a virtual clock with no
change to the code under test.
"""

from __future__ import annotations

FRAME_SAMPLES = 160  # 20 ms at 8000 Hz
SAMPLE_RATE = 8000
FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
FRAME_MS = 20


class FrameClock:
    """Counts ticks; ``now()`` is the time of the latest tick in seconds."""

    def __init__(self) -> None:
        self.tick = -1

    def advance(self, tick: int) -> int:
        """Record that board tick ``tick`` arrived; return how many ticks were skipped (0 normally)."""
        skipped = max(0, tick - self.tick - 1) if self.tick >= 0 else 0
        self.tick = tick
        return skipped

    def now(self) -> float:
        return max(self.tick, 0) * FRAME_SECONDS
