"""R2 MF (MFC/R2, two-out-of-six) register tones, send and receive.

Forward signals use 1380-1980 Hz, backward signals 1140-540 Hz; signal ``n`` (1..15) is the n-th
frequency pair in Q.441 order. spandsp names them by the characters ``"1234567890BCDEF"``; here a
signal is always its number, and 0 means "no tone".

``R2MfSender`` (spandsp ``r2_mf_tx``) plays one signal continuously until told otherwise (compelled
signalling: a tone stays on until the far end acknowledges it). spandsp generates each frequency at
-11 dBm0; other levels are a linear gain on its output.

Two receivers: ``R2MfReceiver`` is spandsp's ``r2_mf_rx`` for one channel. ``R2MfBank`` serves every
listening channel of a board on the tick with the project's own detector, because it measures
better (tests/unit/hal/dsp/test_r2mf.py): it also accepts 7 dB between non-adjacent frequencies,
which spandsp 0.0.6 rejects, and it false-detects far less on multi-tone audio. Each 20 ms block is
one matrix product (listening channels x 160) @ (160 x 6) giving the power at the six frequencies of
the direction; a signal is present when the two strongest are each above -38 dBm0, within 8 dB of
each other, clearly above the third (3 dB), and carry most of the block's power (60 %). It decides
per block, so a tone is seen in the first block that holds it; its end once ``TONE_OFF_BLOCKS`` blocks
in a row lack it, or at once when a shorter gap is followed by another signal. A single silent block
and then the same tone again is a frame the link lost or filled with silence, not the far end removing
its signal: taken for the end, it would let the register run ahead of a far end that never heard the
answer (and read a digit twice). ``R2MfBank(engine="spandsp")`` runs spandsp's
receivers instead. Both report only changes.
"""

from __future__ import annotations

import numpy as np

from hal.dsp.measure import SAMPLE_RATE, dbm0_to_peak
from hal.dsp.spandsp import ffi, lib

SPANDSP_LEVEL_DBM0 = -11.0  # per frequency, as spandsp generates them
DEFAULT_LEVEL_DBM0 = -11.0
_CODES = "1234567890BCDEF"  # spandsp's character for signal 1..15
_SIGNAL_OF_CODE = {ord(c): n for n, c in enumerate(_CODES, 1)}

FORWARD_HZ = (1380, 1500, 1620, 1740, 1860, 1980)
BACKWARD_HZ = (1140, 1020, 900, 780, 660, 540)
# Q.441: signal n is the pair of frequency indices (f0..f5) in this order
PAIRS = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3), (0, 4), (1, 4), (2, 4), (3, 4),
         (0, 5), (1, 5), (2, 5), (3, 5), (4, 5))


def frequencies(signal: int, forward: bool) -> tuple[int, int]:
    """The two frequencies (Hz) of R2 MF ``signal`` (1..15) in the given direction."""
    if not 1 <= signal <= 15:
        raise ValueError(f"R2 MF signal must be 1..15, not {signal}")
    freqs = FORWARD_HZ if forward else BACKWARD_HZ
    i, j = PAIRS[signal - 1]
    return freqs[i], freqs[j]


class R2MfSender:
    """One channel's R2 MF transmitter: ``set(signal)`` (0 = off), ``generate(n)`` the next samples."""

    def __init__(self, forward: bool, level_dbm0: float = DEFAULT_LEVEL_DBM0) -> None:
        self.forward = forward
        self.level_dbm0 = level_dbm0
        self._state = ffi.gc(lib.r2_mf_tx_init(ffi.NULL, 1 if forward else 0), lib.r2_mf_tx_free)
        self._gain = 10 ** ((level_dbm0 - SPANDSP_LEVEL_DBM0) / 20)
        self.signal = 0

    def set(self, signal: int) -> None:
        if signal and not 1 <= signal <= 15:
            raise ValueError(f"R2 MF signal must be 0..15, not {signal}")
        if signal == self.signal:
            return
        self.signal = signal
        lib.r2_mf_tx_put(self._state, _CODES[signal - 1].encode() if signal else b"\0")

    @property
    def idle(self) -> bool:
        return self.signal == 0

    def generate(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int16)
        if self.signal:
            lib.r2_mf_tx(self._state, ffi.from_buffer("int16_t[]", out), n)
            if self._gain != 1.0:
                out = np.clip(np.rint(out * self._gain), -32768, 32767).astype(np.int16)
        return out


def _new_receiver(forward: bool):
    return ffi.gc(lib.r2_mf_rx_init(ffi.NULL, 1 if forward else 0, ffi.NULL, ffi.NULL), lib.r2_mf_rx_free)


class R2MfReceiver:
    """One channel's R2 MF detector for forward or backward signals."""

    def __init__(self, forward: bool) -> None:
        self.forward = forward
        self._state = _new_receiver(forward)

    def process(self, samples: np.ndarray) -> int:
        """Feed a block; returns the signal present at its end (1..15), 0 for none."""
        buf = np.ascontiguousarray(samples, dtype=np.int16)
        lib.r2_mf_rx(self._state, ffi.from_buffer("int16_t[]", buf), len(buf))
        return _SIGNAL_OF_CODE.get(lib.r2_mf_rx_get(self._state), 0)


# the project's detector: thresholds (see the module docstring)
MIN_TONE_DBM0 = -38.0  # Q.442: accept down to -35 dBm0 per frequency, reject at -42
MAX_TWIST_DB = 8.0  # accept 5 dB (adjacent) and 7 dB (non-adjacent) between the two frequencies
THIRD_BELOW_DB = 3.0  # the pair must stand clear of the other four frequencies
PAIR_SHARE = 0.6  # the two frequencies carry at least this share of the block's power
TONE_OFF_BLOCKS = 2  # 20 ms blocks without the tone before its end is reported
_MIN_POWER = dbm0_to_peak(MIN_TONE_DBM0) ** 2 / 2
_PAIR_SIGNAL = np.zeros((6, 6), dtype=np.int64)
for _n, (_i, _j) in enumerate(PAIRS, 1):
    _PAIR_SIGNAL[_i, _j] = _PAIR_SIGNAL[_j, _i] = _n


class _Dft:
    """The six frequencies of each direction as a (n x 6) complex basis for n-sample blocks."""

    _cache: dict[int, _Dft] = {}

    def __init__(self, n: int) -> None:
        t = np.arange(n)[:, None]
        self.n = n
        self.forward = np.exp(-2j * np.pi * t * np.array(FORWARD_HZ)[None, :] / SAMPLE_RATE)
        self.backward = np.exp(-2j * np.pi * t * np.array(BACKWARD_HZ)[None, :] / SAMPLE_RATE)

    @classmethod
    def of(cls, n: int) -> _Dft:
        d = cls._cache.get(n)
        if d is None:
            d = cls._cache[n] = cls(n)
        return d


def detect_blocks(lin: np.ndarray, forward: bool) -> np.ndarray:
    """The R2 MF signal (0 = none) in each row of ``lin`` (rows x n samples), by the project's detector."""
    x = np.asarray(lin, dtype=np.float64)
    if x.ndim == 1:
        x = x[None, :]
    dft = _Dft.of(x.shape[1])
    y = x @ (dft.forward if forward else dft.backward)
    p = 2.0 * (y.real ** 2 + y.imag ** 2) / dft.n ** 2  # mean power of each sine
    order = np.argsort(p, axis=1)[:, ::-1]
    rows = np.arange(x.shape[0])
    i, j, k = order[:, 0], order[:, 1], order[:, 2]
    p1, p2, p3 = p[rows, i], p[rows, j], p[rows, k]
    total = np.mean(x * x, axis=1)
    ok = ((p2 >= _MIN_POWER) & (p1 <= p2 * 10 ** (MAX_TWIST_DB / 10)) & (p3 <= p2 * 10 ** (-THIRD_BELOW_DB / 10))
          & (p1 + p2 >= PAIR_SHARE * total))
    return np.where(ok, _PAIR_SIGNAL[i, j], 0)


class R2MfBank:
    """R2 MF detectors for the channels that listen, run on the whole tick array at once."""

    def __init__(self, engine: str = "own") -> None:
        if engine not in ("own", "spandsp"):
            raise ValueError(f"unknown R2 MF receiver {engine!r}")
        self.engine = engine
        self._forward: dict[int, bool] = {}
        self._states: dict[int, object] = {}  # spandsp receivers
        self._current: dict[int, int] = {}
        self._silent: dict[int, int] = {}  # blocks in a row without the current tone (own engine)
        self._list: list[int] = []
        self._fwd_list: list[int] = []
        self._bwd_list: list[int] = []

    def listen(self, ch: int, forward: bool | None) -> None:
        """Start listening on ``ch`` for forward (True) or backward (False) signals; None stops."""
        if forward is None:
            self._forward.pop(ch, None)
            self._states.pop(ch, None)
            self._current.pop(ch, None)
            self._silent.pop(ch, None)
        else:
            self._forward[ch] = forward
            self._current[ch] = 0
            self._silent[ch] = 0
            if self.engine == "spandsp":
                self._states[ch] = _new_receiver(forward)
        self._list = sorted(self._forward)
        self._fwd_list = [c for c in self._list if self._forward[c]]
        self._bwd_list = [c for c in self._list if not self._forward[c]]

    @property
    def channels(self) -> list[int]:
        return self._list

    def process(self, lin: np.ndarray) -> list[tuple[int, int]]:
        """Run the listening channels' detectors over their rows of ``lin`` (channels x N int16);
        returns ``(channel, signal)`` for each channel whose signal changed (0 = tone off)."""
        if not self._list:
            return []
        current = self._current
        out: list[tuple[int, int]] = []
        if self.engine == "own":
            silent = self._silent
            for chans, forward in ((self._fwd_list, True), (self._bwd_list, False)):
                if chans:
                    for ch, sig in zip(chans, detect_blocks(lin[chans], forward).tolist(), strict=True):
                        if sig == current[ch]:
                            silent[ch] = 0
                            continue
                        if sig == 0:
                            silent[ch] += 1
                            if silent[ch] < TONE_OFF_BLOCKS:
                                continue
                        elif silent[ch] and current[ch]:  # a short gap, then another tone: the first had ended
                            out.append((ch, 0))
                        silent[ch] = 0
                        current[ch] = sig
                        out.append((ch, sig))
            out.sort()
            return out
        lin = np.ascontiguousarray(lin, dtype=np.int16)
        n = lin.shape[1]
        base = ffi.cast("int16_t *", ffi.from_buffer(lin))
        rx, get, states = lib.r2_mf_rx, lib.r2_mf_rx_get, self._states
        for ch in self._list:
            state = states[ch]
            rx(state, base + ch * n, n)
            sig = _SIGNAL_OF_CODE.get(get(state), 0)
            if sig != current[ch]:
                current[ch] = sig
                out.append((ch, sig))
        return out
