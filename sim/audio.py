"""Audio pieces the far ends share: sound sources (tones, WAV clips, DTMF), a mouth that mixes them,
and a bounded recorder of what a far end heard.

All audio is 8 kHz, one 160-sample frame per 20 ms tick, built with whole-frame numpy operations.
Sources produce linear int16 frames (``None`` = silence); recorders keep the A-law bytes the far end
received, stamped with the tick they belong to.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.dtmf import DtmfSender
from hal.dsp.tones import ToneGenerator, ToneSpec

ALAW_SILENCE_BYTE = 0xD5
SILENT_ROW = np.full(FRAME_SAMPLES, ALAW_SILENCE_BYTE, dtype=np.uint8)


class Source:
    """Something a far end says: one int16 frame per call to ``frame()``, ``None`` once finished."""

    def frame(self) -> np.ndarray | None:
        raise NotImplementedError

    def describe(self) -> dict:
        return {"kind": "source"}


class ToneSource(Source):
    """A tone (one or more frequencies, optionally cadenced), continuous or for ``duration_ms``."""

    def __init__(self, freqs: tuple[float, ...], level_dbm0: float = -10.0, cadence_ms: tuple[int, ...] = (),
                 duration_ms: int | None = None) -> None:
        self.spec = ToneSpec(tuple(float(f) for f in freqs), float(level_dbm0), tuple(int(c) for c in cadence_ms))
        self._gen = ToneGenerator(self.spec)
        self._left = None if duration_ms is None else max(1, -(-int(duration_ms) // 20))

    @classmethod
    def from_spec(cls, spec: ToneSpec) -> ToneSource:
        return cls(spec.freqs, spec.level_dbm0, spec.cadence_ms)

    def frame(self) -> np.ndarray | None:
        if self._left is not None:
            if self._left <= 0:
                return None
            self._left -= 1
        return self._gen.generate(FRAME_SAMPLES)

    def describe(self) -> dict:
        return {"kind": "tone", "freqs": list(self.spec.freqs), "level_dbm0": self.spec.level_dbm0,
                "cadence_ms": list(self.spec.cadence_ms)}


class SamplesSource(Source):
    """A clip of 8 kHz int16 samples (e.g. a WAV file), played once or looped."""

    def __init__(self, samples: np.ndarray, loop: bool = False, name: str = "") -> None:
        samples = np.asarray(samples, dtype=np.int16)
        pad = (-len(samples)) % FRAME_SAMPLES
        if pad or not len(samples):
            samples = np.concatenate([samples, np.zeros(pad or FRAME_SAMPLES, dtype=np.int16)])
        self._frames = samples.reshape(-1, FRAME_SAMPLES)
        self._pos = 0
        self.loop = loop
        self.name = name

    def frame(self) -> np.ndarray | None:
        if self._pos >= len(self._frames):
            if not self.loop:
                return None
            self._pos = 0
        f = self._frames[self._pos]
        self._pos += 1
        return f

    def describe(self) -> dict:
        return {"kind": "wav", "name": self.name, "loop": self.loop, "frames": len(self._frames)}


def load_wav(path: str | Path) -> np.ndarray:
    """Any audio file sox can read, converted once to 8 kHz mono int16 (raises ValueError if it cannot)."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {p}")
    try:
        out = subprocess.run(["sox", str(p), "-t", "raw", "-e", "signed-integer", "-b", "16", "-c", "1",
                              "-r", str(SAMPLE_RATE), "-L", "-"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ValueError(f"cannot convert {p}: {exc}") from exc
    if out.returncode != 0:
        raise ValueError(f"cannot read {p}: {out.stderr.decode(errors='replace').strip()[:200]}")
    return np.frombuffer(out.stdout, dtype="<i2").astype(np.int16)


class Mouth:
    """What one far end transmits: a current source (tone / clip / nothing) plus DTMF digits on top."""

    def __init__(self, dtmf_level_dbm0: float = -8.0, dtmf_on_ms: int = 80, dtmf_off_ms: int = 80) -> None:
        self.source: Source | None = None
        self._dtmf_args = (dtmf_level_dbm0, dtmf_on_ms, dtmf_off_ms)
        self._dtmf: DtmfSender | None = None

    def say(self, source: Source | None) -> None:
        self.source = source

    def tone(self, freq: float, level_dbm0: float = -10.0, duration_ms: int | None = None) -> None:
        self.source = ToneSource((freq,), level_dbm0, (), duration_ms)

    def silence(self) -> None:
        self.source = None
        self._dtmf = None

    def dial(self, digits: str, level_dbm0: float | None = None, on_ms: int | None = None,
             off_ms: int | None = None) -> None:
        lvl, on, off = self._dtmf_args
        sender = DtmfSender(lvl if level_dbm0 is None else level_dbm0, on if on_ms is None else on_ms,
                            off if off_ms is None else off_ms)
        sender.send(digits)
        self._dtmf = sender

    @property
    def dialling(self) -> bool:
        return self._dtmf is not None and not self._dtmf.idle

    def frame(self) -> np.ndarray | None:
        out = None
        if self.source is not None:
            out = self.source.frame()
            if out is None:
                self.source = None
        if self._dtmf is not None:
            if self._dtmf.idle:
                self._dtmf = None
            else:
                d = self._dtmf.generate(FRAME_SAMPLES)
                out = d if out is None else np.clip(out.astype(np.int32) + d, -32768, 32767).astype(np.int16)
        return out

    def describe(self) -> dict | None:
        return self.source.describe() if self.source is not None else None


class Recorder:
    """The last ``seconds`` of A-law frames a far end heard, each stamped with its tick."""

    def __init__(self, seconds: float = 120.0) -> None:
        self.size = max(1, int(seconds * 50))
        self._frames = np.full((self.size, FRAME_SAMPLES), ALAW_SILENCE_BYTE, dtype=np.uint8)
        self._ticks = np.full(self.size, -1, dtype=np.int64)
        self._n = 0

    def record(self, tick: int, row: np.ndarray) -> None:
        i = self._n % self.size
        self._frames[i] = row
        self._ticks[i] = tick
        self._n += 1

    @property
    def frames(self) -> int:
        return min(self._n, self.size)

    def heard(self, since: int | None = None, until: int | None = None) -> tuple[bytes, int | None]:
        """(A-law bytes of the frames with since <= tick < until, in order; the first such tick)."""
        n = self.frames
        if n == 0:
            return b"", None
        start = self._n - n
        idx = (np.arange(start, self._n)) % self.size
        ticks = self._ticks[idx]
        keep = np.ones(n, dtype=bool)
        if since is not None:
            keep &= ticks >= since
        if until is not None:
            keep &= ticks < until
        sel = idx[keep]
        if not len(sel):
            return b"", None
        return self._frames[sel].tobytes(), int(self._ticks[sel[0]])

    def clear(self) -> None:
        self._n = 0
