"""Call-progress tone detection with cadence checks: China's 450 Hz tones and fax CNG/CED.

Per tick, ``ProgressBank.process`` classifies the frame of every listening channel at once (one
matrix product gives the energy at 450, 1100 and 2100 Hz; the share of the frame's energy in the
strongest of them says whether it is a tone): silence, one of the tones, or other sound (speech,
music). Runs of equal frames make segments; only at a segment's end, or when a run reaches a length
that matters, does a channel's ``CadenceMatcher`` (plain Python) look at it — a few times a second
per channel, never per frame.

Events (``ProgressEvent``): a tone's cadence recognised (dial tone after 1.5 s continuous; ringback
after one 1 s burst; busy and congestion only after burst, gap, burst all of the right lengths, so
neither speech nor a single burst reads as busy; CNG after one 0.5 s 1100 Hz burst; CED after 0.5 s
of 2100 Hz), and ``ended`` once a recognised tone stops or its cadence breaks (a gap or burst of
the wrong length, or other sound): how an analog trunk learns that ringback gave way to an answer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.dsp.measure import SAMPLE_RATE, dbm0_to_peak
from hal.dsp.tones import CHINA, ToneName

FRAME_MS = 1000 * FRAME_SAMPLES // SAMPLE_RATE

SILENCE, TONE_450, TONE_1100, TONE_2100, OTHER = range(5)
TONE_FREQS = (450.0, 1100.0, 2100.0)  # classes TONE_450.. in this order
MIN_LEVEL_DBM0 = -36.0  # quieter frames are silence
TONE_PURITY = 0.45  # share of a frame's energy at one tone frequency for it to count as that tone
GLITCH_FRAMES = 2  # "other" runs this short (a tone's first or last partial frame) count as silence

DIAL_MIN_MS = 1500  # longer than ringback's 1 s burst
CED_MIN_MS = 500
TOLERANCE_MS = 100  # each cadence interval is accepted within ± max(this, 20 %)


@dataclass(frozen=True)
class ProgressEvent:
    tone: ToneName  # which tone's cadence was recognised (or, with ``ended``, which one stopped)
    ended: bool = False


def _window(ms: int) -> tuple[int, int]:
    slack = max(TOLERANCE_MS, ms // 5)
    return ms - slack, ms + slack


@dataclass(frozen=True)
class _Cadence:
    tone: ToneName
    cls: int
    pattern: tuple[int, ...]  # the segments (on, off, on, ...) that must be seen, ending with an on
    on: tuple[int, int]
    off: tuple[int, int]


def _cadence(tone: ToneName, cls: int, cycles_on: int) -> _Cadence:
    on_ms, off_ms = CHINA[tone].cadence_ms[:2]
    pattern = tuple([on_ms, off_ms] * (cycles_on - 1) + [on_ms])
    return _Cadence(tone, cls, pattern, _window(on_ms), _window(off_ms))


CADENCES = (
    _cadence(ToneName.BUSY, TONE_450, 2),
    _cadence(ToneName.CONGESTION, TONE_450, 2),
    _cadence(ToneName.RINGBACK, TONE_450, 1),
    _cadence(ToneName.FAX_CNG, TONE_1100, 1),
)
CONTINUOUS = {TONE_450: (ToneName.DIAL, DIAL_MIN_MS), TONE_2100: (ToneName.FAX_CED, CED_MIN_MS)}


def _frames(ms: int) -> int:
    return -(-ms // FRAME_MS)


class CadenceMatcher:
    """One channel's segment history, the tone it has recognised, and when it next needs a look."""

    def __init__(self) -> None:
        self.history: deque[tuple[int, int]] = deque(maxlen=8)  # (class, ms), oldest first
        self.active: _Cadence | ToneName | None = None

    def segment_ended(self, cls: int, frames: int) -> list[ProgressEvent]:
        ms = frames * FRAME_MS
        if cls == OTHER and frames <= GLITCH_FRAMES:
            cls = SILENCE
        if self.history and self.history[-1][0] == cls:
            ms += self.history.pop()[1]
        self.history.append((cls, ms))
        events = []
        if self.active is not None and not self._fits(cls, ms):
            events.append(self._end())
        if self.active is None:
            for cad in CADENCES:
                if self._matches(cad):
                    self.active = cad
                    events.append(ProgressEvent(cad.tone))
                    break
        return events

    def run_reached(self, cls: int, frames: int) -> list[ProgressEvent]:
        """The current (unfinished) run of ``cls`` is ``frames`` long: the moment ``check_at`` named."""
        if self.active is not None:
            return [self._end()]
        if cls in CONTINUOUS:
            self.active = CONTINUOUS[cls][0]
            return [ProgressEvent(self.active)]
        return []

    def check_at(self, cls: int) -> int:
        """The run length (frames) of the current ``cls`` run at which ``run_reached`` must be called."""
        act = self.active
        if act is None:
            return _frames(CONTINUOUS[cls][1]) if cls in CONTINUOUS else 0
        if isinstance(act, ToneName):  # a continuous tone: anything else ends it
            return 0 if cls == self._continuous_cls(act) else GLITCH_FRAMES + 1
        if cls == act.cls:
            return _frames(act.on[1]) + 1
        if cls == SILENCE:
            return _frames(act.off[1]) + 1
        return GLITCH_FRAMES + 1

    def _fits(self, cls: int, ms: int) -> bool:
        act = self.active
        if isinstance(act, ToneName):
            return cls == self._continuous_cls(act) or (cls == SILENCE and ms <= GLITCH_FRAMES * FRAME_MS)
        assert act is not None
        if cls == act.cls:
            return act.on[0] <= ms <= act.on[1]
        if cls == SILENCE:
            return act.off[0] <= ms <= act.off[1]
        return False

    def _matches(self, cad: _Cadence) -> bool:
        n = len(cad.pattern)
        if len(self.history) < n:
            return False
        recent = list(self.history)[-n:]
        for i, (cls, ms) in enumerate(recent):
            want_cls, window = (cad.cls, cad.on) if i % 2 == 0 else (SILENCE, cad.off)
            if cls != want_cls or not window[0] <= ms <= window[1]:
                return False
        return True

    def _end(self) -> ProgressEvent:
        act = self.active
        self.active = None
        return ProgressEvent(act if isinstance(act, ToneName) else act.tone, ended=True)

    @staticmethod
    def _continuous_cls(tone: ToneName) -> int:
        return next(c for c, (t, _) in CONTINUOUS.items() if t is tone)


class ProgressBank:
    """Call-progress detectors for every channel of a board, run on the whole tick array."""

    def __init__(self, channels: int) -> None:
        t = np.arange(FRAME_SAMPLES) * (2 * np.pi / SAMPLE_RATE)
        w = np.array(TONE_FREQS)[None, :] * t[:, None]
        self._basis = np.concatenate([np.cos(w), np.sin(w)], axis=1).astype(np.float32)  # (160, 6)
        self._min_energy = FRAME_SAMPLES * dbm0_to_peak(MIN_LEVEL_DBM0) ** 2 / 2
        self.cur = np.zeros(channels, np.int8)
        self.run = np.zeros(channels, np.int32)
        self.check = np.zeros(channels, np.int32)  # 0 = nothing to check in this run
        self.matchers = [CadenceMatcher() for _ in range(channels)]
        self._idx_key: list[int] | None = None
        self._idx = np.zeros(0, np.intp)

    def reset(self, ch: int) -> None:
        self.cur[ch] = SILENCE
        self.run[ch] = 0
        self.check[ch] = 0
        self.matchers[ch] = CadenceMatcher()

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """The class of each row of ``frames`` (n x 160 linear): SILENCE, TONE_450/1100/2100 or OTHER."""
        x = frames.astype(np.float32)
        energy = np.einsum("ij,ij->i", x, x)
        proj = x @ self._basis
        k = len(TONE_FREQS)
        power = proj[:, :k] ** 2 + proj[:, k:] ** 2
        best = power.argmax(axis=1)
        purity = 2 * power[np.arange(len(x)), best] / (FRAME_SAMPLES * np.maximum(energy, 1.0))
        return np.where(energy < self._min_energy, SILENCE,
                        np.where(purity >= TONE_PURITY, TONE_450 + best, OTHER)).astype(np.int8)

    def process(self, lin: np.ndarray, channels: list[int]) -> list[tuple[int, ProgressEvent]]:
        if channels is not self._idx_key:
            self._idx_key, self._idx = channels, np.asarray(channels, dtype=np.intp)
        idx = self._idx
        if not len(idx):
            return []
        return step_segments(idx, self.classify(lin[idx]), self.cur, self.run, self.check, self.matchers)


def step_segments(idx: np.ndarray, cls: np.ndarray, cur: np.ndarray, run: np.ndarray, check: np.ndarray,
                  matchers: Sequence[Any]) -> list[tuple[int, Any]]:
    """One block of the per-channel segment tracking both banks share: channels ``idx`` were classed
    ``cls``; a channel whose class changed ends its segment (its matcher's ``segment_ended``), and one whose
    run reached the length its matcher asked to hear about is told (``run_reached``). ``cur``, ``run``
    and ``check`` (per channel: class, blocks in it, the run length to report at) are updated in place;
    returns (channel, what the matcher said)."""
    out: list[tuple[int, Any]] = []
    changed = cls != cur[idx]
    for ch, new in zip(idx[changed].tolist(), cls[changed].tolist(), strict=True):
        m = matchers[ch]
        out.extend((ch, ev) for ev in m.segment_ended(int(cur[ch]), int(run[ch])))
        cur[ch] = new
        run[ch] = 0
        check[ch] = m.check_at(new)
    run[idx] += 1
    due = idx[(check[idx] > 0) & (run[idx] >= check[idx])]
    for ch in due.tolist():
        m = matchers[ch]
        out.extend((ch, ev) for ev in m.run_reached(int(cur[ch]), int(run[ch])))
        check[ch] = m.check_at(int(cur[ch]))
        if check[ch] <= run[ch]:
            check[ch] = 0
    return out
