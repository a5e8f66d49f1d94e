"""Silence ends a recording: measured on real speech followed by line noise."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.g711 import linear_to_alaw
from hal.dsp.measure import dbm0_to_peak
from ivr.silence import SilenceDetector, frame_levels
from ivr.tts import Tts, load_alaw


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    tts = Tts(tmp_path_factory.mktemp("tts"))
    audio = load_alaw(tts.synthesize("您好，我想咨询一下，云南六日游，还有位置吗，请回电"))
    tts.close()
    return audio


def noise(seconds: float, level_dbm0: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * 8000)) * dbm0_to_peak(level_dbm0) / np.sqrt(2)
    return linear_to_alaw(np.clip(x, -32768, 32767).astype(np.int16))


def test_frame_levels_matches_known_levels():
    t = np.arange(160) / 8000
    tone = linear_to_alaw((dbm0_to_peak(-20) * np.sin(2 * np.pi * 1000 * t)).astype(np.int16))
    silence = np.full(160, 0xD5, dtype=np.uint8)
    levels = frame_levels(np.stack([tone, silence, noise(0.02, -60)]))
    assert abs(levels[0] - -20) < 0.3 and levels[1] < -60 and abs(levels[2] - -60) < 2


def test_speech_then_line_noise_ends_after_the_silence(speech):
    signal = np.concatenate([speech, noise(6, -60)])
    det = SilenceDetector(seconds=2.0, threshold_dbm0=-45)
    frames = signal[: len(signal) // 160 * 160].reshape(-1, 160)
    ended = next(i for i, f in enumerate(frames) if det.feed(f))
    speech_frames = len(speech) // 160
    # it ends 2 s after the last sound, not during the pauses between words
    last_sound = max(i for i, lv in enumerate(frame_levels(frames)) if lv >= -45)
    assert last_sound < speech_frames + 1
    assert ended == last_sound + 100
    assert det.quiet_seconds == pytest.approx(2.0)


def test_pauses_between_words_do_not_end_it(speech):
    det = SilenceDetector(seconds=1.0)
    frames = speech[: len(speech) // 160 * 160].reshape(-1, 160)
    assert not any(det.feed(f) for f in frames)


def test_after_sound_waits_for_the_caller_to_speak():
    det = SilenceDetector(seconds=0.5, after_sound=True)
    quiet = noise(2, -65).reshape(-1, 160)
    assert not any(det.feed(f) for f in quiet)
    plain = SilenceDetector(seconds=0.5)
    assert any(plain.feed(f) for f in quiet)
