"""Benchmark: what conferences and supervisor taps cost the media tick.

120 channels: 10 three-party conferences (30 channels, each hearing the sum of the two others), 10
supervised calls (two parties bridged, a supervisor listening or whispering or barging: 30 channels),
the other 60 channels bridged in pairs (the plain copy path). Measured: ``Media.transmit`` for the
whole tick (bridge copies, mixes, encode), against the same tick with no mixing at all.

Run: ``.venv/bin/pytest tests/bench/test_mixing_bench.py --benchmark-enable``
"""

from __future__ import annotations

import numpy as np
import pytest

from daemon.runtime.conference import Mode
from daemon.runtime.media import Media
from hal.dsp.g711 import linear_to_alaw

CHANNELS = 120


def _media(mixing: bool) -> tuple[Media, np.ndarray]:
    media = Media(CHANNELS)
    for ch in range(60, CHANNELS, 2):
        media.connect(ch, ch + 1)
    if mixing:
        for i in range(10):  # conferences of 3: channels 0..29
            media.rooms.create({3 * i + k: (Mode.TALK, None) for k in range(3)})
        for i in range(10):  # supervised calls: agent, caller, supervisor on channels 30..59
            agent, caller, sup = 30 + 3 * i, 31 + 3 * i, 32 + 3 * i
            media.connect(agent, caller)
            mode = (Mode.LISTEN, None) if i % 3 == 0 else (Mode.WHISPER, agent) if i % 3 == 1 else (Mode.TALK, None)
            media.rooms.create({agent: (Mode.TALK, None), caller: (Mode.TALK, None), sup: mode})
    else:
        for ch in range(0, 60, 2):
            media.connect(ch, ch + 1)
    rng = np.random.default_rng(1)
    t = np.arange(160) / 8000
    speechy = (3000 * np.sin(2 * np.pi * 300 * t) + rng.normal(0, 800, (CHANNELS, 160))).astype(np.int16)
    return media, linear_to_alaw(speechy)


@pytest.mark.parametrize("mixing", [False, True], ids=["bridges-only", "10conf+10taps"])
def test_transmit_cost(benchmark, mixing: bool) -> None:
    media, rx = _media(mixing)
    media.transmit(rx)  # build the mixer's tables once (they are rebuilt only when rooms change)
    benchmark(lambda: media.transmit(rx))
