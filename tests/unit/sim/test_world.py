"""The board core's transmit buffer: the host's audio for tick n is played at n + tx_buffer_frames, so
a host a frame late costs latency, not audio; later than the buffer it is dropped and counted."""

from __future__ import annotations

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear, linear_to_alaw
from hal.dsp.measure import dominant_frequency
from hal.dsp.tones import sine
from sim.config import ConfigError, parse_config
from sim.world import SimWorld
from tests.unit.sim.conftest import SILENCE

PHONE = "8001"


def _world(frames: int) -> SimWorld:
    w = SimWorld(parse_config({"board": {"tx_buffer_frames": frames}}))
    w.phone(PHONE).off_hook_ = True  # records what the host sends it
    return w


def _tone_frame(w: SimWorld, freq: float) -> np.ndarray:
    tx = np.full((w.channels, 160), SILENCE, np.uint8)
    tx[w.phone(PHONE).port.channel] = linear_to_alaw(sine(freq, -10.0, 160))
    return tx


def _heard_at(w: SimWorld, tick: int) -> float:
    audio, _ = w.phone(PHONE).recorder.heard(since=tick, until=tick + 1)
    return dominant_frequency(alaw_to_linear(np.frombuffer(audio, np.uint8)))


@pytest.mark.parametrize("late_by", [0, 1])
def test_a_frame_answered_within_the_buffer_is_played_after_it(late_by: int) -> None:
    w = _world(2)
    w.step()
    n = w.tick
    for _ in range(late_by):  # the host stalls: the next tick comes before its answer
        w.step()
    w.apply_tx(n, _tone_frame(w, 1000.0))
    while w.tick < n + 2:
        w.step()
    assert _heard_at(w, n + 2) == pytest.approx(1000.0, rel=0.02)
    assert (w.late_tx, w.bad_tx) == (0, 0)


def test_a_frame_later_than_the_buffer_is_dropped_and_its_tick_is_an_underrun() -> None:
    w = _world(2)
    w.step()
    n = w.tick
    w.step()
    w.step()  # tick n's playout: nothing arrived
    assert w.underruns == 1
    w.apply_tx(n, _tone_frame(w, 1000.0))
    assert w.late_tx == 1
    assert _heard_at(w, n + 2) == pytest.approx(0.0, abs=1.0)  # silence was played


def test_a_one_frame_buffer_is_the_old_board_that_takes_only_the_current_tick() -> None:
    w = _world(1)
    w.step()
    n = w.tick
    w.step()
    w.apply_tx(n, _tone_frame(w, 1000.0))
    assert (w.late_tx, w.underruns) == (1, 1)


def test_a_tick_answered_twice_or_ahead_is_refused() -> None:
    w = _world(2)
    w.step()
    w.apply_tx(w.tick, _tone_frame(w, 1000.0))
    w.apply_tx(w.tick, _tone_frame(w, 500.0))
    w.apply_tx(w.tick + 1, _tone_frame(w, 500.0))
    assert w.bad_tx == 2
    w.step()
    w.step()
    assert _heard_at(w, w.tick) == pytest.approx(1000.0, rel=0.02)


def test_underruns_count_only_ticks_sent_to_a_connected_host() -> None:
    w = _world(2)
    w.counting_underruns = False
    for _ in range(5):
        w.step()  # no host: nothing answers, nothing counts
    w.counting_underruns = True  # a host opens: it is sent the next tick
    for _ in range(2):
        w.step()
        w.apply_tx(w.tick, _tone_frame(w, 1000.0))
    w.step()
    assert w.underruns == 0


@pytest.mark.parametrize("bad", [0, 9, 1.5, True, "2"])
def test_the_buffer_depth_is_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="board.tx_buffer_frames"):
        parse_config({"board": {"tx_buffer_frames": bad}})


@pytest.mark.parametrize("bad", [-1, 100, 2.5, False])
def test_the_clock_priority_is_checked(bad: object) -> None:
    with pytest.raises(ConfigError, match="board.realtime_priority"):
        parse_config({"board": {"realtime_priority": bad}})
