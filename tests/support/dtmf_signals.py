"""DTMF test signals: digits with Q.24's variations (frequency offsets, twist, level, duration, gaps)
and the sounds that go under them, and the runners that feed them to a receiver frame by frame."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.tones import sine

KEYS = "123A456B789C*0#D"
ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
LOW = {k: ROWS[i // 4] for i, k in enumerate(KEYS)}
HIGH = {k: COLUMNS[i % 4] for i, k in enumerate(KEYS)}


def tone_pair(d: str, ms: float, low_dbm0: float = -10.0, high_dbm0: float = -10.0,
              low_dev: float = 0.0, high_dev: float = 0.0, phase: int = 0) -> np.ndarray:
    """Digit ``d``'s two tones for ``ms`` (float64), each off its nominal frequency by the given fraction."""
    n = int(round(ms * 8))
    return (sine(LOW[d] * (1 + low_dev), low_dbm0, n, phase).astype(np.float64)
            + sine(HIGH[d] * (1 + high_dev), high_dbm0, n, phase))


def silence(ms: float) -> np.ndarray:
    return np.zeros(int(round(ms * 8)))


def to_int16(x: np.ndarray, alaw: bool = False) -> np.ndarray:
    """Whole 20 ms frames of 16-bit audio (zero-padded), passed through A-law if asked."""
    x = np.concatenate([x, np.zeros(-len(x) % 160)])
    y = np.clip(np.round(x), -32768, 32767).astype(np.int16)
    return alaw_to_linear(linear_to_alaw(y)) if alaw else y


def frames(x: np.ndarray) -> list[np.ndarray]:
    return [x[i:i + 160] for i in range(0, len(x), 160)]


def run_receiver(make: Callable[[], object], x: np.ndarray) -> str:
    """The digits a single-channel receiver (``process(frame) -> str``) reports over ``x``, 20 ms at a time."""
    rx = make()
    return "".join(rx.process(f) for f in frames(x))  # type: ignore[attr-defined]


def run_bank(make: Callable[[int], object], x: np.ndarray) -> str:
    """The tick's path: a 3-channel bank, ``x`` on channel 1 beside silence (0) and a loud 1 kHz tone
    (2); asserts no digit appears on the other channels."""
    bank = make(3)
    lin = np.zeros((3, len(x)), np.int16)
    lin[1], lin[2] = x, sine(1000.0, -3.0, len(x))
    got: list[tuple[int, str]] = []
    for i in range(0, len(x), 160):
        got += bank.process(lin[:, i:i + 160], [0, 1, 2])  # type: ignore[attr-defined]
    assert all(ch == 1 for ch, _ in got), got
    return "".join(d for _, d in got)
