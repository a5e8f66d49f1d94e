"""The ACD's events through the socket against the running daemon and simulator: a waiting caller's
position announcements, the overflow at the maximum wait, an abandoned call, a callback accepted,
kept across a kill -9 (with an agent's paused login), found busy and dialled back again (and
one cancelled by a supervisor), an agent's phone in use
for a private call, a statistics interval closing on the box's clock, and ACD settings changed
through ``config.set`` taking effect without a restart."""

from __future__ import annotations

import glob
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from daemon.api.protocol import ApiError
from daemon.config.editing import edit_text
from ivr import say
from ivr.tts import Tts
from tests.conftest import e2e_config
from tests.support.audio import contains, decode
from tests.support.processes import AGENT_PINS, DaemonProcess, SimProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e

CHANGES = [
    {"key": "line[1/3].destination", "value": ["queue:domestic"]},
    {"key": "line[1/4].destination", "value": ["queue:booking"]},
    # domestic: position announcements 2 s after joining and every 4 s; voicemail after 9 s
    {"key": "queue[domestic].announce_first_s", "value": 2},
    {"key": "queue[domestic].announce_every_s", "value": 4},
    {"key": "queue[domestic].max_wait_s", "value": 9},
    # booking: a callback is offered after 3 s
    {"key": "queue[booking].max_wait_s", "value": 3},
    {"key": "queue[booking].announce_every_s", "value": 0},
    {"key": "queue[booking].announce_agent_id", "value": False},
    {"key": "queue[booking].callback_retry_s", "value": 10},
]
FAKETIME = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")


def acd_events_daemon(tmp_path: Path, sim: SimProcess, extra_env: dict | None = None) -> DaemonProcess:
    path = e2e_config(tmp_path)
    path.write_text(edit_text(path.read_text(encoding="utf-8"), CHANGES), encoding="utf-8")
    d = DaemonProcess(tmp_path, sim, path)
    d.start(extra_env=extra_env)
    return d


@pytest.fixture
def acd(tmp_path: Path, sim: SimProcess) -> Iterator[DaemonProcess]:
    d = acd_events_daemon(tmp_path, sim)
    yield d
    d.stop()


def tts(tmp: Path, text: str) -> np.ndarray:
    return decode(Tts(tmp / "tts").request(text).result(60).read_bytes())


def test_announcements_overflow_to_voicemail_and_an_abandoned_call(acd: DaemonProcess, tmp_path: Path) -> None:
    w = World(acd.sim)
    events = acd.subscriber("call.announce", "call.overflow", "call.abandoned", "voicemail.message")
    w.co_call("1/3", "13800000001")
    mark = w.tick()
    first = events.next_event("call.announce", 8)
    assert (first["queue"], first["position"], first["ewt_s"]) == ("domestic", 1, None)  # nobody staffed
    second = events.next_event("call.announce", 6)
    assert second["call"] == first["call"] and second["position"] == 1
    heard = decode(w.co_heard("1/3", since=mark))
    assert contains(heard, tts(tmp_path, f"您现在排在第{say.number(1).text}位")) > 0.8

    over = events.next_event("call.overflow", 8)
    assert (over["call"], over["queue"], over["reason"], over["to"]) == (
        first["call"], "domestic", "max_wait", "voicemail:queue:general")
    assert 8.5 <= over["wait_s"] <= 11
    time.sleep(5.0)  # the box's greeting, then the beep: the caller speaks (a 1 kHz tone) and hangs up
    w.co_send_tone("1/3", 1000.0)
    time.sleep(2.0)
    w.co_hangup("1/3")
    msg = events.next_event("voicemail.message", 10)
    assert (msg["box"], msg["caller"], msg["call"]) == ("queue:general", "13800000001", first["call"])
    assert msg["seconds"] >= 1.5

    time.sleep(1.5)
    w.co_call("1/3", "13800000009")  # a caller who gives up after a second or two
    wait_for(lambda: acd.api.call("acd.snapshot")["queues"]["domestic"]["waiting"] == 1, 10, "the caller queued")
    w.co_hangup("1/3")
    gone = events.next_event("call.abandoned", 5)
    assert gone["queue"] == "domestic" and gone["short"] is True and gone["wait_s"] < 5
    today = acd.api.call("acd.snapshot")["stats"]["today"]["queues"]["domestic"]
    assert (today["offered"], today["overflowed"], today["abandoned"], today["short_abandoned"]) == (2, 1, 0, 1)
    events.close()


def test_callback_survives_kill_9_and_is_dialled_back(acd: DaemonProcess, tmp_path: Path) -> None:
    w = World(acd.sim)
    events = acd.subscriber("call.overflow", "callback.")
    w.co_call("1/4", "13800000002")
    mark = w.tick()
    over = events.next_event("call.overflow", 10)
    assert (over["queue"], over["reason"], over["to"]) == ("booking", "max_wait", "callback")
    time.sleep(4.5)  # "如需我们给您回电，请按1；继续等待，请按2"
    heard = decode(w.co_heard("1/4", since=mark))
    offer = tts(tmp_path, "如需我们给您回电，请按1；继续等待，请按2")
    assert contains(heard, offer[: len(offer) // 2]) > 0.8
    w.co_dial("1/4", "1")
    queued = events.next_event("callback.queued", 5)
    assert (queued["call"], queued["queue"], queued["number"], queued["position"]) == (
        over["call"], "booking", "13800000002", 1)
    wait_for(lambda: not w.co_state("1/4")["in_call"], 15, "the box to release the caller after its goodbye")

    time.sleep(1.5)
    w.co_call("1/4", "13800000003")  # a second callback, which a supervisor cancels
    events.next_event("call.overflow", 10)
    time.sleep(1.0)
    w.co_dial("1/4", "1")
    second = events.next_event("callback.queued", 5)
    assert (second["number"], second["position"]) == ("13800000003", 2)
    with pytest.raises(ApiError) as err:
        acd.api.call("callback.cancel", call="no-such-call")
    assert err.value.code == "not_found"
    assert acd.api.call("callback.cancel", call=second["call"]) == {"call": second["call"], "cancelled": True}
    cancelled = events.next_event("callback.cancelled", 5)
    assert (cancelled["call"], cancelled["queue"]) == (second["call"], "booking")
    events.close()

    acd.api.call("agent.login", agent="1002", pin=AGENT_PINS["1002"], extension="8003")
    acd.api.call("agent.pause", agent="1002", reason="2")
    acd.kill9()  # the accepted callback and the logins are stored: back as they were after the restart
    acd.start()
    snap = acd.api.call("acd.snapshot")
    assert [(c["call"], c["kind"], c["caller"]) for c in snap["queues"]["booking"]["calls"]] == [
        (over["call"], "callback", "13800000002")]
    assert [(a["id"], a["state"], a["extension"], a["pause_reason"]) for a in snap["agents"]
            if a["state"] != "logged_out"] == [("1002", "paused", "8003", "2")]

    events = acd.subscriber("callback.", "call.ringing", "agent.state")
    restored = events.next_event("callback.restored", 1)  # start-up events, kept for this subscriber
    assert (restored["call"], restored["queue"], restored["number"]) == (over["call"], "booking", "13800000002")
    back = events.next_event("agent.state", 1, where=lambda e: e["state"] == "paused")
    assert (back["agent"], back["reason"], back["pause_reason"]) == ("1002", "restored", "2")
    w.co_scenario("13800000002", "busy", after_s=1.0)  # the first try finds the customer busy
    acd.api.call("agent.login", agent="1003", pin=AGENT_PINS["1003"], extension="8004")
    agent = w.phone("8004")
    for attempt in (1, 2):
        rings = agent.rings()
        ring = events.next_event("call.ringing", 15, where=lambda e: e.get("agent") == "1003")
        assert ring["callback"] is True and ring["caller"] == "13800000002" and ring["queue"] == "booking"
        agent.wait_ringing(12, "the agent's phone", rings)  # a burst a stalled poll missed counts too
        agent.off_hook()
        dialling = events.next_event("callback.dialling", 10)
        if attempt == 1:
            failed = events.next_event("callback.failed", 20)
            assert (failed["call"], failed["attempts"], failed["number"]) == (over["call"], 1, "13800000002")
            assert 9 <= failed["retry_at"] - time.time() <= 11  # callback_retry_s
            agent.on_hook()
            w.co_scenario("13800000002", "answer", after_s=1.0, party="voice")  # "喂，你好？"
    assert (dialling["callback"], dialling["extension"], dialling["number"]) == (over["call"], "8004", "13800000002")
    line = wait_for(lambda: w.co_line_with_digits("13800000002"), 15, "the customer dialled")
    wait_for(lambda: w.co_state(line)["state"] in ("connected", "answered"), 10, "the customer to answer")
    # an analog line gives no answer signal: the box knows by the customer's greeting, and only then does
    # the customer hear the agent (docs/analog-answer.md)
    wait_for(lambda: any(c.get("answer") and line in (c.get("src_port"), c.get("dst_port")) for c in acd.api.call("calls")),
             5, "the box to hear the customer answer")
    at_agent, at_customer = w.tones_both_ways(agent, line)
    assert at_agent == pytest.approx(1000.0, rel=0.02) and at_customer == pytest.approx(600.0, rel=0.02)
    agent.on_hook()
    cdr = wait_for(lambda: next((c for c in acd.api.call("cdr.list") if c["id"] == dialling["call"]), None), 10,
                   "the dial-back's CDR")
    assert (cdr["called"], cdr["queue"], cdr["agent"]) == ("13800000002", "booking", "1003")
    assert acd.api.call("acd.snapshot")["queues"]["booking"]["calls"] == []
    events.close()


def test_agent_phone_stats_interval_and_live_acd_changes(tmp_path: Path, sim: SimProcess) -> None:
    assert FAKETIME, "libfaketime is missing: scripts/setup.sh installs the faketime package"
    # the box's clock starts at 09:14:45 China time: the 09:00-09:15 interval closes 15 s in
    env = {"LD_PRELOAD": FAKETIME[0], "FAKETIME": "@2026-11-23 01:14:45", "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "TZ": "UTC"}
    d = acd_events_daemon(tmp_path, sim, env)
    try:
        w = World(sim)
        events = d.subscriber("agent.phone", "stats.interval", "call.abandoned")
        w.co_call("1/3", "13800000005")  # a caller who gives up in this interval
        wait_for(lambda: d.api.call("acd.snapshot")["queues"]["domestic"]["waiting"] == 1, 5, "the caller queued")
        w.co_hangup("1/3")
        events.next_event("call.abandoned", 5)
        d.api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")
        phone = w.phone("8002")
        phone.off_hook()  # a private call to 8003: the agent is not offered ACD calls meanwhile
        time.sleep(0.4)
        phone.dial("8003")
        busy = events.next_event("agent.phone", 5)
        assert (busy["agent"], busy["extension"], busy["in_use"]) == ("1001", "8002", True)
        phone.on_hook()
        free = events.next_event("agent.phone", 5)
        assert (free["agent"], free["in_use"]) == ("1001", False)

        closed = events.next_event("stats.interval", 20)
        end = 1795396500.0  # 2026-11-23 01:15:00 UTC = 09:15 in China
        assert (closed["start"], closed["end"]) == (end - 900, end)
        me = closed["agents"]["1001"]
        assert 0 < me["idle_s"] < 30 and me["answered"] == 0
        assert (closed["queues"]["domestic"]["offered"], closed["queues"]["domestic"]["short_abandoned"]) == (1, 1)
        stored = d.api.call("acd.intervals", since=end - 900)
        assert [(r["start"], r["end"]) for r in stored] == [(end - 900, end)]

        # ACD settings through config.set, live: a new agent logs in at once, a queue's rules change
        reply = d.api.call("config.set", changes=[
            {"key": "agent[1010]", "value": {"name": "新同事", "pin": "4731", "groups": ["domestic"]}},
            {"key": "queue[domestic].max_wait_s", "value": 2},
            {"key": "acd.interval_min", "value": 30}])
        assert reply["restart_required"] == ["acd.interval_min"]
        assert d.api.call("agent.login", agent="1010", pin="4731", extension="8005")["state"] == "idle"
        d.api.call("agent.pause", agent="1010", reason="1")
        d.api.call("agent.pause", agent="1001", reason="1")
        events.call("subscribe", kinds=["call.overflow"])
        w.co_call("1/3", "13800000004")
        over = events.next_event("call.overflow", 8)
        assert over["reason"] == "max_wait" and over["wait_s"] < 4  # the new 2 s, not the 9 s it started with
        events.close()
    finally:
        d.stop()
