"""The ACD takes a changed configuration live (``Engine.reconfigure``): waiting callers keep their
places and the next decision uses the new settings; agents and queues come and go without dropping a
call; settings that cut the statistics intervals wait for a restart. And a supervisor cancels a
waiting callback."""

from daemon.acd.agents import AgentState
from daemon.acd.config import parse_acd_text
from tests.unit.daemon.acd.support import Rig

BASE = """
[acd]
pause_reasons = { 0 = "暂停" }
[[agent]]
id = "1001"
name = "王芳"
groups = ["sales"]
[[agent]]
id = "1002"
name = "李明"
groups = ["sales"]
[[queue]]
name = "sales"
groups = ["sales"]
announce_first_s = 20
announce_every_s = 30
wrap_up_s = 10
"""


def test_waiting_callers_keep_their_places_and_new_settings_apply_at_once() -> None:
    r = Rig(BASE)
    e = r.engine
    r.agent_on_a_call()
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.call_arrived("c2", "sales", "13800000002", r.at(11))
    later = e.reconfigure(parse_acd_text(BASE.replace("wrap_up_s = 10", "wrap_up_s = 3")
                                         .replace("announce_every_s = 30", "announce_every_s = 5")
                                         + '[[queue]]\nname = "vip"\nagents = ["1003"]\n'
                                         + '[[agent]]\nid = "1003"\nname = "张伟"\npin = "7713"\n'
                                         ), r.at(12))
    assert later == []
    assert [c["call"] for c in e.snapshot(r.now)["queues"]["sales"]["calls"]] == ["c1", "c2"]
    r.at(45)  # first at 30/31 (the announcement already planned), then every 5 s
    times = sorted(t - 1_763_856_000.0 for _, t, call, *_ in r.host.of("announce") if call == "c1")
    assert times[:3] == [30, 35, 40]
    e.hangup("busy", r.at(50))
    r.at(53)  # the new 3 s wrap-up, not the old 10 s
    assert r.rings()[-1] == (53, "8001", "c1")
    e.login("1003", "7713", "8003", r.at(54))  # a new agent logs in with the new PIN, new queue served
    assert e.agents.get("1003").state is AgentState.IDLE
    assert e.call_arrived("v1", "vip", "13900000000", r.at(55))
    assert r.rings()[-1] == (55, "8003", "v1")
    assert e.invariant_errors() == []


def test_removed_agents_and_queues_finish_what_they_are_doing() -> None:
    r = Rig(BASE)
    e = r.engine
    e.login("1001", "", "8001", r.at(0))
    e.login("1002", "", "8002", r.at(1))
    e.call_arrived("c1", "sales", "13800000001", r.at(2))
    assert r.rings()[-1] == (2, "8001", "c1")
    e.answered("c1", "8001", r.at(3))
    no_1001 = BASE.replace('[[agent]]\nid = "1001"\nname = "王芳"\ngroups = ["sales"]\n', "")
    e.reconfigure(parse_acd_text(no_1001), r.at(5))
    assert e.agents.get("1001").state is AgentState.BUSY  # the call goes on; logged out after it
    e.call_arrived("c2", "sales", "13800000002", r.at(6))
    assert r.rings()[-1] == (6, "8002", "c2")
    e.answered("c2", "8002", r.at(7))
    e.call_arrived("c3", "sales", "13800000003", r.at(8))  # waits: 1001 is no longer a member
    e.hangup("c1", r.at(20))
    assert e.agents.get("1001").state is AgentState.LOGGED_OUT
    r.at(60)
    assert [ring for ring in r.rings() if ring[2] == "c3"] == []
    assert e.snapshot(r.now)["queues"]["sales"]["staffed"] == 1

    # the queue itself removed while c3 waits in it: it keeps serving c3, and goes once empty
    e.reconfigure(parse_acd_text(no_1001.partition("[[queue]]")[0]), r.at(61))
    assert "sales" in e.snapshot(r.now)["queues"]
    e.hangup("c3", r.at(62))
    e.reconfigure(parse_acd_text(no_1001.partition("[[queue]]")[0]), r.at(63))
    assert "sales" not in e.snapshot(r.now)["queues"] and "1001" not in e.agents.by_id
    assert e.invariant_errors() == []


def test_interval_settings_wait_for_a_restart() -> None:
    r = Rig(BASE)
    later = r.engine.reconfigure(parse_acd_text(BASE.replace("[acd]", "[acd]\ninterval_min = 30\n")
                                                .replace('0 = "暂停"', '0 = "暂停", 1 = "午餐"')), r.at(1))
    assert later == ["acd.interval_min"]
    assert r.engine.stats.interval_s == 900
    r.engine.login("1001", "", "8001", r.at(2))
    r.engine.pause("1001", "1", r.at(3))  # the new pause reason applies at once
    assert r.engine.agents.get("1001").pause_reason == "1"


def test_a_supervisor_cancels_a_waiting_callback() -> None:
    r = Rig(BASE.replace("wrap_up_s = 10", 'wrap_up_s = 10\nmax_wait_s = 30\noverflow = "callback"'))
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(0))
    assert not e.cancel_callback("c1", r.at(1))  # a caller on the line is not a callback
    r.at(31)
    assert e.callback_accepted("c1", None, r.at(32))
    assert e.cancel_callback("c1", r.at(40))
    assert [d["call"] for d in r.kinds("callback.cancelled")] == ["c1"]
    e.login("1001", "", "8001", r.at(41))
    assert r.rings() == [] and e.snapshot(r.now)["queues"]["sales"]["callbacks"] == 0
    assert not e.cancel_callback("c1", r.at(42))
