"""What an analog line sends back after the box dials, for the answer detector (hal.dsp.answer): ringback
cut at the moment of answer, a person's greeting from espeak-ng, music instead of ringback, China's
tones, as the box hears them (line noise, A-law); ``verdicts`` runs many such signals side by side
through one ``AnswerBank``, 20 ms a tick, as the daemon does.

The figures (decision latency after the answer, false answers on ringback and music) are a command:

    .venv/bin/python -m tests.support.answer_signals --greetings 200 --minutes 10
"""

from __future__ import annotations

import argparse

import numpy as np

from hal.dsp.answer import AnswerBank, AnswerVerdict
from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.tones import CHINA, ToneGenerator, ToneName
from sim import speech
from tests.support.talkoff import corpus, music

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


def greeted_after_ringback(answer_s: float, delay_s: float, text: str, voice: str, seed: int) -> np.ndarray:
    """Ringback until ``answer_s`` (cut wherever it is in its cadence), then the person's greeting
    ``delay_s`` later, then silence while they wait for a reply."""
    return line(np.concatenate([tone(ToneName.RINGBACK, answer_s), np.zeros(round(delay_s * RATE)),
                                speech.render(text, voice), np.zeros(4 * RATE)]), seed=seed)


def greeting_cases(n: int, seed: int = 7) -> list[tuple[float, float, str, str]]:
    """(answer_s, delay_s, greeting, voice): answers in bursts and gaps of the 1 s / 4 s cadence, the
    first word 0.2-0.6 s after lifting."""
    rng = np.random.default_rng(seed)
    return [(float(rng.uniform(1.5, 16.0)), float(rng.uniform(0.2, 0.6)), GREETINGS[i % len(GREETINGS)],
             VOICES[(i // len(GREETINGS)) % len(VOICES)]) for i in range(n)]


def verdicts(signals: list[np.ndarray]) -> list[list[tuple[int, AnswerVerdict]]]:
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


def finals(found: list[tuple[int, AnswerVerdict]]) -> list[tuple[int, AnswerVerdict]]:
    return [(t, v) for t, v in found if v.final]


def _false_answers(signals: list[np.ndarray]) -> int:
    return sum(1 for r in verdicts(signals) for _, v in r if v.answered)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--greetings", type=int, default=200)
    ap.add_argument("--minutes", type=float, default=10.0, help="of ringback, and of music, each")
    args = ap.parse_args()
    cases = greeting_cases(args.greetings)
    results = verdicts([greeted_after_ringback(a, d, t, v, seed=i) for i, (a, d, t, v) in enumerate(cases)])
    lat, onset, inside, wrong = [], [], 0, 0
    for (answer_s, delay_s, _, _), r in zip(cases, results, strict=True):
        f = finals(r)
        if len(f) != 1 or not f[0][1].answered or f[0][1].by != "voice":
            wrong += 1
            continue
        at, v = f[0]
        lat.append(at - answer_s * 1000)
        put = at - v.ago_ms
        onset.append(put - (answer_s + delay_s) * 1000)
        inside += answer_s * 1000 - 100 <= put <= (answer_s + delay_s) * 1000 + 100
    lat_a = np.array(lat)
    print(f"greetings after ringback: {len(cases)}, answered by voice {len(lat)}, other verdicts {wrong}")
    print(f"  decision after the answer (ms): median {np.median(lat_a):.0f}, p95 {np.percentile(lat_a, 95):.0f}, "
          f"max {lat_a.max():.0f}; over 2000 ms: {(lat_a > 2000).sum()}")
    print(f"  answer put at the first word: error median {np.median(onset):.0f} ms, max {np.max(np.abs(onset)):.0f} ms; "
          f"between the lift and the first word (±0.1 s): {inside} of {len(lat)}")
    chans, per = 30, args.minutes * 60 / 30
    levels = (-70.0, -55.0, -45.0, -40.0)
    rb = _false_answers([line(tone(ToneName.RINGBACK, per), noise_dbm0=levels[i % 4], seed=i) for i in range(chans)])
    print(f"ringback, {args.minutes:g} min (noise {', '.join(f'{n:g}' for n in levels)} dBm0): {rb} false answers")
    mu = _false_answers([line(music(per, np.random.default_rng(100 + i)), seed=i) for i in range(chans)])
    print(f"music instead of ringback, {args.minutes:g} min: {mu} false answers")
    talk = corpus(args.minutes * 60, seed=5)
    cut = len(talk) // chans // 160 * 160
    tk = _false_answers([talk[i * cut:(i + 1) * cut] for i in range(chans)])
    print(f"speech, babble, music and noise as early media (the DTMF talk-off corpus), {args.minutes:g} min, "
          f"{per:.0f} s per call: {tk} calls answered (a short phrase after a pause reads as a greeting)")


if __name__ == "__main__":
    main()
