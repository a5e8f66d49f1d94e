"""The line echo canceller (``hal.dsp.echo.EchoBank``) on channels with nothing to cancel: a row whose
transmitted reference is quiet over the whole tail passes its line through untouched, costs no
filtering, changes nothing for its neighbours, and keeps the echo path it has learnt through the pause.

Figures (printed with ``-s``): ERLE just before and just after a pause."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.echo import EchoBank
from tests.support.line_echo import alaw, cancel, delayed, erle_db, line_echo, spoken, voice_band_noise

B = 2  # the board's transmit buffer: the echo of tick n's audio is in the rx of tick n + 2
SECOND = 8000
TICK = 160


def _run(bank: EchoBank, sent: np.ndarray, received: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``bank`` over (rows, samples) ``sent`` / ``received`` tick by tick: (output, double talk per tick)."""
    out = np.empty_like(received)
    flags = np.zeros((bank.rows, sent.shape[1] // TICK), bool)
    for i in range(flags.shape[1]):
        block = slice(TICK * i, TICK * (i + 1))
        out[:, block] = bank.cancel(received[:, block])
        flags[:, i] = bank.double_talk
        bank.remember(sent[:, block])
    return out, flags


def _idle_neighbours(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(sent, received) of three idle rows: nothing transmitted (A-law's silence); received, faint line
    noise, A-law's silence, and someone talking on a line the box sends nothing to."""
    sent = np.full((3, n), alaw(np.zeros(1))[0])
    received = np.stack([alaw(np.random.default_rng(7).normal(0, 4, n)), alaw(np.zeros(n)),
                         alaw(spoken("en", n / SECOND, -20.0, seed=3))])
    return sent, received


def test_idle_neighbours_change_nothing_for_a_call() -> None:
    prompt = spoken("cmn", 4.0, -15.0, seed=1)
    talker = spoken("en", 4.0, -21.0, seed=4)
    talker[: 2 * SECOND] = 0  # the prompt alone, then double talk
    sent = alaw(prompt)
    received = alaw(delayed(line_echo(sent), B) + talker)
    alone = cancel(EchoBank(1, delay_frames=B), sent, received)
    idle_sent, idle_received = _idle_neighbours(len(sent))
    bank = EchoBank(4, delay_frames=B)
    out, _ = _run(bank, np.vstack([idle_sent[:2], sent[None], idle_sent[2:]]),
                  np.vstack([idle_received[:2], received[None], idle_received[2:]]))
    assert erle_db(received[SECOND: 2 * SECOND], alone[SECOND: 2 * SECOND]) >= 25.0  # the call is cancelled
    np.testing.assert_allclose(out[2], alone, rtol=0, atol=1.0)  # to within an LSB, in the same bank or alone


def test_a_quiet_row_hears_its_line_untouched() -> None:
    noise = voice_band_noise(2 * SECOND, -15.0)
    talker = spoken("en", 1.0, -20.0, seed=3)
    sent = alaw(np.concatenate([noise, np.zeros(SECOND)]))  # a call, then the box falls silent (A-law's +8)
    received = alaw(delayed(line_echo(sent), B) + np.concatenate([np.zeros(2 * SECOND), talker]))
    idle_sent, idle_received = _idle_neighbours(len(sent))
    bank = EchoBank(2, delay_frames=B)
    out, flags = _run(bank, np.vstack([sent, idle_sent[2]]), np.vstack([received, idle_received[2]]))
    assert erle_db(received[SECOND: 2 * SECOND], out[0, SECOND: 2 * SECOND]) >= 30.0  # the echo path is learnt
    quiet = slice(2 * SECOND + 4 * TICK, None)  # the reference quiet over the whole tail (and its delay)
    assert np.array_equal(out[0, quiet], received[quiet])
    assert np.array_equal(out[1], idle_received[2])  # a line nothing was ever sent to, talking
    assert not flags[:, quiet.start // TICK:].any()  # nothing to cancel is not double talk
    assert not bank.echo_estimate.any()


def test_quiet_rows_cost_no_filtering(monkeypatch: pytest.MonkeyPatch) -> None:
    transformed: list[int] = []  # rows per FFT the bank asked for
    rfft = np.fft.rfft

    def counting(a: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        transformed.append(int(np.prod(np.shape(a)[:-1])))
        return rfft(a, *args, **kwargs)

    sent = alaw(voice_band_noise(SECOND, -15.0)).reshape(-1, TICK)
    bank = EchoBank(8, delay_frames=B)
    silence = np.full((8, TICK), alaw(np.zeros(1))[0])
    monkeypatch.setattr(np.fft, "rfft", counting)
    for _ in range(10):  # an idle box
        bank.cancel(silence)
        bank.remember(silence)
    assert transformed == []
    for tx in sent[:10]:  # one call on row 5
        bank.cancel(silence)
        bank.remember(np.where(np.arange(8)[:, None] == 5, tx, silence))
    assert transformed and max(transformed) <= 4  # one row's (its errors, rx and reference: 4 in a batch)


def _pause() -> tuple[float, float]:
    """ERLE (the linear filter) over the 200 ms before a 0.5 s pause of the box's audio and the first
    200 ms of its echo after."""
    noise = voice_band_noise(4 * SECOND, -15.0)
    pause = slice(2 * SECOND, round(2.5 * SECOND))
    noise[pause] = 0
    sent = alaw(noise)
    echo = delayed(line_echo(sent), B)
    received = alaw(echo)
    out = cancel(EchoBank(1, delay_frames=B, nlp_db=0), sent, received)
    before = slice(pause.start - round(0.2 * SECOND), pause.start)
    after = slice(pause.stop + B * TICK, pause.stop + B * TICK + round(0.2 * SECOND))
    return erle_db(echo[before], out[before]), erle_db(echo[after], out[after])


def test_a_pause_keeps_the_learnt_echo_path() -> None:
    before, after = _pause()
    print(f"ERLE before a 0.5 s pause {before:.1f} dB, in the 200 ms after {after:.1f} dB")
    assert before >= 30.0
    assert after >= before - 3.0  # not learnt again from nothing


def test_double_talk_hangover_runs_down_in_a_pause() -> None:
    noise = voice_band_noise(3 * SECOND, -15.0)
    talker = spoken("en", 3.0, -15.0, seed=3)
    noise[2 * SECOND: round(2.3 * SECOND)] = 0  # the box pauses
    quiet = 2 * SECOND // TICK + B + 2  # the first tick with a quiet reference over the tail (2.6 ticks)
    talker[: round(1.5 * SECOND)] = 0  # double talk up to then, the talker silent from then on
    talker[quiet * TICK:] = 0
    sent = alaw(noise)
    received = alaw(delayed(line_echo(sent), B) + talker)
    _, flags = _run(EchoBank(1, delay_frames=B), sent[None], received[None])
    assert flags[0, quiet - 1]
    back = round(2.3 * SECOND) // TICK + B  # the echo of the box's audio again, the talker long gone
    assert not flags[0, back: back + 5].any()
