"""The line-machine interface: FXO, FXS and a No.1 timeslot take the same inputs through the same methods
(``signaling.machine.PortMachine``), inputs a kind of line never gets follow the documented rule, and a
request of call control's that the state does not allow is a ``WrongState`` naming machine, port, state
and request, the machine untouched."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hal.dsp.answer import AnswerVerdict
from hal.dsp.callerid import CallerId
from hal.dsp.progress import ProgressEvent
from hal.dsp.tones import ToneName
from hal.events import CasChange, OffHook, OnHook, RingStart
from signaling.analog.fxo import FxoLine
from signaling.analog.fxs import FxsLine
from signaling.events import CallEvent, CallReleased, Cause
from signaling.machine import PortMachine, WrongState
from signaling.media import PlayTone
from signaling.no1.trunk import No1Trunk, TrunkConfig
from signaling.no1.variant import CHINA

KINDS: dict[str, Callable[[], PortMachine]] = {
    "fxo": lambda: FxoLine("1/1"), "fxs": lambda: FxsLine("2/1"), "no1": lambda: No1Trunk("3/1", TrunkConfig()),
}


@pytest.fixture(params=sorted(KINDS))
def machine(request: pytest.FixtureRequest) -> PortMachine:
    m = KINDS[request.param]()
    m.restart(0.0)
    if isinstance(m, No1Trunk):  # restarted: idle once the far end's idle is reported
        m.handle_board_event(CasChange(m.port, CHINA.bits("idle")), 0.0)
        m.handle_timer(0.1)
    m.take_outputs()
    return m


def test_every_kind_is_idle_after_a_restart_and_takes_every_line_input(machine: PortMachine) -> None:
    assert isinstance(machine, PortMachine) and machine.is_idle and not machine.is_out_of_service
    for give in (lambda: machine.handle_board_event(CasChange(machine.port, 0b0101), 1.0),
                 lambda: machine.handle_digit("5", 1.0),
                 lambda: machine.handle_progress(ProgressEvent(ToneName.BUSY), 1.0),
                 lambda: machine.handle_answer(AnswerVerdict(True, "voice", "voice"), 1.0),
                 lambda: machine.handle_caller_id(CallerId(number="138"), 1.0),
                 lambda: machine.handle_mf(7, 1.0),
                 lambda: machine.handle_timer(1.0)):
        give()  # the network may send anything: never an exception, never a call out of nothing
    assert not any(isinstance(o, CallEvent) for o in machine.take_outputs())


def test_release_on_an_idle_line_is_a_wrong_state_naming_machine_port_state_and_request(machine: PortMachine) -> None:
    machine.handle_board_event(CasChange(machine.port, CHINA.bits("idle")), 2.0)
    machine.take_outputs()
    with pytest.raises(WrongState) as err:
        machine.release(Cause.NORMAL_CLEARING, 2.0)
    e = err.value
    assert (e.machine, e.port, e.state, e.request) == (type(machine).__name__, machine.port, "idle",
                                                       "release(NORMAL_CLEARING)")
    assert str(e) == f"{type(machine).__name__} on port {machine.port}: release(NORMAL_CLEARING) is not allowed " \
                     "in state idle"
    assert machine.take_outputs() == [] and machine.is_idle and machine.deadline is None


def test_requests_a_kind_of_line_never_does_are_wrong_in_every_state() -> None:
    with pytest.raises(WrongState, match="No1Trunk on port 3/1: ring"):
        No1Trunk("3/1").ring(None, 0.0)
    with pytest.raises(WrongState, match="FxoLine on port 1/1: ring"):
        FxoLine("1/1").ring(None, 0.0)
    with pytest.raises(WrongState, match="FxsLine on port 2/1: dial\\('8002'\\)"):
        FxsLine("2/1").dial("8002", 0.0)
    with pytest.raises(WrongState, match="FxsLine on port 2/1: answer"):
        FxsLine("2/1").answer(0.0)


def test_answer_on_a_released_line_is_a_wrong_state() -> None:
    fxo = FxoLine("1/1")
    fxo.handle_board_event(RingStart("1/1"), 0.0)
    fxo.handle_board_event(RingStart("1/1"), 5.0)  # offered
    fxo.answer(5.1)
    fxo.release(Cause.NORMAL_CLEARING, 9.0)
    fxo.take_outputs()
    with pytest.raises(WrongState, match="answer\\(\\) is not allowed in state idle"):
        fxo.answer(9.1)
    assert fxo.take_outputs() == []


def test_a_release_crossing_the_lines_own_release_is_done_not_wrong() -> None:
    """The phone hung up and its CallReleased is still on the way to call control, which releases the line
    for its own reasons meanwhile: a normal race, so the request is accepted as done."""
    fxs = FxsLine("2/1")
    fxs.handle_board_event(OffHook("2/1"), 0.0)
    fxs.handle_board_event(OnHook("2/1"), 1.0)
    fxs.handle_timer(2.0)  # on hook past the flash time: hung up
    assert fxs.is_idle  # its CallReleased not yet taken
    fxs.release(Cause.NORMAL_CLEARING, 2.0)  # crosses it: no error
    assert fxs.take_outputs()[-1] == CallReleased("2/1", Cause.NORMAL_CLEARING) and fxs.is_idle
    with pytest.raises(WrongState):  # once call control has it, the line is simply idle
        fxs.release(Cause.NORMAL_CLEARING, 2.1)


def test_what_does_not_apply_follows_the_rule(machine: PortMachine) -> None:
    """Span alarms mean nothing to an analog line; only a trunk can be blocked; any line plays a tone."""
    machine.out_of_service(1.0)
    assert machine.is_out_of_service is isinstance(machine, No1Trunk)
    machine.in_service(2.0)
    assert not machine.is_out_of_service
    machine.take_outputs()
    assert machine.block(3.0) is isinstance(machine, No1Trunk)
    machine.unblock(3.1)
    machine.take_outputs()
    machine.accept(3.2)  # nothing offered: nothing happens
    assert machine.take_outputs() == []
    machine.play(ToneName.BUSY)
    assert machine.take_outputs() == [PlayTone(machine.port, ToneName.BUSY)]
