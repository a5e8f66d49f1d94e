"""Benchmark: the per-tick DSP alone — A-law decode, DTMF (the tick's receiver, hal.dsp.dtmf_rx) and call-progress detection over
every channel — against the number of channels (8, 30, 60, 120).

Run: ``.venv/bin/pytest tests/bench --benchmark-enable``
"""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.dtmf_rx import DtmfBank
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.progress import ProgressBank

CHANNELS = [8, 30, 60, 120]


def _rx(channels: int) -> np.ndarray:
    rng = np.random.default_rng(2)
    t = np.arange(160) / 8000
    return linear_to_alaw((3000 * np.sin(2 * np.pi * 450 * t) + rng.normal(0, 800, (channels, 160))).astype(np.int16))


@pytest.mark.parametrize("channels", CHANNELS)
def test_dtmf_and_progress(benchmark, channels: int) -> None:
    rx, dtmf, progress = _rx(channels), DtmfBank(channels), ProgressBank(channels)
    chans = list(range(channels))

    def tick() -> int:
        lin = alaw_to_linear(rx)
        return len(dtmf.process(lin, chans)) + len(progress.process(lin, chans))

    assert benchmark(tick) >= 0


@pytest.mark.parametrize("channels", CHANNELS)
def test_progress_only(benchmark, channels: int) -> None:
    lin, progress = alaw_to_linear(_rx(channels)), ProgressBank(channels)
    chans = list(range(channels))
    benchmark(lambda: progress.process(lin, chans))
    assert progress.run[0] > 0
