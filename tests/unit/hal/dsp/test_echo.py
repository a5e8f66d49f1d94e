"""The line echo canceller (``hal.dsp.echo.EchoBank``) against the simulator's hybrid (the default FXO
line: 12 dB echo return loss, 3 ms bulk delay, 6 ms dispersion), everything through A-law as the
board carries it, two ticks of board round trip, tick by tick as the media layer runs it.

Figures (printed with ``-s``): ERLE per window, the double-talk correlation."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.echo import EchoBank
from sim.hybrid import HybridSettings
from tests.support.line_echo import (
    alaw,
    cancel,
    delayed,
    erle_db,
    line_echo,
    spoken,
    voice_band_noise,
    windows_erle_db,
)

B = 2  # the board's transmit buffer: the echo of tick n's audio is in the rx of tick n + 2
SECOND = 8000


def _call(prompt: np.ndarray, talker: np.ndarray | None = None, hybrid: HybridSettings | None = None,
          **bank_args: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, EchoBank]:
    """The box plays ``prompt`` on a line whose talker says ``talker``: (the echo as received, the
    talker as received, the canceller's output, the bank)."""
    sent = alaw(prompt)
    echo = delayed(line_echo(sent, hybrid) if hybrid else line_echo(sent), B)
    near = np.zeros_like(sent) if talker is None else talker
    bank = EchoBank(1, delay_frames=B, **bank_args)
    out = cancel(bank, sent, alaw(echo + near))
    return echo, near, out, bank


def test_voice_band_noise_is_cancelled_30_db_within_one_second() -> None:
    echo, _, out, _ = _call(voice_band_noise(3 * SECOND, -15.0), nlp_db=0)  # the linear filter alone
    erle = windows_erle_db(echo, out)
    print("ERLE per 0.25 s, noise, linear:", [round(e, 1) for e in erle])
    assert min(erle[4:]) >= 30.0


def test_a_spoken_prompt_is_cancelled_30_db_after_one_second() -> None:
    echo, _, out, _ = _call(spoken("cmn", 6.0, -15.0, seed=1))
    _, _, linear, _ = _call(spoken("cmn", 6.0, -15.0, seed=1), nlp_db=0)
    print("ERLE per 0.5 s, speech:", [round(e, 1) for e in windows_erle_db(echo, out, 0.5)])
    print("ERLE per 0.5 s, speech, linear:", [round(e, 1) for e in windows_erle_db(echo, linear, 0.5)])
    assert erle_db(echo[SECOND:], out[SECOND:]) >= 30.0  # everything after the first second
    assert min(windows_erle_db(echo, out, 0.5)[2:]) >= 25.0  # and no half second of it much worse
    assert erle_db(echo[3 * SECOND:], linear[3 * SECOND:]) >= 30.0  # the linear filter, converged
    # the NLP's part: in converged single talk it takes the residual down by about its 12 dB
    nlp_gain = erle_db(echo[3 * SECOND:], out[3 * SECOND:]) - erle_db(echo[3 * SECOND:], linear[3 * SECOND:])
    assert 8.0 <= nlp_gain <= 12.5


def test_the_line_talker_is_undamaged_in_double_talk_and_the_filter_holds() -> None:
    prompt = spoken("cmn", 7.0, -15.0, seed=1)
    talker = spoken("en", 7.0, -21.0, seed=3)  # 6 dB under the prompt, 6 dB over its echo
    talker[: round(2.5 * SECOND)] = 0  # the prompt alone first, then both
    talker[round(5.5 * SECOND):] = 0
    echo, near, out, _ = _call(prompt, talker)
    both = slice(round(2.6 * SECOND), round(5.5 * SECOND))
    received = alaw(echo + near)
    corr = np.corrcoef(out[both], near[both])[0, 1]
    corr_without = np.corrcoef(received[both], near[both])[0, 1]
    print(f"double talk: correlation with the talker {corr:.4f} (received, no canceller: {corr_without:.4f}); "
          f"ERLE meanwhile {erle_db(echo[both], out[both] - near[both]):.1f} dB")
    assert corr >= 0.999
    gain_db = 10 * np.log10(np.mean(out[both] ** 2) / np.mean(near[both] ** 2))
    assert abs(gain_db) < 0.5  # not attenuated (the NLP keeps off), not added to
    after = slice(round(5.6 * SECOND), 7 * SECOND)
    print(f"after double talk: ERLE {erle_db(echo[after], out[after]):.1f} dB")
    assert erle_db(echo[after], out[after]) >= 30.0  # the filter did not diverge


def test_double_talk_is_detected_and_single_talk_is_not() -> None:
    prompt = spoken("cmn", 4.0, -15.0, seed=2)
    talker = spoken("en", 4.0, -21.0, seed=3)
    talker[: 2 * SECOND] = 0
    sent = alaw(prompt)
    echo = delayed(line_echo(sent), B)
    received = alaw(echo + talker)
    bank = EchoBank(1, delay_frames=B)
    flags = []
    for tx, rx in zip(sent.reshape(-1, 160), received.reshape(-1, 160), strict=True):
        bank.cancel(rx[None])
        bank.remember(tx[None])
        flags.append(bool(bank.double_talk[0]))
    # ticks where the talker peaks at twice the echo or more (6 dB): a Geigel detector's to see
    talking = np.abs(talker.reshape(-1, 160)).max(axis=1) > 2 * np.abs(echo.reshape(-1, 160)).max(axis=1)
    assert np.mean(np.array(flags)[talking]) >= 0.8
    assert np.mean(np.array(flags)[:100]) <= 0.1  # the prompt's own echo is not double talk


def test_the_tail_is_configurable() -> None:
    far_exchange = HybridSettings(12.0, 30.0, 8.0)  # the echo ends 38 ms after the line: past a 32 ms tail
    noise = voice_band_noise(3 * SECOND, -15.0)
    echo, _, short, _ = _call(noise, hybrid=far_exchange, nlp_db=0)
    _, _, long, bank = _call(noise, hybrid=far_exchange, nlp_db=0, tail_ms=64)
    assert bank.taps == 512
    assert erle_db(echo[2 * SECOND:], short[2 * SECOND:]) < 15.0
    assert erle_db(echo[2 * SECOND:], long[2 * SECOND:]) >= 30.0


def test_channels_are_independent_and_reset_forgets_one() -> None:
    noise = [voice_band_noise(2 * SECOND, -15.0, seed=s) for s in (1, 2)]
    hybrids = [HybridSettings(12.0, 3.0, 6.0), HybridSettings(20.0, 0.5, 3.0)]
    sent = np.stack([alaw(x) for x in noise])
    received = np.stack([alaw(delayed(line_echo(s, h), B)) for s, h in zip(sent, hybrids, strict=True)])
    bank = EchoBank(2, delay_frames=B, nlp_db=0)
    out = np.zeros_like(received)
    ticks = sent.shape[1] // 160
    for i in range(ticks):
        block = slice(160 * i, 160 * (i + 1))
        if i == ticks - 1:
            bank.reset(0)  # a new call on row 0, just before the last tick
        out[:, block] = bank.cancel(received[:, block])
        bank.remember(sent[:, block])
    for row in (0, 1):
        print(f"row {row}: ERLE {erle_db(received[row, SECOND:-160], out[row, SECOND:-160]):.1f} dB")
        assert erle_db(received[row, SECOND:-160], out[row, SECOND:-160]) >= 30.0
    assert np.array_equal(out[0, -160:], received[0, -160:])  # row 0 starts afresh: nothing to subtract
    assert erle_db(received[1, -160:], out[1, -160:]) >= 30.0  # row 1 keeps cancelling


@pytest.mark.parametrize("args", [{"rows": -1}, {"tail_ms": 0.5}, {"tail_ms": 500}, {"delay_frames": 0},
                                  {"nlp_db": -1}])
def test_bad_settings_are_refused(args: dict) -> None:
    kw = {"rows": 1} | args
    with pytest.raises(ValueError, match=next(iter(args))):
        EchoBank(**kw)
