"""Supervisor listen / whisper / barge on the whole box in one process (virtual clock). The caller, the
agent and the supervisor each send their own tone; what each hears is measured."""

from __future__ import annotations

import logging

import pytest

from daemon.features.extension import ExtensionFeatures
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.phones import connect, dial, everyone
from tests.support.processes import AGENT_PINS, SUPERVISOR_PIN
from tests.support.world import World

CALLER, AGENT, SUP = "8001", "8002", "8008"  # 8008: agent 1008, supervisor (SUPERVISOR_PIN)
TONES = {CALLER: 500.0, AGENT: 700.0, SUP: 1700.0}


@pytest.fixture
def box() -> Box:
    b = Box()
    b.features = ExtensionFeatures(b.engine)
    b.run(0.2)
    return b


def ph(box: Box, n: str):
    return box.world.phone(n)


def test_listen_hears_both_and_is_heard_by_nobody(box: Box) -> None:
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*31{AGENT}#{SUPERVISOR_PIN}#")
    assert everyone(box, TONES) == {CALLER: {AGENT}, AGENT: {CALLER}, SUP: {CALLER, AGENT}}


def test_whisper_is_heard_by_the_agent_only(box: Box) -> None:
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*32{AGENT}#{SUPERVISOR_PIN}#")
    assert everyone(box, TONES) == {CALLER: {AGENT}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}


def test_barge_everyone_hears_everyone(box: Box) -> None:
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*33{AGENT}#{SUPERVISOR_PIN}#")
    assert everyone(box, TONES) == {CALLER: {AGENT, SUP}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}


def test_keys_switch_mode_and_the_tap_ends_with_the_call(box: Box) -> None:
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*31{AGENT}#{SUPERVISOR_PIN}#")
    assert everyone(box, TONES)[AGENT] == {CALLER}
    ph(box, SUP).mouth.silence()
    ph(box, SUP).dial("2")  # whisper
    box.run(0.5)
    assert everyone(box, TONES) == {CALLER: {AGENT}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}
    ph(box, SUP).mouth.silence()
    ph(box, SUP).dial("3")  # barge
    box.run(0.5)
    assert everyone(box, TONES)[CALLER] == {AGENT, SUP}
    ph(box, CALLER).on_hook()
    box.run(1.5)
    ph(box, SUP).mouth.silence()
    mark = box.world.tick
    box.run(1.5)
    heard = box.heard(SUP, mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy: the call is over
    assert not box.features.supervisors.taps and not box.engine.media.mixer.routes
    ph(box, SUP).on_hook()
    box.run(1.0)
    assert any(c["src"] == SUP and c["called"] == "*31##" for c in box.cdrs())  # the fields masked
    ended = [ev for kind, ev in box.events if kind == "supervisor.ended"]
    assert [(ev["supervisor"], ev["extension"]) for ev in ended] == [(SUP, AGENT)]
    modes = [(kind, ev.get("port")) for kind, ev in box.events
             if kind.startswith("supervisor.") and kind != "supervisor.ended"]
    assert modes == [("supervisor.listen", "2/8"), ("supervisor.whisper", "2/8"), ("supervisor.barge", "2/8")]


def test_wrong_pin_is_refused(box: Box, caplog: pytest.LogCaptureFixture) -> None:
    connect(box, CALLER, AGENT)
    with caplog.at_level(logging.INFO, logger="daemon.features.supervisor"):
        dial(box, SUP, f"*31{AGENT}#1234#")
    assert f"supervisor code listen on {SUP} refused (target {AGENT})" in caplog.messages
    heard = everyone(box, TONES)
    assert heard[SUP] == set() and heard[AGENT] == {CALLER}
    assert not box.features.supervisors.taps
    assert not any(kind.startswith("supervisor.") for kind, _ in box.events)


def test_wrong_supervisor_pins_lock_the_codes_until_a_supervisor_unlocks(box: Box) -> None:
    """Five wrong supervisor PINs from a phone (with the growing pause between them): the codes are
    locked for that phone and for the supervisor PIN; the right PIN then gets the congestion tone and
    no tap. Unlocked, it taps again."""
    connect(box, CALLER, AGENT)
    for _ in range(5):
        dial(box, SUP, f"*31{AGENT}#2580#")
        ph(box, SUP).on_hook()
        box.run(5.0)  # past the pause after each failure (0, 1, 2, 4 s)
    dial(box, SUP, f"*31{AGENT}#{SUPERVISOR_PIN}#")
    mark = box.world.tick
    box.run(3.5)
    assert World.cadence_ms(box.heard(SUP, mark)) == (700, 700)  # congestion (450 Hz, 0.7 s on / off)
    assert tone_frequency(box.heard(SUP, mark)) == pytest.approx(450, abs=10)
    assert not box.features.supervisors.taps
    failed = [d for k, d in box.events if k == "pin.failed"]
    assert [(d["subject"], d["source"]) for d in failed] == [("supervisor", "port:2/8")] * 5
    assert sorted(d["key"] for k, d in box.events if k == "pin.locked") == ["port:2/8", "supervisor"]
    ph(box, SUP).on_hook()
    box.run(1.0)
    for key in ("supervisor", "port:2/8"):
        assert box.engine.pins.unlock(key, "supervisor")
    dial(box, SUP, f"*31{AGENT}#{SUPERVISOR_PIN}#")
    assert everyone(box, TONES) == {CALLER: {AGENT}, AGENT: {CALLER}, SUP: {CALLER, AGENT}}


def test_api_request_rings_the_supervisor_then_listens(box: Box) -> None:
    connect(box, CALLER, AGENT)
    tap = box.features.supervisors.request("listen", SUP, AGENT)
    assert tap.state == "ringing"
    box.run_until(lambda: ph(box, SUP).ringing, 5, "supervisor ringing")
    ph(box, SUP).off_hook()
    box.run(0.5)
    assert everyone(box, TONES) == {CALLER: {AGENT}, AGENT: {CALLER}, SUP: {CALLER, AGENT}}
    box.features.supervisors.request("whisper", SUP, AGENT)  # change mode on the active tap
    assert everyone(box, TONES)[AGENT] == {CALLER, SUP}
    box.features.supervisors.stop(SUP)
    box.run(0.5)
    assert not box.engine.media.mixer.routes


def test_target_by_agent_id() -> None:
    box = Box(acd=True)
    box.features = ExtensionFeatures(box.engine)
    box.run(0.2)
    agent = ph(box, AGENT)
    agent.off_hook()
    box.run(0.5)
    agent.dial(f"*211001#{AGENT_PINS['1001']}#")
    box.run_until(lambda: box.engine.calls.queues.agent_extension("1001") == AGENT, 5, "agent 1001 logged in at 8002")
    box.run(4.0)
    agent.on_hook()
    box.run(1.0)
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*321001#{SUPERVISOR_PIN}#")
    assert everyone(box, TONES) == {CALLER: {AGENT}, AGENT: {CALLER, SUP}, SUP: {CALLER, AGENT}}


def test_the_tap_ends_when_the_call_is_transferred_or_the_supervisor_hangs_up(box: Box) -> None:
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*33{AGENT}#{SUPERVISOR_PIN}#")
    (tap,) = box.features.supervisors.taps.values()
    box.engine.calls.transfer(tap.target.id, "8003")  # the API's call.transfer: the call changes hands
    assert not box.features.supervisors.taps and not box.engine.media.mixer.routes
    mark = box.world.tick
    box.run(3.5)
    assert World.cadence_ms(box.heard(SUP, mark)) == pytest.approx((350, 350), abs=60)  # busy
    ph(box, SUP).on_hook()
    box.run(1.0)
    assert any(c["src"] == SUP and c["called"] == "*33##" for c in box.cdrs())
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing for the transferred call")
    ph(box, "8003").off_hook()
    dial(box, SUP, f"*318003#{SUPERVISOR_PIN}#")  # a new tap on the transferred call; the supervisor hangs up
    assert len(box.features.supervisors.taps) == 1
    ph(box, SUP).on_hook()
    box.run(1.0)
    assert not box.features.supervisors.taps and not box.engine.media.mixer.routes
    assert [kind for kind, _ in box.events if kind == "supervisor.ended"] == ["supervisor.ended"] * 2
    assert everyone(box, {CALLER: 500.0, "8003": 1100.0}) == {CALLER: {"8003"}, "8003": {CALLER}}


def test_one_tap_per_call(box: Box) -> None:
    connect(box, CALLER, AGENT)
    dial(box, SUP, f"*31{AGENT}#{SUPERVISOR_PIN}#")
    dial(box, "8003", f"*31{AGENT}#{SUPERVISOR_PIN}#")  # a second listener on the same call: refused
    box.run(2.5)
    assert World.cadence_ms(box.heard("8003", box.world.tick - 100)) == pytest.approx((700, 700), abs=60)
    assert list(box.features.supervisors.taps) == ["2/8"]


def test_an_agent_consulting_with_a_party_on_hold_is_not_monitored(box: Box) -> None:
    connect(box, CALLER, AGENT)
    ph(box, AGENT).flash()
    box.run(0.6)
    dial(box, AGENT, "8003")
    box.run_until(lambda: ph(box, "8003").ringing, 5, "8003 ringing")
    ph(box, "8003").off_hook()
    box.run(0.5)
    dial(box, SUP, f"*31{AGENT}#{SUPERVISOR_PIN}#")
    assert not box.features.supervisors.taps
    assert everyone(box, {**TONES, "8003": 1100.0})[SUP] == set()
