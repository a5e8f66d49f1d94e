"""A stand-in host that steps the in-process simulated world on a virtual clock (no sleeps)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import level_dbm0
from hal.dsp.tones import ToneGenerator, ToneSpec
from sim.config import load_config, parse_config
from sim.world import SimWorld

SILENCE = 0xD5


class Host:
    """Steps the world, records every channel's rx and the events (with their tick), and answers each
    tick with per-channel audio sources and queued commands."""

    def __init__(self, world: SimWorld) -> None:
        self.w = world
        self.events: list[tuple[int, object]] = []
        self.rx: dict[int, list[np.ndarray]] = defaultdict(list)
        self.rx_tick0: dict[int, int] = {}
        self.sources: dict[int, Callable[[], np.ndarray]] = {}
        self.pending: list = []
        self.answer = True
        self.watch: set[int] = set()
        self.chan = {p.id: p.channel for s in world.spans for p in s.ports}

    def send(self, *cmds: object) -> None:
        self.pending.extend(cmds)

    def run(self, ticks: int, until: Callable[[], bool] | None = None) -> None:
        for _ in range(ticks):
            rx, events = self.w.step()
            t = self.w.tick
            self.events += [(t, e) for e in events]
            for ch in range(rx.shape[0]):
                self.rx_tick0.setdefault(ch, t)
            for ch in self.watch:
                self.rx[ch].append(rx[ch].copy())
            if self.answer:
                tx = np.full(rx.shape, SILENCE, dtype=np.uint8)
                for ch, src in self.sources.items():
                    tx[ch] = linear_to_alaw(src())
                self.w.apply_tx(t, tx, self.pending)
                self.pending = []
            if until is not None and until():
                return

    def listen(self, port: str) -> int:
        ch = self.chan[port]
        self.watch.add(ch)
        self.rx[ch] = []
        self.rx_tick0[ch] = self.w.tick + 1
        return ch

    def heard(self, port: str, last: int | None = None) -> np.ndarray:
        """Linear audio the host received on ``port`` since ``listen`` (optionally the last N frames)."""
        frames = self.rx[self.chan[port]]
        if last is not None:
            frames = frames[-last:]
        return alaw_to_linear(np.concatenate(frames)) if frames else np.zeros(0, dtype=np.int16)

    def of(self, kind: type) -> list[tuple[int, object]]:
        return [(t, e) for t, e in self.events if isinstance(e, kind)]


def tone_src(freq: float, level_dbm0: float = -10.0) -> Callable[[], np.ndarray]:
    """A phase-continuous tone, one 160-sample frame per call (for ``Host.sources``)."""
    gen = ToneGenerator(ToneSpec((freq,), level_dbm0))
    return lambda: gen.generate(160)


def frame_levels(x: np.ndarray) -> np.ndarray:
    n = len(x) // 160
    return np.array([level_dbm0(x[i * 160:(i + 1) * 160]) for i in range(n)])


def cadence_ms(x: np.ndarray, threshold_dbm0: float = -40.0) -> list[tuple[bool, int]]:
    """Runs of tone on/off in ``x`` as (on, ms), 20 ms resolution."""
    on = frame_levels(x) > threshold_dbm0
    runs: list[tuple[bool, int]] = []
    for v in on:
        if runs and runs[-1][0] == bool(v):
            runs[-1] = (bool(v), runs[-1][1] + 20)
        else:
            runs.append((bool(v), 20))
    return runs


@pytest.fixture
def world() -> SimWorld:
    return SimWorld(load_config())


@pytest.fixture
def host(world: SimWorld) -> Host:
    return Host(world)


def make_world(toml_text: str) -> SimWorld:
    import tomllib

    return SimWorld(parse_config(tomllib.loads(toml_text)))
