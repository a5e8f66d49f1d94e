"""Benchmark: the cost of one whole 20 ms tick in the engine against the number of active channels.

Every channel has DTMF and call-progress detection on, half of them are bridged in pairs and a
quarter play a tone: the daemon's real tick (``Engine.on_tick``: events, media receive, timers,
outputs, media transmit) against an in-memory board. Target: 120 channels in under 2 ms.

Run: ``.venv/bin/pytest tests/bench --benchmark-enable``
"""

from __future__ import annotations

import numpy as np
import pytest

from daemon.config.model import Config
from daemon.runtime.engine import Engine
from hal.board import Tick
from hal.dsp.g711 import linear_to_alaw
from hal.dsp.tones import ToneName
from hal.ports import build_spans


class MemoryBoard:
    name = "memory"

    def __init__(self, layout: list[dict]) -> None:
        self.spans = build_spans(layout)
        self.sent = 0

    def send(self, tick, tx, commands) -> None:
        self.sent += 1


def _engine(channels: int) -> tuple[Engine, np.ndarray]:
    if channels <= 8:
        layout = [{"id": 1, "kind": "fxs", "ports": channels}]
    else:
        layout = [{"id": i + 1, "kind": "e1", "signalling": "cas"} for i in range(channels // 30)]
    board = MemoryBoard(layout)
    eng = Engine(Config(path="bench"), board, lambda *a: None)
    eng.attach()
    media = eng.media
    for ch in range(channels):
        media.detect(ch, "dtmf", True)
        media.detect(ch, "progress", True)
    for ch in range(0, channels // 2, 2):
        media.connect(ch, ch + 1)
    for ch in range(channels // 2, channels // 2 + channels // 4):
        media.play(ch, ToneName.RINGBACK)
    rng = np.random.default_rng(1)
    t = np.arange(160) / 8000
    speechy = (3000 * np.sin(2 * np.pi * 300 * t) + rng.normal(0, 800, (channels, 160))).astype(np.int16)
    return eng, linear_to_alaw(speechy)


@pytest.mark.parametrize("channels", [8, 30, 60, 120])
def test_tick_cost(benchmark, channels: int) -> None:
    eng, rx = _engine(channels)
    n = iter(range(10**9))
    benchmark(lambda: eng.on_tick(Tick(next(n), rx, [])))
    assert eng.board.sent > 0
