"""Silence detection for recordings (a voicemail message ends after N seconds of silence).

Cheap enough for the tick: ``frame_levels`` takes the tick's A-law frames of every recording leg
as one (legs x 160) array and returns each frame's level in dBm0 in one numpy pass; each leg's
``SilenceDetector`` then only counts frames.
"""

from __future__ import annotations

import numpy as np

from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import FULL_SCALE_SINE_DBM0

FRAME_S = 0.02
_REF = 32768.0 ** 2 / 2


def frame_levels(alaw: np.ndarray) -> np.ndarray:
    """Level in dBm0 of each row of A-law samples (one 20 ms frame per row); -100 for digital silence."""
    x = alaw_to_linear(np.atleast_2d(alaw)).astype(np.float64)
    power = np.mean(x * x, axis=1)
    with np.errstate(divide="ignore"):
        db = 10 * np.log10(power / _REF) + FULL_SCALE_SINE_DBM0
    return np.where(power > 0, db, -100.0)


class SilenceDetector:
    """True once the input has stayed below ``threshold_dbm0`` for ``seconds`` (after any sound, if
    ``after_sound``: a caller who says nothing at all is timed out by the recording's own limit)."""

    def __init__(self, seconds: float = 5.0, threshold_dbm0: float = -45.0, after_sound: bool = False) -> None:
        self.frames_needed = max(1, round(seconds / FRAME_S))
        self.threshold = threshold_dbm0
        self.after_sound = after_sound
        self.quiet = 0
        self.heard_sound = False

    def feed_level(self, level_dbm0: float) -> bool:
        if level_dbm0 >= self.threshold:
            self.quiet = 0
            self.heard_sound = True
            return False
        self.quiet += 1
        return self.quiet >= self.frames_needed and (self.heard_sound or not self.after_sound)

    def feed(self, alaw_frame: np.ndarray) -> bool:
        """One frame of A-law; True when the silence is long enough."""
        return self.feed_level(float(frame_levels(alaw_frame)[0]))

    @property
    def quiet_seconds(self) -> float:
        """How long it has been quiet (what to trim off the end of a message that ended on silence)."""
        return self.quiet * FRAME_S
