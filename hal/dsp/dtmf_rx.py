"""The project's DTMF receiver: a bank of Hann-windowed Goertzel (single-bin DFT) filters over the
whole tick array, with ITU-T Q.24's limits decided per 5 ms step and per channel in arrays.

Analysis. Each channel's audio is cut into 80-sample (10 ms) Hann blocks every 40 samples (5 ms):
a 20 ms tick gives four blocks, the first reaching 40 samples back into the previous tick (kept per
channel). One matrix product, (channels x 4) blocks x 80 samples by 80 x 18, gives each block's
complex amplitude at the eight DTMF frequencies and at 450 Hz (China's dial, ringback and busy tone);
a second gives each block's windowed energy. Every block's amplitude is referred to absolute time
(rotated by its nominal frequency times the block's start), so a tone exactly on its nominal
frequency gives the same phase in every block and a tone ``d`` Hz off turns by ``2 pi d 40 / 8000``
per block: the angle of the sum of ``r[b+1] * conj(r[b])`` over a window is the tone's frequency
offset, measured to a fraction of a percent, unambiguous up to 100 Hz (6 % of 1633 Hz). That is what
separates Q.24's must-accept ±1.5 % from its must-reject ±3.5 % on every row and column alike, which
a fixed filter bandwidth cannot do for 697 Hz and 1633 Hz at once. The 80-sample Hann block keeps the
other group's tone and a 450 Hz tone more than 30 dB out of a block's amplitude.

Decision, per 5 ms step over a window of the last ``WINDOW`` blocks (25 ms of audio):
* the row and the column with the most coherent energy in the window are the candidates;
* each within ``MAX_DEVIATION`` (2.5 %) of its nominal frequency by the phase measure above;
* each at least ``THRESHOLD_DBM0`` (Q.24: accept -25 dBm0 per tone, reject below -55);
* twist (column minus row) between ``-NORMAL_TWIST_DB`` and ``+REVERSE_TWIST_DB`` (Q.24: 8 and 4);
* the two tones carry at least ``PURITY`` of the window's energy, so speech and music (whose energy
  is spread over harmonics, second harmonics of a tone included) are refused; a steady component
  within ``TONE_450_HZ`` of 450 Hz (by the same phase measure) is left out of that energy, so a dial
  tone, ringback or busy tone under the digit is not held against it, while a voice's harmonic
  near 450 Hz, which wanders, is;
* the column is not the row's second harmonic (within ``HARMONIC_HZ`` of twice its measured
  frequency): a sung or played note near 830 Hz with its octave near 1660 Hz is not C. No pair
  Q.24 must accept comes within 20 Hz of 2:1 (C's nearest: 839 Hz and 1657 Hz);
* steady: in every block of the window the pair's energy is at least ``STEADY`` of its strongest
  block, so a window only counts once it lies wholly inside the tone.
A digit is reported once ``CONFIRM`` steps in a row see it (40 ms tones give at least 4 such
windows, 23 ms tones at most 2); it is over after ``BREAK`` steps without it, and the same digit is
reported again only after that (a 10 or 20 ms drop-out stays inside one digit; a 40 ms gap is a new
one). A different digit may follow at once.

Cost: the two matrix products and a few array operations on (channels x 7 x 9) complex values per
tick; the per-step state machine runs only over the channels that have a candidate or a digit in
progress (none, most ticks).
"""

from __future__ import annotations

import numpy as np

from hal.dsp.measure import FULL_SCALE_SINE_DBM0, SAMPLE_RATE

ROWS = (697.0, 770.0, 852.0, 941.0)
COLUMNS = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS = "123A456B789C*0#D"  # key of row r, column c: KEYS[4 * r + c]
FREQS = np.array(ROWS + COLUMNS + (450.0,))
_TONE_450 = 8

HOP = 40  # samples between blocks (5 ms): one decision step
BLOCK = 80  # samples per Hann block (10 ms)
WINDOW = 4  # blocks per decision window: 200 samples (25 ms) of audio
_KEEP = WINDOW - 1  # blocks carried over from the previous tick

MAX_DEVIATION = 0.025  # between Q.24's must-accept 1.5 % and must-reject 3.5 %
THRESHOLD_DBM0 = -38.0  # per tone; Q.24 accepts down to -25 dBm0 and rejects below -55
NORMAL_TWIST_DB = 10.0  # column weaker than row; Q.24 must accept 8 dB
REVERSE_TWIST_DB = 6.0  # column stronger than row; Q.24 must accept 4 dB
PURITY = 0.8  # share of the window's energy (450 Hz aside) the two tones must carry
STEADY = 0.35  # weakest block's pair energy against the strongest block's, within a window
TONE_450_HZ = 10.0  # a component within this of 450 Hz is the exchange's tone, not held against a digit
HARMONIC_HZ = 10.0  # a "column" this close to twice the row is the row's second harmonic (a note, a voice)
CONFIRM = 3  # steps in a row a digit must be seen before it is reported
BREAK = 9  # steps without the digit that end it (and let the same digit count again)

_H = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(BLOCK) / BLOCK)  # periodic Hann: sums to 1 at a 40 hop
_W = 2 * np.pi * FREQS / SAMPLE_RATE
_BASIS = np.concatenate([_H[:, None] * np.cos(np.outer(np.arange(BLOCK), _W)),
                         -_H[:, None] * np.sin(np.outer(np.arange(BLOCK), _W))], axis=1).astype(np.float32)
_H2 = (_H * _H).astype(np.float32)
# OpenBLAS hands a GEMM above 65536 * 4 multiply-adds to its threads; on a loaded 2-core box, waking
# them cost the tick milliseconds (measured: 8 ms medians at 120 channels), so each product stays under
_GEMM_ROWS = 65536 * 4 // (BLOCK * 2 * FREQS.size)
# a sine of amplitude A at a filter's frequency: |r|^2 = (A sum(h) / 2)^2, block energy = A^2 sum(h^2) / 2
_GAIN = float(_H.sum() ** 2 / (2 * (_H * _H).sum()))
_P0 = 32768.0 ** 2 / 2 * 10 ** (-FULL_SCALE_SINE_DBM0 / 10)  # the power of a 0 dBm0 sine
_THRESHOLD = _P0 * 10 ** (THRESHOLD_DBM0 / 10) * _H.sum() ** 2 / 2  # |r|^2 of a tone at the threshold
_PHASE_PER_HZ = 2 * np.pi * HOP / SAMPLE_RATE  # radians per block per Hz of offset
_MAX_TURN = MAX_DEVIATION * FREQS[:8] * _PHASE_PER_HZ
_PERIOD = int(SAMPLE_RATE // HOP)  # every nominal frequency is whole Hz: block phases repeat each second
_ROTATION = np.exp(-1j * np.outer(np.arange(_PERIOD), _W * HOP)).astype(np.complex64)  # block g's, g < _PERIOD


class DtmfBank:
    """DTMF receivers for every channel of a board, run on the whole tick array at once.

    ``process(lin, channels)`` takes the tick's linear audio (channels x N, N a multiple of 40) and
    the channels to listen on, and returns the digits completed in it as ``(channel, digit)``.
    """

    def __init__(self, channels: int) -> None:
        self.channels = channels
        self._tail = np.zeros((channels, BLOCK - HOP), np.float32)
        self._raw = np.zeros((channels, _KEEP, 2 * FREQS.size), np.float32)  # the kept blocks' (cos | sin)
        self._energy = np.zeros((channels, _KEEP), np.float32)
        self._block = 0  # index of the next block (mod _PERIOD): its start in absolute time
        self._marks = np.full((channels, _KEEP, 3), -np.inf, np.float32)  # the kept blocks' _screen margins
        self._cand = np.full(channels, -1, np.int8)  # the key seen at the last step
        self._run = np.zeros(channels, np.int16)  # steps in a row it has been seen
        self._digit = np.full(channels, -1, np.int8)  # the key reported and not yet over
        self._gap = np.zeros(channels, np.int16)  # steps since that key was last seen

    def reset(self, ch: int) -> None:
        """Forget a channel's audio and state (a new call on it)."""
        self._tail[ch] = 0
        self._raw[ch] = 0
        self._energy[ch] = 0
        self._cand[ch] = self._digit[ch] = -1
        self._run[ch] = self._gap[ch] = 0

    def process(self, lin: np.ndarray, channels: list[int] | None = None) -> list[tuple[int, str]]:
        """Analyse one tick of every channel's audio; report digits only for ``channels`` (all if None)."""
        x = np.asarray(lin, dtype=np.float32)
        if x.ndim != 2 or x.shape[0] != self.channels or x.shape[1] % HOP:
            raise ValueError(f"DTMF bank of {self.channels} channels needs ({self.channels}, k x {HOP}) samples, "
                             f"not {x.shape}")
        n_ch, n = x.shape
        steps = n // HOP
        buf = np.concatenate([self._tail, x], axis=1)
        self._tail = buf[:, n:].copy()
        blocks = np.lib.stride_tricks.sliding_window_view(buf, BLOCK, axis=1)[:, ::HOP][:, :steps]
        blocks = blocks.reshape(n_ch * steps, BLOCK)
        raw = np.empty((n_ch * steps, 2 * FREQS.size), np.float32)  # (cos | sin) at each frequency
        for i in range(0, n_ch * steps, _GEMM_ROWS):
            np.matmul(blocks[i:i + _GEMM_ROWS], _BASIS, out=raw[i:i + _GEMM_ROWS])
        raw = raw.reshape(n_ch, steps, 2 * FREQS.size)
        energy = np.einsum("ij,ij,j->i", blocks, blocks, _H2).reshape(n_ch, steps)
        marks = _screen(raw, energy)
        best = self._marks[:, 0]
        for b in range(1, _KEEP):
            best = np.maximum(best, self._marks[:, b])
        for b in range(steps):
            best = np.maximum(best, marks[:, b])
        hot = np.flatnonzero((best[:, 0] >= 0) & (best[:, 1] >= 0) & (best[:, 2] >= 0))
        keys = np.full((n_ch, steps), -1, np.int8)
        if hot.size:
            raws = np.concatenate([self._raw[hot], raw[hot]], axis=1)
            g = (self._block - _KEEP + np.arange(_KEEP + steps)) % _PERIOD
            amps = (raws[:, :, :FREQS.size] + 1j * raws[:, :, FREQS.size:]) * _ROTATION[g]  # absolute time
            keys[hot] = _decide(amps, np.concatenate([self._energy[hot], energy[hot]], axis=1))
        self._block = (self._block + steps) % _PERIOD
        if steps >= _KEEP:
            self._raw, self._energy, self._marks = raw[:, -_KEEP:].copy(), energy[:, -_KEEP:].copy(), marks[:, -_KEEP:].copy()
        else:
            self._raw = np.concatenate([self._raw, raw], axis=1)[:, -_KEEP:]
            self._energy = np.concatenate([self._energy, energy], axis=1)[:, -_KEEP:]
            self._marks = np.concatenate([self._marks, marks], axis=1)[:, -_KEEP:]
        if not hot.size and not self._busy():
            return []
        return self._follow(keys, channels)

    def _busy(self) -> bool:
        """Whether any channel has a candidate or a digit in progress."""
        return bool((self._cand >= 0).any() or (self._digit >= 0).any())

    def _follow(self, keys: np.ndarray, channels: list[int] | None) -> list[tuple[int, str]]:
        """The per-channel state machine over this tick's steps, for the channels where anything is
        going on (a candidate now, or one or a digit carried from the last tick)."""
        live = (keys >= 0).any(axis=1) | (self._cand >= 0) | (self._digit >= 0)
        if channels is not None:
            wanted = np.zeros(self.channels, bool)
            wanted[channels] = True
            live &= wanted
        chans = np.flatnonzero(live)
        if not chans.size:
            return []
        cand, run, digit, gap = self._cand[chans], self._run[chans], self._digit[chans], self._gap[chans]
        out: list[tuple[int, str]] = []
        for step in keys[chans].T:
            same = step == cand
            run = np.where(same, run + 1, 1)
            cand = step
            held = step == digit
            gap = np.where(held, 0, gap + 1)
            digit = np.where(~held & (gap >= BREAK), -1, digit)
            new = (step >= 0) & (run == CONFIRM) & (step != digit)
            if new.any():
                for i in np.flatnonzero(new):
                    out.append((int(chans[i]), KEYS[step[i]]))
                digit = np.where(new, step, digit)
                gap = np.where(new, 0, gap)
        self._cand[chans], self._run[chans], self._digit[chans], self._gap[chans] = cand, np.minimum(run, CONFIRM + 1), digit, gap
        return out


def _screen(raw: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Per block (channels x blocks x 3), margins that are >= 0 when the strongest row is at the
    threshold, the strongest column is, and the two carry ``PURITY`` of the block's energy (450 Hz
    aside). A window can only see a key if each margin is >= 0 in at least one of its blocks (its
    measures are means over blocks), so only channels with all three in their last
    ``WINDOW + steps - 1`` blocks go on to ``_decide``: most ticks, none."""
    sq = raw * raw
    power = sq[:, :, :FREQS.size] + sq[:, :, FREQS.size:]
    row = np.maximum(np.maximum(power[:, :, 0], power[:, :, 1]), np.maximum(power[:, :, 2], power[:, :, 3]))
    col = np.maximum(np.maximum(power[:, :, 4], power[:, :, 5]), np.maximum(power[:, :, 6], power[:, :, 7]))
    out = np.empty(raw.shape[:2] + (3,), np.float32)
    np.subtract(row, _THRESHOLD, out=out[:, :, 0])
    np.subtract(col, _THRESHOLD, out=out[:, :, 1])
    out[:, :, 2] = row + col - PURITY * (energy * _GAIN - power[:, :, _TONE_450])
    return out


def _decide(amps: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """The key each window sees (channels x windows; -1 for none): window ``j`` is blocks j..j+WINDOW-1."""
    n_ch, n_blocks, _ = amps.shape
    n_win = n_blocks - WINDOW + 1

    def over(a: np.ndarray, m: int) -> list[np.ndarray]:  # block m of every window, along axis 1
        return [a[:, k:k + n_win] for k in range(m)]

    coherent = sum(over(amps, WINDOW))
    coherent = coherent.real ** 2 + coherent.imag ** 2  # (channels, windows, 9)
    row = np.argmax(coherent[:, :, :4], axis=2)
    col = np.argmax(coherent[:, :, 4:8], axis=2) + 4
    ci, wi = np.arange(n_ch)[:, None], np.arange(n_win)[None, :]

    power = amps.real ** 2 + amps.imag ** 2  # (channels, blocks, 9)
    row_blocks = [p[ci, wi, row] for p in over(power, WINDOW)]  # each (channels, windows)
    col_blocks = [p[ci, wi, col] for p in over(power, WINDOW)]
    row_p, col_p = sum(row_blocks) / WINDOW, sum(col_blocks) / WINDOW
    pairs = [r + c for r, c in zip(row_blocks, col_blocks, strict=True)]
    steady = np.minimum.reduce(pairs) >= STEADY * np.maximum.reduce(pairs)

    turn = sum(over(amps[:, 1:] * np.conj(amps[:, :-1]), WINDOW - 1))  # phase advance over each window
    total = sum(over(energies, WINDOW)) * (_GAIN / WINDOW)  # in |r|^2 units, per block
    steady_450 = np.abs(np.angle(turn[:, :, _TONE_450])) <= TONE_450_HZ * _PHASE_PER_HZ
    total = total - np.where(steady_450, sum(over(power[:, :, _TONE_450], WINDOW)) / WINDOW, 0.0)

    ok = (row_p >= _THRESHOLD) & (col_p >= _THRESHOLD) & steady
    ok &= (col_p <= row_p * 10 ** (REVERSE_TWIST_DB / 10)) & (row_p <= col_p * 10 ** (NORMAL_TWIST_DB / 10))
    ok &= row_p + col_p >= PURITY * total
    row_turn, col_turn = np.angle(turn[ci, wi, row]), np.angle(turn[ci, wi, col])
    ok &= (np.abs(row_turn) <= _MAX_TURN[row]) & (np.abs(col_turn) <= _MAX_TURN[col])
    row_hz, col_hz = FREQS[row] + row_turn / _PHASE_PER_HZ, FREQS[col] + col_turn / _PHASE_PER_HZ
    ok &= np.abs(col_hz - 2 * row_hz) >= HARMONIC_HZ
    return np.where(ok, 4 * row + (col - 4), -1)


class DtmfReceiver:
    """One channel's receiver: ``process(samples)`` (a multiple of 40 samples) returns the digits completed."""

    def __init__(self) -> None:
        self._bank = DtmfBank(1)

    def process(self, samples: np.ndarray) -> str:
        return "".join(d for _, d in self._bank.process(np.asarray(samples).reshape(1, -1)))
