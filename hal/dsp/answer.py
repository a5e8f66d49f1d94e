"""Answer detection on analog trunks that give no answer signal (China: polarity reversal is rare).

After the box dials out on an FXO line it hears, in whole tick arrays, what the exchange sends and
decides once per call whether and when the far end answered:

* **answered by voice**: a talk spurt (sound that is none of the network's tones, 0.1 to
  ``LONG_SPURT_MS`` long, pauses under ``PAUSE_MS`` bridged) that ends in a pause of ``PAUSE_MS``
  after ringback; with no ringback before it, or after early media, the pause must last
  ``PAUSE_UNSURE_MS`` (a person waits that long for the reply; an announcement that opens with a short
  "您好！" goes on sooner). The answer is put at the spurt's onset (``ago_ms``), so billing starts
  when the person spoke.
* **not answered, by tone**: busy or congestion cadence (``hal.dsp.progress``, reused as it stands),
  or the SIT-like three tones (950 → 1400 → 1800 Hz, each 0.2-0.45 s) in front of an announcement.
* **answered by timeout**: silence for ``SILENCE_AFTER_TONE_MS`` after the last ringback burst or
  sound (``SILENCE_AT_START_MS`` if nothing was heard at all): a silent party or an unsupervised
  line, the box's long-standing behaviour. The answer is put at the decision (billing errs short).
* **answered by tone**: a fax machine's CED (2100 Hz).

Recorded announcements ("您拨打的电话正忙 / 已关机 / 是空号") are recognised two ways. With the
SIT-like tones in front, by the tones: exact and quick (under a second), and a frequency sequence
speech and music do not make. Without them, by the announcement's *shape*: an announcement talks
on (a whole sentence, then the English one, then again) while a person who lifts the handset says
a short greeting ("喂？", "喂，你好？", under 1.5 s) and then waits for the reply. That turn-taking is
what call-progress analysers in the trade call positive voice detection, and it needs nothing
specific to one carrier's recordings (a recording's words or voice change with every carrier and
region; that people in China answer with a short "喂" does not). A spurt still going after
``LONG_SPURT_MS`` is therefore early media, never an answer: an announcement, or the music a
China number plays instead of ringback (彩铃). The verdict is reported as an interim note
(``final=False``, reason ``announcement``) and the detector keeps listening: the network's busy
tone after the announcement then says "not answered, announcement"; a short greeting after the
music stops is still an answer. The price, stated: a person who answers with a sentence longer
than 1.5 s is answered only at their next short phrase (later, billing errs short); and an
announcement right after ringback that opens with a short phrase and a 0.3 s pause would read as
a greeting (the carriers' announcements open with the sentence or with the tones).

Timing: a greeting said 0.4 s after lifting and 1 s long is decided 1.7 s after the answer
(onset 0.4 + greeting 1.0 + the closing pause 0.3).

Cost per tick: ``ProgressBank``'s one matrix product plus one more (the three SIT frequencies)
over the channels being watched; the per-channel Python (``AnswerMatcher``) runs only when a
channel's frame class changes or a run reaches a length that matters, as in ``ProgressBank``.
Measured (tests/bench/test_answer_bench.py): 61 µs a tick for 120 channels on ringback, 348 µs when
every channel changes class every tick (the worst case); a box watches only the lines dialling out.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from hal.clock import FRAME_SAMPLES
from hal.dsp.measure import SAMPLE_RATE
from hal.dsp.progress import OTHER, SILENCE, TONE_450, TONE_2100, ProgressBank, ProgressEvent, step_segments
from hal.dsp.tones import ToneName

FRAME_MS = 1000 * FRAME_SAMPLES // SAMPLE_RATE
SIT_950, SIT_1400, SIT_1800 = 5, 6, 7
SIT_FREQS = (950.0, 1400.0, 1800.0)  # ITU-T E.180 segments, ±50 Hz
SIT_PURITY = 0.6  # share of a frame's energy at one SIT frequency
SIT_SEGMENT_MS = (200, 450)  # E.180's 274 and 380 ms segments with margin (the simulator plays 330)
MIN_TONE_MS = 100  # tone-like runs shorter than this are sound (speech); the network's tones are longer
GLITCH_FRAMES = 2  # sound this short (a click, a tone's partial edge frame) is silence

MIN_SPURT_MS = 100
PAUSE_MS = 300  # a pause this long ends a talk spurt (Mandarin greetings pause up to ~150 ms inside)
PAUSE_UNSURE_MS = 800  # without ringback before it, or after early media: the wait a greeting must be followed by
LONG_SPURT_MS = 1500  # a spurt longer than this is early media (announcement, music), not a greeting
SILENCE_AFTER_TONE_MS = 6000  # > ringback's 4 s gap with margin
SILENCE_AT_START_MS = 8000  # mobile numbers take seconds of silence to route before ringback

VOICE, TIMEOUT, TONE = "voice", "timeout", "tone"


@dataclass(frozen=True)
class AnswerVerdict:
    """What the detector decided on a channel. ``final`` verdicts end its watch of that channel."""

    answered: bool
    by: str  # what decided: "voice" | "tone" | "timeout"
    reason: str  # answered: voice / silence / fax; not: busy / congestion / sit / announcement
    ago_ms: int = 0  # answered: how long before the end of this tick the far end answered
    final: bool = True


def _frames(ms: int) -> int:
    return -(-ms // FRAME_MS)


class AnswerMatcher:
    """One channel's view of the call so far, fed segment by segment (see the module docstring)."""

    def __init__(self) -> None:
        self.t = 0  # frame index at which the current (unfinished) run started
        self.done = False
        self.early_media = False
        self.ringback = False
        self.last_activity: int | None = None  # end of the last sound or tone
        self.spurt_start: int | None = None
        self.spurt_end = 0  # end of the spurt's last sound
        self.spurt_long = False
        self.candidate: tuple[int, int] | None = None  # after early media: a short spurt awaiting its long pause
        self.sit: deque[tuple[int, int]] = deque(maxlen=3)  # the last tonal segments (class, frames)

    # --- the bank's calls ---------------------------------------------------------------------------

    def segment_ended(self, cls: int, frames: int) -> list[AnswerVerdict]:
        start, end = self.t, self.t + frames
        self.t = end
        if self.done:
            return []
        if cls not in (SILENCE, OTHER) and frames < _frames(MIN_TONE_MS):
            cls = OTHER  # a vowel's harmonic can look like a tone for a frame or two
        if cls == OTHER and frames <= GLITCH_FRAMES:
            return []  # a click inside silence or a tone's edge: neither sound nor a break in a SIT
        if cls == SILENCE:
            if frames > GLITCH_FRAMES:
                self.sit.clear()
            return []
        self.last_activity = end
        self.candidate = None  # sound again: what came before was part of the early media
        if cls == OTHER:
            self.sit.clear()
            if self.spurt_start is None:
                self.spurt_start, self.spurt_long = start, False
            self.spurt_end = end
            return self._long_check(end)
        self.spurt_start = None  # a tone cuts a spurt off: it was no greeting
        if cls in (SIT_950, SIT_1400, SIT_1800):
            self.sit.append((cls, frames))
        else:
            self.sit.clear()
        return []

    def run_reached(self, cls: int, frames: int) -> list[AnswerVerdict]:
        now = self.t + frames
        if self.done:
            return []
        if cls == OTHER:
            self.last_activity = now
            if self.spurt_start is None:
                self.spurt_start, self.spurt_long = self.t, False
            self.spurt_end = now
            return self._long_check(now)
        if cls == SIT_1800:
            return self._sit_check(frames)
        if cls != SILENCE:
            return []
        out: list[AnswerVerdict] = []
        if self.spurt_start is not None and now - self.spurt_end >= _frames(PAUSE_MS):
            start, long_ = self.spurt_start, self.spurt_long
            self.spurt_start = None
            if not long_ and self.spurt_end - start >= _frames(MIN_SPURT_MS):
                if self.ringback and not self.early_media:
                    return self._final(True, VOICE, "voice", (now - start) * FRAME_MS)
                self.candidate = (start, self.spurt_end)  # no ringback before it, or early media: wait longer
        if self.candidate is not None and now - self.candidate[1] >= _frames(PAUSE_UNSURE_MS):
            return self._final(True, VOICE, "voice", (now - self.candidate[0]) * FRAME_MS)
        if now - self._quiet_since() >= self._silence_limit():
            out += self._final(True, TIMEOUT, "silence", 0)
        return out

    def check_at(self, cls: int) -> int:
        """The length (frames) of the current run of ``cls`` at which ``run_reached`` must be called."""
        if self.done:
            return 0
        if cls == OTHER:
            if self.spurt_start is not None and self.spurt_long:
                return 0
            start = self.spurt_start if self.spurt_start is not None else self.t
            return max(1, start + _frames(LONG_SPURT_MS) - self.t)
        if cls == SIT_1800:
            return _frames(SIT_SEGMENT_MS[0])
        if cls != SILENCE:
            return 0
        due = self._quiet_since() + self._silence_limit()
        if self.spurt_start is not None:
            due = min(due, self.spurt_end + _frames(PAUSE_MS))
        if self.candidate is not None:
            due = min(due, self.candidate[1] + _frames(PAUSE_UNSURE_MS))
        return max(1, due - self.t)

    def progress(self, ev: ProgressEvent) -> list[AnswerVerdict]:
        """A call-progress tone recognised (or ended) on this channel."""
        if self.done or ev.ended:
            return []
        if ev.tone is ToneName.RINGBACK:
            self.ringback = True
            self.spurt_start = None
        elif ev.tone in (ToneName.BUSY, ToneName.CONGESTION):
            return self._final(False, TONE, "announcement" if self.early_media else ev.tone.value, 0)
        elif ev.tone is ToneName.FAX_CED:
            return self._final(True, TONE, "fax", 500)
        return []

    # --- helpers ------------------------------------------------------------------------------------

    def _quiet_since(self) -> int:
        return self.last_activity if self.last_activity is not None else 0

    def _silence_limit(self) -> int:
        return _frames(SILENCE_AT_START_MS if self.last_activity is None else SILENCE_AFTER_TONE_MS)

    def _long_check(self, now: int) -> list[AnswerVerdict]:
        assert self.spurt_start is not None
        if self.spurt_long or now - self.spurt_start < _frames(LONG_SPURT_MS):
            return []
        self.spurt_long = True
        first = not self.early_media
        self.early_media = True
        return [AnswerVerdict(False, VOICE, "announcement", 0, final=False)] if first else []

    def _sit_check(self, frames_1800: int) -> list[AnswerVerdict]:
        lo, hi = _frames(SIT_SEGMENT_MS[0]), _frames(SIT_SEGMENT_MS[1])
        seq = list(self.sit)[-2:]
        if frames_1800 >= lo and [c for c, _ in seq] == [SIT_950, SIT_1400] and all(
                lo - 1 <= n <= hi + 1 for _, n in seq):
            return self._final(False, TONE, "sit", 0)
        return []

    def _final(self, answered: bool, by: str, reason: str, ago_ms: int) -> list[AnswerVerdict]:
        self.done = True
        return [AnswerVerdict(answered, by, reason, ago_ms)]


class AnswerBank:
    """Answer detectors for every channel of a board, run on the whole tick array (``process``)."""

    def __init__(self, channels: int) -> None:
        self.progress = ProgressBank(channels)
        t = np.arange(FRAME_SAMPLES) * (2 * np.pi / SAMPLE_RATE)
        w = np.array(SIT_FREQS)[None, :] * t[:, None]
        self._basis = np.concatenate([np.cos(w), np.sin(w)], axis=1).astype(np.float32)  # (160, 6)
        self.cur = np.zeros(channels, np.int8)
        self.run = np.zeros(channels, np.int32)
        self.check = np.zeros(channels, np.int32)
        self.matchers = [AnswerMatcher() for _ in range(channels)]
        self._idx_key: list[int] | None = None
        self._idx = np.zeros(0, np.intp)

    def reset(self, ch: int) -> None:
        """Start watching ``ch`` afresh (the box has just dialled on it)."""
        self.progress.reset(ch)
        self.cur[ch] = SILENCE
        self.run[ch] = 0
        self.matchers[ch] = AnswerMatcher()
        self.check[ch] = self.matchers[ch].check_at(SILENCE)

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """Each row's class: the progress classes, with sound that is one SIT frequency as SIT_*."""
        cls = self.progress.classify(frames)
        other = np.flatnonzero(cls == OTHER)
        if len(other):
            x = frames[other].astype(np.float32)
            energy = np.einsum("ij,ij->i", x, x)
            proj = x @ self._basis
            k = len(SIT_FREQS)
            power = proj[:, :k] ** 2 + proj[:, k:] ** 2
            best = power.argmax(axis=1)
            purity = 2 * power[np.arange(len(x)), best] / (FRAME_SAMPLES * np.maximum(energy, 1.0))
            cls[other] = np.where(purity >= SIT_PURITY, SIT_950 + best, OTHER)
        return cls

    def process(self, lin: np.ndarray, channels: list[int]) -> list[tuple[int, AnswerVerdict]]:
        """One tick: ``lin`` (channels x 160 linear) for the watched ``channels``; the verdicts reached."""
        if channels is not self._idx_key:
            self._idx_key, self._idx = channels, np.asarray(channels, dtype=np.intp)
        idx = self._idx
        if not len(idx):
            return []
        out: list[tuple[int, AnswerVerdict]] = []
        for ch, ev in self.progress.process(lin, channels):
            out.extend((ch, v) for v in self.matchers[ch].progress(ev))
        cls = self.classify(lin[idx])
        cls[cls == TONE_2100] = TONE_450  # CED reaches us through ProgressBank; here it is just a tone
        return out + step_segments(idx, cls, self.cur, self.run, self.check, self.matchers)
