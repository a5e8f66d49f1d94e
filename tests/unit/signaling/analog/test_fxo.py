"""FxoLine: the box as the phone on an exchange line — ringing, caller ID, answer, dial out, supervision."""

from __future__ import annotations

import contextlib
import itertools

import pytest

from hal.dsp.answer import AnswerVerdict
from hal.dsp.callerid import CallerId
from hal.dsp.progress import ProgressEvent
from hal.dsp.tones import ToneName
from hal.events import (
    Flash,
    LoopCurrentDrop,
    OffHook,
    OnHook,
    PolarityReversal,
    RingStart,
    RingStop,
    SetHook,
)
from signaling.analog.fxo import FxoConfig, FxoLine, FxoState
from signaling.events import (
    CallAnswered,
    CallerIdReceived,
    CallEvent,
    CallOffered,
    CallProgress,
    CallReleased,
    Cause,
    DigitReceived,
    Progress,
)
from signaling.machine import WrongState
from signaling.media import Detect, SendDtmf

P = "fxo-1"
CID = CallerId(number="02088886666", name="Li")
ALL_OFF = [Detect(P, "dtmf", False), Detect(P, "progress", False), Detect(P, "callerid", False),
           Detect(P, "answer", False)]


def line(**kw: object) -> FxoLine:
    return FxoLine(P, FxoConfig(**kw))  # type: ignore[arg-type]


def tone(name: ToneName, ended: bool = False) -> ProgressEvent:
    return ProgressEvent(name, ended)


def events(outs: list) -> list:
    """Only the call events (what call control sees)."""
    return [o for o in outs if isinstance(o, CallEvent)]


def ring_burst(m: FxoLine, t0: float) -> list:
    m.handle_board_event(RingStart(P), t0)
    m.handle_board_event(RingStop(P), t0 + 1.0)
    return m.take_outputs()


def run_until(m: FxoLine, until: float) -> list:
    got = []
    while m.deadline is not None and m.deadline <= until:
        m.handle_timer(m.deadline)
        got += m.take_outputs()
    return got


# --- inbound -----------------------------------------------------------------------------------------


def test_ring_then_caller_id_offers_the_call_with_the_number() -> None:
    m = line()
    assert m.is_idle
    m.handle_board_event(RingStart(P), 0.0)
    assert m.take_outputs() == [Detect(P, "callerid", True)]
    assert m.state is FxoState.RINGING and not m.is_idle
    m.handle_board_event(RingStop(P), 1.0)
    assert m.take_outputs() == []
    m.handle_caller_id(CID, 2.2)
    outs = m.take_outputs()
    assert events(outs) == [CallerIdReceived(P, "02088886666", "Li"),
                            CallOffered(P, caller="02088886666", caller_name="Li")]
    # the second ring does not offer it again
    assert events(ring_burst(m, 5.0)) == []


def test_withheld_caller_id_offers_with_no_number() -> None:
    m = line()
    ring_burst(m, 0.0)
    m.handle_caller_id(CallerId(absent_reason="P"), 2.0)
    assert CallOffered(P, caller=None, caller_name=None) in m.take_outputs()


def test_no_caller_id_offers_at_the_second_ring() -> None:
    m = line()
    assert events(ring_burst(m, 0.0)) == []
    m.handle_board_event(RingStart(P), 5.0)
    outs = m.take_outputs()
    assert events(outs) == [CallOffered(P)]
    assert Detect(P, "callerid", False) in outs


def test_callerid_none_offers_at_the_first_ring_without_a_receiver() -> None:
    m = line(callerid="none")
    m.handle_board_event(RingStart(P), 0.0)
    outs = m.take_outputs()
    assert events(outs) == [CallOffered(P)]
    assert Detect(P, "callerid", True) not in outs


def test_caller_abandons_after_being_offered() -> None:
    m = line()
    ring_burst(m, 0.0)
    m.handle_caller_id(CID, 2.0)
    ring_burst(m, 5.0)
    m.take_outputs()
    assert m.deadline == pytest.approx(12.0)  # T_RING_GONE after the last RingStop
    m.handle_timer(11.9)
    assert m.take_outputs() == []
    m.handle_timer(12.0)
    assert events(m.take_outputs()) == [CallReleased(P, Cause.NORMAL_CLEARING)]
    assert m.is_idle and m.deadline is None


def test_single_ring_without_caller_id_goes_idle_silently() -> None:
    m = line()
    ring_burst(m, 0.0)
    assert run_until(m, 30.0) == [Detect(P, "callerid", False)]  # no event, and the receiver off again
    assert m.is_idle


def test_a_ring_that_never_stops_counts_from_its_start() -> None:
    """A RingStart whose RingStop is lost: the ringing is gone T_RING_BURST_MAX (3 s) + T_RING_GONE
    (6 s) after it started, not earlier (a long ring burst is still ringing)."""
    m = line()
    m.handle_board_event(RingStart(P), 0.0)
    m.take_outputs()
    assert m.deadline == pytest.approx(9.0)
    m.handle_timer(8.9)
    assert m.state is FxoState.RINGING
    m.handle_timer(9.0)
    assert m.is_idle


def test_ringing_keeps_going_while_rings_come() -> None:
    m = line()
    outs = []
    for k in range(5):
        outs += ring_burst(m, 5.0 * k)
        m.handle_timer(5.0 * k + 4.99)
        outs += m.take_outputs()
    assert m.state is FxoState.RINGING
    assert events(outs) == [CallOffered(P)]


def test_answer_goes_off_hook_and_listens_for_busy() -> None:
    m = line()
    ring_burst(m, 0.0)
    m.handle_caller_id(CID, 2.0)
    m.take_outputs()
    m.answer(3.0)
    assert m.take_outputs() == [SetHook(P, True), Detect(P, "callerid", False), Detect(P, "dtmf", True),
                                Detect(P, "progress", True)]
    assert m.state is FxoState.CONNECTED and m.deadline is None
    m.handle_board_event(RingStart(P), 5.0)  # a ring racing the answer
    assert m.take_outputs() == [] and m.state is FxoState.CONNECTED


def test_answer_without_busy_disconnect_does_not_listen_for_progress() -> None:
    m = line(disconnect_busy=False)
    ring_burst(m, 0.0)
    m.answer(2.0)
    assert Detect(P, "progress", True) not in m.take_outputs()


def test_release_of_a_ringing_call_ignores_the_rest_of_the_ringing() -> None:
    m = line()
    ring_burst(m, 0.0)
    m.handle_caller_id(CID, 2.0)
    m.take_outputs()
    m.release(Cause.NORMAL_CLEARING, 3.0)
    assert not m.is_idle
    assert events(ring_burst(m, 5.0) + ring_burst(m, 10.0)) == []
    assert events(run_until(m, 30.0)) == []
    assert m.is_idle


def connected(**kw: object) -> FxoLine:
    m = line(**kw)
    ring_burst(m, 0.0)
    m.handle_caller_id(CID, 2.0)
    m.answer(3.0)
    m.take_outputs()
    return m


def cleared(m: FxoLine) -> bool:
    outs = m.take_outputs()
    if not outs:
        return False
    assert outs == [SetHook(P, False), *ALL_OFF, CallReleased(P, Cause.NORMAL_CLEARING)]
    assert m.is_idle
    return True


@pytest.mark.parametrize("name", [ToneName.BUSY, ToneName.CONGESTION])
def test_busy_while_connected_clears(name: ToneName) -> None:
    m = connected()
    m.handle_progress(tone(name), 20.0)
    assert cleared(m)


def test_single_ringback_or_dial_while_connected_does_not_clear() -> None:
    m = connected()
    for ev in (tone(ToneName.RINGBACK), tone(ToneName.RINGBACK, True), tone(ToneName.DIAL),
               tone(ToneName.DIAL, True), tone(ToneName.BUSY, True)):
        m.handle_progress(ev, 20.0)
    assert not cleared(m) and m.state is FxoState.CONNECTED


def test_busy_ignored_when_not_configured() -> None:
    m = connected(disconnect_busy=False)
    m.handle_progress(tone(ToneName.BUSY), 20.0)
    assert not cleared(m)


def test_loop_current_drop_clears_only_when_configured() -> None:
    m = connected()
    m.handle_board_event(LoopCurrentDrop(P, 600), 20.0)
    assert not cleared(m)
    m = connected(disconnect_loop_current=True)
    m.handle_board_event(LoopCurrentDrop(P, 600), 20.0)
    assert cleared(m)


def test_polarity_reversal_clears_only_when_configured() -> None:
    m = connected()
    m.handle_board_event(PolarityReversal(P), 20.0)
    assert not cleared(m)
    m = connected(disconnect_polarity=True)
    m.handle_board_event(PolarityReversal(P), 20.0)
    assert cleared(m)


def test_digits_while_connected() -> None:
    m = connected()
    m.handle_digit("7", 10.0)
    assert m.take_outputs() == [DigitReceived(P, "7")]


def test_release_while_connected() -> None:
    m = connected()
    m.release(Cause.NORMAL_CLEARING, 30.0)
    assert m.take_outputs() == [SetHook(P, False), *ALL_OFF]
    assert m.is_idle


# --- outbound ------------------------------------------------------------------------------------------


def test_dial_waits_for_dial_tone_then_sends_the_number() -> None:
    m = line()
    m.dial("88886666", 0.0)
    assert m.take_outputs() == [SetHook(P, True), Detect(P, "progress", True)]
    assert m.state is FxoState.SEIZING and not m.is_idle
    m.handle_timer(1.0)
    assert m.take_outputs() == []
    m.handle_progress(tone(ToneName.DIAL), 1.5)
    assert m.take_outputs() == [SendDtmf(P, "88886666")]
    assert m.state is FxoState.DIALING
    assert m.deadline == pytest.approx(1.5 + 8 * 0.16 + 0.2)
    m.handle_progress(tone(ToneName.DIAL, True), 1.6)  # the first digit stops dial tone
    m.handle_timer(m.deadline)
    assert m.state is FxoState.AWAITING_ANSWER
    assert m.take_outputs() == [Detect(P, "answer", True)]  # only once our own digits are out


def test_no_dial_tone_dials_after_3_s() -> None:
    m = line()
    m.dial("114", 10.0)
    m.take_outputs()
    assert m.deadline == pytest.approx(13.0)
    m.handle_timer(12.9)
    assert m.take_outputs() == []
    m.handle_timer(13.0)
    assert m.take_outputs() == [SendDtmf(P, "114")]
    m.handle_progress(tone(ToneName.DIAL), 13.1)  # late dial tone: not dialled twice
    assert m.take_outputs() == []


def awaiting(number: str = "88886666", **kw: object) -> tuple[FxoLine, float]:
    m = line(**kw)
    m.dial(number, 0.0)
    m.handle_progress(tone(ToneName.DIAL), 1.5)
    t = m.deadline
    assert t is not None
    m.handle_timer(t)
    m.take_outputs()
    assert m.state is FxoState.AWAITING_ANSWER
    return m, t


def test_ringback_reports_ringing_once_and_its_end_is_not_yet_an_answer() -> None:
    m, t = awaiting()
    m.handle_progress(tone(ToneName.RINGBACK), t + 2.0)
    assert m.take_outputs() == [CallProgress(P, Progress.RINGING)]
    m.handle_progress(tone(ToneName.RINGBACK), t + 7.0)
    assert m.take_outputs() == []
    assert m.deadline is None  # ringing may last: call control times no-answer
    m.handle_progress(tone(ToneName.RINGBACK, True), t + 12.0)  # China: the line says nothing on answer
    assert m.take_outputs() == [] and m.state is FxoState.AWAITING_ANSWER


def test_a_voice_answer_is_the_answer_with_how_and_when() -> None:
    m, t = awaiting()
    m.handle_progress(tone(ToneName.RINGBACK), t + 2.0)
    m.handle_answer(AnswerVerdict(True, "voice", "voice", 1240), t + 9.0)
    outs = m.take_outputs()
    assert events(outs) == [CallProgress(P, Progress.RINGING), CallAnswered(P, "voice", "voice", 1.24)]
    assert Detect(P, "answer", False) in outs and Detect(P, "dtmf", True) in outs
    assert m.state is FxoState.CONNECTED
    m.handle_answer(AnswerVerdict(True, "voice", "voice", 100), t + 10.0)  # a late verdict: ignored
    assert m.take_outputs() == []
    m.handle_progress(tone(ToneName.BUSY), t + 40.0)  # and then busy is the far end's hang-up
    assert cleared(m)


def test_ringback_heard_while_dialling_leaves_no_timer() -> None:
    m = line()
    m.dial("88886666", 0.0)
    m.handle_progress(tone(ToneName.DIAL), 1.5)
    m.handle_progress(tone(ToneName.RINGBACK), 2.0)
    assert events(m.take_outputs()) == [CallProgress(P, Progress.RINGING)]
    m.handle_timer(m.deadline)
    assert m.state is FxoState.AWAITING_ANSWER and m.deadline is None
    assert events(run_until(m, 60.0)) == []


def test_answer_of_an_outbound_call_without_busy_disconnect_stops_the_progress_detector() -> None:
    m, t = awaiting(disconnect_busy=False)
    m.handle_progress(tone(ToneName.RINGBACK), t + 1.0)
    m.handle_answer(AnswerVerdict(True, "voice", "voice", 800), t + 6.0)
    assert m.take_outputs() == [CallProgress(P, Progress.RINGING), Detect(P, "answer", False),
                                Detect(P, "dtmf", True), Detect(P, "progress", False),
                                CallAnswered(P, "voice", "voice", 0.8)]


def test_ringback_end_without_ringback_is_not_an_answer() -> None:
    m, t = awaiting()
    m.handle_progress(tone(ToneName.RINGBACK, True), t + 1.0)
    assert m.take_outputs() == [] and m.state is FxoState.AWAITING_ANSWER


def test_polarity_reversal_while_awaiting_answer_is_the_answer() -> None:
    m, t = awaiting()
    m.handle_board_event(PolarityReversal(P), t + 3.0)
    assert events(m.take_outputs()) == [CallAnswered(P, "polarity", "polarity", 0.0)]
    assert m.state is FxoState.CONNECTED


def test_a_polarity_line_answers_by_polarity_only() -> None:
    m = line(answer_detect="polarity")
    m.dial("88886666", 0.0)
    m.handle_progress(tone(ToneName.DIAL), 1.5)
    m.take_outputs()
    m.handle_timer(m.deadline)
    assert m.take_outputs() == []  # no answer detector
    m.handle_answer(AnswerVerdict(True, "timeout", "silence", 0), 20.0)
    assert m.take_outputs() == [] and m.state is FxoState.AWAITING_ANSWER
    m.handle_board_event(PolarityReversal(P), 21.0)
    assert events(m.take_outputs()) == [CallAnswered(P, "polarity", "polarity", 0.0)]
    with pytest.raises(ValueError, match="answer_detect must be one of audio, polarity"):
        FxoConfig(answer_detect="voice")


@pytest.mark.parametrize(("name", "cause"), [(ToneName.BUSY, Cause.USER_BUSY),
                                             (ToneName.CONGESTION, Cause.SWITCHING_EQUIPMENT_CONGESTION)])
def test_busy_or_congestion_while_awaiting_answer(name: ToneName, cause: Cause) -> None:
    m, t = awaiting()
    m.handle_progress(tone(name), t + 1.0)
    assert m.take_outputs() == [SetHook(P, False), *ALL_OFF, CallReleased(P, cause, "tone", name.value)]
    assert m.is_idle and m.deadline is None


def test_busy_after_ringback_while_awaiting_answer() -> None:
    m, t = awaiting()
    m.handle_progress(tone(ToneName.RINGBACK), t + 1.0)
    m.handle_progress(tone(ToneName.BUSY), t + 2.0)
    assert events(m.take_outputs()) == [CallProgress(P, Progress.RINGING),
                                        CallReleased(P, Cause.USER_BUSY, "tone", "busy")]


def test_sit_tones_are_not_answered() -> None:
    m, t = awaiting()
    m.handle_answer(AnswerVerdict(False, "tone", "sit"), t + 3.0)
    assert events(m.take_outputs()) == [CallReleased(P, Cause.NORMAL_UNSPECIFIED, "tone", "sit")]
    assert m.is_idle


def test_an_announcement_then_busy_is_not_answered_because_of_the_announcement() -> None:
    m, t = awaiting()
    note = AnswerVerdict(False, "voice", "announcement", final=False)
    m.handle_answer(note, t + 3.0)
    m.handle_answer(note, t + 8.0)
    assert events(m.take_outputs()) == [CallProgress(P, Progress.ANNOUNCEMENT)]
    m.handle_progress(tone(ToneName.BUSY), t + 20.0)
    assert events(m.take_outputs()) == [CallReleased(P, Cause.NORMAL_UNSPECIFIED, "tone", "announcement")]
    m, t = awaiting()  # the next call starts afresh
    m.handle_progress(tone(ToneName.BUSY), t + 2.0)
    assert events(m.take_outputs()) == [CallReleased(P, Cause.USER_BUSY, "tone", "busy")]


def test_silence_too_long_is_an_answer_by_timeout() -> None:
    m, t = awaiting()
    assert m.deadline is None  # the detector times silence now, not the line
    m.handle_answer(AnswerVerdict(True, "timeout", "silence", 0), t + 8.0)
    outs = m.take_outputs()
    assert events(outs) == [CallAnswered(P, "timeout", "silence", 0.0)] and Detect(P, "dtmf", True) in outs
    assert m.state is FxoState.CONNECTED and m.deadline is None


def test_digits_only_when_connected() -> None:
    m, t = awaiting()
    m.handle_digit("1", t + 1.0)
    assert m.take_outputs() == []


def test_release_while_dialing() -> None:
    m = line()
    m.dial("123", 0.0)
    m.take_outputs()
    m.release(Cause.NORMAL_CLEARING, 1.0)
    assert m.take_outputs() == [SetHook(P, False), *ALL_OFF]
    assert m.is_idle and m.deadline is None


def test_dial_when_not_idle_is_a_wrong_state() -> None:
    m = connected()
    with pytest.raises(WrongState, match="FxoLine on port fxo-1: dial\\('123'\\) is not allowed in state connected"):
        m.dial("123", 10.0)
    assert m.take_outputs() == []
    m = line()
    ring_burst(m, 0.0)
    with pytest.raises(WrongState):
        m.dial("123", 2.0)
    assert m.take_outputs() == [] and m.state is FxoState.RINGING


# --- robustness ------------------------------------------------------------------------------------


STRANGE = [OffHook(P), OnHook(P), Flash(P), RingStart(P), RingStop(P), PolarityReversal(P),
           LoopCurrentDrop(P, 600), SetHook(P, True)]
PROGRESS = [tone(n, e) for n in ToneName for e in (False, True)]


def test_unexpected_events_never_raise() -> None:
    def setups() -> list[FxoLine]:
        idle = line()
        ringing = line()
        ring_burst(ringing, 0.0)
        rejected = line()
        ring_burst(rejected, 0.0)
        rejected.release(Cause.NORMAL_CLEARING, 0.5)
        seizing = line()
        seizing.dial("1", 0.0)
        dialing = line()
        dialing.dial("12345", 0.0)
        dialing.handle_progress(tone(ToneName.DIAL), 0.5)
        return [idle, ringing, rejected, seizing, dialing, awaiting()[0], connected()]

    for i, ev in itertools.product(range(7), STRANGE + PROGRESS):
        m = setups()[i]
        if isinstance(ev, ProgressEvent):
            m.handle_progress(ev, 1.0)
        else:
            m.handle_board_event(ev, 1.0)
        m.handle_digit("5", 1.1)
        m.handle_caller_id(CID, 1.2)
        m.handle_answer(AnswerVerdict(i % 2 == 0, "voice", "voice", 500, final=i != 3), 1.25)
        m.handle_timer(1.3)
        for request, args in ((m.answer, (1.4,)), (m.dial, ("9", 1.5)), (m.release, (Cause.NORMAL_CLEARING, 1.6)),
                              (m.release, (Cause.NORMAL_CLEARING, 1.7))):
            with contextlib.suppress(WrongState):  # call control's requests: done, or refused untouched
                request(*args)
        run_until(m, 100.0)
        m.take_outputs()
        assert m.is_idle
