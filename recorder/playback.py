"""Playing a recording back over the phone (supervisor feature code): the file as A-law frames.

``frames(path)`` reads a recording (any format we write, or any 8 kHz A-law/PCM WAV) and returns
what a phone should hear: both channels mixed (sum, clipped) and encoded to A-law, shaped
(ticks, 160) with the last frame padded with silence. The daemon's media layer plays row ``n`` on
tick ``n`` like any other generator. Reading and mixing are file work: do it off the tick (an
executor) and hand the array to the tick side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.g711 import ALAW_SILENCE, linear_to_alaw
from recorder import wav


def frames(path: str | Path) -> np.ndarray:
    """The recording at ``path`` as (ticks, 160) A-law frames of the mixed channels."""
    info, samples = wav.read(path)
    if info.sample_rate != SAMPLE_RATE:
        raise wav.WavError(f"{path}: {info.sample_rate} Hz, phones need {SAMPLE_RATE}")
    mixed = np.clip(samples.astype(np.int32).sum(axis=1), -32768, 32767).astype(np.int16)
    ticks = -(-len(mixed) // FRAME_SAMPLES)
    out = np.full(ticks * FRAME_SAMPLES, ALAW_SILENCE, np.uint8)
    out[: len(mixed)] = linear_to_alaw(mixed)
    return out.reshape(ticks, FRAME_SAMPLES)
