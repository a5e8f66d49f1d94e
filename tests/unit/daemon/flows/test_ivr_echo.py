"""The IVR's ears against its own prompts coming back: on a poor line (6 dB echo return loss, G.168's
worst case) the welcome prompt's echo is as loud as a caller's weak keys. With the line's echo
cancelled the keys barge in wherever in the prompt they come; without it (``echo_cancel = false``)
keys from the middle of the prompt on are lost under the echo (measured: 4 of 6 moments)."""

from __future__ import annotations

import pytest

from sim.hybrid import HybridSettings
from tests.support.audio import contains, decode
from tests.support.inprocess import Box
from tests.unit.daemon.flows.test_ivr_calls import LINE, OPEN, call_in, caller_heard, prompt_audio

POOR_LINE = HybridSettings(6.0, 3.0, 6.0)
WEAK_KEYS_DBM0 = -34.0  # per tone: a long loop's keys, 4 dB over the receiver's threshold (-38)


@pytest.mark.parametrize("after_s", [2.1, 3.0, 3.9])
def test_weak_keys_barge_into_the_welcome_over_its_echo(after_s: float) -> None:
    box = Box(ivr=True, wall=lambda: OPEN)
    box.run(0.2)
    box.world.set_echo(LINE, POOR_LINE)
    start = box.world.tick
    call_in(box)
    box.run(after_s)
    heard = decode(box.world.co.line(LINE).recorder.heard(start)[0])
    assert contains(heard, prompt_audio(box, "welcome")[: 8000]) > 0.9  # the welcome is playing
    box.world.co.line(LINE).party.dial("0", level_dbm0=WEAK_KEYS_DBM0)
    operator = box.world.phone("8001")
    box.run_until(lambda: operator.ringing, 12, "the operator's phone (the key barged in)")
    mark = box.world.tick
    box.run(1.0)
    assert contains(caller_heard(box, mark), prompt_audio(box, "welcome")) < 0.5  # the welcome stopped
