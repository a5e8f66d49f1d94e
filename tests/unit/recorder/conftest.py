"""Fixtures for the recorder: a Recorder in a temporary directory, and a two-party call to feed it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from hal.clock import FRAME_SAMPLES
from hal.dsp.g711 import ALAW_SILENCE
from recorder import Recorder, RecorderConfig

CHANNELS = 8


class Line:
    """A tiny stand-in for the tick: parties on channels send their frames; bridged pairs hear each other."""

    def __init__(self, channels: int = CHANNELS) -> None:
        self.rx = np.full((channels, FRAME_SAMPLES), ALAW_SILENCE, np.uint8)
        self.tx = np.full((channels, FRAME_SAMPLES), ALAW_SILENCE, np.uint8)
        self.bridges: list[tuple[int, int]] = []
        self.tick = 0

    def step(self, rec: Recorder, sends: dict[int, np.ndarray]) -> None:
        """One tick: ``sends`` = channel → its (ticks, 160) signal; frame ``self.tick`` of each is sent."""
        self.rx.fill(ALAW_SILENCE)
        for ch, sig in sends.items():
            self.rx[ch] = sig[self.tick]
        self.tx.fill(ALAW_SILENCE)
        for a, b in self.bridges:  # as daemon.runtime.media does: each side hears the other's rx
            self.tx[a] = self.rx[b]
            self.tx[b] = self.rx[a]
        rec.tap(self.rx, self.tx)
        self.tick += 1

    def run(self, rec: Recorder, sends: dict[int, np.ndarray], ticks: int) -> None:
        for _ in range(ticks):
            self.step(rec, sends)


@pytest.fixture
def make_recorder(tmp_path: Path) -> Iterator[Callable[..., Recorder]]:
    made: list[Recorder] = []

    def make(**kw) -> Recorder:
        kw.setdefault("directory", tmp_path / "rec")
        kw.setdefault("index_dir", tmp_path / "index")
        kw.setdefault("housekeeping_interval", 0)
        kw.setdefault("min_free_bytes", 0)
        kw.setdefault("check_interval", 0.05)
        clock = kw.pop("clock", None)
        rec = Recorder(RecorderConfig(**kw), **({"clock": clock} if clock else {}))
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.close()  # idempotent
