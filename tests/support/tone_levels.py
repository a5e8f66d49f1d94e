"""Per-frequency levels of what a far end heard: which of several simultaneous test tones are present.

Each party of a multi-party test sends its own tone; ``level_at`` measures one frequency's level in
dBm0 (a Hann-windowed projection, so the other tones and A-law noise stay far below), ``heard_tones``
says which of the parties' tones are there.
"""

from __future__ import annotations

import numpy as np

from hal.clock import SAMPLE_RATE
from hal.dsp.measure import FULL_SCALE_SINE_DBM0
from tests.support.audio import decode

PRESENT_DBM0 = -22.0  # a -10 dBm0 tone through the box measures about -10
ABSENT_DBM0 = -40.0


def level_at(alaw: bytes, freq: float) -> float:
    """The level (dBm0) of the ``freq`` Hz component of ``alaw``."""
    x = decode(alaw).astype(np.float64)
    if len(x) < 400:
        return -100.0
    w = np.hanning(len(x))
    t = np.arange(len(x))
    c = np.sum(x * w * np.exp(-2j * np.pi * freq * t / SAMPLE_RATE))
    peak = 2 * abs(c) / np.sum(w)
    return 20 * np.log10(max(peak, 1e-9) / 32768.0) + FULL_SCALE_SINE_DBM0


def heard_tones(alaw: bytes, tones: dict[str, float]) -> set[str]:
    """The names of ``tones`` (name -> Hz) present in ``alaw``; raises if one is neither clearly
    present nor clearly absent."""
    out = set()
    for name, freq in tones.items():
        lvl = level_at(alaw, freq)
        if lvl > PRESENT_DBM0:
            out.add(name)
        elif lvl > ABSENT_DBM0:
            raise AssertionError(f"{name} ({freq} Hz) at {lvl:.1f} dBm0: neither present nor absent")
    return out
