"""DTMF receive and send on 8 kHz linear audio, from spandsp (``dtmf_rx`` / ``dtmf_tx``).

The tick's receiver is the project's own (``hal.dsp.dtmf_rx``: it meets every Q.24 row, which this
one does not). spandsp's stays as the simulator's ears (an independent receiver for the box's
digits) and as the reference in the Q.24 table (tests/unit/hal/dsp/test_dtmf_q24.py).

``DtmfReceiver`` serves one channel (the simulator's far ends, tests); ``DtmfBank`` serves every
channel of a board: one ``ffi.from_buffer`` for the whole (channels x 160) array, then one
``dtmf_rx`` call per listening channel with a pointer into it. Receivers run with spandsp's
dial-tone filter on and Q.24's twist limits (8 dB normal, 4 dB reverse) plus a little margin, since
the library's defaults reject part of what Q.24 says must be accepted.

spandsp accepts a tone up to about 3.5 % off its nominal frequency, which Q.24 says must be
rejected, and reports a digit twice when its tone drops out for ~10 ms; so every digit it reports
is judged against the last 120 ms of that channel's audio (kept in a small ring, one whole-array
copy per tick): both tones' frequencies are measured and a digit more than ``MAX_DEVIATION`` off is
dropped, and the same digit again after a gap shorter than ``MIN_GAP_MS`` is a drop-out, not a new
digit. Each tone is looked for within ``SEARCH`` of its nominal frequency, so speech or a tone under
the digit (a phone whose microphone stays open while a key is pressed) does not stand in for it.
Digits are rare, so judging them costs nothing per tick.
"""

from __future__ import annotations

import numpy as np

from hal.dsp.spandsp import ffi, lib

NORMAL_TWIST_DB = 9  # Q.24 must accept 8 dB
REVERSE_TWIST_DB = 5  # Q.24 must accept 4 dB
THRESHOLD_DBM0 = -42  # per tone; Q.24 accepts down to about -25 and rejects below about -55
MAX_DEVIATION = 0.025  # between Q.24's must-accept 1.5 % and must-reject 3.5 %
SEARCH = 0.05  # each tone is measured within this of its nominal: half the spacing of the rows/columns
MIN_GAP_MS = 25  # Q.24: 40 ms of silence separates digits; a 10 ms drop-out must not
HISTORY = 960  # samples of audio kept per channel to judge a reported digit (120 ms)
_BLOCK = 40  # 5 ms blocks for the on/off envelope

ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = ("123A", "456B", "789C", "*0#D")
NOMINAL = {KEYS[r][c]: (ROWS[r], COLUMNS[c]) for r in range(4) for c in range(4)}
_FFT_SIZE = 8192  # ~1 Hz bins after zero padding
_BIN_HZ = 8000 / _FFT_SIZE


def _peak_hz(spectrum: np.ndarray, lo: float, hi: float) -> float:
    a, b = int(lo / _BIN_HZ), int(hi / _BIN_HZ)
    k = a + int(np.argmax(spectrum[a:b]))
    y0, y1, y2 = np.log(spectrum[k - 1:k + 2] + 1e-9)
    denom = y0 - 2 * y1 + y2
    return (k + (0.5 * (y0 - y2) / denom if denom else 0.0)) * _BIN_HZ


def judge(digit: str, recent: np.ndarray, previous: str) -> bool:
    """Whether a digit spandsp reported is real: ``recent`` is the audio up to its detection,
    ``previous`` the last digit accepted on the channel. Checks the tone pair's frequencies (within
    ``MAX_DEVIATION`` on both tones) and that a repeat of ``previous`` follows a real gap."""
    nominal = NOMINAL.get(digit)
    if nominal is None:
        return True
    x = recent.astype(np.float64)
    blocks = np.sqrt((x[: len(x) // _BLOCK * _BLOCK].reshape(-1, _BLOCK) ** 2).mean(axis=1))
    on = blocks > 0.3 * blocks.max()
    start = len(on)
    while start > 0 and on[start - 1]:
        start -= 1
    gap_end = start
    while start > 0 and not on[start - 1]:
        start -= 1
    if digit == previous and start > 0 and (gap_end - start) * _BLOCK / 8 < MIN_GAP_MS:
        return False  # the same tone after a short drop-out
    seg = x[gap_end * _BLOCK: len(on) * _BLOCK]
    if len(seg) < 120:
        return True  # too little to judge: trust the detector
    spectrum = np.abs(np.fft.rfft(seg * np.hanning(len(seg)), _FFT_SIZE))
    low = _peak_hz(spectrum, nominal[0] * (1 - SEARCH), nominal[0] * (1 + SEARCH))
    high = _peak_hz(spectrum, nominal[1] * (1 - SEARCH), nominal[1] * (1 + SEARCH))
    return abs(low / nominal[0] - 1) <= MAX_DEVIATION and abs(high / nominal[1] - 1) <= MAX_DEVIATION


def _new_receiver():
    state = ffi.gc(lib.dtmf_rx_init(ffi.NULL, ffi.NULL, ffi.NULL), lib.dtmf_rx_free)
    lib.dtmf_rx_parms(state, 1, NORMAL_TWIST_DB, REVERSE_TWIST_DB, THRESHOLD_DBM0)
    return state


class DtmfReceiver:
    """One channel's DTMF detector: ``process(samples)`` returns the digits completed in them."""

    def __init__(self) -> None:
        self._state = _new_receiver()
        self._digits = ffi.new("char[]", 129)
        self._recent = np.zeros(HISTORY, np.int16)
        self._previous = ""

    def process(self, samples: np.ndarray) -> str:
        buf = np.ascontiguousarray(samples, dtype=np.int16)
        self._recent = np.concatenate([self._recent, buf])[-HISTORY:]
        lib.dtmf_rx(self._state, ffi.from_buffer("int16_t[]", buf), len(buf))
        n = lib.dtmf_rx_get(self._state, self._digits, 128)
        accepted = ""
        for d in ffi.string(self._digits, n).decode("ascii") if n else "":
            if judge(d, self._recent, self._previous):
                accepted += d
            self._previous = d
        return accepted


class DtmfBank:
    """DTMF detectors for every channel of a board, run on the whole tick array at once."""

    def __init__(self, channels: int) -> None:
        self._states = [_new_receiver() for _ in range(channels)]
        self._digits = ffi.new("char[]", 129)
        self._ring = np.zeros((channels, HISTORY), np.int16)  # each row: the last 120 ms, rotated
        self._pos = 0
        self._previous = [""] * channels

    def reset(self, ch: int) -> None:
        self._states[ch] = _new_receiver()
        self._previous[ch] = ""

    def _remember(self, lin: np.ndarray) -> None:
        """One whole-array copy of this block into every channel's ring (wrapping at its end)."""
        n = min(lin.shape[1], HISTORY)
        first = min(n, HISTORY - self._pos)
        self._ring[:, self._pos:self._pos + first] = lin[:, lin.shape[1] - n:lin.shape[1] - n + first]
        if first < n:
            self._ring[:, :n - first] = lin[:, lin.shape[1] - n + first:]
        self._pos = (self._pos + n) % HISTORY

    def process(self, lin: np.ndarray, channels: list[int]) -> list[tuple[int, str]]:
        """Run the detectors of ``channels`` over their rows of ``lin`` (channels x N, int16)."""
        lin = np.ascontiguousarray(lin, dtype=np.int16)
        n = lin.shape[1]
        self._remember(lin)
        base = ffi.cast("int16_t *", ffi.from_buffer(lin))
        out: list[tuple[int, str]] = []
        rx, get, states, digits = lib.dtmf_rx, lib.dtmf_rx_get, self._states, self._digits
        for ch in channels:
            state = states[ch]
            rx(state, base + ch * n, n)
            got = get(state, digits, 128)
            if got:
                recent = np.roll(self._ring[ch], -self._pos)
                for d in ffi.string(digits, got).decode("ascii"):
                    if judge(d, recent, self._previous[ch]):
                        out.append((ch, d))
                    self._previous[ch] = d
        return out


class DtmfSender:
    """Queues digits and plays them: ``generate(n)`` gives the next ``n`` samples (silence when done)."""

    def __init__(self, level_dbm0: float = -8.0, on_ms: int = 80, off_ms: int = 80) -> None:
        self._state = ffi.gc(lib.dtmf_tx_init(ffi.NULL), lib.dtmf_tx_free)
        lib.dtmf_tx_set_level(self._state, int(round(level_dbm0)), 0)
        lib.dtmf_tx_set_timing(self._state, int(on_ms), int(off_ms))
        self._idle = True

    @property
    def idle(self) -> bool:
        """True once every queued digit, with its trailing gap, has been played."""
        return self._idle

    def send(self, digits: str) -> None:
        valid = "".join(d for d in digits.upper() if d in "0123456789*#ABCD")
        if valid:
            data = valid.encode("ascii")
            lib.dtmf_tx_put(self._state, data, len(data))
            self._idle = False

    def generate(self, n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.int16)
        if self._idle:
            return out
        got = lib.dtmf_tx(self._state, ffi.from_buffer("int16_t[]", out), n)
        if got < n:
            self._idle = True
        return out
