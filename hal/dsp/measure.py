"""Measuring audio: level in dBm0 and the dominant frequency, as tests and the tone tools need them.

Levels follow G.711's convention: a full-scale 16-bit sine is +3.14 dBm0, so 0 dBm0 is a sine of
peak 32768 * 10^(-3.14/20) ≈ 22 870.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000
FULL_SCALE_SINE_DBM0 = 3.14


def dbm0_to_peak(level_dbm0: float) -> float:
    """The peak amplitude of a sine at ``level_dbm0``."""
    return 32768.0 * 10 ** ((level_dbm0 - FULL_SCALE_SINE_DBM0) / 20)


def level_dbm0(x: np.ndarray) -> float:
    """The mean power of ``x`` in dBm0 (-100 for silence or no samples)."""
    x = np.asarray(x, dtype=np.float64)
    if x.size == 0:
        return -100.0
    power = float(np.mean(x * x))
    if power <= 0:
        return -100.0
    return 10 * np.log10(power / (32768.0 ** 2 / 2)) + FULL_SCALE_SINE_DBM0


def dominant_frequency(x: np.ndarray, rate: int = SAMPLE_RATE) -> float:
    """The frequency (Hz) of the strongest component of ``x``, interpolated between FFT bins."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 16:
        return 0.0
    x = x - x.mean()
    n = 1 << max(14, int(np.ceil(np.log2(x.size))))  # zero-pad: bins of 0.5 Hz or finer
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size), n))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1:k + 2] + 1e-12)
    denom = a - 2 * b + c
    offset = 0.5 * (a - c) / denom if denom != 0 else 0.0
    return (k + offset) * rate / n
