"""Test signals for recordings: two distinct parties, and how to measure what a file holds."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw


def tone(freq: float, ticks: int, amp: float = 8000.0, phase: float = 0.0) -> np.ndarray:
    """A tone as A-law frames, shape (ticks, 160)."""
    t = np.arange(ticks * FRAME_SAMPLES) / SAMPLE_RATE
    return linear_to_alaw((amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.int16)).reshape(ticks, -1)


def noise(seed: int, ticks: int, amp: float = 4000.0) -> np.ndarray:
    """Gaussian noise as A-law frames, shape (ticks, 160) (uncorrelated between seeds)."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.normal(0, amp, ticks * FRAME_SAMPLES), -32000, 32000).astype(np.int16)
    return linear_to_alaw(x).reshape(ticks, -1)


def linear(frames: np.ndarray) -> np.ndarray:
    return alaw_to_linear(frames).reshape(-1).astype(np.float64)


def corr(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two equal-length signals (cut to the shorter)."""
    n = min(len(a), len(b))
    a = np.asarray(a[:n], np.float64)
    b = np.asarray(b[:n], np.float64)
    return float(np.corrcoef(a, b)[0, 1])


def best_corr(sent: np.ndarray, got: np.ndarray, max_lag: int = 2 * FRAME_SAMPLES) -> float:
    """The best correlation of ``got`` with ``sent`` over lags of up to ``max_lag`` samples."""
    return max(corr(sent[lag:], got) if lag >= 0 else corr(sent, got[-lag:])
               for lag in range(-max_lag, max_lag + 1, 1))


def sox_samples(path: Path) -> np.ndarray:
    """The file decoded by sox to 16-bit linear, shape (frames, channels)."""
    chans = int(soxi(path, "-c"))
    raw = subprocess.run(["sox", str(path), "-t", "raw", "-e", "signed-integer", "-b", "16", "-L", "-"],
                         check=True, capture_output=True).stdout
    return np.frombuffer(raw, "<i2").reshape(-1, chans)


def soxi(path: Path, flag: str) -> str:
    return subprocess.run(["soxi", flag, str(path)], check=True, capture_output=True, text=True).stdout.strip()
