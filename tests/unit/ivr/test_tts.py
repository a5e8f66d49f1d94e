"""espeak-ng Mandarin through sox into the A-law cache: real speech, cached, off the caller's thread."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import level_dbm0
from ivr.tts import EspeakEngine, Tts, TtsError, load_alaw

WELCOME = "您好，欢迎致电旅行社"


class CountingEspeak(EspeakEngine):
    """The real espeak-ng engine, counting how often it is asked to speak."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.threads: set[str] = set()

    def synthesize(self, text: str, voice: str) -> bytes:
        self.calls.append((text, voice))
        self.threads.add(threading.current_thread().name)
        return super().synthesize(text, voice)


@pytest.fixture
def tts(tmp_path):
    t = Tts(tmp_path / "tts", CountingEspeak())
    yield t
    t.close()


def frame_levels(alaw: np.ndarray) -> np.ndarray:
    x = alaw_to_linear(alaw).astype(np.float64)
    n = len(x) // 160
    return np.array([level_dbm0(x[i * 160:(i + 1) * 160]) for i in range(n)])


def test_synthesised_prompt_is_speech(tts):
    path = tts.request(WELCOME).result(30)
    audio = load_alaw(path)
    seconds = len(audio) / 8000
    assert 1.0 < seconds < 6.0  # ten syllables at ~150 wpm
    levels = frame_levels(audio)
    voiced = levels > -40
    assert voiced.mean() > 0.5  # mostly sound, not silence
    assert -30 < level_dbm0(alaw_to_linear(audio)) < -6  # a sensible telephone prompt level
    assert np.std(levels[voiced]) > 3  # syllables rise and fall: not a steady tone
    # Mandarin syllables: many onsets (frames where the level jumps up by 10 dB from a dip)
    onsets = np.sum((levels[1:] - levels[:-1]) > 6)
    assert onsets >= 5
    assert tts.engine.threads and not any(t == threading.current_thread().name for t in tts.engine.threads)


def test_longer_text_longer_audio(tts):
    short = load_alaw(tts.synthesize("您好"))
    long = load_alaw(tts.synthesize("您好，欢迎致电旅行社，线路咨询请按一，预订请按二"))
    assert len(long) > 3 * len(short)


def test_cache_hit_is_identical_and_free(tts, tmp_path):
    first = tts.synthesize(WELCOME)
    data = first.read_bytes()
    assert len(tts.engine.calls) == 1
    got: list = []
    fut = tts.request(WELCOME, callback=lambda f: got.append(f.result()))
    assert fut.done() and got == [first]  # ready at once, callback called
    assert fut.result().read_bytes() == data
    assert len(tts.engine.calls) == 1
    # a new Tts over the same directory (a restarted daemon) also hits
    again = Tts(tmp_path / "tts", tts.engine)
    assert again.synthesize(WELCOME).read_bytes() == data
    again.close()
    assert len(tts.engine.calls) == 1
    assert not list((tmp_path / "tts").rglob("*.tmp"))


def test_concurrent_requests_share_one_synthesis(tts):
    futs = [tts.request("请稍候") for _ in range(5)]
    paths = {f.result(30) for f in futs}
    assert len(paths) == 1 and len(tts.engine.calls) == 1


def test_key_includes_voice_and_text(tts):
    assert tts.path_for("你好") != tts.path_for("您好")
    assert tts.path_for("你好", "cmn-latn-pinyin") != tts.path_for("你好", "yue")
    assert tts.cached("你好") is None


def test_unknown_voice_fails_through_the_future(tts):
    fut = tts.request("您好", voice="no-such-voice")
    with pytest.raises(TtsError):
        fut.result(30)
    assert tts.cached("您好", "no-such-voice") is None


def test_prune_keeps_the_recently_used(tts):
    import os

    paths = [tts.synthesize(t) for t in ("一", "二", "三")]
    for i, p in enumerate(paths):
        os.utime(p, (1000 + i, 1000 + i))
    tts.request("一")  # a hit makes it the most recently used
    keep = paths[0].stat().st_size + paths[2].stat().st_size
    assert tts.prune(keep) == 1
    assert paths[0].exists() and not paths[1].exists() and paths[2].exists()
    assert len(tts.engine.calls) == 3


def test_a_command_engine_plugs_in(tmp_path):
    from ivr.tts import CommandEngine, TtsEngine

    engine = CommandEngine(["espeak-ng", "-v", "{voice}", "-s", "170", "--stdout"], "espeak-fast", "cmn-latn-pinyin")
    assert isinstance(engine, TtsEngine)
    t = Tts(tmp_path / "c", engine)
    fast = load_alaw(t.synthesize(WELCOME))
    t.close()
    d = Tts(tmp_path / "d")
    normal = load_alaw(d.synthesize(WELCOME))
    d.close()
    assert 0.75 < len(fast) / len(normal) < 0.97  # 170 wpm against 150: shorter, same words
    assert level_dbm0(alaw_to_linear(fast)) > -30
    assert t.path_for(WELCOME) != d.path_for(WELCOME)  # the engine is part of the cache key
    bad = Tts(tmp_path / "e", CommandEngine(["cat"], "cat", "x"))
    with pytest.raises(TtsError, match="did not write a WAV"):
        bad.synthesize("您好")
    bad.close()
