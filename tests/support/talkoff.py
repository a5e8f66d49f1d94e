"""A talk-off corpus for DTMF receivers: sound that is not DTMF and must never give a digit.

Speech from espeak-ng (Mandarin, Cantonese and English, several voice variants, pitches and speeds,
peak levels from -4 to -20 dBFS), music made of notes and chords (each note a few harmonics under a
plucked or held envelope, melodies and chords over five octaves, so notes land on and near the DTMF
frequencies), babble (several talkers at once) and noise (white and low-passed), every piece through
A-law as the line delivers it. ``corpus(seconds, seed)`` makes that much of it (int16 at 8 kHz, a
share of each kind); ``count_digits`` runs it through a receiver bank as many channels side by side,
20 ms at a time, as the tick does.

The whole hour, ours beside spandsp's, is a command:

    .venv/bin/python -m tests.support.talkoff --minutes 60
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Callable

import numpy as np

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import dbm0_to_peak
from ivr.tts import wav_to_alaw

TEXTS = {
    "cmn": ["您好，欢迎致电旅行社。机票预订请按一，酒店预订请按二，人工服务请按零。",
            "您的航班是明天上午九点四十分从北京首都机场起飞，请提前两个小时到达。",
            "我们的营业时间是周一到周五早上八点到晚上八点，周末和节假日休息。",
            "请问您要去哪个城市？大概几号出发？一共几位乘客？需要往返机票吗？",
            "三亚五天四晚的套餐包括往返机票、酒店和接送机，价格是每人三千八百元。"],
    "yue": ["你好，歡迎致電旅行社。訂機票請按一，訂酒店請按二，搵職員請按零。",
            "你嘅航班係聽日朝早九點四十分喺香港國際機場起飛，請提早兩個鐘到。",
            "我哋嘅辦公時間係星期一至五朝早八點到夜晚八點，星期六日同公眾假期休息。",
            "請問你想去邊個城市？幾時出發？總共幾多位？要唔要來回機票？"],
    "en": ["Thank you for calling the travel desk. For flights press one, for hotels press two.",
           "Your flight leaves tomorrow at nine forty from terminal three, please arrive two hours early.",
           "The five night package to Sanya includes return flights, the hotel and airport transfers.",
           "Could you spell the passenger's surname for me, and read me the passport number please?",
           "I'm sorry, all our agents are busy right now. Please hold, or leave a message after the tone."],
}
VOICES = {"cmn": ["cmn", "cmn+f2", "cmn+m3", "cmn+f4"], "yue": ["yue", "yue+f3", "yue+m2", "yue+f1"],
          "en": ["en-us", "en-gb+f3", "en-us+m4", "en-gb-x-rp+f2", "en-029+m1"]}
SPEEDS = (110, 150, 190, 240)
PITCHES = (25, 50, 75, 95)
NOTE_HZ = 440.0 * 2.0 ** ((np.arange(-33, 30)) / 12)  # C3 .. E8-ish: over five octaves, equal tempered


def _alaw(x: np.ndarray) -> np.ndarray:
    return alaw_to_linear(linear_to_alaw(np.clip(np.round(x), -32768, 32767).astype(np.int16)))


def speech(lang: str, rng: np.random.Generator) -> np.ndarray:
    """One utterance: a random text, voice variant, speed, pitch and peak level, through A-law."""
    text = TEXTS[lang][int(rng.integers(len(TEXTS[lang])))]
    voice = VOICES[lang][int(rng.integers(len(VOICES[lang])))]
    cmd = ["espeak-ng", "-v", voice, "-s", str(int(rng.choice(SPEEDS))), "-p", str(int(rng.choice(PITCHES))),
           "--stdout", text]
    wav = subprocess.run(cmd, capture_output=True, check=True, timeout=60).stdout
    alaw = wav_to_alaw(wav, gain_db=float(rng.uniform(-20, -4)))
    return alaw_to_linear(np.frombuffer(alaw, np.uint8))


def _note(freq: float, n: int, level_dbm0: float, plucked: bool, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(n)
    harmonics = int(rng.integers(2, 7))
    x = sum((0.6 ** (k - 1)) * np.sin(2 * np.pi * freq * k * t / 8000 + rng.uniform(0, 6.3))
            for k in range(1, harmonics + 1) if freq * k < 3800)
    env = np.exp(-t / (n / 3)) if plucked else np.minimum(1.0, np.minimum(t, n - t) / 160)
    return dbm0_to_peak(level_dbm0) * env * x


def music(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Melody over chords: notes of 80-600 ms, chords of 2-4 notes, some plucked and some held."""
    n = int(seconds * 8000)
    out = np.zeros(n)
    pos = 0
    while pos < n:
        dur = int(rng.uniform(80, 600) * 8)
        level = float(rng.uniform(-28, -12))
        base = int(rng.integers(0, len(NOTE_HZ) - 16))
        chord = [NOTE_HZ[base]] + [NOTE_HZ[base + int(s)] for s in rng.choice([3, 4, 7, 12, 16], int(rng.integers(1, 4)), replace=False)]
        m = min(dur, n - pos)
        plucked = bool(rng.integers(2))
        for f in chord:
            out[pos:pos + m] += _note(f, m, level - 4, plucked, rng)
        melody = NOTE_HZ[int(rng.integers(12, len(NOTE_HZ)))]
        out[pos:pos + m] += _note(melody, m, level, plucked, rng)
        pos += m
    return _alaw(out)


def noise(seconds: float, rng: np.random.Generator) -> np.ndarray:
    n = int(seconds * 8000)
    x = rng.normal(0, dbm0_to_peak(float(rng.uniform(-40, -10))) / np.sqrt(2), n)
    if rng.integers(2):  # low-passed: a room's rumble more than hiss
        x = np.convolve(x, np.ones(6) / np.sqrt(6), mode="same")
    return _alaw(x)


def babble(parts: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Several utterances at once, each from a random offset, summed."""
    n = max(len(p) for p in parts)
    out = np.zeros(n)
    for p in parts:
        start = int(rng.integers(0, max(1, n - len(p) + 1)))
        out[start:start + len(p)] += p * rng.uniform(0.4, 0.9)
    return _alaw(out)


def corpus(seconds: float, seed: int = 1) -> np.ndarray:
    """``seconds`` of talk-off audio: about half speech (the three languages in turn), a sixth each
    music, babble and noise, with short silences between the pieces."""
    rng = np.random.default_rng(seed)
    pieces: list[np.ndarray] = []
    total, langs, i = 0, list(TEXTS), 0
    target = int(seconds * 8000)
    while total < target:
        kind = i % 6
        if kind in (0, 2, 4):
            piece = speech(langs[(i // 2) % 3], rng)
        elif kind == 1:
            piece = music(float(rng.uniform(3, 8)), rng)
        elif kind == 3:
            piece = babble([speech(langs[int(rng.integers(3))], rng) for _ in range(int(rng.integers(3, 6)))], rng)
        else:
            piece = noise(float(rng.uniform(2, 5)), rng)
        pieces += [piece, np.zeros(int(rng.uniform(0.05, 0.4) * 8000), np.int16)]
        total += len(piece) + len(pieces[-1])
        i += 1
    return np.concatenate(pieces)[:target]


def count_digits(x: np.ndarray, make_bank: Callable[[int], object], channels: int = 60) -> list[tuple[int, str]]:
    """Every digit ``make_bank(channels)`` reports on ``x`` cut into ``channels`` equal streams run side
    by side, 20 ms a tick: (sample offset of the tick in ``x``, digit)."""
    per = len(x) // channels // 160 * 160
    lin = x[: per * channels].reshape(channels, per)
    bank = make_bank(channels)
    chans = list(range(channels))
    found = []
    for i in range(0, per, 160):
        for ch, d in bank.process(lin[:, i:i + 160], chans):  # type: ignore[attr-defined]
            found.append((ch * per + i, d))
    return found


def main() -> None:
    from hal.dsp import dtmf as spandsp_dtmf
    from hal.dsp import dtmf_rx

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    x = corpus(args.minutes * 60, args.seed)
    print(f"corpus: {len(x) / 8000 / 60:.1f} min (seed {args.seed})")
    for name, bank in (("ours", dtmf_rx.DtmfBank), ("spandsp", spandsp_dtmf.DtmfBank)):
        hits = count_digits(x, bank)
        print(f"{name}: {len(hits)} false digits", " ".join(f"{d}@{at / 8000:.1f}s" for at, d in hits[:20]))


if __name__ == "__main__":
    main()
