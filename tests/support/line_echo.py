"""Line echo for tests: test signals, a line's echo of them (the simulator's hybrid model) through
A-law as the board carries it, an echo canceller run tick by tick, and the figures (ERLE, correlation).

ERLE (echo return loss enhancement) is the echo's power over what is left of it after cancelling:
``erle_db(echo, residual)``; with a talker on the line the residual is the output minus that talker's
own (A-law) signal.
"""

from __future__ import annotations

import subprocess

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.echo import EchoBank
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import dbm0_to_peak
from sim.hybrid import HybridSettings
from tests.support.talkoff import PITCHES, SPEEDS, TEXTS, VOICES

FXO_LINE = HybridSettings(12.0, 3.0, 6.0)  # the simulator's default FXO line


def alaw(x: np.ndarray) -> np.ndarray:
    """``x`` through A-law and back (float64)."""
    return alaw_to_linear(linear_to_alaw(np.clip(np.rint(x), -32768, 32767).astype(np.int16))).astype(np.float64)


def at_level(x: np.ndarray, level_dbm0: float) -> np.ndarray:
    """``x`` scaled to a mean power of ``level_dbm0`` (over its whole length)."""
    rms = dbm0_to_peak(level_dbm0) / np.sqrt(2)
    return x / np.sqrt(np.mean(x.astype(np.float64) ** 2)) * rms


def voice_band_noise(n: int, level_dbm0: float = -15.0, seed: int = 5) -> np.ndarray:
    """Gaussian noise band-limited to 300-3400 Hz (G.168's kind of test signal), float64."""
    x = np.random.default_rng(seed).standard_normal(n)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec[(f < 300) | (f > 3400)] = 0
    return at_level(np.fft.irfft(spec, n), level_dbm0)


def utterance(lang: str, rng: np.random.Generator) -> np.ndarray:
    """One espeak-ng utterance (a text, voice, speed and pitch of the talk-off corpus's, picked by
    ``rng``) at 8 kHz, float64. Converted without dither, so a seed gives the same samples every run."""
    text = TEXTS[lang][int(rng.integers(len(TEXTS[lang])))]
    voice = VOICES[lang][int(rng.integers(len(VOICES[lang])))]
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", str(int(rng.choice(SPEEDS))), "-p",
                          str(int(rng.choice(PITCHES))), "--stdout", text],
                         capture_output=True, check=True, timeout=60).stdout
    raw = subprocess.run(["sox", "-D", "-V1", "-t", "wav", "-", "-t", "raw", "-e", "signed-integer", "-b", "16",
                          "-L", "-r", str(SAMPLE_RATE), "-c", "1", "-"], input=wav, capture_output=True, check=True,
                         timeout=60).stdout
    return np.frombuffer(raw, "<i2").astype(np.float64)


def spoken(lang: str, seconds: float, level_dbm0: float, seed: int) -> np.ndarray:
    """``seconds`` of espeak-ng speech (utterances one after another, as a prompt or a talker), float64."""
    rng = np.random.default_rng(seed)
    n = round(seconds * SAMPLE_RATE)
    parts: list[np.ndarray] = []
    while sum(map(len, parts)) < n:
        parts.append(utterance(lang, rng))
    return at_level(np.concatenate(parts)[:n], level_dbm0)


def line_echo(sent: np.ndarray, hybrid: HybridSettings = FXO_LINE) -> np.ndarray:
    """The echo a line with ``hybrid`` returns of ``sent`` (linear, before the line's A-law)."""
    return np.convolve(sent, hybrid.response())[: len(sent)]


def cancel(bank: EchoBank, sent: np.ndarray, received: np.ndarray) -> np.ndarray:
    """Run ``bank`` (one row) over a call tick by tick: the box transmits ``sent`` and receives
    ``received`` (both A-law'd linear, same length, ``received`` already aligned so that its echo is of
    ``sent`` ``bank.delay_frames`` ticks back); returns the canceller's output."""
    tx = sent.reshape(-1, FRAME_SAMPLES)
    rx = received.reshape(-1, FRAME_SAMPLES)
    out = np.empty_like(rx)
    for i in range(len(tx)):
        out[i] = bank.cancel(rx[i:i + 1])[0]
        bank.remember(tx[i:i + 1])
    return out.ravel()


def delayed(x: np.ndarray, frames: int) -> np.ndarray:
    """``x`` later by ``frames`` ticks (the board's round trip), same length."""
    return np.concatenate([np.zeros(frames * FRAME_SAMPLES), x])[: len(x)]


def erle_db(echo: np.ndarray, residual: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(echo ** 2) / max(np.mean(residual ** 2), 1e-12)))


def windows_erle_db(echo: np.ndarray, residual: np.ndarray, seconds: float = 0.25) -> list[float]:
    """ERLE over consecutive windows of ``seconds``."""
    n = round(seconds * SAMPLE_RATE)
    return [erle_db(echo[i:i + n], residual[i:i + n]) for i in range(0, len(echo) - n + 1, n)]
