"""The ACD on real calls, in one process on a virtual clock: callers on the CO lines wait in a queue
with music and announcements, agents log in at analog extensions by feature code and take the
calls; the audio each party hears is measured, and the statistics must match what happened."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from daemon.acd.host import CALLBACK_OFFER_TEXT
from ivr.events import TtsText
from sim.central_office import Scenario
from sim.config import load_config as load_sim_config
from sim.world import SimWorld
from tests.support.audio import contains, decode, tone_frequency
from tests.support.inprocess import Box
from tests.support.processes import AGENT_PINS, default_config_text

CALLERS = {"1/1": "13800000001", "1/2": "13800000002", "1/3": "13800000003"}


def acd_box(tmp_path: Path, domestic: dict[str, str] | None = None, **kw: object) -> Box:
    """The default travel-agency config with the four CO lines going straight to the "domestic" queue;
    ``domestic`` replaces keys of that queue (TOML values as text)."""
    text = default_config_text()
    text = re.sub(r'(?m)^destination = \["80[0-9", ]*\]$', 'destination = ["queue:domestic"]', text, count=4)
    text = text.replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp_path / "state"}"')
    head, _, rest = text.partition('name = "domestic"\n')
    block, sep, tail = rest.partition("[[queue]]")
    for key, value in (domestic or {}).items():
        block, n = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", block)
        if n == 0:
            block = f"{key} = {value}\n" + block
    text = head + 'name = "domestic"\n' + block + sep + tail
    path = tmp_path / "callbox.toml"
    path.write_text(text, encoding="utf-8")
    box = Box(path, acd=True, **kw)
    box.run(0.2)
    return box


def tts(box: Box, text: str) -> np.ndarray:
    assert box.acd is not None
    return decode(box.acd.library.get(TtsText(text)).result(timeout=60).tobytes())


def agent_state(box: Box, agent: str) -> str:
    assert box.acd is not None
    return next(a["state"] for a in box.acd.acd.snapshot(box.acd.now())["agents"] if a["id"] == agent)


def login(box: Box, ext: str, agent: str, pin: str) -> bytes:
    phone = box.world.phone(ext)
    phone.off_hook()
    box.run(0.5)
    phone.dial(f"*21{agent}#{pin}#")
    box.run_until(lambda: agent_state(box, agent) == "idle", 5, f"agent {agent} logged in")
    mark = box.world.tick
    box.run(4.5)
    heard = box.heard(ext, mark)
    phone.on_hook()
    box.run(1.0)  # longer than a hook flash
    return heard


def test_three_callers_two_agents_music_announcements_wrap_up_and_stats(tmp_path: Path) -> None:
    box = acd_box(tmp_path)
    w = box.world
    reply = login(box, "8002", "1001", AGENT_PINS["1001"])
    assert contains(decode(reply), tts(box, "工号一零零一已登录")) > 0.9  # the login confirmed in words
    login(box, "8005", "1004", AGENT_PINS["1004"])
    a1, a2 = w.phone("8002"), w.phone("8005")

    w.co.call("1/1", CALLERS["1/1"])
    box.run_until(lambda: a1.ringing, 10, "the longest-idle agent (1001 at 8002) ringing")
    assert not a2.ringing
    pops = [d for k, d in box.events if k == "call.ringing" and d.get("queue") == "domestic"]
    assert pops and pops[-1]["agent"] == "1001" and pops[-1]["caller"] == CALLERS["1/1"]
    a1.off_hook()
    mark = w.tick
    box.run(4.0)
    assert contains(decode(w.co.line("1/1").recorder.heard(mark)[0]), tts(box, "工号一零零一为您服务")) > 0.9
    talk(box, "1/1", "8002")

    w.co.call("1/2", CALLERS["1/2"])
    box.run_until(lambda: a2.ringing, 10, "1004 at 8005 ringing")
    a2.off_hook()
    box.run(4.0)
    talk(box, "1/2", "8005")

    w.co.call("1/3", CALLERS["1/3"])
    box.run(3.0)
    line3 = w.co.line("1/3")
    mark = w.tick
    box.run(4.0)
    music = decode(line3.recorder.heard(mark)[0])
    spectrum = np.abs(np.fft.rfft(music.astype(float)))
    freqs = np.fft.rfftfreq(len(music), 1 / 8000)
    top = sorted(freqs[np.argsort(spectrum)[-40:]])
    for note in (523.25, 659.25, 783.99):  # the hold music's notes
        assert any(abs(f - note) < 8 for f in top), f"{note} Hz missing from the hold music"
    mark = w.tick
    box.run(30.0)  # the first announcement at 30 s
    heard = decode(line3.recorder.heard(mark)[0])
    assert contains(heard, tts(box, "您现在排在第一位")[:8000]) > 0.9
    assert not a1.ringing and not a2.ringing

    w.co.line("1/1").hangup()  # caller 1 is done: agent 1001 goes to wrap-up (10 s)
    box.run_until(lambda: agent_state(box, "1001") == "wrap_up", 5, "wrap-up")
    a1.on_hook()
    box.run(8.0)
    assert not a1.ringing, "no call during wrap-up"
    box.run_until(lambda: a1.ringing, 5, "1001 ringing for the waiting caller after wrap-up")
    a1.off_hook()
    box.run(4.0)
    talk(box, "1/3", "8002")

    for port, ext in (("1/2", "8005"), ("1/3", "8002")):
        w.co.line(port).hangup()
        box.run(1.0)
        w.phone(ext).on_hook()
    box.run(2.0)
    assert not box.engine.calls.calls
    assert box.acd is not None and not box.acd.acd.invariant_errors()
    stats = box.acd.acd.snapshot(box.acd.now())["stats"]["today"]["queues"]["domestic"]
    assert (stats["offered"], stats["answered"], stats["abandoned"], stats["overflowed"]) == (3, 3, 0, 0)
    assert 40 < stats["longest_wait_s"] < 60, (stats, box.cdrs())  # the third caller's wait
    agents = box.acd.acd.snapshot(box.acd.now())["stats"]["today"]["agents"]
    assert agents["1001"]["answered"] == 2 and agents["1004"]["answered"] == 1
    cdrs = {c["caller"]: c for c in box.cdrs()}
    assert cdrs[CALLERS["1/3"]]["queue"] == "domestic" and cdrs[CALLERS["1/3"]]["agent"] == "1001"
    assert 40 < cdrs[CALLERS["1/3"]]["wait_s"] < 60
    assert cdrs[CALLERS["1/1"]]["dst"] == "8002" and cdrs[CALLERS["1/2"]]["agent"] == "1004"


def talk(box: Box, port: str, ext: str) -> None:
    """Both ways: a tone from the caller reaches the agent and one from the agent reaches the caller."""
    w = box.world
    line, phone = w.co.line(port), w.phone(ext)
    line.party.tone(1000.0)
    phone.mouth.tone(600.0)
    box.run(0.3)
    mark = w.tick
    box.run(1.0)
    assert tone_frequency(box.heard(ext, mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(600.0, rel=0.02)
    line.party.silence()
    phone.mouth.silence()


def call_in(box: Box, port: str, number: str) -> None:
    box.world.co.call(port, number)
    box.run_until(lambda: any(c.a.port == port and c.queue for c in box.engine.calls.calls.values()), 10,
                  f"the call on {port} queued")


def serve(box: Box, ext: str, port: str) -> None:
    """``ext`` is ringing: answer, check the audio both ways, then the caller hangs up and the agent too."""
    phone = box.world.phone(ext)
    box.run_until(lambda: phone.ringing, 20, f"{ext} ringing")
    phone.off_hook()
    box.run(4.0)
    talk(box, port, ext)
    box.world.co.line(port).hangup()
    box.run(1.0)
    phone.on_hook()
    box.run(0.5)


def test_the_acd_clock_is_the_wall_clock_on_a_board_that_has_run_for_an_hour(tmp_path: Path) -> None:
    """The board's tick count does not start at 0 when the daemon (re)starts: the ACD's clock (stats
    intervals, "today", time-of-day rules, waits) must still read the epoch, not the epoch + the board's uptime."""
    world = SimWorld(load_sim_config())
    world.tick = 180_000  # an hour of 20 ms ticks before the daemon started
    box = acd_box(tmp_path, world=world, epoch=1_795_396_500.0)
    assert box.acd is not None
    box.run(10.0)
    assert box.acd.now() == pytest.approx(1_795_396_510.0, abs=0.5)
    assert box.acd.acd.stats.current.start == 1_795_396_500.0  # 09:15 China time: the interval just begun


def test_a_returning_caller_reaches_the_agent_who_served_them(tmp_path: Path) -> None:
    box = acd_box(tmp_path)
    login(box, "8005", "1004", AGENT_PINS["1004"])
    call_in(box, "1/1", "13911112222")
    serve(box, "8005", "1/1")
    login(box, "8002", "1001", AGENT_PINS["1001"])  # 1001 is now the longest idle (1004 is in wrap-up)
    box.run(12.0)
    assert agent_state(box, "1004") == "idle"
    call_in(box, "1/2", "13911112222")  # the same customer again: sticky to 1004
    box.run_until(lambda: box.world.phone("8005").ringing, 5, "1004's phone")
    assert not box.world.phone("8002").ringing
    serve(box, "8005", "1/2")
    box.run(12.0)
    call_in(box, "1/3", "13700000000")  # a new caller: longest idle (1001)
    box.run_until(lambda: box.world.phone("8002").ringing, 5, "1001's phone")
    assert box.acd is not None and box.acd.acd.customers.get("13911112222").last_agent == "1004"


def test_a_vip_overtakes_waiting_callers(tmp_path: Path) -> None:
    box = acd_box(tmp_path)
    assert box.acd is not None
    box.acd.acd.customers.create("13988889999", name="金卡客户", level=2)
    login(box, "8002", "1001", AGENT_PINS["1001"])
    call_in(box, "1/1", "13800000001")
    a1 = box.world.phone("8002")
    box.run_until(lambda: a1.ringing, 10, "ringing")
    a1.off_hook()
    box.run(4.0)
    call_in(box, "1/2", "13800000002")  # waits
    box.run(5.0)
    call_in(box, "1/3", "13988889999")  # a VIP, later
    box.run(2.0)
    snap = box.acd.acd.snapshot(box.acd.now())["queues"]["domestic"]["calls"]
    assert [c["caller"] for c in snap] == ["13988889999", "13800000002"]
    pops = [d for k, d in box.events if k == "call.queued" and d["caller"] == "13988889999"]
    assert pops and pops[0]["customer"]["name"] == "金卡客户"
    box.world.co.line("1/1").hangup()
    box.run(1.0)
    a1.on_hook()
    box.run_until(lambda: a1.ringing, 15, "the agent rung after wrap-up")
    box.run_until(lambda: a1.shown_caller_id is not None, 8, "caller ID on the agent's display")
    assert a1.shown_caller_id.number == "13988889999"
    a1.off_hook()
    box.run(4.0)
    talk(box, "1/3", "8002")


def test_a_caller_who_waits_too_long_overflows_to_voicemail(tmp_path: Path) -> None:
    box = acd_box(tmp_path, {"max_wait_s": "20"})
    assert box.ivr is not None
    call_in(box, "1/1", "13800000001")
    line = box.world.co.line("1/1")
    box.run(21.0)
    assert any(k == "call.overflow" for k, _ in box.events)
    box.run(1.0)  # the beep
    line.party.tone(700.0, -15.0)
    box.run(3.0)
    line.party.silence()
    line.hangup()
    box.run_until(lambda: box.ivr.voicemail.counts("queue:general")[0] == 1, 10, "the message stored")
    (cdr,) = box.cdrs()
    assert cdr["queue"] == "domestic" and 19 < cdr["wait_s"] < 23 and cdr["agent"] is None
    assert box.acd is not None
    q = box.acd.acd.snapshot(box.acd.now())["stats"]["today"]["queues"]["domestic"]
    assert (q["offered"], q["overflowed"], q["answered"]) == (1, 1, 0)


def test_a_callback_keeps_its_place_and_is_dialled_back(tmp_path: Path) -> None:
    box = acd_box(tmp_path, {"max_wait_s": "15", "overflow": '"callback"'})
    w = box.world
    w.co.scenarios["13800000001"] = Scenario("answer", after_s=2.0)
    call_in(box, "1/1", "13800000001")
    line = w.co.line("1/1")
    mark = w.tick
    box.run(21.0)
    assert contains(decode(line.recorder.heard(mark)[0]), tts(box, CALLBACK_OFFER_TEXT)[8000:24000]) > 0.9
    line.party.dial("1")
    box.run_until(lambda: not box.engine.calls.calls, 10, "the caller released after the goodbye")
    assert box.acd is not None
    snap = box.acd.acd.snapshot(box.acd.now())["queues"]["domestic"]
    assert snap["callbacks"] == 1
    login(box, "8002", "1001", AGENT_PINS["1001"])
    agent = w.phone("8002")
    box.run_until(lambda: agent.ringing, 10, "the agent rung for the callback")
    box.run_until(lambda: agent.shown_caller_id is not None, 8, "caller ID on the agent's display")
    assert agent.shown_caller_id.number == "13800000001"
    agent.off_hook()
    box.run_until(lambda: any(ln.call and ln.call.digits == "13800000001" for ln in w.co.lines.values()), 20,
                  "the customer's number dialled")
    out = next(ln for ln in w.co.lines.values() if ln.call and ln.call.digits == "13800000001")
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 10, "the customer answers")
    box.run(0.5)
    talk(box, out.id, "8002")
    agent.on_hook()
    box.run(1.0)
    assert agent_state(box, "1001") == "wrap_up"
    dial_back = [c for c in box.cdrs() if c["direction"] == "outbound"]
    assert dial_back and dial_back[0]["called"] == "13800000001" and dial_back[0]["queue"] == "domestic"
    assert (dial_back[0]["dialled"], dial_back[0]["number_class"], dial_back[0]["paid_by"]) == (
        "13800000001", "mobile", "extension 8002")  # checked against the agent's class of service


def test_a_callback_abroad_is_refused_by_the_agent_s_class_of_service(tmp_path: Path) -> None:
    box = acd_box(tmp_path, {"max_wait_s": "15", "overflow": '"callback"'})
    w = box.world
    call_in(box, "1/1", "00442071234567")  # a caller from abroad asks to be called back
    box.run(21.0)
    w.co.line("1/1").party.dial("1")
    box.run_until(lambda: not box.engine.calls.calls, 10, "the caller released after the goodbye")
    login(box, "8002", "1001", AGENT_PINS["1001"])
    agent = w.phone("8002")
    box.run_until(lambda: agent.ringing, 10, "the agent rung for the callback")
    agent.off_hook()
    box.run_until(lambda: any(k == "call.denied" for k, _ in box.events), 10, "the refusal")
    mark = w.tick
    box.run(2.0)
    assert tone_frequency(box.heard("8002", mark)) == pytest.approx(450.0, abs=5)  # congestion
    assert not any(c.direction == "out" for ln in w.co.lines.values() for c in ln.history)
    (denied,) = [c for c in box.cdrs() if c["direction"] == "outbound"]
    assert (denied["dialled"], denied["number_class"], denied["paid_by"], denied["denied"]) == (
        "00442071234567", "international", "extension 8002", "class")


def test_a_busy_customer_is_dialled_again_after_the_retry_time(tmp_path: Path) -> None:
    box = acd_box(tmp_path, {"max_wait_s": "15", "overflow": '"callback"', "callback_retry_s": "30"})
    w = box.world
    w.co.scenarios["13800000001"] = Scenario("busy", after_s=1.0)
    call_in(box, "1/1", "13800000001")
    box.run(21.0)
    w.co.line("1/1").party.dial("1")
    box.run_until(lambda: not box.engine.calls.calls, 10, "the caller released after the goodbye")
    login(box, "8002", "1001", AGENT_PINS["1001"])
    agent = w.phone("8002")
    box.run_until(lambda: agent.ringing, 10, "the agent rung for the callback")
    agent.off_hook()
    box.run_until(lambda: any(k == "callback.failed" for k, _ in box.events), 30, "the busy customer")
    failed = next(d for k, d in box.events if k == "callback.failed")
    assert (failed["attempts"], failed["number"]) == (1, "13800000001") and failed["retry_at"] is not None
    assert agent_state(box, "1001") == "idle"  # free for other calls at once
    agent.on_hook()
    w.co.scenarios["13800000001"] = Scenario("answer", after_s=1.0)
    box.run(20.0)
    assert not agent.ringing  # the callback waits for its retry time
    box.run_until(lambda: agent.ringing, 15, "the agent rung for the second try")
    agent.off_hook()
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 20, "the customer answers")
    out = next(ln for ln in w.co.lines.values() if ln.call and ln.call.digits == "13800000001")
    box.run(0.5)
    talk(box, out.id, "8002")
    dial_backs = [c for c in box.cdrs() if c["direction"] == "outbound"]
    assert [c["called"] for c in dial_backs] == ["13800000001"] and dial_backs[0]["disposition"] == "BUSY"


def test_an_agent_who_does_not_answer_is_skipped_and_stays_available(tmp_path: Path) -> None:
    box = acd_box(tmp_path, {"ring_timeout_s": "10"})
    login(box, "8002", "1001", AGENT_PINS["1001"])
    login(box, "8005", "1004", AGENT_PINS["1004"])
    call_in(box, "1/1", "13800000001")
    a1, a2 = box.world.phone("8002"), box.world.phone("8005")
    box.run_until(lambda: a1.ringing, 10, "the first agent rung")
    box.run(11.0)  # no answer
    assert not a1.ringing
    box.run_until(lambda: a2.ringing, 5, "the call moved on to the other agent")
    assert agent_state(box, "1001") == "idle"  # skipped for this call, still available
    a2.off_hook()
    box.run(4.0)
    talk(box, "1/1", "8005")
    call_in(box, "1/2", "13800000002")
    box.run_until(lambda: a1.ringing, 10, "1001 offered the next call")
    a1.off_hook()
    box.run(4.0)
    talk(box, "1/2", "8002")
    assert box.acd is not None and not box.acd.acd.invariant_errors()
    agents = box.acd.acd.snapshot(box.acd.now())["stats"]["today"]["agents"]
    assert agents["1001"]["missed"] == 1 and agents["1001"]["answered"] == 1


def test_an_agent_whose_phone_is_off_hook_is_not_offered_calls(tmp_path: Path) -> None:
    box = acd_box(tmp_path)
    login(box, "8002", "1001", AGENT_PINS["1001"])
    login(box, "8005", "1004", AGENT_PINS["1004"])
    busy = box.world.phone("8002")
    busy.off_hook()  # 1001 (longest idle) picks up the phone to dial
    box.run(0.5)
    call_in(box, "1/1", "13800000001")
    box.run_until(lambda: box.world.phone("8005").ringing, 10, "the other agent rung")
    assert box.acd is not None
    agents = box.acd.acd.snapshot(box.acd.now())["stats"]["today"]["agents"]
    assert agents["1001"]["missed"] == 0  # never offered: the phone was known to be in use
    busy.on_hook()
    box.run(1.0)
    assert not box.acd.acd.invariant_errors()


def test_agent_feature_codes_pause_resume_logout_and_a_wrong_pin(tmp_path: Path) -> None:
    box = acd_box(tmp_path)
    phone = box.world.phone("8002")
    phone.off_hook()
    box.run(0.5)
    phone.dial("*211001#9999#")
    assert box.acd is not None
    box.run_until(lambda: box.acd.replying, 5, "the reply")
    mark = box.world.tick
    box.run(3.0)
    assert contains(decode(box.heard("8002", mark)), tts(box, "操作失败")) > 0.9
    assert agent_state(box, "1001") == "logged_out"
    phone.on_hook()
    box.run(1.0)
    login(box, "8002", "1001", AGENT_PINS["1001"])
    for code, state in (("*231#", "paused"), ("*24", "idle"), ("*22", "logged_out")):
        phone.off_hook()
        box.run(0.5)
        phone.dial(code)
        box.run_until(lambda state=state: agent_state(box, "1001") == state, 8, f"{code} → {state}")
        box.run(3.0)
        phone.on_hook()
        box.run(1.0)
    assert not box.cdrs(), "feature codes leave no CDR"


def test_ivr_to_queue_screen_pop_carries_the_customer_and_the_keys(tmp_path: Path) -> None:
    """Through the default flow (1 routes, 1 domestic) into the domestic queue; the agent's screen pop
    (call.ringing) names the queue, the customer record and the keys the caller pressed."""
    import datetime as dt

    opened = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Shanghai
    text = default_config_text(ivr_lines=True).replace('state_dir = "/var/lib/callbox"',
                                                      f'state_dir = "{tmp_path / "state"}"')
    path = tmp_path / "callbox.toml"
    path.write_text(text, encoding="utf-8")
    box = Box(path, acd=True, wall=lambda: opened)
    box.run(0.2)
    assert box.acd is not None
    box.acd.acd.customers.create("13800138000", name="张三", level=0, notes="常客")
    login(box, "8002", "1001", AGENT_PINS["1001"])
    box.world.co.call("1/1", "13800138000")
    box.run_until(lambda: box.ivr.legs, 10, "the IVR to answer")
    box.run(2.0)
    box.world.co.line("1/1").party.dial("1")
    box.run(4.0)
    box.world.co.line("1/1").party.dial("1")
    agent = box.world.phone("8002")
    box.run_until(lambda: agent.ringing, 60, "the domestic agent rung")
    pop = [d for k, d in box.events if k == "call.ringing" and d.get("queue") == "domestic"][-1]
    assert pop["agent"] == "1001" and pop["extension"] == "8002" and pop["caller"] == "13800138000"
    assert pop["customer"]["name"] == "张三" and pop["customer"]["notes"] == "常客"
    assert pop["ivr"]["keys"] == "11" and pop["ivr"]["flow"] == "travel-agency"
    agent.off_hook()
    box.run(4.0)
    talk(box, "1/1", "8002")
    box.world.co.line("1/1").hangup()
    box.run(1.0)
    agent.on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert cdr["ivr_keys"] == "11" and cdr["queue"] == "domestic" and cdr["agent"] == "1001"


def test_an_agent_who_transfers_the_call_goes_to_wrap_up_while_the_call_goes_on(tmp_path: Path) -> None:
    from daemon.features.extension import ExtensionFeatures

    box = acd_box(tmp_path)
    ExtensionFeatures(box.engine)  # hook flash, as the daemon attaches it
    login(box, "8002", "1001", AGENT_PINS["1001"])
    call_in(box, "1/1", "13800000001")
    agent, third = box.world.phone("8002"), box.world.phone("8008")
    box.run_until(lambda: agent.ringing, 10, "ringing")
    agent.off_hook()
    box.run(4.0)
    agent.flash()
    box.run(1.0)
    agent.dial("8008")
    box.run_until(lambda: third.ringing, 5, "the third party rung")
    third.off_hook()
    box.run(1.0)
    agent.on_hook()  # attended transfer
    box.run_until(lambda: agent_state(box, "1001") == "wrap_up", 3, "the agent in wrap-up")
    talk(box, "1/1", "8008")
    box.world.co.line("1/1").hangup()
    box.run(1.0)
    third.on_hook()
    box.run(1.0)
    assert box.acd is not None and not box.acd.acd.invariant_errors()
    assert box.acd.acd.snapshot(box.acd.now())["stats"]["today"]["agents"]["1001"]["answered"] == 1


def test_wrong_pins_at_a_phone_lock_the_agent_and_the_phone_until_a_supervisor_unlocks(tmp_path: Path) -> None:
    """``*21`` with wrong PINs from one phone (the box's default limits: 5, with a growing pause): each
    hears the refusal; then the right PIN is refused too, in words, and the agent stays logged out;
    every failure is audited and published; a supervisor's unlock lets the right PIN in again."""
    box = acd_box(tmp_path)
    audited: list[dict] = []
    box.engine.pins.audit = audited.append
    phone = box.world.phone("8004")

    def try_pin(pin: str) -> np.ndarray:
        phone.off_hook()
        box.run(0.5)
        phone.dial(f"*211003#{pin}#")
        box.run_until(lambda: box.acd.replying, 5, "the reply")
        mark = box.world.tick
        box.run(7.0)
        phone.on_hook()
        box.run(8.0)  # past the growing pause (0, 1, 2, 4 s) after each failure
        return decode(box.heard("8004", mark))

    for _ in range(5):
        assert contains(try_pin("9999"), tts(box, "操作失败")) > 0.9
    heard = try_pin(AGENT_PINS["1003"])
    assert contains(heard, tts(box, "密码错误次数过多，已锁定，请联系主管")) > 0.9
    assert contains(heard, tts(box, "工号一零零三已登录")) < 0.5 and agent_state(box, "1003") == "logged_out"
    failed = [d for k, d in box.events if k == "pin.failed"]
    assert [(d["subject"], d["source"], d["via"]) for d in failed] == [("agent:1003", "port:2/4", "phone")] * 5
    assert sorted(d["key"] for k, d in box.events if k == "pin.locked") == ["agent:1003", "port:2/4"]
    assert [a["who"] for a in audited] == ["port:2/4"] * 5 and "9999" not in repr(audited + failed)
    assert box.engine.pins.unlock("agent:1003", "supervisor") and box.engine.pins.unlock("port:2/4", "supervisor")
    assert contains(try_pin(AGENT_PINS["1003"]), tts(box, "工号一零零三已登录")) > 0.9
    assert agent_state(box, "1003") == "idle"
