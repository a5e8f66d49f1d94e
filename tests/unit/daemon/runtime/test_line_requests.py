"""Call control's requests to the lines through the engine (in-process box, virtual clock): a request the
line's state does not allow comes back to call control as ``WrongState``; made while call control handles
an event, it fails that call cleanly (cause 41, ``call.error``) and every other call goes on."""

from __future__ import annotations

import pytest

from hal.dsp.callerid import CallerId
from signaling.events import Cause, DigitReceived
from signaling.machine import WrongState
from tests.support.inprocess import Box


def test_a_wrong_state_request_comes_back_to_the_caller(box: Box) -> None:
    with pytest.raises(WrongState, match="FxoLine on port 1/1: release\\(NORMAL_CLEARING\\) is not allowed in "
                                         "state idle"):
        box.engine.release("1/1", Cause.NORMAL_CLEARING)
    with pytest.raises(WrongState, match="FxsLine on port 2/1: answer\\(\\) is not allowed in state idle"):
        box.engine.answer("2/1")
    box.run(0.2)
    assert box.engine.is_free("1/1") and box.engine.is_free("2/1") and not box.engine.calls.calls


def _answered(box: Box, line: str, ext: str) -> None:
    phone = box.world.phone(ext)
    box.world.co.call(line, "13800138000")
    box.run_until(lambda: phone.ringing, 8, f"{ext} ringing")
    phone.off_hook()
    box.run_until(lambda: (c := box.engine.calls.by_port.get(line)) is not None and c.answer is not None, 2,
                  f"{line} answered")


def test_a_wrong_state_request_fails_its_call_and_no_other(box: Box) -> None:
    _answered(box, "1/1", "8001")
    _answered(box, "1/4", "8007")
    other = box.engine.calls.by_port["1/4"]
    handle = box.engine.calls.handle

    def buggy_handle(ev: object) -> None:  # call control with a bug: answers an extension on a key press
        if isinstance(ev, DigitReceived) and ev.port == "2/1":
            box.engine.answer("2/1")
        handle(ev)

    box.engine.calls.handle = buggy_handle
    box.world.phone("8001").dial("5")
    box.run_until(lambda: "1/1" not in box.engine.calls.by_port, 2, "the failed call to end")
    (err,) = [d for k, d in box.events if k == "call.error"]
    assert (err["port"], err["machine"], err["state"], err["request"]) == ("2/1", "FxsLine", "connected", "answer()")
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert (cdr["src_port"], cdr["dst_port"], cdr["cause"]) == ("1/1", "2/1", Cause.TEMPORARY_FAILURE)
    assert box.world.co.line("1/1").state_dict()["hook"] == "on"  # the caller's line let go
    assert box.engine.calls.by_port["1/4"] is other and other.answer is not None and other.end is None
    assert box.world.co.line("1/4").state_dict()["hook"] == "off"


def test_a_wrong_state_request_from_a_timer_fails_its_call_and_the_tick_goes_on(box: Box) -> None:
    _answered(box, "1/1", "8001")
    _answered(box, "1/4", "8007")
    other = box.engine.calls.by_port["1/4"]
    fired: list[str] = []
    box.engine.timers.call_at(box.engine.now(), lambda: box.engine.ring("2/1", None))  # 8001 is in a call
    box.engine.timers.call_at(box.engine.now(), lambda: fired.append("next timer"))
    box.run_until(lambda: "1/1" not in box.engine.calls.by_port, 1, "the failed call to end")
    (err,) = [d for k, d in box.events if k == "call.error"]
    assert (err["port"], err["request"], err["state"]) == ("2/1", "ring()", "connected")
    assert fired == ["next timer"] and box.cdrs()[0]["cause"] == Cause.TEMPORARY_FAILURE
    box.run(0.5)
    assert box.engine.calls.by_port["1/4"] is other and other.end is None


def test_a_request_before_the_first_tick_is_kept_by_the_line_it_asks() -> None:
    """The daemon sends READY once the board is open, before the first tick has restarted the lines: a test
    ring (or a call) asked for in between finds its line started clean and keeps ringing, caller ID and all,
    instead of being wiped by the restart at that tick."""
    box = Box()
    box.engine.ring("2/3", CallerId(number="12345", name="TEST"))
    phone = box.world.phone("8003")
    box.run_until(lambda: phone.shown_caller_id is not None, 6, "the caller ID at 8003")
    assert (phone.shown_caller_id.number, phone.shown_caller_id.name, phone.rings) == ("12345", "TEST", 1)
