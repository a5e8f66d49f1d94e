"""Line echo cancellation for many channels at once: a frequency-domain block NLMS over a channels x
bins array, one 20 ms tick (160 samples) per block, no per-sample or per-channel Python.

What it cancels. A 2-wire line returns part of what the box transmits (its hybrid's echo, see
docs/echo.md). Per channel the bank keeps the box's transmitted audio (the *reference*) and, from the
received audio, subtracts its estimate of the echo: the reference through an adaptive FIR filter of
``tail_ms`` (default 32 ms, 256 taps). The reference is taken ``delay_frames`` ticks back: what the
host transmits in tick n reaches the line, and its echo the host, ``delay_frames`` ticks later (the
board's transmit buffer, which is not echo path); the tail starts there.

How. Overlap-save with one real FFT of ``fft_size`` (the power of two >= taps + 159: 512 for 32 ms)
per tick and channel: the filter is one frequency-domain weight vector, a tick's echo estimate the
last 160 samples of the inverse transform of weights times the reference window's spectrum, its error
the received block minus the estimate. Each bin's step is normalised by that bin's reference power
in the window plus a share (``FLOOR``) of the mean over the bins and a floor (``MIN_POWER``, a
-50 dBm0 reference), so speech (strongly coloured) converges nearly as fast as noise while nearly
empty bins do not wander; the gradient is constrained to the tail's taps (the circular wrap removed).
The step is large (``MU_FAST``) while the filter cancels little and shrinks to ``MU_SLOW`` as its echo
return loss enhancement reaches ``SETTLED_DB``: fast convergence, then a small misadjustment (A-law's
own noise is what a large step would amplify). On voice-band noise (G.168's kind of test signal) it
cancels 30 dB within half a second; on speech the linear filter takes one to two seconds to get
there, and the non-linear processor below covers the difference. A silent reference (A-law's silence
decodes to +8) teaches nothing and is not learnt from.

Double talk (the line's talker speaking while the box's audio echoes) must neither damage that
talker's speech nor wreck the filter:
* a Geigel detector: a block whose received peak exceeds ``GEIGEL`` times the reference's peak over
  the tail (an echo is at least 6 dB down, as G.168 assumes) is double talk, and ``HANGOVER`` blocks
  after it;
* two filters per channel: a *background* filter adapts and a *foreground* filter, which makes the
  output, takes the background's weights only when the background has done clearly better: in single
  talk its error under ``COPY_RATIO`` of the foreground's in ``COPY_BLOCKS`` blocks in a row; in double
  talk under ``COPY_RATIO_DT`` in ``COPY_BLOCKS_DT``, both errors weighted per bin by the reference's
  share of the power there (``_share``), so a talker in other bins (a tone, another voice's formants)
  does not hide which filter cancels the echo better. In double talk the background adapts with
  ``DT_STEP`` of its step and only in those bins: a talker who never pauses does not stop the echo from
  being learnt where the talker is not. A background thrown off anyway (its error ``RESET_RATIO`` above
  the foreground's) is set back to the foreground;
* loops: in a bridge the reference can hold the line talker's own voice, come back through another
  line's echo. No echo path has gain: the weights are clamped to ``MAX_BIN_GAIN`` per bin, and a
  background whose estimate is louder than ``MAX_ECHO_GAIN`` of its reference is thrown away;
* stale weights: a foreground learnt on one sound (a dial tone) can be wrong at frequencies it never
  heard; one whose error is ``HURT_RATIO`` over the received audio's (weighted, smoothed) is bypassed,
  and dropped after ``HURT_BLOCKS``.

Non-linear processor (``nlp_db``, default 12 dB; 0 = off): a gentle one. Where the residual is far
(``NLP_RESIDUAL_DB``) below the echo estimate and the block is not double talk, the output is
attenuated by up to ``nlp_db``, closing over a few ticks and letting go at once; never gated to
silence, so no comfort noise is needed and the line's own background noise only dips by that much.
"""

from __future__ import annotations

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE

N = FRAME_SAMPLES  # block (= tick) length
MU_FAST = 1.0  # step (per bin, normalised) while the filter is far from the echo path
MU_SLOW = 0.5  # and once it cancels SETTLED_DB
UNSETTLED_DB = 28.0
SETTLED_DB = 34.0
FLOOR = 0.2  # share of the mean power over the bins added to each bin's (regularisation)
MIN_POWER = 2.5e6  # per-bin regularisation: a -50 dBm0 reference's power in a bin (A-law's silence is +8)
COPY_RATIO = 0.6  # background error energy / foreground's under which the background is taken,
COPY_BLOCKS = 2  # in this many blocks in a row
COPY_RATIO_DT = 0.3  # the same in double talk
COPY_BLOCKS_DT = 5
DT_STEP = 0.5  # the background's step in double talk, of its usual
HURT_RATIO = 2.0  # foreground error / received audio's (weighted, smoothed) over which it is bypassed
HURT_BLOCKS = 5  # and after this many blocks in a row, dropped
MAX_BIN_GAIN = 1.0  # nor in any bin (the weights are clamped to it)
MAX_ECHO_GAIN = 10 ** (-6 / 10)  # an echo's energy is at most this share of its source's (ERL >= 6 dB)
WEIGHT_FLOOR = 0.05  # bins with less than this share of the reference's strongest count for little
RESET_RATIO = 4.0  # background error energy (smoothed) / foreground's over which it is reset
ERROR_SMOOTHING = 0.5
GEIGEL = 0.5  # received peak / reference peak above which a block is double talk
HANGOVER = 3  # blocks of no adaptation after double talk
QUIET = 100.0  # a received peak under this (about -50 dBm0) is nobody talking
NLP_RESIDUAL_DB = 12.0  # residual this far under the echo estimate: only echo came back


_HANN = np.hanning(N)


def _share(power: np.ndarray) -> np.ndarray:
    """Per bin, how much it counts as a bin where the reference is (and so its echo): about 1 within
    ``WEIGHT_FLOOR`` of the strongest bin, falling with the fourth power of the ratio below that (a
    talker on the line 30 dB over a weak bin of the reference must not count there)."""
    r = power / (WEIGHT_FLOOR * power.max(axis=1, keepdims=True) + MIN_POWER)
    r /= 1.0 + r
    r *= r  # squared twice: a fourth power without pow()
    r *= r
    return r


class EchoBank:
    """Echo cancellers for ``rows`` channels (rows 0..rows-1 of the arrays passed in).

    Per tick: ``cancel(rx)`` returns the received audio of every row with its echo removed, then
    ``remember(tx)`` takes what was transmitted this tick (both (rows, 160) linear arrays).
    ``reset(row)`` forgets a channel's echo path (a new call on it).
    """

    def __init__(self, rows: int, tail_ms: float = 32.0, delay_frames: int = 1, nlp_db: float = 12.0) -> None:
        if rows < 0:
            raise ValueError("rows must be >= 0")
        if not 1.0 <= tail_ms <= 128.0:
            raise ValueError("tail_ms must be from 1 to 128")
        if not 1 <= delay_frames <= 16:
            raise ValueError("delay_frames must be from 1 to 16")
        if not 0.0 <= nlp_db <= 30.0:
            raise ValueError("nlp_db must be from 0 to 30")
        self.rows = rows
        self.tail_ms = float(tail_ms)
        self.taps = round(tail_ms * SAMPLE_RATE / 1000)
        self.fft_size = m = 1 << int(np.ceil(np.log2(self.taps + N - 1)))
        self.delay_frames = delay_frames
        self.nlp_gain_min = 10 ** (-nlp_db / 20)
        c, bins = rows, m // 2 + 1
        self._fifo = np.zeros((c, delay_frames, N))  # transmitted, not yet on the line; oldest first
        self._window = np.zeros((c, m))  # the reference on the line: the last fft_size samples
        self._wb = np.zeros((c, bins), np.complex128)  # background weights
        self._wf = np.zeros((c, bins), np.complex128)  # foreground weights
        self._err_b = np.zeros(c)
        self._err_f = np.zeros(c)
        self._rx_energy = np.zeros(c)
        self._err_fg = np.zeros(c)  # the foreground's whole error energy (smoothed)
        self._err_d = np.zeros(c)  # the received audio's, weighted as the errors are (smoothed)
        self._hurt = np.zeros(c, np.int64)  # blocks in a row the foreground made worse
        self._better = np.zeros(c, np.int64)  # blocks in a row the background did clearly better
        self._settled = np.zeros(c)  # 0: far from the echo path (fast steps) .. 1: cancelling (slow)
        self._peaks = np.zeros((c, -(-self.taps // N) + 1))  # the reference's peak per block over the tail
        self._hang = np.zeros(c, np.int64)
        self._talk = np.zeros(c, bool)  # this block's own verdict (the hangover aside)
        self._gain = np.ones(c)
        self.double_talk = np.zeros(c, bool)  # this tick's verdict per row (tests, diagnostics)
        self.echo_estimate = np.zeros((c, N))  # this tick's (foreground) estimate per row

    def reset(self, row: int) -> None:
        """Forget row ``row``'s echo path and reference (a new call on that channel)."""
        for a in (self._fifo, self._window, self._wb, self._wf, self._err_b, self._err_f,
                  self._err_fg, self._err_d, self._hurt, self._rx_energy, self._better, self._settled, self._peaks, self._hang):
            a[row] = 0
        self._gain[row] = 1.0

    def cancel(self, rx: np.ndarray) -> np.ndarray:
        """This tick's received audio (rows, 160) with each row's echo removed (float64)."""
        d = np.asarray(rx, dtype=np.float64)
        if not self.rows:
            return d.copy()
        m = self.fft_size
        window = self._window
        window[:, :-N] = window[:, N:]
        window[:, -N:] = self._fifo[:, 0]  # the block on the line while this tick's rx was heard
        x = np.fft.rfft(window, axis=1)
        y = np.fft.irfft(np.stack([self._wf * x, self._wb * x]), m, axis=2)[:, :, m - N:]
        e = d[None] - y  # (2, rows, N): foreground, background
        ef = np.einsum("rt,rt->r", e[0], e[0])
        # the two errors compared where the echo is: each bin weighted by the reference's share of the
        # power there, so a talker on the line in other bins (a tone, another voice's formants) does not
        # hide which filter cancels the echo better
        spec = np.fft.rfft(np.concatenate([e, d[None], window[None, :, -N:]]) * _HANN, axis=2)
        power = spec.real ** 2 + spec.imag ** 2
        wf, wb, wd = np.einsum("srf,rf->sr", power[:3], _share(power[3]))
        a = ERROR_SMOOTHING
        self._err_f = a * self._err_f + (1 - a) * wf
        self._err_b = a * self._err_b + (1 - a) * wb
        self._err_fg = a * self._err_fg + (1 - a) * ef
        self._err_d = a * self._err_d + (1 - a) * wd
        # a foreground that clearly adds more than it takes away (weights learnt on other sounds, a tone,
        # met by new ones) is bypassed; kept up for HURT_BLOCKS it is dropped, to be learnt again
        hurts = self._err_f > HURT_RATIO * (self._err_d + 1.0)
        self._hurt = np.where(hurts, self._hurt + 1, 0)
        drop = self._hurt >= HURT_BLOCKS
        if drop.any():
            self._wf[drop] = 0
            self._err_f[drop] = self._err_d[drop]
            self._hurt[drop] = 0
        self._rx_energy = a * self._rx_energy + (1 - a) * np.einsum("rt,rt->r", d, d)

        # double talk (Geigel): the received peak against the reference's over the tail
        self._peaks[:, :-1] = self._peaks[:, 1:]
        self._peaks[:, -1] = np.abs(window[:, -N:]).max(axis=1)
        peak = np.abs(d).max(axis=1)
        talk = self._talk = (peak > GEIGEL * self._peaks.max(axis=1)) & (peak > QUIET)
        self._hang = np.where(talk, HANGOVER, np.maximum(self._hang - 1, 0))
        self.double_talk = talk | (self._hang > 0)

        # single talk: the background's error against the foreground's; in double talk, weighted by
        # where the reference is, and the background must do much better for longer (it adapts there
        # too, slowly, so a line whose talker never pauses still gets its echo cancelled where the
        # talker is not)
        dt = self.double_talk
        # an echo is at least 6 dB under what made it: a background whose estimate is louder has
        # learnt the line's talker from a loop (the talker's own voice back in the reference through
        # another line's echo), never the echo path; it is not taken, and starts again from the foreground
        ref = window[:, -2 * N:].reshape(self.rows, 2, N)
        loudest = np.einsum("rbt,rbt->rb", ref, ref).max(axis=1)
        implausible = np.einsum("rt,rt->r", y[1], y[1]) > MAX_ECHO_GAIN * loudest + 1.0
        eb = np.einsum("rt,rt->r", e[1], e[1])
        better = np.where(dt, wb < COPY_RATIO_DT * wf, eb < COPY_RATIO * ef) & ~implausible
        self._better = np.where(better, self._better + 1, 0)
        copy = self._better >= np.where(dt, COPY_BLOCKS_DT, COPY_BLOCKS)
        out = np.where(copy[:, None], e[1], np.where(hurts[:, None], d, e[0]))
        self.echo_estimate = np.where(copy[:, None], y[1], np.where(hurts[:, None], 0.0, y[0]))
        if copy.any():
            self._wf[copy] = self._wb[copy]
            self._err_f[copy] = self._err_b[copy]
            self._better[copy] = 0
        reset = (self._err_b > RESET_RATIO * (self._err_f + 1.0)) | implausible
        if reset.any():
            self._wb[reset] = self._wf[reset]
            self._err_b[reset] = self._err_f[reset]
        # how well the foreground cancels, judged on single talk only (the line's talker is not echo)
        erle_db = 10 * np.log10((self._rx_energy + 1.0) / (self._err_fg + 1.0))
        self._settled = np.where(self.double_talk, self._settled,
                                 np.clip((erle_db - UNSETTLED_DB) / (SETTLED_DB - UNSETTLED_DB), 0.0, 1.0))
        adapt = ~reset & (self._peaks[:, -1] > QUIET)  # nothing to learn from a silent reference
        if adapt.any():
            rows = slice(None) if adapt.all() else np.flatnonzero(adapt)
            self._adapt(rows, e[1][rows], x, dt[rows])
        if self.nlp_gain_min < 1.0:
            out = self._nlp(out, np.where(copy, np.einsum("rt,rt->r", e[1], e[1]), ef))
        return out

    def _adapt(self, rows: slice | np.ndarray, err: np.ndarray, x: np.ndarray, dt: np.ndarray) -> None:
        """One normalised step of the background filters of ``rows``, constrained to the tail. In double
        talk (``dt``) a smaller one, and only in the bins where the reference has power: elsewhere the
        error is the line's talker, nothing to learn from."""
        m = self.fft_size
        padded = np.zeros((len(err), m))
        padded[:, m - N:] = err
        big_e = np.fft.rfft(padded, axis=1)
        xr = x[rows]
        power = xr.real ** 2 + xr.imag ** 2
        mean = power.mean(axis=1, keepdims=True)
        mu = (MU_FAST + (MU_SLOW - MU_FAST) * self._settled[rows])[:, None]
        if dt.any():
            mu = np.where(dt[:, None], DT_STEP * mu * _share(power), mu)
        g = np.fft.irfft(np.conj(xr) * big_e * (mu / (power + FLOOR * mean + MIN_POWER)), m, axis=1)
        g[:, self.taps:] = 0  # the tail's taps; beyond them is the circular wrap
        w = self._wb[rows] + np.fft.rfft(g, axis=1)
        # no echo path has gain at any frequency (G.168: ERL >= 6 dB); more is the line's own talker
        # learnt from a loop (its voice back in the reference through another line's echo)
        mag2 = w.real ** 2 + w.imag ** 2
        over = mag2 > MAX_BIN_GAIN ** 2
        if over.any():
            w[over] *= MAX_BIN_GAIN / np.sqrt(mag2[over])
        self._wb[rows] = w

    def _nlp(self, out: np.ndarray, residual: np.ndarray) -> np.ndarray:
        """Attenuate rows where only a small residual of echo is left, gently and smoothly."""
        echo = np.einsum("rt,rt->r", self.echo_estimate, self.echo_estimate)
        only_echo = (residual * 10 ** (NLP_RESIDUAL_DB / 10) < echo) & ~self._talk
        target = np.where(only_echo, self.nlp_gain_min, 1.0)
        # let go at once (the line's talker is never clipped), close over a few ticks
        self._gain = np.where(target > self._gain, target, 0.7 * self._gain + 0.3 * target)
        return out * self._gain[:, None]

    def remember(self, tx: np.ndarray) -> None:
        """What was transmitted this tick on every row (rows, 160): the reference for the echo to come."""
        if not self.rows:
            return
        fifo = self._fifo
        fifo[:, :-1] = fifo[:, 1:]
        fifo[:, -1] = tx
