"""Call-progress detection: China's cadences recognised (busy only after burst-gap-burst), ends
noticed (ringback giving way to an answer), and no false busy on speech-like sound or one burst."""

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.progress import ProgressBank, ProgressEvent
from hal.dsp.tones import CHINA, ToneGenerator, ToneName, ToneSpec, sine


def run(signal: np.ndarray, alaw: bool = True) -> list[tuple[int, ProgressEvent]]:
    """Feed one channel frame by frame; events with their time in ms (end of the frame)."""
    if alaw:
        signal = alaw_to_linear(linear_to_alaw(signal))
    bank, chans, out = ProgressBank(2), [1], []
    for i in range(len(signal) // 160):
        lin = np.zeros((2, 160), np.int16)
        lin[1] = signal[i * 160:(i + 1) * 160]
        out += [((i + 1) * 20, ev) for _, ev in bank.process(lin, chans)]
    return out


def play(spec: ToneSpec, seconds: float) -> np.ndarray:
    gen = ToneGenerator(spec)
    return np.concatenate([gen.generate(160) for _ in range(int(seconds * 50))])


def speechlike(seconds: float, seed: int = 1) -> np.ndarray:
    """Noise shaped into syllables (150-400 ms bursts, 450 Hz-heavy): what must never read as busy."""
    rng = np.random.default_rng(seed)
    out = []
    while sum(map(len, out)) < seconds * 8000:
        n = int(rng.uniform(150, 400) * 8)
        voiced = sum(sine(f, -18.0, n, int(rng.integers(0, 80))) for f in (150.0, 300.0, 450.0, 600.0))
        out.append(np.clip(voiced + rng.normal(0, 1500, n), -32768, 32767).astype(np.int16))
        out.append(np.zeros(int(rng.uniform(100, 400) * 8), np.int16))
    return np.concatenate(out)


def test_busy_is_recognised_after_burst_gap_burst() -> None:
    events = run(play(CHINA[ToneName.BUSY], 3))
    first = events[0]
    assert first[1] == ProgressEvent(ToneName.BUSY) and 1000 <= first[0] <= 1200


def test_a_single_busy_burst_is_not_busy() -> None:
    x = np.concatenate([sine(450.0, -10.0, 2800), np.zeros(16000, np.int16)])
    assert not [e for e in run(x) if e[1].tone is ToneName.BUSY]


def test_congestion_dial_ringback_cng_ced() -> None:
    assert run(play(CHINA[ToneName.CONGESTION], 3))[0] == (2120, ProgressEvent(ToneName.CONGESTION))
    assert run(play(CHINA[ToneName.DIAL], 2))[0][1] == ProgressEvent(ToneName.DIAL)
    assert run(play(CHINA[ToneName.RINGBACK], 2))[0][1] == ProgressEvent(ToneName.RINGBACK)
    assert run(play(CHINA[ToneName.FAX_CNG], 2))[0][1] == ProgressEvent(ToneName.FAX_CNG)
    assert run(play(CHINA[ToneName.FAX_CED], 1))[0][1] == ProgressEvent(ToneName.FAX_CED)


def test_quiet_busy_still_recognised_and_too_quiet_is_silence() -> None:
    assert run(play(ToneSpec((450.0,), -30.0, (350, 350)), 3))[0][1].tone is ToneName.BUSY
    assert run(play(ToneSpec((450.0,), -45.0, (350, 350)), 3)) == []


def test_busy_off_frequency_by_20_hz_still_recognised() -> None:
    assert run(play(ToneSpec((470.0,), -10.0, (350, 350)), 3))[0][1].tone is ToneName.BUSY


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_speech_never_reads_as_busy_or_congestion(seed: int) -> None:
    events = run(speechlike(30, seed))
    assert not [e for e in events if e[1].tone in (ToneName.BUSY, ToneName.CONGESTION)]


def test_ringback_ends_when_the_far_end_answers_and_speaks() -> None:
    ring = play(CHINA[ToneName.RINGBACK], 6)  # on 0-1 s, off 1-5 s, on 5-6 s
    x = np.concatenate([ring[:8000 * 2], sine(1000.0, -15.0, 8000)])  # answered at 2 s with speech
    events = run(x)
    assert events[0][1] == ProgressEvent(ToneName.RINGBACK)
    ended = events[1]
    assert ended[1] == ProgressEvent(ToneName.RINGBACK, ended=True) and 2000 < ended[0] <= 2100


def test_ringback_ends_after_a_silence_longer_than_its_gap() -> None:
    x = np.concatenate([play(CHINA[ToneName.RINGBACK], 2), np.zeros(8000 * 5, np.int16)])
    events = run(x)
    assert events[1][1] == ProgressEvent(ToneName.RINGBACK, ended=True)
    assert 5500 <= events[1][0] <= 6100  # the 4 s gap plus its tolerance


def test_ringback_cadence_repeating_does_not_end() -> None:
    ((ms, ev),) = run(play(CHINA[ToneName.RINGBACK], 16))
    assert ev == ProgressEvent(ToneName.RINGBACK) and 1000 <= ms <= 1040


def test_channels_are_independent_and_reset_forgets() -> None:
    bank = ProgressBank(3)
    busy = play(CHINA[ToneName.BUSY], 4)
    got = []
    for i in range(len(busy) // 160):
        lin = np.zeros((3, 160), np.int16)
        lin[0] = busy[i * 160:(i + 1) * 160]
        lin[2] = busy[i * 160:(i + 1) * 160] if i >= 25 else 0
        if i == 100:
            bank.reset(0)
        got += bank.process(lin, [0, 2])
    chans = [ch for ch, ev in got if ev.tone is ToneName.BUSY]
    assert chans == [0, 2, 0]  # channel 0 recognised, reset, recognised again; 2 on its own time


def test_bursts_separated_by_other_sound_are_not_busy() -> None:
    """450 Hz bursts with busy's timing but speech-like sound (1 kHz + 300 Hz) in the gaps: a busy
    cadence needs silence between its bursts, so this is never busy."""
    burst = sine(450.0, -10.0, 2800)
    other = (sine(1000.0, -15.0, 2800).astype(np.int32) + sine(300.0, -15.0, 2800)).astype(np.int16)
    x = np.concatenate([burst, other] * 4 + [np.zeros(8000, np.int16)])
    assert not [e for e in run(x) if e[1].tone in (ToneName.BUSY, ToneName.CONGESTION)]
    x = np.concatenate([burst, np.zeros(2800, np.int16)] * 4)  # the same bursts with silent gaps: busy
    assert run(x)[0][1] == ProgressEvent(ToneName.BUSY)
