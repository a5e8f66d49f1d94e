"""What a caller waiting in an ACD queue hears: music on hold, interrupted by announcements.

``default_music`` is the box's own hold music (a soft arpeggio, A-law, made once with numpy) for
queues that name no file; a queue's ``music`` file is any WAV or raw A-law file, converted once by
``ivr.prompts.Prompts`` off the tick. ``QueuePlayer`` sits in ``Media.prompts`` for the caller's
channel: it loops the music and, when asked, plays spoken items (TTS via ``ivr.audio.Playback``)
in place of the music, then goes back to the music where it left off. When an announcement ends it
records its id in ``finished`` for the ACD service to act on after the tick (connect the agent after
"工号1023为您服务", hang up after a goodbye); nothing in ``frame`` blocks or calls out.
"""

from __future__ import annotations

import numpy as np

from hal.clock import FRAME_SAMPLES, SAMPLE_RATE
from hal.dsp.g711 import SILENT_FRAME, linear_to_alaw
from hal.dsp.tones import sine
from ivr.audio import AudioLibrary, Playback
from ivr.events import AudioItem

MUSIC_NOTES_HZ = (523.25, 659.25, 783.99, 659.25)  # C5 E5 G5 E5
MUSIC_NOTE_S = 0.4
MUSIC_LEVEL_DBM0 = -20.0


def default_music() -> np.ndarray:
    """The box's hold music: C-E-G-E, 0.4 s a note with soft edges, then a rest; 2 s, A-law."""
    n = int(MUSIC_NOTE_S * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    env = np.minimum(1.0, np.minimum(t, MUSIC_NOTE_S - t) / 0.05)  # 50 ms fade in and out
    notes = [env * sine(f, MUSIC_LEVEL_DBM0, n) for f in MUSIC_NOTES_HZ]
    rest = np.zeros(int(0.4 * SAMPLE_RATE))
    return linear_to_alaw(np.concatenate([*notes, rest]).astype(np.int16))


class QueuePlayer:
    """Music on hold with announcements on top, for one waiting caller (``Media.prompts`` protocol)."""

    def __init__(self, library: AudioLibrary, music: np.ndarray) -> None:
        self.music = music
        self.pos = 0
        self.speech = Playback(library)
        self.speaking: int | None = None
        self.music_on = True
        self.finished: list[int] = []  # announcement ids that have ended, for the service to act on

    def say(self, play_id: int, items: list[AudioItem], music_after: bool = True) -> None:
        """Play ``items`` instead of the music (replacing any announcement playing)."""
        self.speaking = play_id
        self.music_on = music_after
        self.speech.play(play_id, items)

    def frame(self) -> tuple[np.ndarray, int | None]:
        if self.speaking is not None:
            out, done = self.speech.frame()
            if done is not None:
                self.finished.append(done)
                self.speaking = None
            return out, None
        if not self.music_on or len(self.music) == 0:
            return SILENT_FRAME, None
        start, end = self.pos, self.pos + FRAME_SAMPLES
        self.pos = end % len(self.music)
        if end <= len(self.music):
            return self.music[start:end], None  # a view: nothing allocated on most frames
        return np.take(self.music, np.arange(start, end), mode="wrap"), None
