"""Playing a recording back over the phone (supervisor feature code): the file as A-law frames.

What a phone should hear of a recording is both channels mixed (sum, clipped) and encoded to A-law,
160 samples a tick. Two ways to get it:

* ``frames(path)`` reads the whole file at once and returns (ticks, 160) A-law, the last frame
  padded with silence (tests, short files);
* ``Player(path, submit)`` streams it: the file is read and mixed ``chunk_ticks`` at a time by
  ``submit`` (an executor's ``submit``: file work never runs on the tick), and ``frame()`` — the
  media layer's prompt interface, called on the tick — hands out one buffered frame and asks for
  the next chunk when less than ``low_ticks`` are left. A read that is late gives silence, never a
  wait. A 1-hour recording therefore costs a few chunks of memory, not the whole file.

The constructor reads the header and nothing else; ``prime()`` (blocking: in the executor) reads the
first chunk so playback starts with audio.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.g711 import ALAW_SILENCE, SILENT_FRAME, linear_to_alaw
from recorder import wav

log = logging.getLogger(__name__)


def mix_to_alaw(samples: np.ndarray) -> np.ndarray:
    """(frames, channels) 16-bit linear → (ticks, 160) A-law of the channels' sum, last tick padded."""
    mixed = np.clip(samples.astype(np.int32).sum(axis=1), -32768, 32767).astype(np.int16)
    ticks = -(-len(mixed) // FRAME_SAMPLES)
    out = np.full(ticks * FRAME_SAMPLES, ALAW_SILENCE, np.uint8)
    out[: len(mixed)] = linear_to_alaw(mixed)
    return out.reshape(ticks, FRAME_SAMPLES)


def frames(path: str | Path) -> np.ndarray:
    """The recording at ``path`` as (ticks, 160) A-law frames of the mixed channels."""
    reader = FileReader(path)
    return reader.read(-(-reader.info.frames // FRAME_SAMPLES))


class FileReader:
    """Sequential reads of a WAV file's audio, mixed to A-law frames (blocking: off the tick)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.info = wav.read_info(self.path)
        if self.info.sample_rate != SAMPLE_RATE:
            raise wav.WavError(f"{path}: {self.info.sample_rate} Hz, phones need {SAMPLE_RATE}")
        wav.check_readable(path, self.info)
        self.pos = 0  # sample frames read so far

    def read(self, ticks: int) -> np.ndarray:
        """The next ``ticks`` ticks (fewer at the end; (0, 160) once all is read)."""
        want = min(ticks * FRAME_SAMPLES, self.info.frames - self.pos)
        if want <= 0:
            return np.zeros((0, FRAME_SAMPLES), np.uint8)
        _, lin = wav.read(self.path, self.pos, want, self.info)
        self.pos += len(lin) or want  # a file cut short on disk ends the playback
        return mix_to_alaw(lin)


class Player:
    """A recording as a media-layer prompt: ``frame() -> (alaw frame, play_id when it ends, else None)``."""

    def __init__(self, path: str | Path, submit: Callable[..., Future], play_id: int = 0, *,
                 chunk_ticks: int = 250, low_ticks: int = 100) -> None:
        self.reader = FileReader(path)
        self.submit = submit
        self.play_id = play_id
        self.chunk_ticks, self.low_ticks = chunk_ticks, low_ticks
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._pos = 0  # next frame of _chunks[0]
        self._buffered = 0
        self._pending: Future | None = None
        self._eof = False
        self.finished = False
        self.late_ticks = 0  # ticks played as silence because a read was late

    def prime(self) -> Player:
        """Read the first chunk now (blocking: call it in the executor). Returns self."""
        self._take(self.reader.read(self.chunk_ticks))
        return self

    def _take(self, chunk: np.ndarray) -> None:
        if len(chunk) == 0:
            self._eof = True
            return
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if len(chunk) < self.chunk_ticks:
            self._eof = True

    def frame(self) -> tuple[np.ndarray, Any]:
        """One tick (on the tick: no file access, at most an executor submit)."""
        pending = self._pending
        if pending is not None and pending.done():
            self._pending = None
            try:
                self._take(pending.result())
            except Exception as exc:  # the file vanished (retention) or went bad: end the playback
                log.warning("recorder: playback of %s stopped: %s", self.reader.path, exc)
                self._eof = True
        if not self._eof and self._pending is None and self._buffered < self.low_ticks:
            self._pending = self.submit(self.reader.read, self.chunk_ticks)
        if self._buffered == 0:
            if self._eof and not self.finished:
                self.finished = True
                return SILENT_FRAME, self.play_id
            if not self._eof:
                self.late_ticks += 1
            return SILENT_FRAME, None
        chunk = self._chunks[0]
        out = chunk[self._pos]
        self._pos += 1
        self._buffered -= 1
        if self._pos >= len(chunk):
            self._chunks.popleft()
            self._pos = 0
        return out, None
