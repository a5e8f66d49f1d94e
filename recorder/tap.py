"""The tick-side tap: copies every active recording's two voices out of the tick in one gather.

Which rows hold whose voice. Each tick the HAL hands the engine ``rx`` (channels x 160 A-law): row
``ch`` is what the line side of channel ``ch`` delivered to the box, i.e. the voice of the party on
that channel (the caller on a trunk channel, the agent on an FXS channel). ``tx`` is what the box
sends to each channel; in a two-party bridge between channels ``a`` and ``b`` the media layer sets
``tx[a] = rx[b]`` and ``tx[b] = rx[a]``, so ``tx`` holds nothing that ``rx`` does not. Hence:

* a two-party recording of caller channel ``a`` and agent channel ``b`` records
  **left = rx[a]** (the caller's voice) and **right = rx[b]** (the agent's voice);
* a one-party recording (``agent_ch`` None: a caller in IVR, voicemail, a queue) records
  **left = rx[a]** (the caller) and **right = tx[a]** (what the box played to the caller:
  prompts, music, tones).

Note that generators (tones, DTMF) override the bridge in ``tx``, so the agent side in ``rx[b]``
is the agent's own voice even while the box plays a tone to the caller.

Per tick, with n recordings, ``tap`` does one gather ``np.take(rx, rows, axis=0)`` (a fresh (2n x 160)
copy, so the engine may reuse its buffers), plus a second gather from ``tx`` only if one-party
recordings exist, and hands the block with the tick's sequence number and the recordings' keys to
the sink (the writer's non-blocking ``offer``). No per-recording or per-sample Python on the tick;
the index arrays are rebuilt only when a recording starts or stops.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from recorder.wav import Format


@dataclass(frozen=True)
class Tap:
    key: str  # the call id: at most one active recording per call
    caller_ch: int
    agent_ch: int | None
    format: Format
    reason: str  # why it is recorded (policy decision or "demand")

    def __post_init__(self) -> None:
        for ch in (self.caller_ch, self.agent_ch):
            if ch is not None and (not isinstance(ch, int | np.integer) or ch < 0):
                raise ValueError(f"recording {self.key}: channel {ch!r} is not a channel number")

    def fits(self, channels: int) -> bool:
        return self.caller_ch < channels and (self.agent_ch is None or self.agent_ch < channels)


@dataclass(frozen=True)
class TapBlock:
    """One tick of audio for every active recording: rows 2i (left) and 2i+1 (right) are keys[i]."""

    seq: int  # the tap's tick counter: gaps mean ticks the writer did not get
    keys: tuple[str, ...]
    frames: np.ndarray  # (2 * len(keys), 160) uint8 A-law


class RecordingTaps:
    def __init__(self, sink: Callable[[TapBlock], bool]) -> None:
        self.sink = sink
        self.taps: dict[str, Tap] = {}
        self.seq = 0
        self._keys: tuple[str, ...] = ()
        self._rows = np.zeros(0, np.intp)
        self._tx_pos = np.zeros(0, np.intp)  # rows of the block that come from tx ...
        self._tx_src = np.zeros(0, np.intp)  # ... and the tx rows they come from

    def add(self, tap: Tap) -> None:
        self.taps[tap.key] = tap
        self._rebuild()

    def remove(self, key: str) -> Tap | None:
        tap = self.taps.pop(key, None)
        if tap is not None:
            self._rebuild()
        return tap

    def _rebuild(self) -> None:
        taps = list(self.taps.values())
        self._keys = tuple(t.key for t in taps)
        rows = np.empty(2 * len(taps), np.intp)
        rows[0::2] = [t.caller_ch for t in taps]
        rows[1::2] = [t.caller_ch if t.agent_ch is None else t.agent_ch for t in taps]
        self._rows = rows
        one = [i for i, t in enumerate(taps) if t.agent_ch is None]
        self._tx_pos = np.array([2 * i + 1 for i in one], np.intp)
        self._tx_src = np.array([taps[i].caller_ch for i in one], np.intp)

    def tap(self, rx: np.ndarray, tx: np.ndarray) -> bool:
        """Copy this tick's frames of every active recording to the sink. False if the sink dropped them."""
        self.seq += 1
        if not self._keys:
            return True
        frames = np.take(rx, self._rows, axis=0)  # a new array: the gather is the copy
        if len(self._tx_pos):
            frames[self._tx_pos] = tx[self._tx_src]
        return self.sink(TapBlock(self.seq, self._keys, frames))
