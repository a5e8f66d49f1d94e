"""R2 MF: every forward and backward signal through A-law, its two frequencies and level, tone off; the
receivers (spandsp's and the project's own, which the engine uses) against the Q.441/Q.442 limits and
against multi-tone audio that is not a signal."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import level_dbm0
from hal.dsp.r2mf import (
    PAIRS,
    R2MfBank,
    R2MfReceiver,
    R2MfSender,
    detect_blocks,
    frequencies,
)
from hal.dsp.tones import sine

SIGNALS = range(1, 16)


def _through_alaw(x: np.ndarray) -> np.ndarray:
    return alaw_to_linear(linear_to_alaw(x))


def _peaks(x: np.ndarray) -> list[float]:
    """The two strongest spectral peaks (Hz), lowest first."""
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    freqs = np.fft.rfftfreq(len(x), 1 / 8000)
    top: list[float] = []
    for k in np.argsort(spec)[::-1]:
        if all(abs(freqs[k] - f) > 40 for f in top):
            top.append(float(freqs[k]))
        if len(top) == 2:
            return sorted(top)
    return sorted(top)


class _Own:
    """The project's detector on one channel, block by block (what ``R2MfBank`` runs per row)."""

    def __init__(self, forward: bool) -> None:
        self.forward = forward

    def process(self, block: np.ndarray) -> int:
        return int(detect_blocks(block, self.forward)[0])


RECEIVERS = {"spandsp": R2MfReceiver, "own": _Own}


@pytest.mark.parametrize("receiver", list(RECEIVERS))
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize("signal", SIGNALS)
def test_every_signal_round_trips_through_alaw(signal: int, forward: bool, receiver: str) -> None:
    tx, rx = R2MfSender(forward), RECEIVERS[receiver](forward)
    tx.set(signal)
    heard = [rx.process(_through_alaw(tx.generate(160))) for _ in range(6)]
    assert heard[0] in (0, signal) and heard[1:] == [signal] * 5
    if receiver == "own":
        assert heard[0] == signal  # seen in the first block that holds it
    tx.set(0)
    off = [rx.process(_through_alaw(tx.generate(160))) for _ in range(3)]
    assert off[-2:] == [0, 0]  # tone off is seen within 40 ms
    if receiver == "own":
        assert off == [0, 0, 0]


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize("signal", SIGNALS)
def test_frequencies_and_level(signal: int, forward: bool) -> None:
    tx = R2MfSender(forward)
    tx.set(signal)
    x = np.concatenate([tx.generate(160) for _ in range(25)]).astype(np.float64)
    f1, f2 = frequencies(signal, forward)
    assert _peaks(x) == pytest.approx(sorted([f1, f2]), abs=8)
    # two tones of -11 dBm0 each: -8 dBm0 together
    assert level_dbm0(x) == pytest.approx(-11 + 10 * np.log10(2), abs=0.5)


def test_level_is_configurable() -> None:
    loud, quiet = R2MfSender(True, level_dbm0=-8.0), R2MfSender(True, level_dbm0=-20.0)
    loud.set(5)
    quiet.set(5)
    lx = np.concatenate([loud.generate(160) for _ in range(10)])
    qx = np.concatenate([quiet.generate(160) for _ in range(10)])
    assert level_dbm0(lx) == pytest.approx(-8 + 3.01, abs=0.5)
    assert level_dbm0(qx) == pytest.approx(-20 + 3.01, abs=0.5)
    rx = R2MfReceiver(True)
    assert [rx.process(_through_alaw(quiet.generate(160))) for _ in range(4)][-1] == 5


@pytest.mark.parametrize("receiver", list(RECEIVERS))
def test_wrong_direction_and_single_frequency_are_not_signals(receiver: str) -> None:
    tx, rx = R2MfSender(False), RECEIVERS[receiver](True)
    tx.set(1)
    assert {rx.process(_through_alaw(tx.generate(160))) for _ in range(10)} == {0}
    rx = RECEIVERS[receiver](True)
    for f in (1380.0, 1500.0, 1620.0, 1740.0, 1860.0, 1980.0):
        one = sine(f, -11.0, 1600)
        assert {rx.process(_through_alaw(one[i:i + 160])) for i in range(0, 1600, 160)} == {0}


def test_sender_is_silent_when_off() -> None:
    tx = R2MfSender(True)
    assert not tx.generate(160).any()
    tx.set(3)
    assert tx.generate(160).any()
    tx.set(0)
    assert tx.idle and not tx.generate(160).any()
    with pytest.raises(ValueError):
        tx.set(16)


@pytest.mark.parametrize("engine", ["own", "spandsp"])
def test_bank_reports_changes_per_channel(engine: str) -> None:
    bank = R2MfBank(engine)
    bank.listen(1, True)
    bank.listen(3, False)
    fwd, bwd = R2MfSender(True), R2MfSender(False)
    fwd.set(10)
    bwd.set(6)
    changes: list[tuple[int, int]] = []
    for i in range(8):
        if i == 5:
            fwd.set(0)
        lin = np.zeros((4, 160), np.int16)
        lin[1], lin[3] = fwd.generate(160), bwd.generate(160)
        lin[2] = fwd.generate(160)  # not listened to
        changes += bank.process(_through_alaw(lin))
    assert sorted(changes[:2]) == [(1, 10), (3, 6)] and changes[2:] == [(1, 0)]
    bank.listen(1, None)
    assert bank.channels == [3]


def test_a_block_lost_inside_a_tone_does_not_end_it() -> None:
    """One silent 20 ms block inside a compelled tone (a frame the link lost) is not its end; a real end
    is reported after two silent blocks, and a new tone at once; a short gap followed by another tone
    was the first tone's end."""
    bank = R2MfBank()
    bank.listen(0, True)
    tx = R2MfSender(True)
    tx.set(7)
    silence = np.zeros((1, 160), np.int16)

    def block(sending: bool) -> list[tuple[int, int]]:
        return bank.process(_through_alaw(tx.generate(160)[None, :] if sending else silence))

    assert block(True) == [(0, 7)]
    assert block(False) == [] and block(True) == []  # the lost frame
    assert [block(False) for _ in range(2)] == [[], [(0, 0)]]  # the end is reported 40 ms after it
    tx.set(3)
    assert block(True) == [(0, 3)]
    assert block(False) == []
    tx.set(5)  # the far end heard its answer and sent the next signal within the gap
    assert block(True) == [(0, 0), (0, 5)]


def _detected(receiver: str, signal: int, forward: bool, df: float = 0.0, l1: float = -11.0,
              l2: float = -11.0) -> bool:
    f1, f2 = frequencies(signal, forward)
    x = sine(f1 + df, l1, 960).astype(np.float64) + sine(f2 + df, l2, 960).astype(np.float64)
    x = _through_alaw(np.clip(x, -32768, 32767).astype(np.int16))
    rx = RECEIVERS[receiver](forward)
    return [rx.process(x[i:i + 160]) for i in range(0, 960, 160)][-1] == signal


# Q.441/Q.442 receiver limits: frequency within +/-10 Hz, each frequency from -5 to -35 dBm0,
# the two frequencies up to 5 dB apart (7 dB when not adjacent); nothing at -42 dBm0 or below.
@pytest.mark.parametrize("receiver", list(RECEIVERS))
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize(("what", "kw", "accept"), [
    ("+10 Hz", dict(df=10.0), True), ("-10 Hz", dict(df=-10.0), True),
    ("-5 dBm0", dict(l1=-5.0, l2=-5.0), True), ("-35 dBm0", dict(l1=-35.0, l2=-35.0), True),
    ("5 dB apart", dict(l1=-11.0, l2=-16.0), True), ("5 dB apart, reversed", dict(l1=-16.0, l2=-11.0), True),
    ("-42 dBm0", dict(l1=-42.0, l2=-42.0), False), ("-50 dBm0", dict(l1=-50.0, l2=-50.0), False),
])
def test_receiver_limits(receiver: str, forward: bool, what: str, kw: dict, accept: bool) -> None:
    got = [s for s in SIGNALS if _detected(receiver, s, forward, **kw)]
    assert got == (list(SIGNALS) if accept else []), what


NON_ADJACENT = [s for s in SIGNALS if PAIRS[s - 1][1] - PAIRS[s - 1][0] > 1]


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
@pytest.mark.parametrize(("l1", "l2"), [(-11.0, -18.0), (-18.0, -11.0), (-28.0, -35.0)])
def test_own_receiver_accepts_7_db_between_non_adjacent_frequencies(forward: bool, l1: float, l2: float) -> None:
    assert all(_detected("own", s, forward, l1=l1, l2=l2) for s in NON_ADJACENT)


@pytest.mark.xfail(reason="spandsp 0.0.6's R2 MF receiver rejects 7 dB between non-adjacent frequencies "
                          "(measured, -11/-18 dBm0: forward 5 of 10 pairs, 8 of 10 with the higher frequency "
                          "louder; backward 0 of 10)", strict=True)
@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
def test_spandsp_receiver_accepts_7_db_between_non_adjacent_frequencies(forward: bool) -> None:
    assert all(_detected("spandsp", s, forward, l1=-11.0, l2=-18.0) for s in NON_ADJACENT)


def test_multitone_audio_that_is_no_signal() -> None:
    """2-6 random tones (200-3400 Hz, -30..-10 dBm0) held for 60 ms: how often a receiver reports a signal.
    Measured: own 18, spandsp 151 of 2000; the own receiver must stay well under spandsp's rate."""
    rng = np.random.default_rng(1)
    false = {"own": 0, "spandsp": 0}
    trials = 2000
    for _ in range(trials):
        k = int(rng.integers(2, 7))
        x = sum(sine(float(rng.uniform(200, 3400)), float(rng.uniform(-30, -10)), 480, int(rng.integers(0, 1000)))
                .astype(np.float64) for _ in range(k))
        x = _through_alaw(np.clip(x, -32768, 32767).astype(np.int16))
        for name in false:
            for forward in (True, False):
                rx = RECEIVERS[name](forward)
                if any(rx.process(x[i:i + 160]) for i in range(0, 480, 160)):
                    false[name] += 1
                    break
    assert false["own"] <= 0.03 * trials and false["own"] < false["spandsp"] / 2, false


@pytest.mark.parametrize("forward", [True, False], ids=["forward", "backward"])
def test_own_receiver_rejects_a_pair_13_db_apart_and_a_third_frequency(forward: bool) -> None:
    """Not a two-out-of-six signal: one frequency with another 13 dB below it (leakage, not a pair), or
    a pair with a third frequency 1 dB below the weaker one."""
    freqs = frequencies(1, forward) + frequencies(15, forward)  # f0, f1, f4, f5

    def own(*parts: tuple[float, float]) -> int:
        x = sum(sine(f, level, 480).astype(np.float64) for f, level in parts)
        return int(detect_blocks(_through_alaw(np.clip(x, -32768, 32767).astype(np.int16))[None, 160:320],
                                 forward)[0])

    assert own((freqs[0], -11.0), (freqs[2], -18.0)) == 7  # f0 + f4, 7 dB apart: signal 7
    assert own((freqs[0], -11.0), (freqs[2], -24.0)) == 0
    assert own((freqs[0], -11.0), (freqs[2], -11.0)) == 7
    assert own((freqs[0], -11.0), (freqs[2], -11.0), (freqs[3], -12.0)) == 0
