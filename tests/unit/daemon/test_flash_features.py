"""Hook-flash features on the whole box in one process (virtual clock): hold, attended and blind transfer,
3-way conference, recall, transfer to the IVR. Every party sends its own tone and what each party hears
is measured: the tones that must be there are, the others are not."""

from __future__ import annotations

import pytest

from daemon.extension_features import ExtensionFeatures
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.tone_levels import heard_tones

TONES = {"A": 500.0, "X": 700.0, "T": 1100.0}
PHONES = {"A": "8001", "X": "8002", "T": "8003"}


@pytest.fixture
def box() -> Box:
    b = Box()
    ExtensionFeatures(b.engine)
    b.run(0.2)
    return b


def phone(box: Box, who: str):
    return box.world.phone(PHONES[who])


def talk(box: Box, *who: str) -> None:
    for w in who:
        phone(box, w).mouth.tone(TONES[w])


def quiet(box: Box, *who: str) -> None:
    for w in who:
        phone(box, w).mouth.silence()


def listen(box: Box, who: tuple[str, ...] = ("A", "X", "T"), seconds: float = 1.0) -> dict[str, set[str]]:
    """Which parties' tones each of ``who`` hears over the next ``seconds``."""
    box.run(0.3)
    mark = box.world.tick
    box.run(seconds)
    return {w: heard_tones(box.heard(PHONES[w], mark), {k: v for k, v in TONES.items() if k != w}) for w in who}


def dial(box: Box, who: str, digits: str) -> None:
    quiet(box, who)
    phone(box, who).dial(digits)
    box.run(0.2 * len(digits) + 0.3)


def connect(box: Box, caller: str, callee: str) -> None:
    phone(box, caller).off_hook()
    box.run(0.5)
    dial(box, caller, PHONES[callee])
    box.run_until(lambda: phone(box, callee).ringing, 5, f"{callee} ringing")
    phone(box, callee).off_hook()
    box.run(0.5)


def flash(box: Box, who: str) -> None:
    phone(box, who).flash()
    box.run(0.6)


def held_call_and_consult(box: Box) -> None:
    """A calls X; X flashes (A on hold) and calls T, who answers."""
    connect(box, "A", "X")
    talk(box, "A", "X")
    assert listen(box, ("A", "X")) == {"A": {"X"}, "X": {"A"}}
    flash(box, "X")
    mark = box.world.tick
    box.run(0.6)
    assert tone_frequency(box.heard("8002", mark)) == pytest.approx(450.0, rel=0.02)  # dial tone after the flash
    dial(box, "X", "8003")
    box.run_until(lambda: phone(box, "T").ringing, 5, "T ringing")
    phone(box, "T").off_hook()
    talk(box, "A", "X", "T")
    heard = listen(box)
    assert heard == {"A": set(), "X": {"T"}, "T": {"X"}}  # A on hold hears neither


def test_attended_transfer_connects_held_party_and_third_party(box: Box) -> None:
    held_call_and_consult(box)
    phone(box, "X").on_hook()
    box.run(1.5)
    heard = listen(box, ("A", "T"))
    assert heard == {"A": {"T"}, "T": {"A"}}
    calls = box.engine.calls.calls
    assert len(calls) == 1
    (call,) = calls.values()
    assert {leg.label for leg in call.legs()} == {"8001", "8003"}
    consult = [c for c in box.cdrs() if c["caller"] == "8002"]
    assert consult and consult[0]["called"] == "8003" and consult[0]["disposition"] == "ANSWERED"
    phone(box, "A").on_hook()
    box.run(1.5)
    assert not box.engine.calls.calls
    main = [c for c in box.cdrs() if c["caller"] == "8001"]
    assert main[0]["dst"] == "8003" and main[0]["disposition"] == "ANSWERED"


def test_flash_again_returns_to_held_party_and_releases_third(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, "X")  # choice: 3 = conference; nothing for 3 s = back
    box.run(3.5)
    heard = listen(box)
    assert heard["A"] == {"X"} and heard["X"] == {"A"}
    assert "X" not in heard["T"] and "A" not in heard["T"]
    assert box.world.phone("8003").is_off_hook  # released: busy tone, it hangs up
    phone(box, "T").on_hook()
    box.run(1.5)
    assert len(box.engine.calls.calls) == 1


def test_three_way_conference_everyone_hears_everyone(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, "X")
    dial(box, "X", "3")
    talk(box, "A", "X", "T")
    heard = listen(box)
    assert heard == {"A": {"X", "T"}, "X": {"A", "T"}, "T": {"A", "X"}}
    # the third party leaves: the other two talk on
    phone(box, "T").on_hook()
    box.run(1.5)
    assert listen(box, ("A", "X")) == {"A": {"X"}, "X": {"A"}}
    assert box.engine.media.mixer.routes == {}


def test_conference_agent_leaves_other_two_stay(box: Box) -> None:
    held_call_and_consult(box)
    flash(box, "X")
    dial(box, "X", "3")
    phone(box, "X").on_hook()
    box.run(1.5)
    talk(box, "A", "T")
    assert listen(box, ("A", "T")) == {"A": {"T"}, "T": {"A"}}


def test_blind_transfer_by_hanging_up_while_third_party_rings(box: Box) -> None:
    connect(box, "A", "X")
    flash(box, "X")
    dial(box, "X", "8003")
    box.run_until(lambda: phone(box, "T").ringing, 5, "T ringing")
    phone(box, "X").on_hook()
    box.run(1.5)
    mark = box.world.tick
    box.run(5.5)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(450.0, rel=0.02)  # ringback to A
    (call,) = box.engine.calls.calls.values()
    assert call.transfer_to is not None and call.transfer_to.label == "8003"  # T rings for A now
    phone(box, "T").off_hook()
    talk(box, "A", "T")
    assert listen(box, ("A", "T")) == {"A": {"T"}, "T": {"A"}}


def test_blind_transfer_code(box: Box) -> None:
    connect(box, "A", "X")
    flash(box, "X")
    dial(box, "X", "*108003#")
    box.run_until(lambda: phone(box, "T").ringing, 5, "T ringing")
    phone(box, "X").on_hook()
    phone(box, "T").off_hook()
    box.run(0.5)
    talk(box, "A", "T", "X")
    heard = listen(box, ("A", "T"))
    assert heard == {"A": {"T"}, "T": {"A"}}


def test_hang_up_with_party_on_hold_rings_back(box: Box) -> None:
    connect(box, "A", "X")
    flash(box, "X")
    phone(box, "X").on_hook()
    box.run_until(lambda: phone(box, "X").ringing, 5, "recall ringing")
    phone(box, "X").off_hook()
    talk(box, "A", "X")
    assert listen(box, ("A", "X")) == {"A": {"X"}, "X": {"A"}}


def test_consulting_a_busy_extension_then_flash_back(box: Box) -> None:
    connect(box, "A", "X")
    box.world.phone("8003").off_hook()  # T busy (dialling)
    box.run(0.5)
    flash(box, "X")
    dial(box, "X", "8003")
    mark = box.world.tick
    box.run(1.5)
    assert tone_frequency(box.heard("8002", mark)) == pytest.approx(450.0, rel=0.02)  # busy tone
    flash(box, "X")
    talk(box, "A", "X")
    assert listen(box, ("A", "X")) == {"A": {"X"}, "X": {"A"}}


def test_held_party_hangs_up_during_consultation(box: Box) -> None:
    held_call_and_consult(box)
    phone(box, "A").on_hook()
    box.run(1.5)
    talk(box, "X", "T")
    assert listen(box, ("X", "T")) == {"X": {"T"}, "T": {"X"}}
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
    assert heard_tones(line.recorder.heard(mark)[0], {"X": 700.0, "T": 1100.0}) == set()  # on hold
    agent.on_hook()
    box.run(1.5)
    mark = box.world.tick
    box.run(1.0)
    assert heard_tones(line.recorder.heard(mark)[0], {"X": 700.0, "T": 1100.0}) == {"T"}
    assert heard_tones(box.heard("8005", mark), {"A": 500.0, "X": 700.0}) == {"A"}


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
