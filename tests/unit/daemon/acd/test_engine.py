"""The ACD engine on a virtual clock: calls queue, hear announcements and music, reach agents by the
queue's rules, overflow, call back; agents who miss rings are skipped; stats match what happened."""

from pathlib import Path

import pytest

from daemon.acd.agent_store import AgentStore
from daemon.acd.agents import AgentState
from daemon.acd.callbacks import CallbackStore
from daemon.acd.customers import Customers
from daemon.acd.stats import IntervalStore
from daemon.store.database import Store
from tests.unit.daemon.acd.support import T0, Rig

AGENTS = """
[[agent]]
id = "1001"
name = "王芳"
groups = ["sales"]
[[agent]]
id = "1002"
name = "李明"
groups = ["sales"]
"""

SALES = AGENTS + """
[[queue]]
name = "sales"
groups = ["sales"]
strategy = "longest_idle"
wrap_up_s = 10
ring_timeout_s = 15
announce_first_s = 20
announce_every_s = 30
default_handle_s = 120
music = "moh/sales.alaw"
"""


def login_both(r: Rig, t: float = 0) -> None:
    r.engine.login("1001", "", "8001", r.at(t))
    r.engine.login("1002", "", "8002", r.at(t + 1))


def test_three_callers_two_agents(tmp_path: Path) -> None:
    store = Store(tmp_path)
    r = Rig(SALES, intervals=IntervalStore(store.env))
    e = r.engine
    login_both(r)
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.call_arrived("c2", "sales", "13800000002", r.at(12))
    e.call_arrived("c3", "sales", "13800000003", r.at(13))
    assert r.rings() == [(10, "8001", "c1"), (12, "8002", "c2")]  # 1001 has been idle longest
    assert [m[2:] for m in r.host.of("music")] == [("c1", "moh/sales.alaw"), ("c2", "moh/sales.alaw"),
                                                     ("c3", "moh/sales.alaw")]
    assert e.answered("c1", "8001", r.at(14)) and e.answered("c2", "8002", r.at(15))
    assert [c[2:] for c in r.host.of("connect")] == [("c1", "8001", "1001"), ("c2", "8002", "1002")]
    r.at(69)
    # the third caller hears position 1 and EWT = 1 × 120 s / 2 staffed at 13+20 and every 30 s after
    assert [(t - T0, call, pos, ewt) for _, t, call, pos, ewt in r.host.of("announce")] == [
        (33, "c3", 1, 60), (63, "c3", 1, 60)]
    e.hangup("c1", r.at(70))
    assert e.agents.get("1001").state is AgentState.WRAP_UP
    r.at(79.98)
    assert len(r.rings()) == 2  # still wrapping up: c3 waits
    r.at(80)
    assert r.rings()[-1] == (80, "8001", "c3")  # wrap-up over: c3 goes to the freed agent
    e.answered("c3", "8001", r.at(82))
    e.hangup("c2", r.at(100))
    e.hangup("c3", r.at(142))
    r.at(900)  # the interval 08:00-08:15 (China time) closes at T0 + 900 s
    assert len(r.host.of("announce")) == 2
    rec = next(IntervalStore(store.env).scan())
    assert rec["start"] == T0 and rec["end"] == T0 + 900
    q = rec["queues"]["sales"]
    assert (q["offered"], q["answered"], q["answered_in_sl"], q["abandoned"], q["overflowed"]) == (3, 3, 2, 0, 0)
    assert q["service_level"] == pytest.approx(66.67) and q["avg_wait_s"] == pytest.approx(76 / 3, abs=1e-3)
    assert q["longest_wait_s"] == 69
    a1, a2 = rec["agents"]["1001"], rec["agents"]["1002"]
    assert (a1["answered"], a1["missed"], a1["talk_s"], a1["wrap_s"], a1["reserved_s"]) == (2, 0, 116, 20, 6)
    assert a1["idle_s"] == pytest.approx(900 - 116 - 20 - 6)
    assert a1["occupancy"] == pytest.approx(136 / 900, abs=1e-4)
    assert (a2["answered"], a2["talk_s"], a2["wrap_s"], a2["reserved_s"]) == (1, 85, 10, 3)
    assert a2["idle_s"] == pytest.approx(899 - 85 - 10 - 3)
    assert e.invariant_errors() == []


def test_screen_pop_and_agent_events(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    cs.create("13800000001", name="张先生", level=0, notes="去三亚")
    r = Rig(SALES, customers=cs)
    login_both(r)
    r.engine.call_arrived("c1", "sales", "13800000001", r.at(5))
    pop = r.kinds("call.offered")[0]
    assert (pop["agent"], pop["extension"], pop["queue"], pop["caller"]) == ("1001", "8001", "sales", "13800000001")
    assert pop["customer"]["name"] == "张先生" and pop["customer"]["notes"] == "去三亚"
    assert r.host.shown == [("8001", "13800000001", "张先生")]  # the phone's caller-ID display
    states = [(d["agent"], d["state"]) for d in r.kinds("agent.state")]
    assert states == [("1001", "idle"), ("1002", "idle"), ("1001", "reserved")]


def test_returning_caller_reaches_previous_agent(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    r = Rig(SALES.replace('strategy = "longest_idle"', 'strategy = "sticky"'), customers=cs)
    e = r.engine
    login_both(r)
    e.pause("1001", "0", r.at(2))
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.answered("c1", "8002", r.at(12))
    e.hangup("c1", r.at(40))
    e.resume("1001", r.at(41))
    r.at(60)
    assert cs.get("13800000001").last_agent == "1002"
    # 1001 is now the longest idle, but the returning caller goes to 1002
    e.call_arrived("c2", "sales", "13800000001", r.at(100))
    assert r.rings()[-1] == (100, "8002", "c2")
    assert r.kinds("call.offered")[-1]["rules"] == ["sticky:1002"]
    # a new caller goes by longest idle
    e.call_arrived("c3", "sales", "13900000000", r.at(101))
    assert r.rings()[-1] == (101, "8001", "c3")


def test_sticky_waits_for_busy_agent_then_falls_back(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    cs.update("13800000001", last_agent="1002")
    cs.record_call("13800000001", T0 - 86400)
    r = Rig(SALES.replace('strategy = "longest_idle"', 'strategy = "sticky"'), customers=cs)
    e = r.engine
    login_both(r)
    e.call_arrived("x", "sales", "13911111111", r.at(5))  # a new caller takes 1001 (longest idle)
    e.answered("x", "8001", r.at(6))
    e.call_arrived("y", "sales", "13922222222", r.at(7))
    e.answered("y", "8002", r.at(8))
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.hangup("x", r.at(15))  # 1001 free at 25 (wrap-up): c1 still waits for 1002 (sticky, 20 s)
    r.at(29.9)
    assert r.rings()[-1][2] == "y"
    r.at(30)  # sticky timeout: fall back to anyone
    assert r.rings()[-1] == (30, "8001", "c1")


VIP = AGENTS + """
[[queue]]
name = "sales"
groups = ["sales"]
[[queue.rule]]
kind = "vip"
boost = 10
"""


def test_vip_overtakes_waiting_callers(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    cs.create("13800000009", name="VIP", level=2)
    r = Rig(VIP, customers=cs)
    e = r.engine
    r.agent_on_a_call()
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.call_arrived("c2", "sales", "13800000002", r.at(11))
    e.call_arrived("vip", "sales", "13800000009", r.at(12))
    queued = {d["call"]: d for d in r.kinds("call.queued")}
    assert queued["vip"]["priority"] == 20 and queued["vip"]["position"] == 1 and queued["c2"]["position"] == 2
    e.hangup("busy", r.at(30))
    assert r.rings()[-1] == (30, "8001", "vip")


OVERFLOW = AGENTS + """
[[queue]]
name = "sales"
agents = ["1001"]
max_wait_s = 60
overflow = "queue:backup"
announce_every_s = 0

[[queue]]
name = "backup"
agents = ["1002"]
max_length = 1
overflow = "voicemail:800"
"""


def test_max_wait_overflows_to_another_queue_then_max_length_to_voicemail() -> None:
    r = Rig(OVERFLOW)
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(0))  # nobody logged in to sales
    e.call_arrived("c2", "sales", "13800000002", r.at(5))
    r.at(59.9)
    assert r.kinds("call.overflow") == []
    r.at(60)
    assert [(d["call"], d["queue"], d["to"], d["reason"]) for d in r.kinds("call.overflow")] == [
        ("c1", "sales", "queue:backup", "max_wait")]
    assert e.entries["c1"].queue == "backup"
    r.at(65)  # c2 overflows too, but backup is full (max_length 1): voicemail
    assert [o[2:] for o in r.host.of("overflow")] == [("c2", "voicemail:800")]
    assert "c2" not in e.entries
    e.login("1002", "", "8002", r.at(70))
    assert r.rings() == [(70, "8002", "c1")]
    live = e.stats.live(r.host.t)["interval"]["queues"]
    assert live["sales"]["overflowed"] == 2 and live["backup"]["offered"] == 2
    assert live["backup"]["overflowed"] == 1 and live["sales"]["service_level"] == 0.0


CALLBACK = AGENTS + """
[[queue]]
name = "sales"
agents = ["1001"]
max_wait_s = 120
overflow = "callback"
wrap_up_s = 5
"""


def test_callback_keeps_place_and_is_dialled_when_agent_free() -> None:
    r = Rig(CALLBACK)
    e = r.engine
    r.agent_on_a_call()
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.call_arrived("c2", "sales", "13800000002", r.at(20))
    r.at(130)  # c1 reaches max wait: it is offered a callback (and keeps waiting until it says yes)
    assert [o[2] for o in r.host.of("offer_callback")] == ["c1"]
    assert e.callback_accepted("c1", "13800000001", r.at(135))
    assert r.kinds("callback.queued")[0]["position"] == 1  # still ahead of c2
    r.at(140)  # c2 is offered a callback at 140 and declines (it just keeps waiting)
    assert [o[2] for o in r.host.of("offer_callback")] == ["c1", "c2"]
    e.hangup("busy", r.at(200))
    r.at(205)  # after wrap-up the agent's phone rings for the callback first, showing the customer's number
    assert r.rings()[-1] == (205, "8001", "c1")
    e.answered("c1", "8001", r.at(207))
    assert r.host.of("dial_back") == [("dial_back", T0 + 207, "c1", "8001", "13800000001")]
    e.hangup("c1", r.at(300))
    r.at(305)
    assert r.rings()[-1] == (305, "8001", "c2")
    assert e.invariant_errors() == []


def test_a_dial_back_the_customer_does_not_answer_is_tried_again_then_given_up(tmp_path: Path) -> None:
    store = Store(tmp_path)
    r = Rig(CALLBACK + "callback_retries = 1\ncallback_retry_s = 60\n", callbacks=CallbackStore(store.env))
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(0))
    r.at(120)
    assert e.callback_accepted("c1", None, r.at(121))
    e.login("1001", "", "8001", r.at(130))
    assert r.rings() == [(130, "8001", "c1")]
    e.answered("c1", "8001", r.at(131))
    assert e.dial_back_failed("c1", r.at(160))  # no answer at the customer's
    assert e.agents.get("1001").state is AgentState.IDLE  # no wrap-up: there was no conversation
    (failed,) = r.kinds("callback.failed")
    assert (failed["attempts"], failed["retry_at"] - T0, failed["number"]) == (1, 220, "13800000001")
    assert [(row["call"], row["attempts"]) for row in CallbackStore(store.env).load()] == [("c1", 1)]
    r.at(219)
    assert len(r.rings()) == 1  # not offered before its retry time
    r.at(220)
    assert r.rings()[-1] == (220, "8001", "c1")
    e.answered("c1", "8001", r.at(222))
    assert e.dial_back_failed("c1", r.at(250))
    assert r.kinds("callback.failed")[-1]["retry_at"] is None and r.kinds("callback.failed")[-1]["attempts"] == 2
    assert e.snapshot(r.now)["queues"]["sales"]["calls"] == [] and CallbackStore(store.env).load() == []
    assert not e.dial_back_failed("c1", r.at(251)) and e.invariant_errors() == []


def test_agent_who_does_not_answer_is_skipped_and_stays_available() -> None:
    r = Rig(SALES)
    e = r.engine
    login_both(r)
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    r.at(25)
    assert r.rings() == [(10, "8001", "c1"), (25, "8002", "c1")]
    assert ("stop_ring", T0 + 25, "8001", "c1") in r.host.log
    a = e.agents.get("1001")
    assert a.state is AgentState.IDLE and a.offer is None and a.missed_today == 1
    e.call_arrived("c2", "sales", "13800000002", r.at(26))
    assert r.rings()[-1] == (26, "8001", "c2")  # still available for the next call
    e.answered("c1", "8002", r.at(27))
    live = e.stats.live(r.host.t)["interval"]["agents"]
    assert live["1001"]["missed"] == 1 and live["1002"]["missed"] == 0
    assert e.invariant_errors() == []


def test_ring_all_answered_elsewhere_is_not_a_miss() -> None:
    r = Rig(SALES.replace("longest_idle", "ring_all"))
    e = r.engine
    login_both(r)
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    assert r.rings() == [(10, "8001", "c1"), (10, "8002", "c1")]
    e.answered("c1", "8002", r.at(12))
    assert ("stop_ring", T0 + 12, "8001", "c1") in r.host.log
    assert not e.answered("c1", "8001", r.at(12.5))  # a late answer: the daemon drops that leg
    live = e.stats.live(r.host.t)["interval"]["agents"]
    assert live["1001"]["missed"] == 0 and live["1001"]["answered"] == 0 and live["1002"]["answered"] == 1
    assert e.agents.get("1001").available


def test_pause_while_ringing_moves_the_call_and_counts_pause_time() -> None:
    r = Rig(SALES.replace('[[agent]]\nid = "1001"', '[acd]\npause_reasons = { 1 = "午餐" }\n\n[[agent]]\nid = "1001"'))
    e = r.engine
    login_both(r)
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.pause("1001", "1", r.at(11))
    assert ("stop_ring", T0 + 11, "8001", "c1") in r.host.log and r.rings()[-1] == (11, "8002", "c1")
    assert e.agents.get("1001").state is AgentState.PAUSED
    e.resume("1001", r.at(71))
    live = e.stats.live(r.host.t)["interval"]["agents"]["1001"]
    assert live["pause_s"] == {"1": 60.0} and live["missed"] == 0


def test_abandons_short_and_long() -> None:
    r = Rig(SALES)
    e = r.engine
    e.call_arrived("c1", "sales", "1", r.at(0))
    e.call_arrived("c2", "sales", "2", r.at(1))
    e.hangup("c1", r.at(4.9))
    e.hangup("c2", r.at(31))
    q = e.stats.live(r.host.t)["interval"]["queues"]["sales"]
    assert (q["offered"], q["abandoned"], q["short_abandoned"], q["longest_wait_s"]) == (2, 1, 1, 30)
    assert [d["short"] for d in r.kinds("call.abandoned")] == [True, False]


NIGHT = AGENTS + """
[[queue]]
name = "sales"
groups = ["sales"]
always_ring = ["8009"]
"""


def test_night_bell_rings_and_can_answer() -> None:
    r = Rig(NIGHT)
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(0))
    assert r.rings() == [(0, "8009", "c1")]
    e.call_arrived("c2", "sales", "13800000002", r.at(1))
    assert len(r.rings()) == 1  # one call at a time per always-ring extension
    e.login("1001", "", "8001", r.at(2))
    assert r.rings()[-1] == (2, "8001", "c1")
    assert e.answered("c1", "8009", r.at(3))
    assert ("stop_ring", T0 + 3, "8001", "c1") in r.host.log
    assert r.rings()[-2:] == [(3, "8001", "c2"), (3, "8009", "c2")]
    assert e.agents.get("1001").missed_today == 0
    assert e.invariant_errors() == []


def test_interval_rollover_splits_agent_time(tmp_path: Path) -> None:
    store = Store(tmp_path)
    r = Rig(SALES, intervals=IntervalStore(store.env))
    e = r.engine
    e.login("1001", "", "8001", r.at(800))
    e.call_arrived("c1", "sales", "1", r.at(850))
    e.answered("c1", "8001", r.at(860))
    e.hangup("c1", r.at(1000))
    r.at(1800)
    recs = list(IntervalStore(store.env).scan())
    assert [x["start"] - T0 for x in recs] == [0, 900]
    assert recs[0]["agents"]["1001"]["talk_s"] == 40 and recs[1]["agents"]["1001"]["talk_s"] == 100
    assert recs[1]["agents"]["1001"]["wrap_s"] == 10
    assert recs[0]["queues"]["sales"]["answered"] == 1 and recs[1]["queues"] == {}


def test_agent_on_a_private_call_is_not_offered_calls() -> None:
    r = Rig(SALES)
    e = r.engine
    login_both(r)
    e.extension_in_use("8001", True, r.at(5))  # 1001 dials out from their phone
    e.call_arrived("c1", "sales", "1", r.at(6))
    assert r.rings() == [(6, "8002", "c1")]
    e.call_arrived("c2", "sales", "2", r.at(7))
    e.extension_in_use("8001", False, r.at(50))
    assert r.rings()[-1] == (50, "8001", "c2")
    assert e.agents.get("1001").missed_today == 0


def test_sticky_does_not_wait_for_a_paused_agent(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    cs.update("13800000001", last_agent="1002")
    cs.record_call("13800000001", T0 - 86400)
    r = Rig(SALES.replace('strategy = "longest_idle"', 'strategy = "sticky"'), customers=cs)
    e = r.engine
    login_both(r)
    e.pause("1002", "0", r.at(5))
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    assert r.rings() == [(10, "8001", "c1")]


COMBINED = """
[[agent]]
id = "1001"
groups = ["day"]
[[agent]]
id = "1002"
groups = ["night"]

[[queue]]
name = "travel"
groups = ["day", "night"]
[[queue.rule]]
kind = "sticky"
timeout_s = 30
[[queue.rule]]
kind = "vip"
boost = 10
[[queue.rule]]
kind = "time_of_day"
ranges = [{ from = "08:00", to = "21:00", groups = ["day"] }, { groups = ["night"] }]
"""


def test_combined_rule_in_the_engine(tmp_path: Path) -> None:
    store = Store(tmp_path)
    cs = Customers(store.env)
    cs.update("13800000009", level=3, last_agent="1002")
    cs.record_call("13800000009", T0 - 86400)
    r = Rig(COMBINED, customers=cs)
    e = r.engine
    e.login("1001", "", "8001", r.at(0))
    e.login("1002", "", "8002", r.at(0))
    e.call_arrived("c1", "travel", "13900000001", r.at(10))  # 08:00:10 local: the day group
    e.call_arrived("vip", "travel", "13800000009", r.at(11))  # VIP with a last agent: sticky first
    assert r.rings() == [(10, "8001", "c1"), (11, "8002", "vip")]
    assert r.kinds("call.queued")[1]["priority"] == 30
    assert r.kinds("call.offered")[1]["rules"] == ["sticky:1002", "vip+30"]
    e.hangup("c1", r.at(12))
    e.hangup("vip", r.at(13))
    e.call_arrived("c2", "travel", "13900000002", r.at(13 * 3600))  # 21:00 local: the night group
    assert r.rings()[-1] == (13 * 3600, "8002", "c2")


def test_agent_logging_in_at_the_night_bell_takes_it_over() -> None:
    r = Rig(NIGHT)
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(0))
    assert r.rings() == [(0, "8009", "c1")]
    e.login("1001", "", "8009", r.at(5))  # an agent sits down at the night-bell phone
    assert ("stop_ring", T0 + 5, "8009", "c1") in r.host.log and r.rings()[-1] == (5, "8009", "c1")
    assert e.agents.get("1001").state is AgentState.RESERVED and e.bell_busy == {}
    e.answered("c1", "8009", r.at(6))
    assert e.agents.get("1001").state is AgentState.BUSY
    assert e.invariant_errors() == []


def test_anonymous_caller_is_queued_without_customer_writes(tmp_path: Path) -> None:
    cs = Customers(Store(tmp_path).env)
    r = Rig(SALES, customers=cs)
    e = r.engine
    login_both(r)
    assert e.call_arrived("c1", "sales", "anonymous", r.at(5))
    assert e.call_arrived("c2", "sales", None, r.at(6))
    e.answered("c1", "8001", r.at(7))
    assert cs.count() == 0 and r.kinds("call.queued")[0]["customer"] is None
    assert not e.call_arrived("c1", "sales", "1", r.at(8)) and not e.call_arrived("c3", "nope", "1", r.at(8))


def test_accepted_callbacks_survive_a_restart_in_order(tmp_path: Path) -> None:

    store = Store(tmp_path)
    r = Rig(CALLBACK, callbacks=CallbackStore(store.env))
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.call_arrived("c2", "sales", "13800000002", r.at(20))
    e.call_arrived("c3", "sales", "13800000003", r.at(25))
    assert e.callback_accepted("c2", "13900000002", r.at(30))
    assert e.callback_accepted("c1", None, r.at(31))  # None: call back the caller ID
    e.hangup("c3", r.at(32))
    store.close()  # the daemon dies

    store = Store(tmp_path)
    r2 = Rig(CALLBACK, callbacks=CallbackStore(store.env))
    assert [d["call"] for d in r2.kinds("callback.restored")] == ["c1", "c2"]
    e2 = r2.engine
    e2.login("1001", "", "8001", r2.at(100))
    assert r2.rings() == [(100, "8001", "c1")]
    e2.answered("c1", "8001", r2.at(101))
    assert r2.host.of("dial_back")[0][2:] == ("c1", "8001", "13800000001")
    assert [row["call"] for row in CallbackStore(store.env).load()] == ["c2"]
    assert r2.engine.stats.current.queue("sales").answered == 1


def test_logged_in_agents_survive_a_restart(tmp_path: Path) -> None:
    store = Store(tmp_path)
    r = Rig(SALES + '[[agent]]\nid = "1003"\nname = "张伟"\ngroups = ["sales"]\n',
            agent_store=AgentStore(store.env))
    e = r.engine
    login_both(r)
    e.login("1003", "", "8003", r.at(2))
    e.pause("1002", "0", r.at(3))
    e.call_arrived("c1", "sales", "13800000001", r.at(10))
    e.answered("c1", "8001", r.at(12))  # 1001 on a call: stored as logged in (the call dies with the daemon)
    e.logout("1003", r.at(13))
    store.close()  # the daemon dies

    store = Store(tmp_path)
    r2 = Rig(SALES, agent_store=AgentStore(store.env))  # 1003 has since been removed from the config
    states = {a.id: (a.state, a.extension, a.pause_reason) for a in r2.engine.agents}
    assert states == {"1001": (AgentState.IDLE, "8001", None), "1002": (AgentState.PAUSED, "8002", "0")}
    assert [(d["agent"], d["state"], d["reason"]) for d in r2.kinds("agent.state")] == [
        ("1001", "idle", "restored"), ("1002", "idle", "restored"), ("1002", "paused", "restored")]
    r2.engine.call_arrived("c2", "sales", "13800000002", r2.at(20))
    assert r2.rings() == [(20, "8001", "c2")]  # taking calls again without anyone logging in
    r2.engine.logout("1001", r2.at(30))
    assert sorted(AgentStore(store.env).load()) == ["1002"]


def test_host_reporting_a_failed_ring_at_once_is_handled_after_the_decision() -> None:
    r = Rig(SALES)
    e = r.engine
    plain_ring = r.host.ring

    def ring(extension: str, call: str, caller: str | None, name: str | None) -> None:
        plain_ring(extension, call, caller, name)
        if extension == "8001":  # this phone is off the hook: the host says so straight away
            assert e.ring_failed(call, extension, r.host.t) is None  # deferred
    r.host.ring = ring
    login_both(r)
    e.call_arrived("c1", "sales", "1", r.at(10))
    assert r.rings() == [(10, "8001", "c1"), (10, "8002", "c1")]
    assert e.agents.get("1001").missed_today == 1 and e.agents.get("1001").available
    assert e.agents.get("1002").state is AgentState.RESERVED and e.invariant_errors() == []
