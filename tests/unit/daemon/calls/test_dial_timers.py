"""The dial plan's timers on the whole box in one process (virtual clock): the first-digit timeout, the
inter-digit timeout and the no-answer time each end a call at their configured time, not before,
with the tone the caller must hear measured."""

from __future__ import annotations

import pytest

from daemon.features.extension import ExtensionFeatures
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.tone_levels import level_at
from tests.support.world import World

TICKS_PER_S = 50


@pytest.fixture
def box() -> Box:
    b = Box()
    ExtensionFeatures(b.engine)  # the feature codes (*7x forwarding) an extension may start to dial
    b.run(0.2)
    return b


def window(box: Box, ext: str, start: int, seconds: float) -> bytes:
    """What ``ext`` heard for ``seconds`` from tick ``start``."""
    return box.heard(ext, start)[: int(seconds * 8000)]


def test_no_digit_gets_busy_at_the_first_digit_timeout(box: Box) -> None:
    first = box.engine.calls.config.dialplan.first_digit_timeout_s
    assert first == 10
    box.world.phone("8001").off_hook()
    start = box.world.tick
    box.run(first + 2.5)
    before = window(box, "8001", start + int((first - 2) * TICKS_PER_S), 1.6)
    assert World.cadence_ms(before) == (0, 0) and level_at(before, 450.0) > -15  # still steady dial tone
    after = window(box, "8001", start + int((first + 0.2) * TICKS_PER_S), 2.2)
    assert tone_frequency(after) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(after) == pytest.approx((350, 350), abs=60)  # busy


def test_an_unfinished_number_gets_congestion_at_the_inter_digit_timeout(box: Box) -> None:
    inter = box.engine.calls.config.dialplan.inter_digit_timeout_s
    assert inter == 4
    phone = box.world.phone("8001")
    phone.off_hook()
    box.run(0.5)
    start = box.world.tick
    phone.dial("80")  # the start of an extension number, then nothing
    box.run(inter + 3.5)
    waiting = window(box, "8001", start + TICKS_PER_S, inter - 1.2)
    assert level_at(waiting, 450.0) < -40  # dial tone stopped at the first digit; nothing yet
    after = window(box, "8001", start + int((inter + 0.6) * TICKS_PER_S), 2.4)
    assert World.cadence_ms(after) == pytest.approx((700, 700), abs=60)  # congestion: no such number
    (cdr,) = box.cdrs()
    assert cdr["called"] == "80" and cdr["cause"] == 1


def test_unanswered_extension_stops_ringing_at_the_no_answer_time(box: Box) -> None:
    no_answer = box.engine.calls.config.dialplan.no_answer_timeout_s
    assert no_answer == 30
    box.world.phone("8001").off_hook()
    box.run(0.5)
    box.world.phone("8001").dial("8002")
    box.run_until(lambda: box.world.phone("8002").ringing, 5, "8002 ringing")
    rung = box.world.tick
    box.run(no_answer - 1.0)
    assert box.engine.calls.calls and not box.engine.is_free("2/2")  # still ringing it
    box.run(3.0)
    assert not box.world.phone("8002").ringing and box.engine.is_free("2/2")
    heard = window(box, "8001", rung + int((no_answer + 0.3) * TICKS_PER_S), 1.6)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)
    (cdr,) = box.cdrs()
    assert cdr["called"] == "8002" and cdr["disposition"] == "NO ANSWER" and cdr["cause"] == 19


def test_an_unfinished_feature_code_gets_busy_at_the_inter_digit_timeout(box: Box) -> None:
    inter = box.engine.calls.config.dialplan.inter_digit_timeout_s
    phone = box.world.phone("8001")
    phone.off_hook()
    box.run(0.5)
    start = box.world.tick
    phone.dial("*7")  # the start of a forwarding code, then nothing
    box.run(inter + 3.0)
    assert level_at(window(box, "8001", start + TICKS_PER_S, inter - 1.2), 450.0) < -40
    after = window(box, "8001", start + int((inter + 0.6) * TICKS_PER_S), 2.0)
    assert World.cadence_ms(after) == pytest.approx((350, 350), abs=60)
    assert not box.cdrs()  # an unfinished code leaves no CDR
