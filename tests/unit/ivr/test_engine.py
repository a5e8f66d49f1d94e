"""A caller walks the default travel-agency flow by keys on a virtual clock."""

from __future__ import annotations

import dataclasses
import datetime as dt
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr import say
from ivr.events import HangupRequest, LookupRequest, PromptFile, RecordingDone, StopPlay, TransferRequest
from ivr.flow import CallerList, FlowError
from ivr.flow_config import load_flow, parse_flow
from ivr.validate import validate
from tests.unit.ivr.harness import BEIJING, Call


def write_wav(path: Path, seconds: float = 0.2) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(np.zeros(int(8000 * seconds), dtype=np.int16).tobytes())
    return path


DEFAULT = Path(__file__).resolve().parents[3] / "packaging" / "ivr" / "travel-agency.toml"
MONDAY_10 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=BEIJING)


@pytest.fixture(scope="module")
def flow():
    return load_flow(DEFAULT)


def test_welcome_then_booking(flow):
    c = Call(flow)
    assert c.heard == [(c.text("welcome"),)] and c.listening
    c.wait(1.0)
    c.press("2")
    assert c.last_heard() == (c.text("to_booking"),)
    assert not c.listening
    c.wait(2.0)
    assert c.ended == TransferRequest("queue", "booking")
    s = c.run.summary()
    assert s["path"][:4] == ["screen", "hours", "main", "booking"]
    assert s["keys"] == "2" and s["outcome"] == "transfer queue booking"


def test_key_barges_into_the_prompt(flow):
    c = Call(flow)
    play_id = c.playing.id
    c.wait(0.5)  # mid-prompt
    c.press("1")
    assert StopPlay(play_id) in c.actions
    assert c.last_heard() == (c.text("routes_menu"),)


def test_wrong_key_replays_invalid_then_menu_then_falls_back_to_operator(flow):
    c = Call(flow)
    c.wait(3)
    c.press("7")
    assert c.last_heard() == (c.text("invalid"), c.text("welcome"))
    c.wait(5)
    c.press("9")
    assert c.last_heard() == (c.text("invalid"), c.text("welcome"))
    c.wait(5)
    c.press("#")  # third failure of retries = 3
    assert c.last_heard() == (c.text("to_operator"),)
    c.wait(2)
    assert c.ended == TransferRequest("extension", "8001")
    assert c.run.summary()["keys"] == "79#"


def test_timeout_counts_from_the_end_of_the_prompt(flow):
    c = Call(flow)  # welcome plays 2 s, then 5 s of silence
    c.wait(6.9)
    assert len(c.heard) == 1
    c.wait(0.2)
    assert c.last_heard() == (c.text("no_input"), c.text("welcome"))
    c.wait(4 + 7.1)
    assert len(c.heard) == 3
    c.wait(4 + 7.1)  # third silence: fallback
    assert c.last_heard() == (c.text("to_operator"),)
    assert [s.what for s in c.run.path].count("no key") == 3


def test_submenu_timeout_follows_its_timeout_branch(flow):
    c = Call(flow)
    c.press("1")
    assert c.last_heard() == (c.text("routes_menu"),)
    c.wait(2 + 5.1)
    assert c.last_heard() == (c.text("welcome"),)
    assert c.run.node.name == "main"
    assert any(s.what == "timeout branch" for s in c.run.path)


def test_zero_reaches_operator_from_a_submenu(flow):
    c = Call(flow)
    c.press("1")
    c.press("0")  # routes has no choice 0: the flow's operator key
    c.wait(2)
    assert c.ended == TransferRequest("extension", "8001")
    assert c.run.summary()["path"][-2:] == ["routes", "operator"]


def test_star_goes_back_to_the_previous_menu(flow):
    c = Call(flow)
    c.press("1")
    c.press("*")
    assert c.last_heard() == (c.text("welcome"),) and c.run.node.name == "main"
    c.press("3")
    c.wait(2)
    assert c.ended == TransferRequest("queue", "complaints")
    assert c.run.summary()["keys"] == "1*3"


def test_back_after_returning_to_the_main_menu_by_timeout_is_a_wrong_key(flow):
    c = Call(flow)
    c.press("1")
    c.wait(2 + 5.1)  # routes times out to main
    c.press("*")  # main has no previous menu now
    assert c.last_heard() == (c.text("invalid"), c.text("welcome"))


def test_star_in_the_top_menu_is_a_wrong_key(flow):
    c = Call(flow)
    c.press("*")
    assert c.last_heard() == (c.text("invalid"), c.text("welcome"))


@pytest.mark.parametrize(("when", "node", "prompt", "what"), [
    (dt.datetime(2026, 11, 23, 8, 59, tzinfo=BEIJING), "after_hours", "closed", "closed"),
    (dt.datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING), "main", "welcome", "open"),
    (dt.datetime(2026, 11, 23, 17, 59, tzinfo=BEIJING), "main", "welcome", "open"),
    (dt.datetime(2026, 11, 23, 18, 0, tzinfo=BEIJING), "after_hours", "closed", "closed"),
    (dt.datetime(2026, 11, 28, 11, 30, tzinfo=BEIJING), "main", "welcome", "open"),  # Saturday morning
    (dt.datetime(2026, 11, 28, 14, 0, tzinfo=BEIJING), "after_hours", "closed", "closed"),  # Saturday afternoon
    (dt.datetime(2026, 11, 29, 10, 0, tzinfo=BEIJING), "after_hours", "closed", "closed"),  # Sunday
    (dt.datetime(2026, 10, 1, 10, 0, tzinfo=BEIJING), "holiday", "holiday", "holiday"),  # National Day
    (dt.datetime(2026, 10, 7, 23, 0, tzinfo=BEIJING), "holiday", "holiday", "holiday"),
    (dt.datetime(2026, 10, 10, 15, 0, tzinfo=BEIJING), "main", "welcome", "open"),  # a Saturday worked (调休)
    (dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC), "main", "welcome", "open"),  # 11:00 in Beijing
])
def test_schedule_branches(flow, when, node, prompt, what):
    c = Call(flow, wall=when)
    assert c.heard[0] == (c.text(prompt),)
    assert any(s.node == node and s.enter and s.what.startswith(f"schedule {what}") for s in c.run.path)
    if node != "main":
        c.wait(2)
        assert c.ended == TransferRequest("voicemail", "general")


def test_schedule_reads_the_wall_clock_when_the_node_is_entered(flow):
    # a flow that waits in a menu and then checks the schedule: 17:59:50 at start, 18:00:10 at the check
    text = DEFAULT.read_text(encoding="utf-8").replace('start = "screen"', 'start = "first"') + textwrap.dedent("""
    [nodes.first]
    kind = "play"
    tts = "请稍候"
    next = "hours"
    """)
    f = validate(parse_flow(text, str(DEFAULT)))
    c = Call(f, wall=dt.datetime(2026, 11, 23, 17, 59, 50, tzinfo=BEIJING), prompt_s=20)
    c.wait(20)
    assert c.run.node.name == "after_hours"


def with_lists(flow, black=(), white=(), action="warn"):
    screen = dataclasses.replace(flow.nodes["screen"], blacklist_action=action)
    return dataclasses.replace(flow, lists={"blacklist": CallerList("blacklist", tuple(black)),
                                            "vip": CallerList("vip", tuple(white))},
                               nodes={**flow.nodes, "screen": screen})


def test_blacklisted_caller_is_warned_and_rejected(flow):
    f = with_lists(flow, black=["13800000000", "0755123*"])
    c = Call(f, caller="075512345678")
    assert c.heard == [(c.text("blocked"),)] and not c.listening
    c.wait(2)
    assert c.ended == HangupRequest(21, "blacklisted caller")
    assert c.run.done and c.run.summary()["path"] == ["screen"]


def test_blacklisted_caller_silent_drop(flow):
    c = Call(with_lists(flow, black=["13800000000"], action="drop"), caller="13800000000")
    assert c.heard == [] and c.ended == HangupRequest(21, "blacklisted caller")


def test_whitelisted_caller_skips_the_menu(flow):
    c = Call(with_lists(flow, black=["13800000000"], white=["139*"]), caller="13912345678")
    assert c.heard == [(c.text("to_operator"),)]
    c.wait(2)
    assert c.ended == TransferRequest("extension", "8001")
    assert "main" not in c.run.summary()["path"]


def test_other_callers_pass_the_screen(flow):
    c = Call(with_lists(flow, black=["13800000000"], white=["139*"]), caller="13812345678")
    assert c.heard == [(c.text("welcome"),)]


def walk_to_lookup(flow, code="123456"):
    c = Call(flow)
    c.press("1")
    c.press("3")
    assert c.last_heard() == (c.text("tour_code"),)
    c.press(code)
    return c


def test_lookup_answer_is_read_back_in_mandarin(flow):
    c = walk_to_lookup(flow)
    assert c.lookups == [LookupRequest(c.lookups[0].id, "tour", {"code": "123456"}, 3.0)]
    assert c.last_heard() == (c.text("wait"),)
    c.wait(0.5)
    c.answer_lookup({"price": "12880.00", "date": "2026-12-01"})
    assert c.last_heard() == (c.text("tour_price"), "一万两千八百八十元整")
    c.wait(4)
    assert c.last_heard() == (c.text("tour_date"), "二零二六年十二月一日 星期二")
    c.wait(4)
    assert c.last_heard() == (c.text("tour_menu"),)
    c.press("1")  # hear it again
    assert c.last_heard() == (c.text("tour_price"), "一万两千八百八十元整")
    s = c.run.summary()
    assert s["variables"]["tour_code"] == "123456" and s["variables"]["tour.price"] == "12880.00"
    assert s["keys"] == "131234561"


def test_lookup_timeout_takes_the_fallback_and_ignores_a_late_answer(flow):
    c = walk_to_lookup(flow)  # the lookup started 0.3 s ago
    c.wait(2.6)
    assert c.run.node.name == "find_tour"
    c.wait(0.2)
    assert c.last_heard() == (c.text("lookup_down"),)
    c.answer_lookup({"price": "1", "date": "2026-12-01"})  # too late
    assert c.run.node.name == "lookup_down"
    c.wait(2)
    assert c.last_heard() == (c.text("to_operator"),)
    assert any(s.what == "lookup timed out" for s in c.run.path)


def test_lookup_not_found(flow):
    c = walk_to_lookup(flow)
    c.answer_lookup(None)
    assert c.last_heard() == (c.text("tour_unknown"),)
    c.wait(2)
    assert c.last_heard() == (c.text("routes_menu"),)


def test_lookup_answer_with_a_bad_value_takes_on_error(flow):
    c = walk_to_lookup(flow)
    c.answer_lookup({"price": "ask us", "date": "2026-12-01"})
    assert c.run.node.name == "lookup_down"


def test_collect_terminator_too_few_digits_and_inter_digit_timeout(flow):
    c = Call(flow)
    c.press("13")
    c.press("12#")
    assert c.last_heard() == (c.text("invalid"), c.text("tour_code"))
    c.wait(3)
    c.press("123")
    c.wait(4.1)  # inter-digit timeout with 3 of 6 digits: second failure of 2: fallback
    assert c.last_heard() == (c.text("to_operator"),)


def test_collect_star_before_any_digit_goes_back(flow):
    c = Call(flow)
    c.press("13")
    c.press("*")
    assert c.last_heard() == (c.text("routes_menu"),) and c.run.node.name == "routes"


def test_failed_transfer_goes_to_voicemail(flow):
    c = Call(flow)
    c.press("2")
    c.wait(2)
    assert c.ended == TransferRequest("queue", "booking")
    assert not c.run.in_ivr
    c.transfer_fails("no agent")
    assert c.run.in_ivr
    assert c.last_heard() == (c.text("busy"),)
    c.wait(2)
    assert c.ended == TransferRequest("voicemail", "general")


def test_caller_hangs_up_mid_menu(flow):
    c = Call(flow)
    c.wait(3)
    assert c.timers
    c.hang_up()
    assert c.run.done and not c.timers and not c.listening
    c.press("1")
    c.wait(10)
    assert c.run.summary()["outcome"] == "caller hung up" and len(c.heard) == 1


SMALL = """
[flow]
name = "small"
start = "rec"
say_mode = "fragments"
fragment_dir = "frag"

[prompts]
beep = "请在提示音后留言"

[nodes.rec]
kind = "record"
prompt = "beep"
into = "msg"
max_s = 60
next = "amount"

[nodes.amount]
kind = "say"
as = "money"
value = "{amount}"
next = "bye"

[nodes.bye]
kind = "play"
tts = "您的留言是{msg}，金额{amount|money}"
next = "end"

[nodes.end]
kind = "hangup"
"""


def test_record_say_fragments_and_templates(tmp_path):
    (tmp_path / "frag").mkdir()
    with pytest.raises(FlowError, match=r"lacks \d+ of the say fragments: day.wav, fen.wav"):
        validate(parse_flow(SMALL, str(tmp_path / "small.toml"), base_dir=tmp_path))
    for name in say.FRAGMENT_NAMES:
        write_wav(tmp_path / "frag" / f"{name}.wav")
    f = validate(parse_flow(SMALL, str(tmp_path / "small.toml"), base_dir=tmp_path))
    c = Call(f)
    c.run.variables["amount"] = "1020.5"
    assert c.heard == [("请在提示音后留言",)]
    c.wait(2)
    rec = c.recordings[0]
    assert (rec.max_s, rec.silence_s, rec.terminator, rec.beep) == (60, 5, "#", True)
    assert c.listening  # for the terminator
    c.feed(RecordingDone(rec.id, "/var/spool/m1.wav", 7.5, "terminator", c.now))
    assert c.last_heard() == ("num-1", "num-1000", "num-0", "num-2", "num-10", "yuan", "num-5", "jiao")
    assert all(isinstance(i, PromptFile) and i.path == str(tmp_path / "frag" / f"{i.name}.wav")
               for i in c.playing.items)
    c.wait(20)
    assert c.heard[2] == ("您的留言是/var/spool/m1.wav，金额一千零二十元五角",)
    assert c.ended == HangupRequest(16, "flow ended")


def test_key_pressed_into_a_barge_in_play_is_used_by_the_next_menu(flow):
    text = DEFAULT.read_text(encoding="utf-8").replace('start = "screen"', 'start = "intro"') + textwrap.dedent("""
    [nodes.intro]
    kind = "play"
    tts = "本次通话可能被录音"
    barge_in = true
    next = "screen"
    """)
    f = validate(parse_flow(text, str(DEFAULT)))
    c = Call(f)
    assert c.heard == [("本次通话可能被录音",)] and c.listening
    c.press("2")  # the caller knows the menu: skips the notice and the welcome
    assert c.last_heard() == (c.text("to_booking"),)
    assert c.run.summary()["path"] == ["intro", "screen", "hours", "main", "booking"]
    assert (c.text("welcome"),) not in c.heard


def test_random_callers_always_leave_cleanly(flow):
    import random

    rng = random.Random(5)
    outcomes = set()
    for _ in range(300):
        c = Call(with_lists(flow, black=["13800000000"], white=["13900000000"]),
                 caller=rng.choice(["13800000000", "13900000000", "13700000000", ""]),
                 wall=MONDAY_10 + dt.timedelta(hours=rng.randint(-12, 12)))
        for _ in range(40):
            if c.run.done or not c.run.in_ivr and rng.random() < 0.7:
                break
            r = rng.random()
            if r < 0.5:
                c.press(rng.choice("0123456789*#"))
            elif r < 0.8:
                c.wait(rng.uniform(0.1, 9))
            elif c.lookups and c.run.node and c.run.node.kind == "lookup":
                c.answer_lookup(rng.choice([None, {"price": "1999", "date": "2026-12-01"}, {"price": "x"}]))
            elif not c.run.in_ivr:
                c.transfer_fails()
        assert all(at > c.now for at in c.timers.values()), "a timer in the past was left armed"
        if c.run.in_ivr and rng.random() < 0.5:
            c.hang_up()
            assert not c.timers and not c.listening
        outcomes.add(type(c.ended).__name__ if c.ended else "in menu")
    assert {"TransferRequest", "HangupRequest"} <= outcomes


def test_a_prompt_switched_to_a_recording_plays_the_file(tmp_path):
    (tmp_path / "prompts").mkdir()
    write_wav(tmp_path / "prompts" / "welcome.wav")
    text = DEFAULT.read_text(encoding="utf-8").replace(
        'welcome = "您好，欢迎致电××旅行社，线路咨询请按1，预订请按2，投诉请按3，人工服务请按0"',
        'welcome = { file = "welcome.wav" }')
    f = validate(parse_flow(text, str(tmp_path / "flow.toml"), base_dir=tmp_path))
    c = Call(f)
    assert c.playing.items == (PromptFile("welcome", str(tmp_path / "prompts" / "welcome.wav")),)
    assert (f.prompts["welcome"].tts, None) not in f.tts_texts() and len(f.tts_texts()) == len(f.prompts) - 1


def test_collect_waits_its_first_digit_timeout_after_the_prompt(flow):
    """tour_code: 8 s for the first key after its 2 s prompt (not the 4 s between keys)."""
    c = Call(flow)
    c.press("13")
    assert c.last_heard() == (c.text("tour_code"),)
    c.wait(2 + 7.4)  # press() waited 0.3 s after the last key
    assert c.last_heard() == (c.text("tour_code"),)
    c.wait(0.6)
    assert c.last_heard()[-1] == c.text("tour_code") and len(c.last_heard()) == 2  # the no-input prompt first
    assert [s.what for s in c.run.path][-1] == "no key"


def test_collect_starts_afresh_after_a_wrong_key(flow):
    """Digits typed before a wrong key are dropped: the next six make the code."""
    c = Call(flow)
    c.press("13")
    c.press("12A")
    assert c.last_heard() == (c.text("invalid"), c.text("tour_code"))
    c.press("654321")
    assert c.run.variables["tour_code"] == "654321"
    assert any(isinstance(a, LookupRequest) and a.params == {"code": "654321"} for a in c.actions)


def test_operator_key_is_a_wrong_key_where_the_menu_turns_it_off(flow):
    text = DEFAULT.read_text(encoding="utf-8").replace(
        'timeout_s = 5\non_timeout = "main"', 'timeout_s = 5\non_timeout = "main"\noperator = false')
    assert "operator = false" in text
    c = Call(validate(parse_flow(text, str(DEFAULT))))
    c.press("1")
    c.press("0")
    assert c.last_heard() == (c.text("invalid"), c.text("routes_menu"))
    assert c.ended is None
