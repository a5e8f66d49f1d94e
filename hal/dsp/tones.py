"""Tone plans and tone generation: China's 450 Hz call-progress tones, fax CNG/CED.

A ``ToneSpec`` is frequencies, a level and a cadence; ``CHINA`` maps each ``ToneName`` to its spec
(facts: shared/reference/china-telephony.md). ``ToneGenerator`` plays a spec frame by frame, phase
continuous across frames, with its cadence counted in samples; ``sine`` is one plain burst.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from hal.dsp.measure import SAMPLE_RATE, dbm0_to_peak


class ToneName(enum.StrEnum):
    DIAL = "dial"
    STUTTER_DIAL = "stutter_dial"  # message waiting
    RINGBACK = "ringback"
    BUSY = "busy"
    CONGESTION = "congestion"
    CALL_WAITING = "call_waiting"
    FAX_CNG = "fax_cng"
    FAX_CED = "fax_ced"


@dataclass(frozen=True)
class ToneSpec:
    freqs: tuple[float, ...]
    level_dbm0: float = -10.0  # per frequency
    cadence_ms: tuple[int, ...] = ()  # on, off, on, off, ... repeating; () = continuous

    @property
    def continuous(self) -> bool:
        return not self.cadence_ms


CHINA: dict[ToneName, ToneSpec] = {
    ToneName.DIAL: ToneSpec((450.0,), -10.0),
    ToneName.STUTTER_DIAL: ToneSpec((450.0,), -10.0, (400, 40)),
    ToneName.RINGBACK: ToneSpec((450.0,), -10.0, (1000, 4000)),
    ToneName.BUSY: ToneSpec((450.0,), -10.0, (350, 350)),
    ToneName.CONGESTION: ToneSpec((450.0,), -10.0, (700, 700)),
    ToneName.CALL_WAITING: ToneSpec((450.0,), -13.0, (400, 4000)),
    ToneName.FAX_CNG: ToneSpec((1100.0,), -13.0, (500, 3000)),
    ToneName.FAX_CED: ToneSpec((2100.0,), -13.0),
}


def sine(freq: float, level_dbm0: float, n: int, phase_samples: int = 0) -> np.ndarray:
    """``n`` samples (int16) of a sine at ``freq`` Hz and ``level_dbm0``, starting at sample ``phase_samples``."""
    t = np.arange(phase_samples, phase_samples + n, dtype=np.float64)
    return np.round(dbm0_to_peak(level_dbm0) * np.sin(2 * np.pi * freq / SAMPLE_RATE * t)).astype(np.int16)


class ToneGenerator:
    """Plays a ``ToneSpec``: ``generate(n)`` returns the next ``n`` samples (int16)."""

    def __init__(self, spec: ToneSpec) -> None:
        self.spec = spec
        self.pos = 0
        self._w = 2 * np.pi * np.asarray(spec.freqs, dtype=np.float64)[:, None] / SAMPLE_RATE
        self._amp = dbm0_to_peak(spec.level_dbm0)
        edges = np.cumsum([ms * SAMPLE_RATE // 1000 for ms in spec.cadence_ms])
        self._edges = edges
        self._cycle = int(edges[-1]) if len(edges) else 0

    def generate(self, n: int) -> np.ndarray:
        t = np.arange(self.pos, self.pos + n, dtype=np.int64)
        self.pos += n
        out = self._amp * np.sin(self._w * t).sum(axis=0)
        if self._cycle:
            segment = np.searchsorted(self._edges, t % self._cycle, side="right")
            out[segment % 2 == 1] = 0.0  # odd segments are the cadence's off parts
        return np.clip(np.round(out), -32768, 32767).astype(np.int16)
