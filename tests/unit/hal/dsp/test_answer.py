"""Answer detection on analog trunks: a greeting after ringback is an answer decided within 2 s of the
far end lifting, put at the greeting's onset; busy, congestion and the SIT-like tones are not; China's
announcements without the tones are early media, not answers; ringback and music on ringback (彩铃)
never read as an answer; silence too long is an answer by timeout."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.answer import LONG_SPURT_MS
from hal.dsp.tones import CHINA, ToneGenerator, ToneName
from sim import speech
from tests.support.answer_signals import RATE, finals, greeted_after_ringback, greeting_cases, line, tone
from tests.support.answer_signals import verdicts as run
from tests.support.talkoff import music


def test_a_greeting_after_ringback_is_an_answer_by_voice_within_2_s_put_at_its_onset() -> None:
    cases = greeting_cases(24)
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


def test_without_ringback_first_a_greeting_needs_the_longer_wait_and_a_short_opening_phrase_is_no_answer() -> None:
    """No ringback before it (an exchange that routes in silence): a short phrase counts only once the
    0.8 s wait for a reply follows it, so an announcement that opens with "您好！" is not an answer."""
    hello, wei = (x[: np.flatnonzero(np.abs(x) > 100)[-1] + 1]  # without espeak-ng's trailing quiet
                  for x in (speech.render("您好！"), speech.render("喂？")))
    announcement = line(np.concatenate([np.zeros(2 * RATE), hello, np.zeros(int(0.5 * RATE)),
                                        speech.announcement("off", sit=False), tone(ToneName.BUSY, 3.0)]))
    person = line(np.concatenate([np.zeros(2 * RATE), wei, np.zeros(3 * RATE)]))
    got_announcement, got_person = run([announcement, person])
    assert [(v.answered, v.reason) for _, v in finals(got_announcement)] == [(False, "announcement")]
    [(at, v)] = finals(got_person)
    assert v.answered and at - v.ago_ms == pytest.approx(2000, abs=120)
    assert at - 2000 == pytest.approx(len(wei) / 8 + 800, abs=100)
