"""Answer detection on analog trunks: a greeting after ringback is an answer decided within 2 s of the
far end lifting, put at the greeting's onset; busy, congestion and the SIT-like tones are not; China's
announcements without the tones are early media, not answers; ringback and music on ringback (彩铃)
never read as an answer; silence too long is an answer by timeout."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.answer import LONG_SPURT_MS, AnswerBank, AnswerVerdict
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.tones import CHINA, ToneGenerator, ToneName
from sim import speech
from tests.support.talkoff import music

RATE = 8000
GREETINGS = ("喂？", "喂，你好？", "喂，哪位？", "你好？")
VOICES = ("cmn-latn-pinyin", "cmn-latn-pinyin+f2", "cmn-latn-pinyin+m3", "cmn-latn-pinyin+f4")


def tone(name: ToneName, seconds: float) -> np.ndarray:
    return ToneGenerator(CHINA[name]).generate(round(seconds * RATE))


def line(x: np.ndarray, noise_dbm0: float = -55.0, seed: int = 0) -> np.ndarray:
    """``x`` as the box hears it: line noise added, through A-law, whole frames."""
    rng = np.random.default_rng(seed)
    x = x.astype(np.float64) + rng.normal(0, 32768 * 10 ** ((noise_dbm0 - 3.14) / 20) / np.sqrt(2), len(x))
    x = np.concatenate([x, np.zeros(-len(x) % 160)])
    return alaw_to_linear(linear_to_alaw(np.clip(np.round(x), -32768, 32767).astype(np.int16)))


def run(signals: list[np.ndarray]) -> list[list[tuple[int, AnswerVerdict]]]:
    """Every signal on its own channel, side by side, 20 ms a tick: each channel's verdicts with the
    time (ms, end of the tick) they came."""
    n = max(len(s) for s in signals) // 160
    lin = np.zeros((len(signals), n * 160), np.int16)
    for i, s in enumerate(signals):
        lin[i, :len(s)] = s[: n * 160]
    bank = AnswerBank(len(signals) + 1)
    chans = list(range(1, len(signals) + 1))  # channel 0 not watched: it must stay untouched
    for ch in chans:
        bank.reset(ch)
    out: list[list[tuple[int, AnswerVerdict]]] = [[] for _ in signals]
    frames = np.zeros((len(signals) + 1, 160), np.int16)
    for k in range(n):
        frames[1:] = lin[:, k * 160:(k + 1) * 160]
        for ch, v in bank.process(frames, chans):
            out[ch - 1].append(((k + 1) * 20, v))
    return out


def finals(verdicts: list[tuple[int, AnswerVerdict]]) -> list[tuple[int, AnswerVerdict]]:
    return [(t, v) for t, v in verdicts if v.final]


def greeted_after_ringback(answer_s: float, delay_s: float, text: str, voice: str, seed: int) -> np.ndarray:
    """Ringback until ``answer_s`` (cut wherever it is in its cadence), then the person's greeting
    ``delay_s`` later, then silence while they wait for a reply."""
    return line(np.concatenate([tone(ToneName.RINGBACK, answer_s), np.zeros(round(delay_s * RATE)),
                                speech.render(text, voice), np.zeros(4 * RATE)]), seed=seed)


def test_a_greeting_after_ringback_is_an_answer_by_voice_within_2_s_put_at_its_onset() -> None:
    rng = np.random.default_rng(7)
    cases = []
    for i in range(24):
        answer_s = float(rng.uniform(1.5, 16.0))  # in bursts and in gaps of the 1 s / 4 s cadence
        delay_s = float(rng.uniform(0.2, 0.6))
        cases.append((answer_s, delay_s, GREETINGS[i % len(GREETINGS)], VOICES[(i // 4) % len(VOICES)]))
    results = run([greeted_after_ringback(a, d, t, v, seed=i) for i, (a, d, t, v) in enumerate(cases)])
    latencies = []
    for (answer_s, delay_s, text, voice), verdicts in zip(cases, results, strict=True):
        [(at, v)] = finals(verdicts)
        assert (v.answered, v.by, v.reason) == (True, "voice", "voice"), (text, voice, verdicts)
        latency_ms = at - answer_s * 1000
        latencies.append(latency_ms)
        assert 0 < latency_ms <= 2000, (text, voice, delay_s)
        onset_ms = at - v.ago_ms  # where the detector puts the answer: the first word (a soft onset: +20-100 ms)
        assert onset_ms == pytest.approx((answer_s + delay_s) * 1000, abs=120)
    assert max(latencies) <= 2000


def test_busy_and_congestion_are_not_answered_by_tone() -> None:
    rb = tone(ToneName.RINGBACK, 7.0)
    results = run([line(np.concatenate([rb, tone(ToneName.BUSY, 4.0)])),
                   line(np.concatenate([np.zeros(RATE), tone(ToneName.CONGESTION, 4.0)]))])
    [(t_busy, busy)], [(t_cong, cong)] = (finals(r) for r in results)
    assert (busy.answered, busy.by, busy.reason) == (False, "tone", "busy")
    assert (cong.answered, cong.by, cong.reason) == (False, "tone", "congestion")
    assert t_busy - 7000 <= 1200 and t_cong - 1000 <= 2200  # burst-gap-burst: 1.05 s, 2.1 s


@pytest.mark.parametrize("kind", list(speech.ANNOUNCEMENTS))
def test_an_announcement_with_the_sit_tones_is_not_answered_within_a_second(kind: str) -> None:
    one = speech.announcement(kind, sit=True)
    [verdicts] = run([line(np.concatenate([np.zeros(RATE), one, np.zeros(RATE), one]))])
    [(at, v)] = finals(verdicts)
    assert (v.answered, v.by, v.reason) == (False, "tone", "sit")
    assert at - 1000 <= 1000  # the three tones take 0.99 s; decided in the third


@pytest.mark.parametrize("kind", list(speech.ANNOUNCEMENTS))
def test_an_announcement_without_tones_is_early_media_and_the_busy_after_it_says_so(kind: str) -> None:
    one = np.concatenate([speech.announcement(kind, sit=False), np.zeros(RATE)])
    x = line(np.concatenate([tone(ToneName.RINGBACK, 6.0), np.tile(one, 3), tone(ToneName.BUSY, 3.0)]))
    [verdicts] = run([x])
    assert not [v for _, v in verdicts if v.answered]
    notes = [(t, v) for t, v in verdicts if not v.final]
    assert notes and notes[0][1].reason == "announcement" and notes[0][0] <= 6000 + LONG_SPURT_MS + 200
    [(_, v)] = finals(verdicts)
    assert (v.answered, v.by, v.reason) == (False, "tone", "announcement")


def test_ringback_alone_for_a_minute_is_never_an_answer() -> None:
    results = run([line(tone(ToneName.RINGBACK, 60.0), noise_dbm0=n, seed=i)
                   for i, n in enumerate((-70.0, -55.0, -45.0, -40.0))])
    assert results == [[], [], [], []]


def test_music_on_ringback_is_never_an_answer() -> None:
    """彩铃: the callee's music instead of ringback, 40 s of notes and chords on each of 12 channels."""
    results = run([line(music(40.0, np.random.default_rng(seed)), seed=seed) for seed in range(12)])
    false = [(ch, v) for ch, r in enumerate(results) for _, v in r if v.answered]
    assert false == []
    assert all(r and r[0][1].reason == "announcement" and not r[0][1].final for r in results)


def test_music_on_ringback_then_a_greeting_is_an_answer_at_the_greeting() -> None:
    crbt = music(12.0, np.random.default_rng(3))
    x = line(np.concatenate([crbt, np.zeros(int(0.4 * RATE)), speech.render("喂？"), np.zeros(3 * RATE)]))
    [verdicts] = run([x])
    [(at, v)] = finals(verdicts)
    assert v.answered and v.by == "voice"
    assert at - v.ago_ms == pytest.approx(12400, abs=60) and at - 12000 <= 2000


def test_silence_after_ringback_is_an_answer_by_timeout() -> None:
    [verdicts] = run([line(np.concatenate([tone(ToneName.RINGBACK, 7.5), np.zeros(10 * RATE)]))])
    [(at, v)] = finals(verdicts)
    assert (v.answered, v.by, v.reason) == (True, "timeout", "silence")
    assert at == pytest.approx(6000 + 6000, abs=40)  # 6 s after the last burst ended (at 6 s)


def test_nothing_at_all_is_an_answer_by_timeout_only_after_8_s() -> None:
    [verdicts] = run([line(np.zeros(12 * RATE))])
    [(at, v)] = finals(verdicts)
    assert (v.by, v.reason) == ("timeout", "silence") and at == pytest.approx(8000, abs=40)


def test_a_fax_answering_is_an_answer_by_tone() -> None:
    ced = ToneGenerator(CHINA[ToneName.FAX_CED]).generate(3 * RATE)
    [verdicts] = run([line(np.concatenate([tone(ToneName.RINGBACK, 3.0), np.zeros(RATE), ced]))])
    [(at, v)] = finals(verdicts)
    assert (v.answered, v.by, v.reason) == (True, "tone", "fax") and at - v.ago_ms == pytest.approx(4000, abs=60)


def test_a_long_first_sentence_is_not_an_answer_until_a_short_phrase() -> None:
    """The price of telling announcements by their shape: a person who answers with a long sentence
    is answered at their next short phrase."""
    long_ = speech.render("喂，你好，这里是北京国际旅行社，请问您找哪一位？")
    x = line(np.concatenate([tone(ToneName.RINGBACK, 3.0), long_, np.zeros(RATE), speech.render("喂？"),
                             np.zeros(2 * RATE)]))
    [verdicts] = run([x])
    [(at, v)] = finals(verdicts)
    assert v.answered and at - v.ago_ms == pytest.approx(3000 + len(long_) / 8 + 1000, abs=60)
