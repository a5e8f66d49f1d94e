"""The 2-wire hybrids: how much of the box's own audio each line sends back on its receive path.

An analog line is two wires carrying both directions; the hybrid that splits them into transmit and
receive (the box's FXO/FXS interface, the exchange's line card) is balanced against a nominal
impedance the real line never quite has, so part of what the box transmits comes straight back,
delayed and smeared: line echo. ``HybridSettings`` describes one hybrid — its echo return loss
(``erl_db``, how far below the transmitted audio the echo is; 0 = no echo), a bulk delay
(``delay_ms``: codec filters, the loop, the exchange) and a dispersion (``dispersion_ms``: how long
the decaying response rings). ``HybridBank`` applies them to whole ticks: the echo of every line
with a hybrid is one windowed product over a channels x taps array.

An E1 channel has no hybrid at the box (it is 4-wire); the echo a trunk returns is the far exchange's
hybrid, further away: configurable the same way, off by default.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE

BAND = (300.0, 3400.0)  # the voice band over which the echo return loss is defined
CODEC_TAPS = 33  # the line codec's band filter (4 ms): the echo is seen digital to digital


@dataclass(frozen=True)
class HybridSettings:
    """One hybrid's echo: ``erl_db`` below the transmitted audio (0: none), ``delay_ms`` late, ringing
    for ``dispersion_ms``."""

    erl_db: float = 0.0
    delay_ms: float = 0.0
    dispersion_ms: float = 4.0

    @property
    def on(self) -> bool:
        return self.erl_db > 0

    @classmethod
    def from_dict(cls, d: object, key: str, base: HybridSettings | None = None) -> HybridSettings:
        """Settings from a config table (missing keys from ``base``); ValueError naming ``key`` if bad."""
        if not isinstance(d, dict):
            raise ValueError(f"{key}: must be a table (erl_db, delay_ms, dispersion_ms)")
        base = base or cls()
        bad = sorted(set(d) - {"erl_db", "delay_ms", "dispersion_ms", "port"})
        if bad:
            raise ValueError(f"{key}.{bad[0]}: unknown echo setting (erl_db, delay_ms, dispersion_ms)")
        vals = {}
        limits = {"erl_db": (0.0, 60.0), "delay_ms": (0.0, 100.0), "dispersion_ms": (0.125, 64.0)}
        for name, (lo, hi) in limits.items():
            v = d.get(name, getattr(base, name))
            if not isinstance(v, int | float) or isinstance(v, bool) or not lo <= v <= hi:
                raise ValueError(f"{key}.{name}: must be a number from {lo:g} to {hi:g}")
            vals[name] = float(v)
        if 0 < vals["erl_db"] < 3:
            raise ValueError(f"{key}.erl_db: must be 0 (no echo) or from 3 to 60 dB (a hybrid always loses some)")
        return cls(**vals)

    def response(self) -> np.ndarray:
        """The impulse response (8 kHz taps, bulk delay included); empty when off.

        A decaying pseudo-random response (fixed seed: the same line every run), so it is dispersive like
        a real hybrid and its loss varies over the band as a real one's does, through the line codec's
        300-3400 Hz band filter (as the box sees any echo: digital to digital, G.712's filters on the
        way out and back in; it adds 4 ms to the dispersion); scaled so that its mean power gain over
        300-3400 Hz is ``-erl_db``.
        """
        if not self.on:
            return np.zeros(0)
        n = max(1, round(self.dispersion_ms * SAMPLE_RATE / 1000))
        t = np.arange(n, dtype=np.float64)
        h = np.random.default_rng(2026).standard_normal(n) * np.exp(-t / max(1.0, n / 4))
        h = np.convolve(h, _codec_filter())
        nfft = 1024
        f = np.fft.rfftfreq(nfft, 1 / SAMPLE_RATE)
        band = (f >= BAND[0]) & (f <= BAND[1])
        gain = np.mean(np.abs(np.fft.rfft(h, nfft))[band] ** 2)
        h *= np.sqrt(10 ** (-self.erl_db / 10) / gain)
        return np.concatenate([np.zeros(round(self.delay_ms * SAMPLE_RATE / 1000)), h])


def _codec_filter() -> np.ndarray:
    """A linear-phase 300-3400 Hz band-pass (windowed sinc), unity gain in the band."""
    k = np.arange(CODEC_TAPS) - (CODEC_TAPS - 1) / 2
    lo, hi = (2 * f / SAMPLE_RATE for f in BAND)
    return (hi * np.sinc(hi * k) - lo * np.sinc(lo * k)) * np.hamming(CODEC_TAPS)


class HybridBank:
    """The echo of a set of channels' hybrids, tick by tick.

    ``channels`` are rows of the board's tick arrays; ``settings`` one per channel (off ones are kept
    out). ``echo(played, closed)`` takes what the box played on every row this tick (linear) and which
    lines are closed (off hook: an open loop carries nothing back) and returns (rows, echo) for the rows
    with any echo.
    """

    def __init__(self, channels: list[int], settings: list[HybridSettings]) -> None:
        keep = [(c, s) for c, s in zip(channels, settings, strict=True) if s.on]
        self.channels = np.array([c for c, _ in keep], dtype=np.intp)
        self.settings = [s for _, s in keep]
        responses = [s.response() for s in self.settings]
        taps = max((len(h) for h in responses), default=1)
        # reversed, so that a window of the history times it is the convolution's output sample
        self._h = np.zeros((len(keep), taps))
        for i, h in enumerate(responses):
            self._h[i, taps - len(h):] = h[::-1]
        self._hist = np.zeros((len(keep), taps - 1 + FRAME_SAMPLES))

    def __len__(self) -> int:
        return len(self.channels)

    def echo(self, played: np.ndarray, closed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, echo as float (rows, 160)) for the rows whose echo is not silence this tick."""
        if not len(self.channels):
            return self.channels, np.zeros((0, FRAME_SAMPLES))
        hist = self._hist
        taps = self._h.shape[1]
        hist[:, :taps - 1] = hist[:, FRAME_SAMPLES:]
        x = played[self.channels].astype(np.float64)
        x[~closed[self.channels]] = 0.0
        hist[:, taps - 1:] = x
        # a line that has played nothing over the response's length echoes nothing: only the others
        # are convolved (an idle box's hybrids cost almost nothing)
        sounding = np.flatnonzero(hist.any(axis=1))
        windows = np.lib.stride_tricks.sliding_window_view(hist[sounding], taps, axis=1)  # (rows, 160, taps)
        out = np.einsum("rtk,rk->rt", windows, self._h[sounding])
        live = np.abs(out).max(axis=1) >= 0.5
        return self.channels[sounding[live]], out[live]
