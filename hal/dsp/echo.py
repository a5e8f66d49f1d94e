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

Quiet channels. Echo is cancelled on every analog port, most of them idle at any time. A row whose
reference peaked at most ``QUIET`` (about -50 dBm0; its echo under -56 dBm0) over the whole tail its
received block can hold the echo of (the last ``taps`` + 160 samples) has nothing to cancel: its received
audio passes untouched (no estimate, no NLP, no double talk) and none of the filtering is done for it.
It keeps its weights and settling through the pause (the echo path did not change in a silence), its
runs of blocks start again and its double-talk hangover runs down; its reference history keeps moving,
so it starts again on its true reference. The filters run on the live rows only: all of them in place,
some of them gathered and scattered back.

Non-linear processor (``nlp_db``, default 12 dB; 0 = off): a gentle one. Where the residual is far
(``NLP_RESIDUAL_DB``) below the echo estimate and the block is not double talk, the output is
attenuated by up to ``nlp_db``, closing over a few ticks and letting go at once; never gated to
silence, so no comfort noise is needed and the line's own background noise only dips by that much.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

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


@dataclass
class _Rows:
    """The learnt state of some rows of a bank: all of them, or the live ones of a tick gathered."""

    wb: np.ndarray  # background weights (rows, bins)
    wf: np.ndarray  # foreground weights
    err_b: np.ndarray  # the background's weighted error energy (smoothed)
    err_f: np.ndarray  # the foreground's
    rx_energy: np.ndarray  # the received audio's energy (smoothed)
    err_fg: np.ndarray  # the foreground's whole error energy (smoothed)
    err_d: np.ndarray  # the received audio's, weighted as the errors are (smoothed)
    hurt: np.ndarray  # blocks in a row the foreground made worse
    better: np.ndarray  # blocks in a row the background did clearly better
    settled: np.ndarray  # 0: far from the echo path (fast steps) .. 1: cancelling (slow)
    hang: np.ndarray  # double talk's hangover: blocks left
    gain: np.ndarray  # the NLP's gain

    @classmethod
    def zeros(cls, rows: int, bins: int) -> _Rows:
        return cls(*(np.zeros((rows, bins), np.complex128) for _ in range(2)),
                   *(np.zeros(rows) for _ in range(5)), np.zeros(rows, np.int64), np.zeros(rows, np.int64),
                   np.zeros(rows), np.zeros(rows, np.int64), np.ones(rows))

    def take(self, rows: np.ndarray) -> _Rows:
        return _Rows(*(getattr(self, f.name)[rows] for f in fields(self)))

    def put(self, rows: np.ndarray, part: _Rows) -> None:
        for f in fields(self):
            getattr(self, f.name)[rows] = getattr(part, f.name)

    def forget(self, row: int) -> None:
        for f in fields(self):
            getattr(self, f.name)[row] = 0
        self.gain[row] = 1.0


class EchoBank:
    """Echo cancellers for ``rows`` channels (rows 0..rows-1 of the arrays passed in).

    Per tick: ``cancel(rx)`` returns the received audio of every row with its echo removed, then
    ``remember(tx)`` takes what was transmitted this tick (both (rows, 160) linear arrays).
    ``reset(row)`` forgets a channel's echo path (a new call on it).

    Only rows with something to cancel cost anything: a row whose reference has been quiet (peak
    under ``QUIET``) over the whole tail it could still hear is passed through untouched and keeps
    what it has learnt (the echo path does not change in a silence); the filters run on the others.
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
        self._peaks = np.zeros((c, -(-self.taps // N) + 1))  # the reference's peak per block over the tail
        self._tail_blocks = -(-self.taps // N)  # the whole blocks in the last taps + N samples,
        start = m - self.taps - N
        self._tail_part = slice(start, start + self.taps + N - N * self._tail_blocks)  # and the rest
        self._s = _Rows.zeros(c, bins)
        self.live = np.zeros(c, bool)  # the rows filtered this tick (the others passed through untouched)
        self.double_talk = np.zeros(c, bool)  # this tick's verdict per row (tests, diagnostics)
        self.echo_estimate = np.zeros((c, N))  # this tick's (foreground) estimate per row

    def reset(self, row: int) -> None:
        """Forget row ``row``'s echo path and reference (a new call on that channel)."""
        for a in (self._fifo, self._window, self._peaks):
            a[row] = 0
        self._s.forget(row)

    def cancel(self, rx: np.ndarray) -> np.ndarray:
        """This tick's received audio (rows, 160) with each row's echo removed (float64)."""
        d = np.asarray(rx, dtype=np.float64)
        if not self.rows:
            return d.copy()
        window = self._window
        window[:, :-N] = window[:, N:]
        window[:, -N:] = self._fifo[:, 0]  # the block on the line while this tick's rx was heard
        peaks = self._peaks
        peaks[:, :-1] = peaks[:, 1:]
        peaks[:, -1] = np.abs(window[:, -N:]).max(axis=1)
        # live: a reference over QUIET somewhere in the tail whose echo this tick's rx can hold (the
        # last taps + N samples: the newest blocks' peaks, and the part of the block before them)
        live = self.live = (peaks[:, -self._tail_blocks:].max(axis=1) > QUIET) | (
            np.abs(window[:, self._tail_part]).max(axis=1) > QUIET)
        s = self._s
        if live.all():
            out, self.echo_estimate, self.double_talk = self._cancel(s, d, window, peaks)
            return out
        # quiet rows hear their line as it is; they keep their weights and settling, their runs of
        # blocks start again and the double talk hangover runs down
        quiet = ~live
        s.hurt[quiet] = 0
        s.better[quiet] = 0
        s.hang[quiet] = np.maximum(s.hang[quiet] - 1, 0)
        s.gain[quiet] = 1.0
        self.double_talk = np.zeros(self.rows, bool)
        self.echo_estimate = np.zeros((self.rows, N))
        out = d.copy()
        if not live.any():
            return out
        rows = np.flatnonzero(live)
        part_s = s.take(rows)
        out[rows], self.echo_estimate[rows], self.double_talk[rows] = self._cancel(
            part_s, d[rows], window[rows], peaks[rows])
        s.put(rows, part_s)
        return out

    def _cancel(self, s: _Rows, d: np.ndarray, window: np.ndarray,
                peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One block of the rows whose state is ``s`` (updated in place), received audio ``d`` and
        reference ``window`` / ``peaks``: (their output, their echo estimate, their double talk)."""
        m = self.fft_size
        x = np.fft.rfft(window, axis=1)
        y = np.fft.irfft(np.stack([s.wf * x, s.wb * x]), m, axis=2)[:, :, m - N:]
        e = d[None] - y  # (2, rows, N): foreground, background
        ef = np.einsum("rt,rt->r", e[0], e[0])
        # the two errors compared where the echo is: each bin weighted by the reference's share of the
        # power there, so a talker on the line in other bins (a tone, another voice's formants) does not
        # hide which filter cancels the echo better
        spec = np.fft.rfft(np.concatenate([e, d[None], window[None, :, -N:]]) * _HANN, axis=2)
        power = spec.real ** 2 + spec.imag ** 2
        wf, wb, wd = np.einsum("srf,rf->sr", power[:3], _share(power[3]))
        a = ERROR_SMOOTHING
        s.err_f = a * s.err_f + (1 - a) * wf
        s.err_b = a * s.err_b + (1 - a) * wb
        s.err_fg = a * s.err_fg + (1 - a) * ef
        s.err_d = a * s.err_d + (1 - a) * wd
        # a foreground that clearly adds more than it takes away (weights learnt on other sounds, a tone,
        # met by new ones) is bypassed; kept up for HURT_BLOCKS it is dropped, to be learnt again
        hurts = s.err_f > HURT_RATIO * (s.err_d + 1.0)
        s.hurt = np.where(hurts, s.hurt + 1, 0)
        drop = s.hurt >= HURT_BLOCKS
        if drop.any():
            s.wf[drop] = 0
            s.err_f[drop] = s.err_d[drop]
            s.hurt[drop] = 0
        s.rx_energy = a * s.rx_energy + (1 - a) * np.einsum("rt,rt->r", d, d)

        # double talk (Geigel): the received peak against the reference's over the tail
        peak = np.abs(d).max(axis=1)
        talk = (peak > GEIGEL * peaks.max(axis=1)) & (peak > QUIET)
        s.hang = np.where(talk, HANGOVER, np.maximum(s.hang - 1, 0))
        dt = talk | (s.hang > 0)

        # single talk: the background's error against the foreground's; in double talk, weighted by
        # where the reference is, and the background must do much better for longer (it adapts there
        # too, slowly, so a line whose talker never pauses still gets its echo cancelled where the
        # talker is not)
        # an echo is at least 6 dB under what made it: a background whose estimate is louder has
        # learnt the line's talker from a loop (the talker's own voice back in the reference through
        # another line's echo), never the echo path; it is not taken, and starts again from the foreground
        ref = window[:, -2 * N:].reshape(len(d), 2, N)
        loudest = np.einsum("rbt,rbt->rb", ref, ref).max(axis=1)
        implausible = np.einsum("rt,rt->r", y[1], y[1]) > MAX_ECHO_GAIN * loudest + 1.0
        eb = np.einsum("rt,rt->r", e[1], e[1])
        better = np.where(dt, wb < COPY_RATIO_DT * wf, eb < COPY_RATIO * ef) & ~implausible
        s.better = np.where(better, s.better + 1, 0)
        copy = s.better >= np.where(dt, COPY_BLOCKS_DT, COPY_BLOCKS)
        if copy.any() or hurts.any():
            out = np.where(copy[:, None], e[1], np.where(hurts[:, None], d, e[0]))
            estimate = np.where(copy[:, None], y[1], np.where(hurts[:, None], 0.0, y[0]))
        else:  # the usual tick: every foreground makes the output
            out, estimate = e[0], y[0]
        if copy.any():
            s.wf[copy] = s.wb[copy]
            s.err_f[copy] = s.err_b[copy]
            s.better[copy] = 0
        reset = (s.err_b > RESET_RATIO * (s.err_f + 1.0)) | implausible
        if reset.any():
            s.wb[reset] = s.wf[reset]
            s.err_b[reset] = s.err_f[reset]
        # how well the foreground cancels, judged on single talk only (the line's talker is not echo)
        erle_db = 10 * np.log10((s.rx_energy + 1.0) / (s.err_fg + 1.0))
        s.settled = np.where(dt, s.settled,
                             np.clip((erle_db - UNSETTLED_DB) / (SETTLED_DB - UNSETTLED_DB), 0.0, 1.0))
        adapt = ~reset & (peaks[:, -1] > QUIET)  # nothing to learn from a silent reference
        if adapt.any():
            rows = slice(None) if adapt.all() else np.flatnonzero(adapt)
            self._adapt(s, rows, e[1][rows], x, dt[rows])
        if self.nlp_gain_min < 1.0:
            out = self._nlp(s, out, estimate, np.where(copy, eb, ef), talk)
        return out, estimate, dt

    def _adapt(self, s: _Rows, rows: slice | np.ndarray, err: np.ndarray, x: np.ndarray, dt: np.ndarray) -> None:
        """One normalised step of the background filters of ``rows`` (of ``s``), constrained to the
        tail. In double talk (``dt``) a smaller one, and only in the bins where the reference has power:
        elsewhere the error is the line's talker, nothing to learn from."""
        m = self.fft_size
        padded = np.zeros((len(err), m))
        padded[:, m - N:] = err
        big_e = np.fft.rfft(padded, axis=1)
        xr = x[rows]
        power = xr.real ** 2 + xr.imag ** 2
        mean = power.mean(axis=1, keepdims=True)
        mu = (MU_FAST + (MU_SLOW - MU_FAST) * s.settled[rows])[:, None]
        if dt.any():
            mu = np.where(dt[:, None], DT_STEP * mu * _share(power), mu)
        g = np.fft.irfft(np.conj(xr) * big_e * (mu / (power + FLOOR * mean + MIN_POWER)), m, axis=1)
        g[:, self.taps:] = 0  # the tail's taps; beyond them is the circular wrap
        w = s.wb[rows] + np.fft.rfft(g, axis=1)
        # no echo path has gain at any frequency (G.168: ERL >= 6 dB); more is the line's own talker
        # learnt from a loop (its voice back in the reference through another line's echo)
        mag2 = w.real ** 2 + w.imag ** 2
        over = mag2 > MAX_BIN_GAIN ** 2
        if over.any():
            w[over] *= MAX_BIN_GAIN / np.sqrt(mag2[over])
        s.wb[rows] = w

    def _nlp(self, s: _Rows, out: np.ndarray, estimate: np.ndarray, residual: np.ndarray,
             talk: np.ndarray) -> np.ndarray:
        """Attenuate rows where only a small residual of echo is left, gently and smoothly."""
        echo = np.einsum("rt,rt->r", estimate, estimate)
        only_echo = (residual * 10 ** (NLP_RESIDUAL_DB / 10) < echo) & ~talk
        target = np.where(only_echo, self.nlp_gain_min, 1.0)
        # let go at once (the line's talker is never clipped), close over a few ticks
        s.gain = np.where(target > s.gain, target, 0.7 * s.gain + 0.3 * target)
        return out * s.gain[:, None]

    def remember(self, tx: np.ndarray) -> None:
        """What was transmitted this tick on every row (rows, 160): the reference for the echo to come."""
        if not self.rows:
            return
        fifo = self._fifo
        fifo[:, :-1] = fifo[:, 1:]
        fifo[:, -1] = tx
