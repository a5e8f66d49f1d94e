"""Outbound calls on analog lines that give no answer signal, through the whole box in one process on a
virtual clock: the CDR says how the answer was known (answer_by) and why a call was not answered
(answer_reason), and bills from the detected answer; the call.answered event carries both."""

from __future__ import annotations

import re

import numpy as np
import pytest

from hal.dsp.g711 import alaw_to_linear
from hal.dsp.measure import dominant_frequency, level_dbm0
from sim.central_office import Scenario
from tests.support.inprocess import Box
from tests.support.processes import default_config_text

NUMBER = "13912345678"


@pytest.fixture
def box() -> Box:
    b = Box()
    b.engine.calls.wall = lambda: b.world.tick * 0.02  # CDR times on the simulator's clock
    b.run(0.2)
    return b


def dial_out(box: Box, scenario: dict, ext: str = "8001") -> None:
    box.world.co.scenarios[NUMBER] = Scenario.from_dict(scenario)
    phone = box.world.phone(ext)
    phone.off_hook()
    box.run(0.4)
    phone.dial(f"9{NUMBER}#")
    box.run_until(lambda: any(ln.call is not None and ln.call.number == NUMBER for ln in box.world.co.lines.values()),
                  15, "the CO to receive the number")


def co_call(box: Box):  # noqa: ANN201 - the simulated exchange's record of the call (sim CallRecord)
    return next((ln.history[-1] for ln in box.world.co.lines.values()
                 if ln.history and ln.history[-1].number == NUMBER), None)


def answered_event(box: Box) -> tuple[int, dict] | None:
    return next(((i, d) for i, (k, d) in enumerate(box.events) if k == "call.answered"), None)


def finish(box: Box, ext: str = "8001", talk_s: float = 5.0) -> dict:
    box.run(talk_s)
    box.world.phone(ext).on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()
    return cdr


def test_a_person_answering_is_answered_by_voice_and_billed_from_the_greeting(box: Box) -> None:
    dial_out(box, {"action": "answer", "after_s": 6.5, "party": "voice"})
    box.run_until(lambda: answered_event(box) is not None, 20, "the answer")
    decided = box.world.tick
    far = co_call(box)
    assert far.answer_tick is not None and (decided - far.answer_tick) * 20 <= 2000  # decided within 2 s
    _, event = answered_event(box)
    assert (event["answer_by"], event["answer_reason"]) == ("voice", "voice")
    greeting_tick = far.answer_tick + 20  # the simulated person speaks 0.4 s after lifting
    assert event["answer"] == pytest.approx(greeting_tick * 0.02, abs=0.1)
    cdr = finish(box, talk_s=5.0)
    assert (cdr["disposition"], cdr["answer_by"], cdr["answer_reason"]) == ("ANSWERED", "voice", "voice")
    hangup_s = (co_call(box).end_tick) * 0.02
    assert cdr["billsec"] == pytest.approx(hangup_s - greeting_tick * 0.02, abs=0.1)


def test_the_far_end_hears_the_caller_only_once_answered(box: Box) -> None:
    """Before the answer the caller hears ringback but the line hears nothing of the caller: their voice
    echoed by the line's hybrid would otherwise come back to the answer detector as a "greeting"."""
    dial_out(box, {"action": "answer", "after_s": 5.0, "party": "voice"})
    box.world.phone("8001").mouth.tone(400.0)  # the caller talks while it rings
    line = next(ln for ln in box.world.co.lines.values() if ln.history and ln.history[-1].number == NUMBER)
    box.run_until(lambda: any(k == "call.ringing" for k, _ in box.events), 10, "ringback")
    mark = box.world.tick
    box.run_until(lambda: answered_event(box) is not None, 20, "the answer")
    before = line.recorder.heard(mark, co_call(box).answer_tick)[0]
    assert level_dbm0(alaw_to_linear(np.frombuffer(before, np.uint8))) < -60
    mark = box.world.tick + 5
    box.run(1.0)
    after = alaw_to_linear(np.frombuffer(line.recorder.heard(mark)[0], np.uint8))
    assert dominant_frequency(after) == pytest.approx(400.0, rel=0.02)
    assert finish(box, talk_s=0.5)["answer_by"] == "voice"


def test_polarity_reversal_is_the_answer_where_the_line_gives_it(box: Box) -> None:
    dial_out(box, {"action": "answer", "after_s": 4.0, "party": "voice", "polarity": True})
    box.run_until(lambda: answered_event(box) is not None, 20, "the answer")
    assert (box.world.tick - co_call(box).answer_tick) <= 3
    cdr = finish(box, talk_s=2.0)
    assert (cdr["answer_by"], cdr["answer_reason"]) == ("polarity", "polarity")
    assert cdr["answer"] == pytest.approx(co_call(box).answer_tick * 0.02, abs=0.08)


def test_a_silent_answer_is_answered_by_timeout(box: Box) -> None:
    dial_out(box, {"action": "answer", "after_s": 4.0})
    box.run_until(lambda: answered_event(box) is not None, 20, "the answer")
    cdr = finish(box, talk_s=1.0)
    assert (cdr["disposition"], cdr["answer_by"], cdr["answer_reason"]) == ("ANSWERED", "timeout", "silence")


@pytest.mark.parametrize("sit", [True, False])
def test_a_recorded_announcement_is_not_answered(box: Box, sit: bool) -> None:
    dial_out(box, {"action": "announcement", "announcement": "off", "sit": sit, "after_s": 2.0, "repeats": 2})
    box.run_until(lambda: box.cdrs(), 40, "the call to end")
    (cdr,) = box.cdrs()
    assert cdr["disposition"] == "FAILED" and cdr["billsec"] == 0.0 and cdr["answer"] is None
    assert (cdr["answer_by"], cdr["answer_reason"]) == ("tone", "sit" if sit else "announcement")
    assert answered_event(box) is None
    assert sit or ("call.progress", {"call": cdr["id"], "port": cdr["dst_port"], "progress": "announcement"}) in box.events
    box.world.phone("8001").on_hook()


def test_busy_is_not_answered_busy(box: Box) -> None:
    dial_out(box, {"action": "busy", "after_s": 1.0})
    box.run_until(lambda: box.cdrs(), 10, "the call to end")
    (cdr,) = box.cdrs()
    assert (cdr["disposition"], cdr["cause"], cdr["answer_by"], cdr["answer_reason"]) == ("BUSY", 17, "tone", "busy")
    box.world.phone("8001").on_hook()


def test_left_ringing_is_no_answer_by_timeout(box: Box) -> None:
    dial_out(box, {"action": "noanswer"})
    box.run_until(lambda: box.cdrs(), box.config.dialplan.no_answer_timeout_s + 10, "the no-answer timeout")
    (cdr,) = box.cdrs()
    assert (cdr["disposition"], cdr["answer_by"], cdr["answer_reason"]) == ("NO ANSWER", "timeout", "ringback")
    assert cdr["billsec"] == 0.0 and answered_event(box) is None
    box.world.phone("8001").on_hook()


def test_a_line_configured_for_polarity_answers_by_polarity_alone(tmp_path) -> None:  # noqa: ANN001
    text = re.sub(r"(?m)^answer_detect = .*\n", "", default_config_text())
    text = re.sub(r"(?m)^\[\[line\]\]\n", '[[line]]\nanswer_detect = "polarity"\n', text)
    text = text.replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp_path / "state"}"')
    (tmp_path / "callbox.toml").write_text(text, encoding="utf-8")
    b = Box(tmp_path / "callbox.toml")
    b.engine.calls.wall = lambda: b.world.tick * 0.02
    b.run(0.2)
    dial_out(b, {"action": "answer", "after_s": 2.0, "party": "voice", "polarity": False})
    b.run(10.0)  # a person greets, again and again: not an answer on this line
    assert answered_event(b) is None and co_call(b).answer_tick is not None
    b.world.phone("8001").on_hook()
    b.run(1.0)
    dial_out(b, {"action": "answer", "after_s": 2.0, "party": "voice", "polarity": True})
    b.run_until(lambda: answered_event(b) is not None, 5, "the answer")
    assert answered_event(b)[1]["answer_by"] == "polarity"
