"""The IVR answering real calls, in one process on a virtual clock: the simulated central office calls
PSTN-1, the default travel-agency flow answers with real espeak-ng prompts, the caller presses keys
as DTMF tones through the line, and what the caller hears is checked against each prompt's own
audio (cross-correlation). Transfers ring the agents; voicemail keeps messages and lights the
stutter dial tone."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from ivr.events import TtsText
from ivr.mailbox import PROMPTS
from tests.support.audio import active_segment, contains, decode, tone_frequency
from tests.support.inprocess import Box
from tests.support.processes import CACHE_DIR, VOICEMAIL_PIN, default_config_text
from tests.support.world import World

OPEN = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)  # Monday 10:00 in Shanghai: office open
CLOSED = dt.datetime(2026, 11, 22, 2, 0, tzinfo=dt.UTC)  # Sunday: closed
LINE = "1/1"


def make_box(wall: dt.datetime) -> Box:
    box = Box(ivr=True, wall=lambda: wall)
    box.run(0.2)
    return box


def prompt_audio(box: Box, name: str) -> np.ndarray:
    flow = box.ivr.flows["travel-agency"]
    p = flow.prompts[name]
    alaw = box.ivr.library.get(TtsText(p.tts, p.voice or flow.voice)).result(timeout=60)
    return decode(alaw.tobytes())


def caller_heard(box: Box, since: int) -> np.ndarray:
    return decode(box.world.co.line(LINE).recorder.heard(since)[0])


def call_in(box: Box) -> None:
    box.world.co.call(LINE, "13800138000")
    box.run_until(lambda: box.ivr.legs, 10, "the IVR to answer")


def hang_up(box: Box) -> None:
    box.world.co.line(LINE).hangup()
    box.run_until(lambda: box.world.co.line(LINE).state_dict()["hook"] == "on", 5, "the box to release the line")
    box.run(0.2)


def press(box: Box, keys: str) -> None:
    box.world.co.line(LINE).party.dial(keys)
    box.run(0.2 * len(keys) + 0.2)


def test_welcome_then_0_reaches_the_operator_with_the_ivr_path_in_the_cdr() -> None:
    box = make_box(OPEN)
    start = box.world.tick
    call_in(box)
    welcome = prompt_audio(box, "welcome")
    box.run(len(welcome) / 8000 + 0.5)
    assert contains(caller_heard(box, start), welcome) > 0.9  # the caller heard the welcome menu
    press(box, "0")
    operator = box.world.phone("8001")
    box.run_until(lambda: operator.ringing, 15, "the operator's phone")
    box.run_until(lambda: operator.shown_caller_id is not None, 8, "caller ID at the operator")
    assert operator.shown_caller_id.number == "13800138000"
    operator.off_hook()
    box.run(0.5)
    line = box.world.co.line(LINE)
    line.party.tone(1000.0)
    operator.mouth.tone(400.0)
    box.run(0.4)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(400.0, rel=0.02)
    line.party.silence()
    line.hangup()
    box.run_until(lambda: not box.engine.calls.calls, 3, "the clear")
    operator.on_hook()
    box.run(0.5)
    (cdr,) = box.cdrs()
    assert cdr["dst"] == "8001" and cdr["ivr_keys"] == "0" and "operator" in cdr["ivr_path"]
    assert cdr["ivr_flow"] == "travel-agency" and cdr["disposition"] == "ANSWERED"


def test_wrong_key_replays_invalid_then_menu_and_star_goes_back() -> None:
    box = make_box(OPEN)
    call_in(box)
    welcome, invalid, routes = (prompt_audio(box, n) for n in ("welcome", "invalid", "routes_menu"))
    box.run(1.0)
    mark = box.world.tick
    press(box, "7")  # not a choice (barges in)
    box.run((len(invalid) + len(welcome)) / 8000 + 0.5)
    heard = caller_heard(box, mark)
    assert contains(heard, invalid) > 0.9 and contains(heard, welcome) > 0.9
    mark = box.world.tick
    press(box, "1")
    box.run(len(routes) / 8000 + 0.3)
    assert contains(caller_heard(box, mark), routes) > 0.9
    mark = box.world.tick
    press(box, "*")
    box.run(len(welcome) / 8000 + 0.3)
    assert contains(caller_heard(box, mark), welcome) > 0.9  # back to the main menu
    hang_up(box)
    assert not box.ivr.legs and not box.engine.calls.calls


def test_tour_lookup_answered_by_an_integrator_and_timing_out() -> None:
    box = make_box(OPEN)
    box.integrator = True
    call_in(box)
    box.run(1.0)
    press(box, "13")
    box.run(1.5)
    press(box, "123456#")
    box.run_until(lambda: any(k == "ivr.lookup" for k, _ in box.events), 10, "the lookup event")
    (req,) = [d for k, d in box.events if k == "ivr.lookup"]
    assert req["name"] == "tour" and req["params"] == {"code": "123456"} and req["caller"] == "13800138000"
    # the answer is read with TTS made on a worker thread in real time while this clock is virtual:
    # make it first, so the caller's virtual seconds are not spent waiting for it
    price = decode(box.ivr.library.get(TtsText("一万两千八百八十元整", "cmn-latn-pinyin")).result(60).tobytes())
    box.ivr.library.get(TtsText("二零二六年十二月一日 星期二", "cmn-latn-pinyin")).result(60)
    mark = box.world.tick
    assert box.ivr.lookup_reply(req["request"], {"price": "12880", "date": "2026-12-01"}, None)
    box.run(8.0)
    heard = caller_heard(box, mark)
    assert contains(heard, prompt_audio(box, "tour_price")) > 0.9 and contains(heard, price) > 0.9
    hang_up(box)

    box.events.clear()
    call_in(box)  # the integrator never answers: after the timeout the flow's fallback takes over
    box.run(1.0)
    press(box, "13")
    box.run(1.5)
    mark = box.world.tick
    press(box, "123456#")
    down = prompt_audio(box, "lookup_down")
    box.run(3.0 + len(down) / 8000 + 2.0)  # the lookup's 3 s timeout, then the apology
    assert contains(caller_heard(box, mark), down) > 0.9
    box.run_until(lambda: box.world.phone("8001").ringing, 10, "the operator after the failed lookup")
    hang_up(box)
    assert not box.world.phone("8001").ringing


def test_after_hours_voicemail_is_kept_and_lights_the_stutter_dial_tone() -> None:
    box = make_box(CLOSED)
    start = box.world.tick
    call_in(box)
    closed = prompt_audio(box, "closed")
    box.run(len(closed) / 8000 + 1.0)
    heard = caller_heard(box, start)
    assert contains(heard, closed) > 0.9
    assert tone_frequency(box.world.co.line(LINE).recorder.heard(box.world.tick - 40)[0]) in (0.0, pytest.approx(
        1000.0, rel=0.02))  # the beep (or just after it)
    line = box.world.co.line(LINE)
    line.party.tone(700.0, -12.0)  # the caller "speaks" for 3 s, then presses #
    box.run(3.0)
    line.party.silence()
    line.party.dial("#")
    box.run_until(lambda: any(k == "voicemail.message" for k, _ in box.events), 10, "the message saved")
    box.run_until(lambda: not box.engine.calls.calls, 15, "the goodbye and hang-up")
    vm = box.ivr.voicemail
    (msg,) = vm.messages("queue:general")
    assert msg.caller == "13800138000" and 2.5 < msg.seconds < 4.5
    assert tone_frequency(vm.audio(msg).tobytes()) == pytest.approx(700.0, rel=0.02)  # what the caller said
    assert [d["new"] for k, d in box.events if k == "voicemail.changed" and d["box"] == "queue:general"][-1] == 1
    operator = box.world.phone("8001")  # notify_extension of the general box
    operator.off_hook()
    box.run(0.3)
    mark = box.world.tick
    box.run(1.2)
    heard = box.heard("8001", mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard)[1] > 0  # broken up: stutter dial tone, not the steady dial tone
    operator.on_hook()
    box.run(1.0)
    cdrs = box.cdrs()
    assert len(cdrs) == 1, cdrs
    assert "after_hours" in cdrs[0]["ivr_path"]


def _leave_message(box: Box, seconds: float = 3.0) -> None:
    call_in(box)
    box.run(len(prompt_audio(box, "closed")) / 8000 + 1.0)
    line = box.world.co.line(LINE)
    line.party.tone(700.0, -12.0)
    box.run(seconds)
    line.party.silence()
    line.party.dial("#")
    box.run_until(lambda: not box.engine.calls.calls, 20, "the message saved and the call ended")


def _dial(box: Box, ext: str, keys: str, wait: float = 0.4) -> None:
    box.world.phone(ext).dial(keys)
    box.run(0.2 * len(keys) + wait)


def test_voicemail_is_retrieved_by_code_and_pin_and_deleted() -> None:
    box = make_box(CLOSED)
    _leave_message(box)
    agent = box.world.phone("8001")
    agent.off_hook()
    box.run(0.5)
    _dial(box, "8001", "*97")  # the general box's code
    box.run(4.0)  # "please enter the PIN"
    _dial(box, "8001", "2468#")
    box.run(6.0)  # the counts and the main menu
    mark = box.world.tick
    _dial(box, "8001", "1")  # listen to new messages: when it was left, then the message
    box.run(18.0)
    heard = decode(box.heard("8001", mark))
    msg_audio = decode(box.ivr.voicemail.audio(box.ivr.voicemail.messages("queue:general")[0]).tobytes())
    legs = list(box.ivr.legs.values())
    said = active_segment(msg_audio)[:8000]  # one second of what the caller said
    assert len(said) == 8000 and contains(heard, said) > 0.9, legs[0].session.log if legs else "no leg"
    _dial(box, "8001", "3", wait=3.0)  # delete
    box.run_until(lambda: box.ivr.voicemail.counts("queue:general") == (0, 0), 10, "the message deleted")
    agent.on_hook()
    box.run(1.5)
    agent.off_hook()  # no more new messages: the steady dial tone again
    box.run(0.3)
    mark = box.world.tick
    box.run(1.2)
    assert World.cadence_ms(box.heard("8001", mark)) == (0, 0)
    agent.on_hook()
    box.run(0.5)


def test_wrong_pins_lock_the_box() -> None:
    box = make_box(CLOSED)
    _leave_message(box, 1.0)
    agent = box.world.phone("8002")
    agent.off_hook()
    box.run(0.5)
    _dial(box, "8002", "*97")
    box.run(4.0)
    for _ in range(3):
        _dial(box, "8002", "1111#")
        box.run(4.0)
    result = box.ivr.voicemail.check_pin("queue:general", "2468")
    assert result.locked and not result.ok  # even the right PIN is refused now
    box.run(6.0)
    assert not box.engine.calls.calls  # the dialogue said goodbye and hung up
    agent.on_hook()
    box.run(0.5)


def test_wrong_voicemail_pins_are_audited_and_lock_the_box_and_the_phone() -> None:
    """Wrong PINs at the general box from one phone: each audited and published; the box's own
    lockout after three; lifted, two more make five from this phone, and the PIN guard locks the
    phone and the box: the right PIN then hears the box is locked, the store never asked."""
    box = make_box(CLOSED)
    _leave_message(box, 1.0)
    audited: list[dict] = []
    box.engine.pins.audit = audited.append
    phone = box.world.phone("8002")

    def session(*pins: str) -> int:
        phone.off_hook()
        box.run(0.5)
        _dial(box, "8002", "*97")
        box.run(4.0)
        for pin in pins:
            mark = box.world.tick
            _dial(box, "8002", f"{pin}#")
            box.run(5.0)  # past the guard's pause after each failure (0, 1, 2, 4 s)
        return mark

    session("1111", "1112", "1113")  # the third locks the box (the store's own lockout)
    phone.on_hook()
    box.run(1.0)
    box.ivr.voicemail.unlock("queue:general")
    mark = session("1114", "1115", VOICEMAIL_PIN)
    heard = decode(box.heard("8002", mark))
    locked = decode(box.ivr.library.get(TtsText(PROMPTS["locked"], box.ivr.voice)).result(timeout=60).tobytes())
    assert contains(heard, locked[:16000]) > 0.9
    failed = [d for k, d in box.events if k == "pin.failed"]
    assert [(d["subject"], d["source"], d["via"]) for d in failed] == [
        ("voicemail:queue:general", "port:2/2", "phone")] * 5
    assert sorted(d["key"] for k, d in box.events if k == "pin.locked") == ["port:2/2", "voicemail:queue:general"]
    assert [a["who"] for a in audited] == ["port:2/2"] * 5
    assert not any(pin in repr(audited + failed) for pin in ("1111", "1115", VOICEMAIL_PIN))
    assert box.ivr.voicemail.check_pin("queue:general", VOICEMAIL_PIN).ok  # the store itself was not locked
    phone.on_hook()
    box.run(0.5)


def test_a_greeting_is_recorded_after_the_beep() -> None:
    box = make_box(CLOSED)
    phone = box.world.phone("8002")
    phone.off_hook()
    box.run(0.5)
    _dial(box, "8002", "*97")
    box.run(4.0)
    _dial(box, "8002", "2468#")
    box.run(6.0)
    _dial(box, "8002", "3")  # record the greeting
    box.run(6.0)  # its prompt, then the beep
    phone.mouth.tone(900.0, -12.0)
    box.run(2.0)
    phone.mouth.silence()
    _dial(box, "8002", "#", wait=2.0)
    box.run_until(lambda: box.ivr.voicemail.greeting("queue:general") is not None, 10, "the greeting stored")
    greeting = box.ivr.voicemail.greeting("queue:general").read_bytes()
    assert tone_frequency(greeting[44:]) == pytest.approx(900.0, rel=0.02)
    assert 1.5 < len(active_segment(decode(greeting[44:]))) / 8000 < 2.5  # the 2 s said, not the beep
    phone.on_hook()
    box.run(0.5)
    start = box.world.tick  # the next caller hears the greeting before the beep
    call_in(box)
    box.run(len(prompt_audio(box, "closed")) / 8000 + 3.5)
    heard = caller_heard(box, start)
    assert contains(heard, decode(greeting[44:])[4000:12000]) > 0.9


def test_a_flow_can_send_a_caller_to_an_outside_number() -> None:
    from sim.central_office import Scenario

    box = make_box(OPEN)
    box.world.co.scenarios["12301"] = Scenario("answer", after_s=1.0)
    call_in(box)
    box.run(1.0)
    (leg,) = box.ivr.legs.values()
    leg.transfer("number", "12301", {"flow": "travel-agency", "path": ["main"], "keys": ""})  # a transfer node
    box.run_until(lambda: any(ln.call and ln.call.digits == "12301" for ln in box.world.co.lines.values()
                              if ln.id != LINE), 10, "the outside number dialled on another line")
    far = next(ln for ln in box.world.co.lines.values() if ln.id != LINE and ln.call and ln.call.digits == "12301")
    box.run_until(lambda: far.state_dict()["state"] == "connected", 10, "the far end to answer")
    box.run(6.0)  # answer detection on an analog line: the end of ringback
    caller = box.world.co.line(LINE)
    caller.party.tone(1000.0)
    far.party.tone(400.0)
    box.run(0.4)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(far.recorder.heard(mark)[0]) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(caller.recorder.heard(mark)[0]) == pytest.approx(400.0, rel=0.02)
    caller.party.silence()
    hang_up(box)
    box.run_until(lambda: far.state_dict()["hook"] == "on", 5, "the outside leg released too")
    (cdr,) = box.cdrs()
    assert cdr["dst_port"] == far.id and cdr["disposition"] == "ANSWERED"
    assert (cdr["dialled"], cdr["number_class"], cdr["paid_by"]) == ("12301", "local", "trunk PSTN-1")


def test_a_flow_s_transfer_abroad_is_refused_by_the_line_s_class_of_service() -> None:
    box = make_box(OPEN)
    call_in(box)
    box.run(1.0)
    (leg,) = box.ivr.legs.values()
    leg.transfer("number", "00442071234567", {"flow": "travel-agency", "path": ["main"], "keys": ""})
    box.run(3.0)
    (denied,) = [d for k, d in box.events if k == "call.denied"]
    assert (denied["number_class"], denied["payer"]) == ("international", "trunk PSTN-1")
    assert all(ln.call is None and not ln.history for ln in box.world.co.lines.values() if ln.id != LINE)
    assert box.ivr.legs  # the caller stays in the flow (its transfer-failed branch)
    hang_up(box)
    (cdr,) = box.cdrs()
    assert (cdr["dialled"], cdr["denied"]) == ("00442071234567", "class")


def test_synthesised_prompts_are_kept_in_the_cache_dir_not_with_the_state(tmp_path) -> None:
    """``[box] cache_dir``: the flow's prompts are made there (a restart finds them), nothing in state_dir."""
    text = default_config_text(ivr_lines=True).replace(f'cache_dir = "{CACHE_DIR}"', f'cache_dir = "{tmp_path / "cache"}"')
    (tmp_path / "callbox.toml").write_text(text.replace('state_dir = "/var/lib/callbox"',
                                                        f'state_dir = "{tmp_path / "state"}"'), encoding="utf-8")
    box = Box(tmp_path / "callbox.toml", ivr=True, wall=lambda: OPEN)
    welcome = box.ivr.flows["travel-agency"].prompts["welcome"]
    assert box.ivr.tts.cached(welcome.tts, welcome.voice or box.ivr.flows["travel-agency"].voice).is_relative_to(
        tmp_path / "cache" / "tts")
    assert not (tmp_path / "state" / "tts").exists()
