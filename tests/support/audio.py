"""Audio measurement for tests: what a phone or the central office heard, decoded and measured."""

from __future__ import annotations

import numpy as np

from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import dominant_frequency, level_dbm0


def decode(alaw: bytes) -> np.ndarray:
    return alaw_to_linear(np.frombuffer(alaw, dtype=np.uint8))


def active_segment(x: np.ndarray, frame: int = 160, threshold_dbm0: float = -45.0) -> np.ndarray:
    """The samples of the frames that carry signal (drops silence around and between bursts)."""
    n = len(x) // frame
    if n == 0:
        return x[:0]
    frames = x[: n * frame].reshape(n, frame).astype(np.float64)
    keep = [f for f in frames if level_dbm0(f) > threshold_dbm0]
    return np.concatenate(keep) if keep else x[:0]


def tone_frequency(alaw: bytes) -> float:
    """The frequency of the tone in ``alaw`` (silent frames ignored); 0.0 if there is none."""
    seg = active_segment(decode(alaw))
    return dominant_frequency(seg) if len(seg) >= 800 else 0.0


def contains(heard: np.ndarray, ref: np.ndarray) -> float:
    """How well ``ref`` (a prompt) appears somewhere in ``heard``: the peak normalised cross-correlation
    over all alignments (1.0 = a perfect copy, ~0 = unrelated). Both linear, any lengths."""
    h, r = heard.astype(np.float64), ref.astype(np.float64)
    if len(h) < len(r) or not r.any():
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(h) + len(r))))
    xc = np.fft.irfft(np.fft.rfft(h, n) * np.conj(np.fft.rfft(r, n)), n)[: len(h) - len(r) + 1]
    run = np.concatenate([[0.0], np.cumsum(h * h)])
    energy = run[len(r):] - run[: len(h) - len(r) + 1]  # the energy of each window of heard (a running sum)
    score = xc / (np.sqrt(np.maximum(energy, 1e-9)) * np.sqrt(np.sum(r * r)))
    return float(score.max())
