"""A queued caller handed from one agent to another, in one process on a virtual clock, by each of the
three kinds of transfer (the API's ``call.transfer``, a hook-flash blind ``*10<ext>#`` and an attended
one): the first agent goes busy → wrap-up → idle when the call leaves them, the second is busy while
talking, then wraps up; the statistics count the call once per agent who handled it and once for the
queue; the audio reaches the second agent both ways."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.features.extension import ExtensionFeatures
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.processes import AGENT_PINS
from tests.unit.daemon.acd.test_host_calls import acd_box, agent_state, call_in, login, talk


def states(box: Box, agent: str) -> list[tuple[str, str, str]]:
    return [(d["old"], d["state"], d["reason"]) for k, d in box.events if k == "agent.state" and d["agent"] == agent]


def transfer(box: Box, kind: str, call_id: str) -> None:
    """Agent 1001 at 8002, talking to the caller, hands the call to 8005 by ``kind``."""
    first, second = box.world.phone("8002"), box.world.phone("8005")
    if kind == "api":
        box.engine.calls.transfer(call_id, "8005")
        box.run(0.5)
        first.on_hook()
    elif kind == "blind":
        first.flash()
        box.run(1.0)
        first.dial("*108005#")
        box.run_until(lambda: second.ringing, 5, "8005 rung by the blind transfer")
        first.on_hook()
    else:
        first.flash()
        box.run(1.0)
        first.dial("8005")
        box.run_until(lambda: second.ringing, 5, "8005 rung for the consultation")
        second.off_hook()
        box.run(1.0)
        assert agent_state(box, "1001") == "busy"  # consulting: still on the caller's call
        first.on_hook()  # attended transfer, once the hang-up is told from a flash
        box.run_until(lambda: agent_state(box, "1001") == "wrap_up", 3, "1001 in wrap-up after hanging up")
    box.run(0.5)


@pytest.mark.parametrize("kind", ["api", "blind", "attended"])
def test_both_agents_move_busy_wrap_up_idle_and_each_counts_the_call(tmp_path: Path, kind: str) -> None:
    box = acd_box(tmp_path)
    ExtensionFeatures(box.engine)  # hook flash, as the daemon attaches it
    login(box, "8002", "1001", AGENT_PINS["1001"])
    login(box, "8005", "1004", AGENT_PINS["1004"])
    call_in(box, "1/1", "13800000001")
    first, second = box.world.phone("8002"), box.world.phone("8005")
    box.run_until(lambda: first.ringing, 10, "1001 rung (longest idle)")
    first.off_hook()
    box.run(4.0)
    talk(box, "1/1", "8002")
    (call_id,) = [c.id for c in box.engine.calls.calls.values() if c.queue == "domestic"]

    transfer(box, kind, call_id)
    assert agent_state(box, "1001") == "wrap_up"  # the call left them: wrap-up (domestic: 10 s) at once
    if kind != "attended":
        assert agent_state(box, "1004") == "idle"  # ringing, not talking yet
        box.run_until(lambda: second.ringing, 5, "8005 ringing")
        second.off_hook()
        box.run(0.5)
    assert agent_state(box, "1004") == "busy"
    talk(box, "1/1", "8005")
    box.run(10.0)
    assert agent_state(box, "1001") == "idle" and agent_state(box, "1004") == "busy"

    box.world.co.line("1/1").hangup()
    box.run_until(lambda: agent_state(box, "1004") == "wrap_up", 10, "1004 in wrap-up once the caller hung up")
    second.on_hook()
    box.run_until(lambda: agent_state(box, "1004") == "idle", 11, "1004 idle after the wrap-up")

    assert states(box, "1001")[-4:] == [("idle", "reserved", "offer"), ("reserved", "busy", "accepted"),
                                        ("busy", "wrap_up", "hangup"), ("wrap_up", "idle", "wrap_up_done")]
    assert states(box, "1004")[-3:] == [("idle", "busy", "transferred"), ("busy", "wrap_up", "hangup"),
                                        ("wrap_up", "idle", "wrap_up_done")]
    assert box.acd is not None and not box.acd.acd.invariant_errors()
    today = box.acd.acd.snapshot(box.acd.now())["stats"]["today"]
    assert today["agents"]["1001"]["answered"] == 1 and today["agents"]["1004"]["answered"] == 1
    assert today["agents"]["1004"]["talk_s"] > 10  # talked on it from the answer to the caller's hang-up
    assert today["queues"]["domestic"]["offered"] == 1 and today["queues"]["domestic"]["answered"] == 1
    ended = [(d["agent"], d["call"]) for k, d in box.events if k == "call.ended" and "agent" in d]
    assert ended == [("1001", call_id), ("1004", call_id)]


def test_an_api_transfer_during_the_agents_id_announcement_reaches_the_second_agent(tmp_path: Path) -> None:
    """The caller still hears "工号一零零一为您服务" when the call is transferred: the announcement stops
    for ringback, and the caller talks with the second agent."""
    box = acd_box(tmp_path)
    login(box, "8002", "1001", AGENT_PINS["1001"])
    login(box, "8005", "1004", AGENT_PINS["1004"])
    call_in(box, "1/1", "13800000001")
    first, second = box.world.phone("8002"), box.world.phone("8005")
    box.run_until(lambda: first.ringing, 10, "1001 rung")
    first.off_hook()
    box.run(0.5)
    (call_id,) = [c.id for c in box.engine.calls.calls.values() if c.queue == "domestic"]
    box.engine.calls.transfer(call_id, "8005")
    box.run_until(lambda: second.ringing, 5, "8005 ringing")
    box.run(4.0)  # past where the announcement would have ended
    mark = box.world.tick
    box.run(5.5)  # the caller hears ringback (450 Hz, 1 s in 5) until 8005 answers
    assert tone_frequency(box.world.co.line("1/1").recorder.heard(mark)[0]) == pytest.approx(450.0, rel=0.02)
    assert not [d for k, d in box.events if k == "call.answered" and d.get("agent") == "1001"]
    second.off_hook()
    box.run(0.5)
    talk(box, "1/1", "8005")
    assert agent_state(box, "1004") == "busy" and agent_state(box, "1001") in ("wrap_up", "idle")


def test_a_call_sent_back_to_the_ivr_and_queued_again_ends_its_next_agents_part(tmp_path: Path) -> None:
    """``*40`` sends the caller back to the flow, which queues them again: the agent who takes that
    call goes busy and, when the caller hangs up, to wrap-up (the call is the ACD's again)."""
    import datetime as dt

    from tests.support.processes import default_config_text

    opened = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Shanghai
    text = default_config_text(ivr_lines=True).replace('state_dir = "/var/lib/callbox"',
                                                      f'state_dir = "{tmp_path / "state"}"')
    path = tmp_path / "callbox.toml"
    path.write_text(text, encoding="utf-8")
    box = Box(path, acd=True, wall=lambda: opened)
    ExtensionFeatures(box.engine)
    box.run(0.2)
    login(box, "8002", "1001", AGENT_PINS["1001"])
    caller, agent = box.world.co.line("1/1"), box.world.phone("8002")

    def through_the_flow() -> None:
        box.run_until(lambda: box.ivr.legs, 10, "the IVR to answer")
        box.run(2.0)
        caller.party.dial("1")
        box.run(4.0)
        caller.party.dial("1")  # domestic
        box.run_until(lambda: agent.ringing, 60, "1001 rung")
        agent.off_hook()
        box.run(4.0)

    box.world.co.call("1/1", "13800138000")
    through_the_flow()
    agent.flash()
    box.run(1.0)
    agent.dial("*401#")  # back to the travel-agency flow
    box.run_until(lambda: agent_state(box, "1001") == "wrap_up", 5, "1001 in wrap-up")
    agent.on_hook()
    through_the_flow()  # queued again, and 1001 (the caller's last agent) takes it after the wrap-up
    assert agent_state(box, "1001") == "busy"
    caller.hangup()
    box.run_until(lambda: agent_state(box, "1001") == "wrap_up", 10, "1001 in wrap-up once the caller hung up")
