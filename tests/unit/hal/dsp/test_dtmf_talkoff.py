"""Talk-off: the project's DTMF receiver gives no digit on a slice of the talk-off corpus
(tests/support/talkoff.py: Mandarin, Cantonese and English speech from espeak-ng, music of notes and
chords, babble and noise, through A-law), and still hears digits keyed over that same sound.
The whole hour, ours beside spandsp's: ``.venv/bin/python -m tests.support.talkoff --minutes 60``."""

import numpy as np
import pytest

from hal.dsp import dtmf_rx
from tests.support.dtmf_signals import KEYS, silence, tone_pair
from tests.support.talkoff import corpus, count_digits, music


@pytest.fixture(scope="module")
def slice_() -> np.ndarray:
    return corpus(240, seed=5)  # four minutes, run as 60 channels of 4 s


def test_no_digit_in_speech_music_babble_and_noise(slice_: np.ndarray) -> None:
    assert count_digits(slice_, dtmf_rx.DtmfBank) == []


def test_a_note_with_its_octave_is_not_c() -> None:
    """A note a little sharp of G#5 (833 Hz, 2.2 % under C's row) with its second harmonic (1666 Hz, 2 %
    over C's column): a played note, not a key."""
    n = 4000
    t = np.arange(n)
    note = 6000 * np.sin(2 * np.pi * 833.0 * t / 8000) + 3000 * np.sin(2 * np.pi * 1666.0 * t / 8000)
    x = np.concatenate([note, np.zeros(800)]).astype(np.int16)
    assert count_digits(np.tile(x, 4), dtmf_rx.DtmfBank, channels=4) == []


def test_digits_keyed_over_music_are_heard() -> None:
    rng = np.random.default_rng(3)
    keyed = np.concatenate([np.concatenate([tone_pair(d, 60, -10.0, -10.0), silence(80)]) for d in KEYS])
    x = keyed + music(len(keyed) / 8000 + 0.1, rng)[: len(keyed)] * 0.3
    x = np.clip(np.round(np.concatenate([x, np.zeros(-len(x) % 160)])), -32768, 32767).astype(np.int16)
    got = dtmf_rx.DtmfReceiver()
    assert "".join(got.process(x[i:i + 160]) for i in range(0, len(x), 160)) == KEYS
