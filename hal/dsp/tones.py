"""Tone plans and tone generation: China's 450 Hz call-progress tones, fax CNG/CED.

A ``ToneSpec`` is frequencies, a level and a cadence; ``CHINA`` maps each ``ToneName`` to its spec
(facts: shared/reference/china-telephony.md). ``ToneGenerator`` plays a spec frame by frame, phase
continuous across frames, with its cadence counted in samples; ``sine`` is one plain burst.
"""

from __future__ import annotations

import enum
import math
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
        self._table = period_table(spec)

    def generate(self, n: int) -> np.ndarray:
        t = np.arange(self.pos, self.pos + n, dtype=np.int64)
        self.pos += n
        if self._table is not None:  # one whole period of the tone, made once: the tick reads, not computes
            return self._table[t % len(self._table)]
        return _samples(self.spec, t)


def _samples(spec: ToneSpec, t: np.ndarray) -> np.ndarray:
    """The tone's samples (int16) at sample numbers ``t``, counted from its start."""
    w = 2 * np.pi * np.asarray(spec.freqs, dtype=np.float64)[:, None] / SAMPLE_RATE
    out = dbm0_to_peak(spec.level_dbm0) * np.sin(w * t).sum(axis=0)
    if spec.cadence_ms:
        edges = np.cumsum([ms * SAMPLE_RATE // 1000 for ms in spec.cadence_ms])
        segment = np.searchsorted(edges, t % int(edges[-1]), side="right")
        out[segment % 2 == 1] = 0.0  # odd segments are the cadence's off parts
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


TABLE_MAX = 10 * SAMPLE_RATE  # a tone whose period (cadence and waves together) is longer is computed
_TABLES: dict[ToneSpec, np.ndarray | None] = {}


def period_table(spec: ToneSpec) -> np.ndarray | None:
    """The samples of one whole period of ``spec`` (after which the cadence and every frequency's waves
    start again together), made once per spec and shared by every generator playing it; None when
    a frequency is not a whole number of hertz or the period is longer than ``TABLE_MAX``."""
    if spec not in _TABLES:
        period = 1
        for f in spec.freqs:
            period = math.lcm(period, SAMPLE_RATE // math.gcd(SAMPLE_RATE, int(f))) if f == int(f) else 0
        if period and spec.cadence_ms:
            period = math.lcm(period, sum(ms * SAMPLE_RATE // 1000 for ms in spec.cadence_ms))
        table = _samples(spec, np.arange(period, dtype=np.int64)) if 0 < period <= TABLE_MAX else None
        if table is not None:
            table.flags.writeable = False
        _TABLES[spec] = table
    return _TABLES[spec]
