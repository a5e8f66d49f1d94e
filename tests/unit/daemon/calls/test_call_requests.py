"""Calls made and changed from outside (the API's call control), through the whole box in one
process on a virtual clock: click-to-dial, blind transfer, hang-up — audio measured at every party."""

from __future__ import annotations

import pytest

from sim.central_office import Scenario
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box


def _answered(box: Box) -> bool:
    return any(c.answer for c in box.engine.calls.calls.values())


def test_click_to_dial_rings_the_agent_then_dials_the_customer(box: Box) -> None:
    w, agent = box.world, box.world.phone("8001")
    w.co.scenarios["13912345678"] = Scenario("answer", after_s=1.0)
    call = box.engine.calls.click_to_dial("8001", "13912345678")
    box.run_until(lambda: agent.ringing, 3, "the agent's phone ringing")
    box.run_until(lambda: agent.shown_caller_id is not None, 8, "the customer's number on the display")
    assert agent.shown_caller_id.number == "13912345678"
    assert not any(ln.call for ln in w.co.lines.values())  # nothing dialled before the agent answers
    agent.off_hook()
    box.run_until(lambda: any(ln.call and ln.call.digits == "13912345678" for ln in w.co.lines.values()), 10,
                  "the CO to receive the customer's number")
    line = next(ln for ln in w.co.lines.values() if ln.call and ln.call.digits == "13912345678")
    box.run_until(lambda: _answered(box), 10, "the customer to answer")
    line.party.tone(1000.0)
    agent.mouth.tone(400.0)
    box.run(0.4)
    mark = w.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(400.0, rel=0.02)
    box.engine.calls.hangup(call.id)
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert (cdr["direction"], cdr["caller"], cdr["called"], cdr["disposition"]) == (
        "outbound", "8001", "13912345678", "ANSWERED")
    assert line.state_dict()["hook"] == "on"
    agent.on_hook()


def test_click_to_dial_not_answered_by_the_agent(box: Box) -> None:
    call = box.engine.calls.click_to_dial("8002", "8003")
    box.run_until(lambda: box.world.phone("8002").ringing, 3, "ringing")
    box.run(box.config.dialplan.no_answer_timeout_s + 1)
    assert not box.world.phone("8002").ringing and not box.world.phone("8003").ringing
    (cdr,) = box.cdrs()
    assert cdr["id"] == call.id and cdr["disposition"] == "NO ANSWER"
    with pytest.raises(LookupError):
        box.engine.calls.click_to_dial("9999", "8003")
    box.world.phone("8004").off_hook()
    box.run(0.2)
    with pytest.raises(ValueError, match="busy"):
        box.engine.calls.click_to_dial("8004", "8003")


def test_blind_transfer_of_an_inbound_call(box: Box) -> None:
    w = box.world
    first, second = w.phone("8001"), w.phone("8002")
    w.co.call("1/1", "13800138000")
    box.run_until(lambda: first.ringing, 8, "8001 ringing")
    first.off_hook()
    box.run_until(lambda: _answered(box), 2, "answer")
    (call,) = box.engine.calls.calls.values()
    line = w.co.line("1/1")
    box.engine.calls.transfer(call.id, "8002")
    box.run_until(lambda: second.ringing, 3, "8002 ringing")
    mark = w.tick
    box.run(1.2)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(450.0, rel=0.02)  # ringback
    second.off_hook()
    box.run(0.3)
    line.party.tone(1000.0)
    second.mouth.tone(700.0)
    first.mouth.tone(1300.0)  # the old agent is out of the call: must not be heard
    box.run(0.4)
    mark = w.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8002", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(700.0, rel=0.02)
    first.on_hook()
    line.party.silence()
    line.hangup()
    box.run_until(lambda: not box.engine.calls.calls, 3, "the clear")
    second.on_hook()
    box.run(0.5)
    (cdr,) = box.cdrs()
    assert cdr["dst"] == "8002" and cdr["caller"] == "13800138000" and cdr["disposition"] == "ANSWERED"
