"""Prompt files of every common form end up as 8 kHz A-law with the same sound; bad files are named."""

from __future__ import annotations

import subprocess
import wave

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import dbm0_to_peak, dominant_frequency, level_dbm0
from ivr.prompts import PromptError, Prompts


def write_pcm(path, rate, channels, seconds=0.5, freq=1000.0, width=2, level=-10.0):
    t = np.arange(int(rate * seconds)) / rate
    x = dbm0_to_peak(level) * np.sin(2 * np.pi * freq * t)
    if width == 2:
        frames = np.repeat(x.astype(np.int16)[:, None], channels, axis=1).tobytes()
    else:  # 8-bit WAV is unsigned
        frames = np.repeat((x / 256 + 128).astype(np.uint8)[:, None], channels, axis=1).tobytes()
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


@pytest.fixture
def prompts(tmp_path):
    return Prompts(tmp_path / "cache")


@pytest.mark.parametrize(("rate", "channels", "width"), [(8000, 1, 2), (44100, 2, 2), (16000, 1, 2), (22050, 1, 1)])
def test_pcm_any_rate_becomes_8k_alaw(prompts, tmp_path, rate, channels, width):
    src = write_pcm(tmp_path / "p.wav", rate, channels, width=width)
    p = prompts.load(src, "welcome")
    assert p.samples.dtype == np.uint8
    assert abs(p.seconds - 0.5) < 0.01
    lin = alaw_to_linear(p.samples)[400:-400]
    assert abs(dominant_frequency(lin) - 1000) < 2
    assert abs(level_dbm0(lin) - -10) < 1.0


def test_alaw_wav_is_taken_as_is(prompts, tmp_path):
    pcm = write_pcm(tmp_path / "pcm.wav", 8000, 1, freq=450.0)
    alaw = tmp_path / "alaw.wav"
    subprocess.run(["sox", str(pcm), "-e", "a-law", str(alaw)], check=True)
    p = prompts.load(alaw)
    assert p.name == "alaw" and abs(p.seconds - 0.5) < 0.01
    assert abs(dominant_frequency(alaw_to_linear(p.samples)) - 450) < 2


def test_converted_once(prompts, tmp_path):
    src = write_pcm(tmp_path / "p.wav", 44100, 2)
    first = prompts.load(src)
    mtime = first.alaw_path.stat().st_mtime_ns
    second = Prompts(prompts.cache_dir).load(src)
    assert second.alaw_path == first.alaw_path and second.alaw_path.stat().st_mtime_ns == mtime
    assert np.array_equal(first.samples, second.samples)


def test_missing_file(prompts, tmp_path):
    with pytest.raises(PromptError, match=r"prompt 'closed': file not found: .*closed\.wav"):
        prompts.load(tmp_path / "closed.wav", "closed")


def test_not_a_wav(prompts, tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"ID3\x03 this is an mp3 really")
    with pytest.raises(PromptError, match="prompt 'bad': .* is not a WAV file"):
        prompts.load(bad)


def test_truncated_wav(prompts, tmp_path):
    src = write_pcm(tmp_path / "p.wav", 8000, 1)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(src.read_bytes()[:30])
    with pytest.raises(PromptError, match="prompt 'cut'"):
        prompts.load(cut)


def test_empty_wav(prompts, tmp_path):
    src = write_pcm(tmp_path / "empty.wav", 8000, 1, seconds=0)
    with pytest.raises(PromptError, match="holds no audio"):
        prompts.load(src)


def test_8k_mono_alaw_wav_is_read_without_a_copy(prompts, tmp_path):
    pcm = write_pcm(tmp_path / "pcm.wav", 8000, 1, freq=700.0)
    alaw = tmp_path / "msg.wav"
    subprocess.run(["sox", str(pcm), "-e", "a-law", str(alaw)], check=True)
    p = prompts.load(alaw)
    assert p.alaw_path == alaw and not prompts.cache_dir.exists()  # nothing converted or cached
    assert len(p.samples) == 4000 and abs(dominant_frequency(alaw_to_linear(p.samples)) - 700) < 2
    # the same audio through sox's conversion (stereo mixed down) sounds the same
    stereo = tmp_path / "st.wav"
    subprocess.run(["sox", str(pcm), "-e", "a-law", "-c", "2", str(stereo)], check=True)
    a, b = alaw_to_linear(prompts.load(stereo).samples).astype(float), alaw_to_linear(p.samples).astype(float)
    assert np.corrcoef(a, b)[0, 1] > 0.999
