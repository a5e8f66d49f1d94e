"""The ACD on real calls, in one process on a virtual clock: callers on the CO lines wait in a queue
with music and announcements, agents log in at analog extensions by feature code and take the
calls; the audio each party hears is measured, and the statistics must match what happened."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ivr.events import TtsText
from tests.support.audio import contains, decode, tone_frequency
from tests.support.inprocess import Box
from tests.support.processes import default_config_text

CALLERS = {"1/1": "13800000001", "1/2": "13800000002", "1/3": "13800000003"}


def acd_box(tmp_path: Path, queue_text: str = "", **kw: object) -> Box:
    """The default travel-agency config with PSTN-1..3 going straight to the "domestic" queue."""
    text = default_config_text()
    text = re.sub(r'(?m)^destination = \["80[0-9", ]*\]$', 'destination = ["queue:domestic"]', text, count=3)
    text = text.replace('state_dir = "/var/lib/callbox"', f'state_dir = "{tmp_path / "state"}"')
    if queue_text:
        text = text.replace('name = "domestic"\n', f'name = "domestic"\n{queue_text}\n', 1)
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
    box.run(0.5)
    return heard


def test_three_callers_two_agents_music_announcements_wrap_up_and_stats(tmp_path: Path) -> None:
    box = acd_box(tmp_path)
    w = box.world
    reply = login(box, "8002", "1001", "1001")
    assert contains(decode(reply), tts(box, "工号一零零一已登录")) > 0.9  # the login confirmed in words
    login(box, "8005", "1004", "1004")
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
