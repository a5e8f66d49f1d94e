"""Call flows through the whole box in one process on a virtual clock (tests/support/inprocess.py):
the simulated world is the board, the daemon's engine runs signalling, media and call control.
Audio is measured at the far ends; each call leaves the right CDR."""

from __future__ import annotations

import pytest

from sim.central_office import Scenario
from tests.support.audio import tone_frequency
from tests.support.inprocess import Box
from tests.support.processes import default_config_text
from tests.support.world import World


def test_inbound_with_caller_id_audio_both_ways_and_busy_tone_clear(box: Box) -> None:
    w, phone = box.world, box.world.phone("8001")
    w.co.call("1/1", "13800138000", "ZHANG SAN")
    box.run_until(lambda: phone.ringing, 8, "8001 ringing")
    box.run_until(lambda: phone.shown_caller_id is not None, 8, "caller ID on the display")
    assert phone.shown_caller_id.number == "13800138000" and phone.shown_caller_id.name == "ZHANG SAN"
    phone.off_hook()
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 2, "answer")
    line = w.co.line("1/1")
    line.party.tone(1000.0)
    phone.mouth.tone(400.0)
    box.run(0.5)
    mark = w.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(400.0, rel=0.02)
    line.party.silence()
    phone.mouth.silence()
    hangup_tick = w.tick
    line.hangup()  # busy tone only
    box.run_until(lambda: not box.engine.calls.calls, 3, "the call to clear")
    assert (w.tick - hangup_tick) * 0.02 < 2.0
    mark = w.tick
    box.run(1.5)
    heard = box.heard("8001", mark)
    assert tone_frequency(heard) == pytest.approx(450.0, rel=0.02)
    assert World.cadence_ms(heard) == pytest.approx((350, 350), abs=60)  # busy tone to the agent
    phone.on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert (cdr["caller"], cdr["src_port"], cdr["dst"], cdr["dst_port"], cdr["cause"]) == (
        "13800138000", "1/1", "8001", "2/1", 16)
    assert cdr["start"] <= cdr["answer"] <= cdr["end"]
    assert line.state_dict()["hook"] == "on"
    assert box.engine.is_free("2/1") and box.engine.is_free("1/1")


def test_speech_on_the_trunk_does_not_clear_the_call(box: Box) -> None:
    w, phone = box.world, box.world.phone("8001")
    w.co.call("1/1", "13800138000")
    box.run_until(lambda: phone.ringing, 8, "ringing")
    phone.off_hook()
    box.run(0.5)
    line = w.co.line("1/1")
    for _ in range(6):  # 450 Hz bursts at a busy-like rhythm but single: never two in a row
        line.party.tone(450.0, -10.0, 350)
        box.run(1.5)
    assert box.engine.calls.calls, "a lone 450 Hz burst must not read as busy"


def test_extension_to_extension(box: Box) -> None:
    a, b = box.world.phone("8001"), box.world.phone("8002")
    a.off_hook()
    box.run(0.5)
    mark = box.world.tick
    box.run(0.6)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(450.0, rel=0.02)  # dial tone
    a.dial("8002")
    box.run_until(lambda: b.ringing, 5, "8002 ringing")
    box.run_until(lambda: b.shown_caller_id is not None, 8, "caller ID")
    assert b.shown_caller_id.number == "8001"
    b.off_hook()
    box.run(0.3)
    a.mouth.tone(700.0)
    b.mouth.tone(1300.0)
    box.run(0.3)
    mark = box.world.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8002", mark)) == pytest.approx(700.0, rel=0.02)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1300.0, rel=0.02)
    a.on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert (cdr["caller"], cdr["called"], cdr["cause"], cdr["disposition"]) == ("8001", "8002", 16, "ANSWERED")


def test_outbound_through_the_central_office(box: Box) -> None:
    w, a = box.world, box.world.phone("8001")
    w.co.scenarios["12301"] = Scenario("answer", after_s=2.0)
    a.off_hook()
    box.run(0.4)
    a.dial("912301#")
    box.run_until(lambda: any(ln.call and ln.call.digits == "12301" for ln in w.co.lines.values()), 15, "digits")
    line = next(ln for ln in w.co.lines.values() if ln.call and ln.call.digits == "12301")
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 10, "answer detected")
    line.party.tone(1000.0)
    a.mouth.tone(400.0)
    box.run(0.4)
    mark = w.tick
    box.run(1.0)
    assert tone_frequency(box.heard("8001", mark)) == pytest.approx(1000.0, rel=0.02)
    assert tone_frequency(line.recorder.heard(mark)[0]) == pytest.approx(400.0, rel=0.02)
    a.on_hook()
    box.run(1.0)
    (cdr,) = box.cdrs()
    assert (cdr["direction"], cdr["called"], cdr["disposition"], cdr["cause"]) == ("outbound", "12301", "ANSWERED", 16)
    assert line.state_dict()["hook"] == "on"


@pytest.mark.parametrize(("signal", "line"), [("loop_current", "1/3"), ("polarity", "1/4")])
def test_far_end_clear_by_loop_current_drop_or_polarity_reversal(tmp_path, signal: str, line: str) -> None:
    """The box's line listens only for ``signal`` (no busy-tone detection): the clear proves that path."""
    import tomllib

    from sim.config import parse_config
    from sim.world import SimWorld
    from tests.support.processes import default_config_text

    text = default_config_text()
    text = text.replace('disconnect = ["busy", "loop_current"]', 'disconnect = ["loop_current"]')
    text = text.replace('disconnect = ["busy", "polarity"]', 'disconnect = ["polarity"]')
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(text, encoding="utf-8")
    world = SimWorld(parse_config(tomllib.loads(
        f'[[co.line]]\nport = "{line}"\ndisconnect = ["busy", "{signal}"]\nbusy_tone_s = 0\n')))
    box = Box(cfg, world)
    box.run(0.2)
    world.co.call(line, "13800138000")
    box.run_until(lambda: box.engine.calls.calls and any(
        world.phone(e).ringing for e in ("8003", "8007")), 8, "an agent ringing")
    phone = next(world.phone(e) for e in ("8003", "8007") if world.phone(e).ringing)
    phone.off_hook()
    box.run_until(lambda: any(c.answer for c in box.engine.calls.calls.values()), 2, "answer")
    box.run(1.0)
    world.co.line(line).hangup()
    box.run_until(lambda: not box.engine.calls.calls, 3, f"the clear by {signal}")
    assert world.co.line(line).state_dict()["hook"] == "on"
    phone.on_hook()
    box.run(1.0)
    assert box.cdrs()[-1]["cause"] == 16


def test_lifting_and_replacing_the_handset_leaves_no_cdr(box: Box) -> None:
    phone = box.world.phone("8005")
    phone.off_hook()
    box.run(1.0)
    phone.dial("80")  # an incomplete number
    box.run(0.6)
    phone.on_hook()
    box.run(1.5)
    assert box.cdrs() == [] and not box.engine.calls.calls and box.engine.is_free("2/5")


@pytest.mark.parametrize(("method", "shown"), [
    ("fsk", ("8001", "前台")),  # FSK carries the name and the time
    ("dtmf", ("8001", None)),  # DTMF caller ID (A8001C) carries the number only
    ("none", None),
])
def test_an_extension_gets_caller_id_by_its_configured_method(tmp_path, method: str, shown) -> None:
    text = default_config_text().replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp_path / "state"}"')
    text = text.replace('number = "8002"\n', f'number = "8002"\ncallerid = "{method}"\n', 1)
    cfg = tmp_path / "callbox.toml"
    cfg.write_text(text, encoding="utf-8")
    box = Box(cfg)
    box.run(0.2)
    caller, callee = box.world.phone("8001"), box.world.phone("8002")  # the phone decodes FSK and DTMF
    caller.off_hook()
    box.run(0.5)
    caller.dial("8002")
    box.run_until(lambda: callee.ringing, 5, "8002 ringing")
    box.run(6.0)  # past the first burst and the silent phase where caller ID goes
    cid = callee.shown_caller_id
    assert (None if cid is None else (cid.number, cid.name)) == shown
    if method == "fsk":
        assert cid is not None and cid.when is not None
