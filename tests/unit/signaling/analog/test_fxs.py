"""FxsLine: the box drives an analog phone — hook, dial tone, digits, ringing, caller ID, flash, release."""

from __future__ import annotations

import contextlib
import itertools

import pytest

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
    SetLoopCurrent,
    SetRing,
)
from signaling.analog.fxs import FxsConfig, FxsLine, FxsState
from signaling.events import CallAnswered, CallReleased, Cause, DigitReceived, HookFlash, OffHookIdle
from signaling.machine import WrongState
from signaling.media import Detect, PlayTone, SendCallerId

P = "fxs-1"
CID = CallerId(number="13800138000", name="Zhang")
HUNG_UP = [PlayTone(P, None), Detect(P, "dtmf", False), CallReleased(P, Cause.NORMAL_CLEARING)]


def line(**kw: object) -> FxsLine:
    return FxsLine(P, FxsConfig(**kw))  # type: ignore[arg-type]


def off_hook(m: FxsLine, now: float = 0.0) -> list:
    m.handle_board_event(OffHook(P), now)
    return m.take_outputs()


def run_until(m: FxsLine, until: float) -> list[tuple[float, object]]:
    """Fire every timer up to ``until`` (as the engine does, at each deadline); outputs with their time."""
    got = []
    while m.deadline is not None and m.deadline <= until:
        t = m.deadline
        m.handle_timer(t)
        got += [(t, o) for o in m.take_outputs()]
    return got


# --- going off hook, dialling ------------------------------------------------------------------------


def test_off_hook_gives_dial_tone_and_off_hook_idle() -> None:
    m = line()
    assert m.is_idle and m.state is FxsState.IDLE and m.deadline is None
    assert off_hook(m) == [Detect(P, "dtmf", True), PlayTone(P, ToneName.DIAL), OffHookIdle(P)]
    assert m.state is FxsState.DIALING and str(m.state) == "dialing"
    assert not m.is_idle


def test_first_digit_stops_dial_tone_later_digits_only_reported() -> None:
    m = line()
    off_hook(m)
    m.handle_digit("8", 1.0)
    assert m.take_outputs() == [PlayTone(P, None), DigitReceived(P, "8")]
    m.handle_digit("0", 1.2)
    m.handle_digit("1", 1.4)
    assert m.take_outputs() == [DigitReceived(P, "0"), DigitReceived(P, "1")]


@pytest.mark.parametrize("tone", [ToneName.DIAL, ToneName.STUTTER_DIAL])
def test_a_key_stops_dial_tone_call_control_plays_on_an_answered_phone(tone: ToneName) -> None:
    """After a hook flash the phone (connected: it answered the call) hears dial tone from call control:
    the first key stops it, as at the first dial tone; other tones go on under keys."""
    m = connected()
    m.play(tone)
    m.take_outputs()
    m.handle_digit("8", 1.0)
    assert m.take_outputs() == [PlayTone(P, None), DigitReceived(P, "8")]
    m.handle_digit("0", 1.2)
    assert m.take_outputs() == [DigitReceived(P, "0")]
    m.play(ToneName.RINGBACK)
    m.take_outputs()
    m.handle_digit("1", 1.4)
    assert m.take_outputs() == [DigitReceived(P, "1")]


def test_digits_when_not_off_hook_are_ignored() -> None:
    m = line()
    m.handle_digit("5", 0.0)
    assert m.take_outputs() == []


# --- ringing ---------------------------------------------------------------------------------------------


def test_ring_cadence_and_caller_id_after_first_burst() -> None:
    m = line()
    m.ring(CID, 100.0)
    assert m.take_outputs() == [SetRing(P, True)]
    assert m.state is FxsState.RINGING and not m.is_idle
    assert m.deadline == pytest.approx(101.0)
    got = run_until(m, 111.5)
    assert [(pytest.approx(t), o) for t, o in got] == [
        (101.0, SetRing(P, False)),
        (101.5, SendCallerId(P, CID, "fsk")),
        (105.0, SetRing(P, True)),
        (106.0, SetRing(P, False)),
        (110.0, SetRing(P, True)),
        (111.0, SetRing(P, False)),
    ]
    assert sum(isinstance(o, SendCallerId) for _, o in got) == 1


def test_ring_timer_handled_late_keeps_cadence() -> None:
    m = line()
    m.ring(None, 0.0)
    m.take_outputs()
    m.handle_timer(1.02)  # the engine's 20 ms tick
    assert m.take_outputs() == [SetRing(P, False)]
    assert m.deadline == pytest.approx(5.0)
    m.handle_timer(4.99)
    assert m.take_outputs() == []


def test_ring_timer_handled_very_late_restarts_the_cadence_from_then() -> None:
    """A timer handled far past its deadline (a stalled loop) does not fire its successors in a burst:
    the next interval counts from when it was handled."""
    m = line()
    m.ring(None, 0.0)
    m.take_outputs()
    m.handle_timer(3.0)  # 2 s late
    assert m.take_outputs() == [SetRing(P, False)]
    assert m.deadline == pytest.approx(7.0)


def test_dtmf_caller_id_method_and_none() -> None:
    m = line(callerid="dtmf")
    m.ring(CID, 0.0)
    outs = [o for _, o in run_until(m, 2.0)]
    assert SendCallerId(P, CID, "dtmf") in outs
    for m in (line(callerid="none"), line()):
        cid = CID if m.config.callerid == "none" else None
        m.ring(cid, 0.0)
        assert not any(isinstance(o, SendCallerId) for _, o in run_until(m, 20.0))


def test_answer_while_ringing() -> None:
    m = line()
    m.ring(CID, 0.0)
    m.take_outputs()
    m.handle_board_event(OffHook(P), 0.6)
    assert m.take_outputs() == [SetRing(P, False), Detect(P, "dtmf", True), CallAnswered(P)]
    assert m.state is FxsState.CONNECTED
    assert m.deadline is None  # no more ringing, no caller ID
    m.handle_digit("3", 2.0)
    assert m.take_outputs() == [DigitReceived(P, "3")]


def test_answer_in_the_silent_phase_cancels_caller_id() -> None:
    m = line()
    m.ring(CID, 0.0)
    run_until(m, 1.0)
    m.handle_board_event(OffHook(P), 1.2)
    outs = m.take_outputs()
    assert CallAnswered(P) in outs
    assert run_until(m, 30.0) == []


def test_release_while_ringing_stops_ringing_and_goes_idle() -> None:
    m = line()
    m.ring(CID, 0.0)
    m.take_outputs()
    m.release(Cause.NORMAL_CLEARING, 2.0)
    assert m.take_outputs() == [SetRing(P, False)]
    assert m.is_idle and m.deadline is None


def test_ring_when_not_idle_is_a_wrong_state() -> None:
    m = line()
    off_hook(m)
    with pytest.raises(WrongState, match="ring\\(\\) is not allowed in state dialing"):
        m.ring(CID, 1.0)
    assert m.take_outputs() == [] and m.state is FxsState.DIALING


# --- hook flash and hang-up ------------------------------------------------------------------------


def connected(**kw: object) -> FxsLine:
    m = line(**kw)
    m.ring(None, 0.0)
    m.handle_board_event(OffHook(P), 0.5)
    m.take_outputs()
    return m


def test_bounce_is_ignored() -> None:
    m = connected()
    m.handle_board_event(OnHook(P), 10.0)
    assert m.take_outputs() == [] and m.deadline == pytest.approx(10.6)
    m.handle_board_event(OffHook(P), 10.05)
    assert m.take_outputs() == []
    assert m.deadline is None and m.state is FxsState.CONNECTED


def test_flash_is_reported_and_does_not_release() -> None:
    m = connected()
    m.handle_board_event(OnHook(P), 10.0)
    assert not m.is_idle
    m.handle_board_event(OffHook(P), 10.3)
    assert m.take_outputs() == [HookFlash(P)]
    assert m.state is FxsState.CONNECTED and m.deadline is None
    run_until(m, 20.0)
    assert m.state is FxsState.CONNECTED


def test_long_on_hook_releases() -> None:
    m = connected()
    m.handle_board_event(OnHook(P), 10.0)
    m.handle_timer(10.59)
    assert m.take_outputs() == []
    m.handle_timer(10.6)
    assert m.take_outputs() == HUNG_UP
    assert m.is_idle and m.deadline is None
    # an OffHook after that is a new origination, not a flash
    assert OffHookIdle(P) in off_hook(m, 11.0)


def test_hang_up_while_dialing_releases() -> None:
    m = line()
    off_hook(m)
    m.handle_board_event(OnHook(P), 3.0)
    run_until(m, 4.0)
    assert m.is_idle


def test_configured_flash_window_is_honoured() -> None:
    m = connected(flash_min_ms=200, flash_max_ms=1000)
    m.handle_board_event(OnHook(P), 10.0)
    m.handle_board_event(OffHook(P), 10.15)  # a flash by default, a bounce here
    assert m.take_outputs() == []
    m.handle_board_event(OnHook(P), 20.0)
    assert m.deadline == pytest.approx(21.0)
    m.handle_timer(20.8)  # would have been a hang-up by default
    m.handle_board_event(OffHook(P), 20.8)
    assert m.take_outputs() == [HookFlash(P)]
    m.handle_board_event(OnHook(P), 30.0)
    m.handle_timer(31.0)
    assert CallReleased(P, Cause.NORMAL_CLEARING) in m.take_outputs()


def test_board_timed_flash() -> None:
    m = connected()
    m.handle_board_event(Flash(P), 5.0)
    assert m.take_outputs() == [HookFlash(P)]


def test_board_flash_while_the_hook_is_down_is_not_a_second_flash() -> None:
    m = connected()
    m.handle_board_event(OnHook(P), 5.0)
    m.handle_board_event(Flash(P), 5.2)
    assert m.take_outputs() == []
    m.handle_board_event(OffHook(P), 5.3)
    assert m.take_outputs() == [HookFlash(P)]  # the one flash, from the hook itself


# --- release by call control -----------------------------------------------------------------------


def test_release_while_off_hook_plays_busy_then_silence() -> None:
    m = connected(busy_tone_s=30.0)
    m.release(Cause.NORMAL_CLEARING, 10.0)
    assert m.take_outputs() == [PlayTone(P, None), PlayTone(P, ToneName.BUSY), Detect(P, "dtmf", False)]
    assert m.state is FxsState.RELEASED and not m.is_idle
    assert m.deadline == pytest.approx(40.0)
    m.handle_timer(39.9)
    assert m.take_outputs() == []
    m.handle_timer(40.0)
    assert m.take_outputs() == [PlayTone(P, None)]
    assert m.state is FxsState.RELEASED and m.deadline is None
    m.handle_digit("1", 41.0)
    assert m.take_outputs() == []


@pytest.mark.parametrize("cause", [Cause.UNALLOCATED_NUMBER, Cause.NO_CIRCUIT_AVAILABLE,
                                   Cause.SWITCHING_EQUIPMENT_CONGESTION, Cause.TEMPORARY_FAILURE])
def test_release_with_failure_cause_plays_congestion(cause: Cause) -> None:
    m = line()
    off_hook(m)
    m.handle_digit("9", 1.0)
    m.take_outputs()
    m.release(cause, 2.0)
    assert PlayTone(P, ToneName.CONGESTION) in m.take_outputs()


def test_busy_tone_timer_leaves_a_tone_call_control_played_since() -> None:
    """Released, then a hook flash gets dial tone from call control: T_BUSY_TONE running out later
    must not silence that dial tone."""
    m = connected(busy_tone_s=30.0)
    m.release(Cause.NORMAL_CLEARING, 10.0)
    m.play(ToneName.DIAL)
    m.take_outputs()
    assert run_until(m, 60.0) == []


def test_release_busy_tone_until_on_hook_when_zero() -> None:
    m = connected(busy_tone_s=0)
    m.release(Cause.USER_BUSY, 10.0)
    assert PlayTone(P, ToneName.BUSY) in m.take_outputs()
    assert m.deadline is None


def test_hang_up_after_release_reports_released_and_frees_port() -> None:
    m = connected()
    m.release(Cause.NORMAL_CLEARING, 10.0)
    m.take_outputs()
    m.handle_board_event(OnHook(P), 12.0)
    assert not m.is_idle
    m.handle_timer(12.6)
    assert m.take_outputs() == HUNG_UP
    assert m.is_idle and m.deadline is None  # the busy-tone timer went with the call


def test_loop_current_disconnect() -> None:
    m = connected(disconnect="loop_current")
    m.release(Cause.NORMAL_CLEARING, 10.0)
    outs = m.take_outputs()
    assert PlayTone(P, ToneName.BUSY) in outs and outs[-1] == SetLoopCurrent(P, False)
    assert m.deadline == pytest.approx(10.6)
    m.handle_timer(10.6)
    assert m.take_outputs() == [SetLoopCurrent(P, True)]
    # default: no loop-current break
    m = connected()
    m.release(Cause.NORMAL_CLEARING, 10.0)
    assert not any(isinstance(o, SetLoopCurrent) for o in m.take_outputs() + [o for _, o in run_until(m, 99)])


def test_hang_up_during_loop_current_drop_restores_loop_current() -> None:
    m = connected(disconnect="loop_current", flash_max_ms=300)
    m.release(Cause.NORMAL_CLEARING, 10.0)
    m.take_outputs()
    m.handle_board_event(OnHook(P), 10.1)
    m.handle_timer(10.4)
    assert m.take_outputs()[0] == SetLoopCurrent(P, True)
    assert m.is_idle and m.deadline is None


def test_play_just_emits_a_tone() -> None:
    m = line()
    off_hook(m)
    m.play(ToneName.RINGBACK)
    m.play(None)
    assert m.take_outputs() == [PlayTone(P, ToneName.RINGBACK), PlayTone(P, None)]


# --- robustness ------------------------------------------------------------------------------------


STRANGE = [OffHook(P), OnHook(P), Flash(P), RingStart(P), RingStop(P), PolarityReversal(P),
           LoopCurrentDrop(P, 600), SetRing(P, True)]


def test_unexpected_events_never_raise() -> None:
    def setups() -> list[FxsLine]:
        idle = line()
        ringing = line()
        ringing.ring(CID, 0.0)
        dialing = line()
        off_hook(dialing)
        conn = connected()
        released = connected()
        released.release(Cause.USER_BUSY, 1.0)
        hook_down = connected()
        hook_down.handle_board_event(OnHook(P), 1.0)
        return [idle, ringing, dialing, conn, released, hook_down]

    for i, ev in itertools.product(range(6), STRANGE):
        m = setups()[i]
        m.handle_board_event(ev, 1.1)
        m.handle_digit("5", 1.2)
        m.handle_progress(ProgressEvent(ToneName.BUSY), 1.3)
        m.handle_caller_id(CID, 1.4)
        m.handle_timer(1.5)
        for request, args in ((m.ring, (CID, 1.6)), (m.release, (Cause.NORMAL_CLEARING, 1.7)),
                              (m.release, (Cause.NORMAL_CLEARING, 1.8))):
            with contextlib.suppress(WrongState):  # call control's requests: done, or refused untouched
                request(*args)
        m.play(None)
        run_until(m, 100.0)
        m.take_outputs()


def test_message_waiting_gives_stutter_dial_tone() -> None:
    from hal.dsp.tones import ToneName
    from hal.events import OffHook
    from signaling.analog.fxs import FxsLine
    from signaling.media import PlayTone

    line = FxsLine("2/1")
    line.set_message_waiting(True)
    line.handle_board_event(OffHook("2/1"), 0.0)
    assert PlayTone("2/1", ToneName.STUTTER_DIAL) in line.take_outputs()
