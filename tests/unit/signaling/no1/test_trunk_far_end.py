"""No.1 trunk against a scripted far end: resends, debounce, and every protocol error ends cleanly."""

from __future__ import annotations

from hal.events import CasChange
from signaling.circuit import CircuitAlarm
from signaling.events import CallOffered, CallReleased, Cause
from signaling.media import Detect, SendMf
from signaling.no1.trunk import No1Trunk, TrunkConfig, TrunkState
from signaling.no1.variant import CHINA
from tests.unit.signaling.no1.link import Link

IDLE, SEIZE, ACK, ANSWER = 0b1011, 0b0011, 0b1111, 0b0111


def outgoing(**kw) -> tuple[Link, No1Trunk]:
    a = No1Trunk("1/1", TrunkConfig(**kw))
    link = Link(a, None)
    a.dial("12301", link.now, caller="138")
    return link, a


def far(link: Link):
    return link.b


def fwd_signals(link: Link) -> list[int]:
    return [o.signal for o in link.a.outputs if isinstance(o, SendMf)]


def cycle(link: Link, backward: int) -> int:
    """Answer the forward tone now on the line with ``backward``; returns the forward signal answered."""
    link.run_until(lambda: link.a.mf_tx != 0, 6)
    sig = link.a.mf_tx
    far(link).mf_tx = backward
    link.run_until(lambda: link.a.mf_tx == 0, 1)
    far(link).mf_tx = 0
    link.run(0.04)
    return sig


def seized(link: Link) -> None:
    link.run_until(lambda: link.a.cas_tx == SEIZE, 1)
    far(link).cas_tx = ACK
    link.run(0.06)


def usable_again(a: No1Trunk) -> bool:
    return a.state is TrunkState.IDLE and a.is_idle


def test_resend_requests_a2_a7_a8() -> None:
    """Each backward answer decides the next forward signal (DNIS 1 2 3 0 1 = signals 1 2 3 10 1)."""
    link, a = outgoing()
    seized(link)
    answers = [1, 1, 1, 2, 1, 7, 1, 1, 1, 8, 1]
    sent = [cycle(link, b) for b in answers]
    #        A-1 A-1 A-1 A-2 A-1 A-7 A-1 A-1 A-1 A-8 A-1
    assert sent == [1, 2, 3, 10, 3, 10, 2, 3, 10, 1, 2]


def alarms(link: Link) -> list[CircuitAlarm]:
    return [o for o in link.a.outputs if isinstance(o, CircuitAlarm)]


def test_seize_ack_timeout_alarms_the_circuit_until_the_far_end_signals_again() -> None:
    link, a = outgoing()
    link.run(CHINA.timer("T_SEIZE_ACK") - 0.1)
    assert link.a.events() == [] and a.state is TrunkState.OUT_SEIZING
    link.run(0.2)
    assert link.a.events() == [CallReleased("1/1", Cause.RECOVERY_ON_TIMER_EXPIRY)]
    assert link.a.cas_tx == IDLE and alarms(link) == [CircuitAlarm("1/1", "NO_SEIZE_ACK", True)]
    link.run(30.0)
    assert a.state is TrunkState.IDLE and not a.is_idle  # idle bits both ways, but not offered for calls
    far(link).cas_tx = SEIZE  # the far end's own seizure: its line signalling works
    link.run(0.1)
    assert alarms(link)[-1] == CircuitAlarm("1/1", "NO_SEIZE_ACK", False) and a.state is TrunkState.IN_REGISTER
    far(link).cas_tx = IDLE
    link.run(0.1)
    assert usable_again(a)


def test_wrong_backward_tone_is_a_protocol_error() -> None:
    link, a = outgoing()
    seized(link)
    link.run_until(lambda: link.a.mf_tx != 0, 1)
    far(link).mf_tx = 13  # no meaning in Group A
    link.run(0.1)
    assert link.a.events() == [CallReleased("1/1", Cause.PROTOCOL_ERROR)]
    assert link.a.cas_tx == IDLE and link.a.mf_tx == 0 and Detect("1/1", "r2mf_bwd", False) in link.a.outputs
    far(link).cas_tx = IDLE
    link.run(0.1)
    assert usable_again(a)


def test_new_tone_without_tone_off_is_a_protocol_error() -> None:
    link, a = outgoing()
    seized(link)
    link.run_until(lambda: link.a.mf_tx != 0, 1)
    far(link).mf_tx = 1
    link.run(0.1)
    far(link).mf_tx = 6  # straight from
    link.run(0.1)
    assert link.a.events() == [CallReleased("1/1", Cause.PROTOCOL_ERROR)]


def test_missing_tone_off_times_out() -> None:
    link, a = outgoing()
    seized(link)
    link.run_until(lambda: link.a.mf_tx != 0, 1)
    far(link).mf_tx = 1  # and never removed
    link.run(5.2)
    assert link.a.events() == [CallReleased("1/1", Cause.PROTOCOL_ERROR)]
    far(link).cas_tx = IDLE
    link.run(0.1)
    assert usable_again(a)


def test_far_end_vanishing_after_answer_holds_the_circuit_out_of_use() -> None:
    link, a = outgoing()
    seized(link)
    for _ in range(4):
        cycle(link, 1)
    cycle(link, 3)  # the 5th digit answered with A-3 -> KD
    cycle(link, 1)  # B-1
    far(link).cas_tx = ANSWER
    link.run(0.1)
    assert a.state is TrunkState.OUT_ANSWERED
    far(link).cas_tx = 0b0011  # forced release, then nothing more
    link.run(0.1)
    assert link.a.events()[-1] == CallReleased("1/1", Cause.NORMAL_CLEARING)
    assert link.a.cas_tx == IDLE and a.state is TrunkState.RELEASING
    link.run(CHINA.timer("T_RELEASE"))  # the far end never returns to idle: T_RELEASE
    assert a.state is TrunkState.FAR_END_HELD and not a.is_idle  # not free while the far end holds it
    assert link.a.cas_tx == IDLE and alarms(link) == [CircuitAlarm("1/1", "FAR_END_HELD", True)]
    link.run(60.0)
    assert not a.is_idle and a.deadline is None
    far(link).cas_tx = IDLE
    link.run(0.1)
    assert usable_again(a) and alarms(link)[-1] == CircuitAlarm("1/1", "FAR_END_HELD", False)


def test_a_far_end_seizure_still_settling_is_not_free() -> None:
    a = No1Trunk("1/1")
    link = Link(a, None)
    far(link).cas_tx = SEIZE
    link.step()  # reported, inside the debounce
    assert not a.is_idle


def test_unexpected_bits_in_the_register_phase_release_cleanly() -> None:
    link, a = outgoing()
    seized(link)
    far(link).cas_tx = IDLE  # backward side drops to idle mid-register: not in the table
    link.run(0.1)
    assert link.a.events() == [CallReleased("1/1", Cause.PROTOCOL_ERROR)]
    assert link.a.cas_tx == IDLE
    link.run(0.1)
    assert usable_again(a)


def test_incoming_forward_tone_without_answer_and_vanishing_caller() -> None:
    b = No1Trunk("2/1", TrunkConfig(dnis_length=5))
    link = Link(None, b)
    link.a.cas_tx = SEIZE
    link.run(0.1)
    assert link.b.cas_tx == ACK and b.state is TrunkState.IN_REGISTER
    link.a.mf_tx = 1
    link.run(0.1)
    assert link.b.mf_tx == 6  # send KA
    link.run(5.1)  # the caller never removes its digit
    assert link.b.cas_tx == IDLE and link.b.mf_tx == 0 and b.state is TrunkState.RELEASING
    assert not link.b.events()  # never offered: call control never knew
    link.a.cas_tx = IDLE
    link.a.mf_tx = 0
    link.run(0.1)
    assert b.state is TrunkState.IDLE


def test_cas_glitch_shorter_than_the_debounce_is_ignored() -> None:
    b = No1Trunk("2/1", TrunkConfig(dnis_length=5))
    b.handle_board_event(CasChange("2/1", SEIZE), 0.0)
    b.handle_board_event(CasChange("2/1", IDLE), 0.01)
    b.handle_timer(0.05)
    assert b.state is TrunkState.IDLE and not b.take_outputs()
    b.handle_board_event(CasChange("2/1", SEIZE), 1.0)
    b.handle_timer(1.01)
    assert b.state is TrunkState.IDLE
    b.handle_timer(1.02)
    assert b.state is TrunkState.IN_REGISTER


def test_incoming_on_an_outgoing_only_trunk_is_refused_with_congestion() -> None:
    b = No1Trunk("2/1", TrunkConfig(direction="out"))
    link = Link(None, b)
    link.a.cas_tx = SEIZE
    link.run(0.1)
    link.a.mf_tx = 1
    link.run(0.1)
    assert link.b.mf_tx == 4  # A-4 congestion
    assert not [e for e in link.b.events() if isinstance(e, CallOffered)]
