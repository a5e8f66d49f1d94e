"""No.1 trunk against No.1 trunk over an ideal timeslot: whole calls in both roles, virtual time."""

from __future__ import annotations

import pytest

from hal.dsp.tones import ToneName
from hal.events import SetCas
from signaling.events import (
    CallAnswered,
    CallOffered,
    CallProgress,
    CallReleased,
    Cause,
    DigitReceived,
    Progress,
)
from signaling.machine import WrongState
from signaling.media import Detect, PlayTone, SendMf
from signaling.no1.trunk import No1Trunk, TrunkConfig, TrunkState
from signaling.no1.variant import CHINA, ITU
from tests.unit.signaling.no1.link import Link

IDLE, SEIZE, ACK, ANSWER = 0b1011, 0b0011, 0b1111, 0b0111


def pair(out_cfg: TrunkConfig | None = None, in_cfg: TrunkConfig | None = None) -> tuple[Link, No1Trunk, No1Trunk]:
    a = No1Trunk("1/1", out_cfg or TrunkConfig())
    b = No1Trunk("2/1", in_cfg or TrunkConfig(dnis_length=5))
    return Link(a, b), a, b


def offered(link: Link) -> CallOffered | None:
    return next((e for e in link.b.events() if isinstance(e, CallOffered)), None)


def test_call_with_ani_first_answer_and_clear_from_the_caller() -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link) == CallOffered("2/1", caller="13800138000", called="12301", category=CHINA.ka)
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 2)
    assert CallProgress("1/1", Progress.RINGING) in link.a.events()
    assert b.state is TrunkState.IN_ALERTING and PlayTone("2/1", ToneName.RINGBACK) in link.b.outputs
    b.answer(link.now)
    link.run_until(lambda: CallAnswered("1/1") in link.a.events(), 1)
    assert link.b.cas_tx == ANSWER and PlayTone("2/1", None) in link.b.outputs
    a.release(Cause.NORMAL_CLEARING, link.now)
    link.run_until(lambda: a.state is TrunkState.IDLE and b.state is TrunkState.IDLE, 1)
    assert link.b.events()[-1] == CallReleased("2/1", Cause.NORMAL_CLEARING)
    assert link.a.cas_tx == IDLE and link.b.cas_tx == IDLE
    assert not [e for e in link.a.events() if isinstance(e, CallReleased)]  # a released it itself


def test_the_register_sequence_on_the_wire() -> None:
    """seize -> ack -> first digit -> A-6 -> KA -> A-1 per ANI digit -> I-15 -> A-1 DNIS -> A-3 -> KD -> B-1."""
    link, a, b = pair()
    a.dial("12301", link.now, caller="138")
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 10)
    fwd = [o.signal for o in link.a.outputs if isinstance(o, SendMf) and o.signal]
    bwd = [o.signal for o in link.b.outputs if isinstance(o, SendMf) and o.signal]
    assert fwd == [1, CHINA.ka, 1, 3, 8, 15, 2, 3, 10, 1, CHINA.kd]
    assert bwd == [6, 1, 1, 1, 1, 1, 1, 1, 1, 3, 1]
    assert [o.bits for o in link.a.outputs if isinstance(o, SetCas)] == [SEIZE]
    assert [o.bits for o in link.b.outputs if isinstance(o, SetCas)] == [ACK]


# A network whose categories differ (OpenR2 keeps the calling-party category apart from the Group II one
# the same way): KA 2 on A-6, KD 3 on A-3. With China's KA == KD == 1 a register that sent one where the
# other is due could not be told apart.
KA_KD = CHINA.derive("china-ka2-kd3", ka=2, kd=3)


def test_ka_on_a6_and_kd_on_a3_in_a_variant_where_they_differ() -> None:
    link, a, b = pair(TrunkConfig(variant=KA_KD), TrunkConfig(variant=KA_KD, dnis_length=5))
    a.dial("12301", link.now, caller="138")
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link).category == 2  # the calling-party category is KA when the ANI was asked for
    assert (b.register.ka, b.register.kd) == (2, 3)
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 2)
    fwd = [o.signal for o in link.a.outputs if isinstance(o, SendMf) and o.signal]
    bwd = [o.signal for o in link.b.outputs if isinstance(o, SendMf) and o.signal]
    assert bwd[0] == 6 and fwd[1] == 2  # KA
    assert bwd[-2] == 3 and fwd[-1] == 3  # KD


def test_without_ani_the_offered_category_is_kd() -> None:
    link, a, b = pair(TrunkConfig(variant=KA_KD), TrunkConfig(variant=KA_KD, dnis_length=5, ani="none"))
    a.dial("12301", link.now, caller="138")
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link).category == 3 and b.register.ka is None


def test_the_itu_variant_asks_for_the_category_with_a5() -> None:
    """The same machines on the ITU base table: A-5 asks for the category, C/D = 01; only data differs."""
    v = ITU.with_overrides(ka=2, kd=3)
    link, a, b = pair(TrunkConfig(variant=v), TrunkConfig(variant=v, dnis_length=5))
    a.dial("12301", link.now, caller="138")
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 10)
    fwd = [o.signal for o in link.a.outputs if isinstance(o, SendMf) and o.signal]
    bwd = [o.signal for o in link.b.outputs if isinstance(o, SendMf) and o.signal]
    assert fwd == [1, 2, 1, 3, 8, 15, 2, 3, 10, 1, 3]
    assert bwd == [5, 1, 1, 1, 1, 1, 1, 1, 1, 3, 6]  # B-6: ITU's free with charge
    assert [o.bits for o in link.a.outputs if isinstance(o, SetCas)] == [0b0001]  # seize, C/D = 01


def test_clear_back_from_the_called_side() -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: b.state is TrunkState.IN_ALERTING, 10)
    b.answer(link.now)
    link.run_until(lambda: a.state is TrunkState.OUT_ANSWERED, 1)
    b.release(Cause.NORMAL_CLEARING, link.now)
    link.run_until(lambda: a.state is TrunkState.IDLE and b.state is TrunkState.IDLE, 1)
    assert link.a.events()[-1] == CallReleased("1/1", Cause.NORMAL_CLEARING)
    assert not [e for e in link.b.events() if isinstance(e, CallReleased)]


@pytest.mark.parametrize(("cause", "b_signal"), [
    (Cause.USER_BUSY, 2), (Cause.UNALLOCATED_NUMBER, 5), (Cause.SWITCHING_EQUIPMENT_CONGESTION, 4),
    (Cause.DESTINATION_OUT_OF_ORDER, 8), (Cause.CALL_REJECTED, 4),
])
def test_refusal_is_a_group_b_signal_and_a_q850_cause(cause: Cause, b_signal: int) -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: offered(link) is not None, 10)
    b.release(cause, link.now)  # call control refuses in the same tick
    link.run_until(lambda: a.state is TrunkState.IDLE and b.state is TrunkState.IDLE, 2)
    assert [o.signal for o in link.b.outputs if isinstance(o, SendMf) and o.signal][-1] == b_signal
    expected = Cause.SWITCHING_EQUIPMENT_CONGESTION if cause is Cause.CALL_REJECTED else cause
    assert link.a.events() == [CallReleased("1/1", expected)]


def test_accept_without_charge_is_b7() -> None:
    link, a, b = pair(in_cfg=TrunkConfig(dnis_length=5, accept="no_charge"))
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 10)
    assert [o.signal for o in link.b.outputs if isinstance(o, SendMf) and o.signal][-1] == 7


def test_end_of_dnis_by_timeout_and_pulsed_a3() -> None:
    link, a, b = pair(in_cfg=TrunkConfig(dnis_length=0, ani="none"))
    a.dial("12301", link.now)
    took = link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link) == CallOffered("2/1", caller=None, called="12301", category=CHINA.kd)
    assert 5.0 <= took <= 6.0  # T_END_OF_DNIS after the last digit
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 1)
    # the A-3 was a pulse: on and off again without a forward tone in between
    i = max(i for i, o in enumerate(link.b.outputs) if isinstance(o, SendMf) and o.signal == 3)
    assert isinstance(link.b.outputs[i + 1], SendMf) and link.b.outputs[i + 1].signal == 0


def test_ani_after_the_dnis() -> None:
    link, a, b = pair(in_cfg=TrunkConfig(dnis_length=5, ani="after"))
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link).caller == "13800138000" and offered(link).called == "12301"
    fwd = [o.signal for o in link.a.outputs if isinstance(o, SendMf) and o.signal]
    assert fwd[:6] == [1, 2, 3, 10, 1, CHINA.ka]


def test_restricted_ani_is_i12() -> None:
    link, a, b = pair()
    a.dial("12301", link.now)  # no caller: ANI restricted
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link).caller is None and offered(link).called == "12301"
    assert 12 in [o.signal for o in link.a.outputs if isinstance(o, SendMf)]


def test_max_ani_stops_asking() -> None:
    link, a, b = pair(in_cfg=TrunkConfig(dnis_length=5, max_ani=4))
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link).caller == "1380"


def test_no_answer_times_out() -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="1")
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 10)
    link.run_until(lambda: a.state is TrunkState.IDLE, 61)
    assert link.a.events()[-1] == CallReleased("1/1", Cause.NO_ANSWER)
    link.run_until(lambda: b.state is TrunkState.IDLE, 1)
    assert link.b.events()[-1] == CallReleased("2/1", Cause.NORMAL_CLEARING)


def test_glare_yield_takes_the_incoming_call() -> None:
    a = No1Trunk("1/1", TrunkConfig(dnis_length=5, glare="yield"))
    b = No1Trunk("2/1", TrunkConfig(dnis_length=5, glare="hold"))
    link = Link(a, b)
    a.dial("11111", link.now, caller="1")
    b.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: any(isinstance(e, CallOffered) for e in link.a.events()), 10)
    assert link.a.events()[0] == CallReleased("1/1", Cause.NO_CIRCUIT_AVAILABLE)
    assert link.a.events()[1].called == "12301"


def test_blocking_both_ways() -> None:
    link, a, b = pair()
    assert b.block(link.now)
    link.run(0.1)
    assert link.b.cas_tx == 0b1111 and a.state is TrunkState.BLOCKED and not a.is_idle
    with pytest.raises(WrongState, match="dial.*state blocked"):
        a.dial("1", link.now)
    assert a.take_outputs() == []
    b.unblock(link.now)
    link.run(0.1)
    assert a.state is TrunkState.IDLE and b.state is TrunkState.IDLE and link.b.cas_tx == IDLE


def test_span_alarm_takes_the_call_down_and_brings_the_timeslot_back() -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="1")
    link.run_until(lambda: a.state is TrunkState.OUT_ALERTING, 10)
    a.out_of_service(link.now)
    link.run(0.1)
    assert a.state is TrunkState.OUT_OF_SERVICE
    assert [e for e in link.a.events() if isinstance(e, CallReleased)] == [
        CallReleased("1/1", Cause.NETWORK_OUT_OF_ORDER)]
    a.in_service(link.now)
    link.run_until(lambda: a.state is TrunkState.IDLE and b.state is TrunkState.IDLE, 2)
    assert link.a.cas_tx == IDLE


def test_dtmf_during_the_call_reaches_call_control_both_ways() -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: b.state is TrunkState.IN_ALERTING, 10)
    b.handle_digit("5", link.now)  # before answer: not a call digit
    b.answer(link.now)
    link.run_until(lambda: a.state is TrunkState.OUT_ANSWERED, 1)
    link.run(0.02)
    assert Detect("2/1", "dtmf", True) in link.b.outputs and Detect("1/1", "dtmf", True) in link.a.outputs
    b.handle_digit("1", link.now)
    a.handle_digit("#", link.now)
    link.run(0.02)
    assert [e for e in link.b.events() if isinstance(e, DigitReceived)] == [DigitReceived("2/1", "1")]
    assert [e for e in link.a.events() if isinstance(e, DigitReceived)] == [DigitReceived("1/1", "#")]
    a.release(Cause.NORMAL_CLEARING, link.now)
    link.run(0.2)
    assert Detect("2/1", "dtmf", False) in link.b.outputs and Detect("1/1", "dtmf", False) in link.a.outputs


def test_a_caller_that_never_clears_forward_gets_a_forced_release() -> None:
    link, a, b = pair()
    a.dial("12301", link.now, caller="13800138000")
    link.run_until(lambda: b.state is TrunkState.IN_ALERTING, 10)
    b.answer(link.now)
    link.run_until(lambda: a.state is TrunkState.OUT_ANSWERED, 1)
    a._on_clear_back = lambda now: None  # a calling exchange that ignores clear-back (the fault)
    b.release(Cause.NORMAL_CLEARING, link.now)
    link.run(59.0)
    assert link.b.cas_tx == ACK  # clear-back, still waiting for clear-forward
    link.run_until(lambda: link.b.cas_tx == SEIZE, 2)  # T_CLEAR_FORWARD: forced release (A=0, B=0)
    link.run_until(lambda: a.state is TrunkState.IDLE and b.state is TrunkState.IDLE, 2)  # a clears forward
    assert link.a.cas_tx == IDLE and link.b.cas_tx == IDLE


# A variant whose line bits are none of ITU's: every A/B pair inverted (idle 01, seize 11, seize-ack and
# clear-back and blocked 00, answer 10, forced release 11). The machines read only the variant's table.
INVERTED = CHINA.derive("inverted-ab", line_ab={sig: ab ^ 0b11 for sig, ab in CHINA.line_ab.items()})


def test_a_variant_with_other_line_bits_calls_answers_clears_and_blocks_on_its_own_bits() -> None:
    link, a, b = pair(TrunkConfig(variant=INVERTED), TrunkConfig(variant=INVERTED, dnis_length=5))
    idle, answer = INVERTED.bits("idle"), INVERTED.bits("answer")
    assert (idle, answer) == (0b0111, 0b1011)
    a.dial("12301", link.now, caller="138")
    link.run_until(lambda: offered(link) is not None, 10)
    assert offered(link) == CallOffered("2/1", caller="138", called="12301", category=CHINA.ka)
    b.answer(link.now)
    link.run_until(lambda: CallAnswered("1/1") in link.a.events(), 1)
    assert link.b.cas_tx == answer
    a.release(Cause.NORMAL_CLEARING, link.now)
    assert a.state is TrunkState.RELEASING  # the far end's answer bits are not its idle: wait for them
    link.run_until(lambda: a.is_idle and b.is_idle, 1)  # free: idle both ways, in the variant's bits
    assert link.a.cas_tx == idle and link.b.cas_tx == idle
    assert b.block(link.now)
    link.run(0.1)
    assert link.b.cas_tx == INVERTED.bits("blocked") and a.state is TrunkState.BLOCKED
    assert a.block(link.now) is False  # the far end blocks: ours is refused, a stays blocked by it
    b.unblock(link.now)
    link.run(0.1)
    assert a.is_idle and b.is_idle and link.b.cas_tx == idle


def test_a_variant_with_other_line_bits_is_idle_again_after_a_span_alarm() -> None:
    """Back in service, the far end is taken as sending the variant's idle until it reports its bits."""
    t = No1Trunk("1/1", TrunkConfig(variant=INVERTED))
    t.out_of_service(0.0)
    t.in_service(1.0)
    assert t.is_idle and t.take_outputs()[-1] == SetCas("1/1", INVERTED.bits("idle"))
    t.restart(2.0)
    t.handle_timer(2.0 + INVERTED.timer("T_RESYNC"))  # no report: the far end taken as idle, in its bits
    assert t.is_idle and t.take_outputs()[-1] == SetCas("1/1", INVERTED.bits("idle"))


def test_the_register_sends_and_reads_digits_by_the_variants_table() -> None:
    """Group I digits are the variant's: here 0 is signal 11 instead of 10, on both sides."""
    zero_on_11 = CHINA.derive("zero-on-11", digits={"0": 11})
    link, a, b = pair(TrunkConfig(variant=zero_on_11), TrunkConfig(variant=zero_on_11, dnis_length=5))
    a.dial("10203", link.now, caller="100")
    link.run_until(lambda: offered(link) is not None, 10)
    assert (offered(link).called, offered(link).caller) == ("10203", "100")
    fwd = [o.signal for o in link.a.outputs if isinstance(o, SendMf) and o.signal]
    assert 11 in fwd and 10 not in fwd


def test_a_variant_whose_line_bits_are_ambiguous_in_a_state_is_refused() -> None:
    from signaling.no1.line import far_table

    clash = CHINA.derive("clash", line_ab={"blocked": CHINA.line_ab["seize"]})  # idle: seize or blocked?
    with pytest.raises(ValueError, match="'blocked' has the bits of another signal"):
        far_table(clash)
