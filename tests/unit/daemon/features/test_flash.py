"""Hook-flash features on the whole box in one process (virtual clock): hold, attended and blind transfer,
3-way conference, recall, transfer to the IVR. Every party sends its own tone and what each party hears
is measured: the tones that must be there are, the others are not."""

from __future__ import annotations

import pytest

from daemon.features.extension import ExtensionFeatures
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.phones import connect, dial, listen, talk
from tests.support.tone_levels import heard_tones, level_at
from tests.support.world import World

A, X, T = "8001", "8002", "8003"  # the held party, the agent, the third party
TONES = {A: 500.0, X: 700.0, T: 1100.0}


@pytest.fixture
def box() -> Box:
    b = Box()
    ExtensionFeatures(b.engine)
    b.run(0.2)
    return b


def phone(box: Box, number: str):
    return box.world.phone(number)


def is_dial_tone(alaw: bytes) -> bool:
    """450 Hz without a break (busy, congestion, ringback and stutter tone are 450 Hz too, but cadenced)."""
    return (tone_frequency(alaw) == pytest.approx(450.0, rel=0.02)
            and all(level_at(alaw[i:i + 800], 450.0) > -22 for i in range(0, len(alaw) - 799, 800)))


def flash(box: Box, who: str) -> None:
    phone(box, who).flash()
    box.run(0.6)


def held_call_and_consult(box: Box) -> None:
    """A calls X; X flashes (A on hold) and calls T, who answers."""
    connect(box, A, X)
    talk(box, TONES, A, X)
    assert listen(box, TONES, A, X) == {A: {X}, X: {A}}
    flash(box, X)
    mark = box.world.tick
    box.run(1.0)
    assert is_dial_tone(box.heard(X, mark)), "dial tone after the flash"
    dial(box, X, "8003")
    box.run_until(lambda: phone(box, T).ringing, 5, "T ringing")
    phone(box, T).off_hook()
    talk(box, TONES, A, X, T)
    heard = listen(box, TONES)
    assert heard == {A: set(), X: {T}, T: {X}}  # A on hold hears neither


def test_attended_transfer_connects_held_party_and_third_party(box: Box) -> None:
    held_call_and_consult(box)
    phone(box, X).on_hook()
    box.run(1.5)
    heard = listen(box, TONES, A, T)
    assert heard == {A: {T}, T: {A}}
    calls = box.engine.calls.calls
    assert len(calls) == 1
    (call,) = calls.values()
    assert {leg.label for leg in call.legs()} == {"8001", "8003"}
    consult = [c for c in box.cdrs() if c["caller"] == "8002"]
    assert consult and consult[0]["called"] == "8003" and consult[0]["disposition"] == "ANSWERED"
    phone(box, A).on_hook()
    box.run(1.5)
    assert not box.engine.calls.calls
    main = [c for c in box.cdrs() if c["caller"] == "8001"]
    assert main[0]["dst"] == "8003" and main[0]["disposition"] == "ANSWERED"


def test_flash_again_returns_to_held_party_and_releases_third(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, X)  # choice: 3 = conference; nothing for 3 s = back
    box.run(3.5)
    heard = listen(box, TONES)
    assert heard[A] == {X} and heard[X] == {A}
    assert X not in heard[T] and A not in heard[T]
    mark = box.world.tick
    box.run(1.5)
    assert World.cadence_ms(box.heard(T, mark)) == pytest.approx((350, 350), abs=60)  # released: busy tone
    assert "2/3" not in box.engine.calls.by_port
    phone(box, T).on_hook()
    box.run(1.5)
    assert len(box.engine.calls.calls) == 1


def test_choosing_third_party_waits_in_silence_and_1_goes_back_at_once(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, X)  # choosing: T waits in silence, X hears dial tone
    talk(box, TONES, A, X, T)
    heard = listen(box, TONES, A, T, seconds=0.8)
    assert heard == {A: set(), T: set()}
    dial(box, X, "1")  # back to A now, well inside the 3 s
    assert "2/3" not in box.engine.calls.by_port  # T released
    talk(box, TONES, X)
    assert listen(box, TONES, A, X, seconds=0.8) == {A: {X}, X: {A}}


def test_recall_nobody_answers_ends_the_held_call_at_the_no_answer_time(box: Box) -> None:
    connect(box, A, X)
    flash(box, X)
    phone(box, X).on_hook()
    box.run_until(lambda: phone(box, X).ringing, 5, "recall ringing")
    no_answer = box.engine.calls.config.dialplan.no_answer_timeout_s
    box.run(no_answer - 1.5)
    assert box.engine.calls.calls and box.engine.calls.by_port.get("2/2") is not None  # still recalling
    box.run(1.6)
    assert not box.engine.calls.calls and not phone(box, X).ringing
    mark = box.world.tick
    box.run(1.5)
    assert World.cadence_ms(box.heard(A, mark)) == pytest.approx((350, 350), abs=60)  # the held party: busy


def test_three_way_conference_everyone_hears_everyone(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, X)
    dial(box, X, "3")
    talk(box, TONES, A, X, T)
    heard = listen(box, TONES)
    assert heard == {A: {X, T}, X: {A, T}, T: {A, X}}
    # the third party leaves: the other two talk on
    phone(box, T).on_hook()
    box.run(1.5)
    assert listen(box, TONES, A, X) == {A: {X}, X: {A}}
    assert box.engine.media.mixer.routes == {}


def test_conference_agent_leaves_other_two_stay(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, X)
    dial(box, X, "3")
    phone(box, X).on_hook()
    box.run(1.5)
    talk(box, TONES, A, T)
    assert listen(box, TONES, A, T) == {A: {T}, T: {A}}


def test_blind_transfer_by_hanging_up_while_third_party_rings(box: Box) -> None:
    connect(box, A, X)
    flash(box, X)
    dial(box, X, "8003")
    box.run_until(lambda: phone(box, T).ringing, 5, "T ringing")
    phone(box, X).on_hook()
    box.run(1.5)
    mark = box.world.tick
    box.run(10.5)
    heard = box.heard(A, mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((1000, 4000), abs=60)  # ringback to A
    (call,) = box.engine.calls.calls.values()
    assert call.transfer_to is not None and call.transfer_to.label == "8003"  # T rings for A now
    phone(box, T).off_hook()
    talk(box, TONES, A, T)
    assert listen(box, TONES, A, T) == {A: {T}, T: {A}}


def test_blind_transfer_code(box: Box) -> None:
    connect(box, A, X)
    flash(box, X)
    dial(box, X, "*108003#")
    box.run_until(lambda: phone(box, T).ringing, 5, "T ringing")
    phone(box, X).on_hook()
    phone(box, T).off_hook()
    box.run(0.5)
    talk(box, TONES, A, T, X)
    heard = listen(box, TONES, A, T)
    assert heard == {A: {T}, T: {A}}


def test_hang_up_with_party_on_hold_rings_back(box: Box) -> None:
    connect(box, A, X)
    flash(box, X)
    phone(box, X).on_hook()
    box.run_until(lambda: phone(box, X).ringing, 5, "recall ringing")
    phone(box, X).off_hook()
    talk(box, TONES, A, X)
    assert listen(box, TONES, A, X) == {A: {X}, X: {A}}


def test_consulting_a_busy_extension_then_flash_back(box: Box) -> None:
    connect(box, A, X)
    box.world.phone("8003").off_hook()  # T busy (dialling)
    box.run(0.5)
    flash(box, X)
    dial(box, X, "8003")
    mark = box.world.tick
    box.run(1.5)
    heard = box.heard(X, mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy tone
    flash(box, X)
    talk(box, TONES, A, X)
    assert listen(box, TONES, A, X) == {A: {X}, X: {A}}


def test_held_party_hangs_up_during_consultation(box: Box) -> None:
    held_call_and_consult(box)
    phone(box, A).on_hook()
    box.run(1.5)
    talk(box, TONES, X, T)
    assert listen(box, TONES, X, T) == {X: {T}, T: {X}}
    assert len(box.engine.calls.calls) == 1
    assert any(c["caller"] == "8001" for c in box.cdrs())


def _inbound_to_agent(box: Box) -> tuple[object, object]:
    """A caller on CO line 1/2 reaches an agent (the first extension to ring), who answers."""
    box.world.co.call("1/2", "13800138000")
    box.run_until(lambda: any(box.world.phone(n).ringing for n in ("8001", "8002", "8003")), 8, "an agent ringing")
    agent = next(box.world.phone(n) for n in ("8001", "8002", "8003") if box.world.phone(n).ringing)
    agent.off_hook()
    box.run(0.5)
    return box.world.co.line("1/2"), agent


def test_attended_transfer_of_a_trunk_caller(box: Box) -> None:
    line, agent = _inbound_to_agent(box)
    third = box.world.phone("8005")
    agent.flash()
    box.run(0.6)
    agent.dial("8005")
    box.run_until(lambda: third.ringing, 5, "8005 ringing")
    third.off_hook()
    box.run(0.5)
    line.party.tone(500.0)
    agent.mouth.tone(700.0)
    third.mouth.tone(1100.0)
    box.run(0.3)
    mark = box.world.tick
    box.run(1.0)
    assert heard_tones(line.recorder.heard(mark)[0], {X: 700.0, T: 1100.0}) == set()  # on hold
    agent.on_hook()
    box.run(1.5)
    mark = box.world.tick
    box.run(1.0)
    assert heard_tones(line.recorder.heard(mark)[0], {X: 700.0, T: 1100.0}) == {T}
    assert heard_tones(box.heard("8005", mark), {A: 500.0, X: 700.0}) == {A}


def test_held_caller_sent_back_to_the_ivr() -> None:
    box = Box(ivr=True)
    ExtensionFeatures(box.engine)
    box.run(0.2)
    box.world.co.call("1/3", "13800138000")  # 1/3 rings its destinations (the IVR is on 1/1 and 1/2)
    box.run_until(lambda: any(box.world.phone(n).ringing for n in ("8003", "8004")), 8, "an agent ringing")
    agent = next(box.world.phone(n) for n in ("8003", "8004") if box.world.phone(n).ringing)
    agent.off_hook()
    box.run(0.5)
    (call,) = box.engine.calls.calls.values()
    assert box.ivr is not None and not box.ivr.owns(call.id)
    agent.flash()
    box.run(0.6)
    agent.dial("*401#")
    box.run(2.0)
    assert box.ivr.owns(call.id) and call.b is None
    mark = box.world.tick
    box.run(2.0)
    heard = box.world.co.line("1/3").recorder.heard(mark)[0]
    assert tone_frequency(heard) > 0, "the caller hears the flow's prompt"
    agent.on_hook()
    box.run(1.0)
    assert box.ivr.owns(call.id)
