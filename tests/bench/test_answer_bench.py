"""Benchmark: the answer detector (hal.dsp.answer) per tick over channels awaiting an answer, on
ringback with line noise (the usual case) and on speech-like sound (every frame a class change).

Run: ``.venv/bin/pytest tests/bench/test_answer_bench.py --benchmark-enable``
"""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.answer import AnswerBank
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.tones import CHINA, ToneGenerator, ToneName

CHANNELS = [8, 30, 120]


def _ringback(channels: int, ticks: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    rb = ToneGenerator(CHINA[ToneName.RINGBACK]).generate(ticks * 160).astype(np.float64)
    x = rb[None, :] + rng.normal(0, 30, (channels, ticks * 160))
    return alaw_to_linear(linear_to_alaw(x.astype(np.int16))).reshape(channels, ticks, 160)


@pytest.mark.parametrize("channels", CHANNELS)
def test_answer_detector_on_ringback(benchmark, channels: int) -> None:
    frames = _ringback(channels, 250)  # 5 s: a whole ringback cycle
    bank, chans = AnswerBank(channels), list(range(channels))
    for ch in chans:
        bank.reset(ch)
    k = iter(range(10 ** 9))

    def tick() -> int:
        return len(bank.process(frames[:, next(k) % 250], chans))

    benchmark(tick)
    assert not any(m.done for m in bank.matchers)  # ringback is never decided


@pytest.mark.parametrize("channels", CHANNELS)
def test_answer_detector_worst_case_class_changes(benchmark, channels: int) -> None:
    rng = np.random.default_rng(4)
    loud = rng.normal(0, 3000, (channels, 160)).astype(np.int16)
    quiet = np.zeros((channels, 160), np.int16)
    bank, chans = AnswerBank(channels), list(range(channels))
    k = iter(range(10 ** 9))

    def tick() -> int:
        return len(bank.process(loud if next(k) % 2 else quiet, chans))

    benchmark(tick)
