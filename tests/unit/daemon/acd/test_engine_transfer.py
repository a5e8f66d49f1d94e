"""A queued call handed from one agent to another, in the engine on the virtual clock: the first agent's
part ends (``hangup``: wrap-up), the agent who answers it at another extension takes it over
(``transfer_answered``: busy, counted as answered) and wraps up when it ends; a paused agent who takes
one is paused again after it; nobody logged in there, nothing changes."""

from daemon.acd.agents import AgentState
from tests.unit.daemon.acd.support import Rig

CONFIG = """
[[agent]]
id = "1001"
[[agent]]
id = "1002"
wrap_up_s = 5
[[queue]]
name = "sales"
agents = ["1001", "1002"]
wrap_up_s = 10
"""


def handed_to_1002(r: Rig) -> None:
    e = r.engine
    e.login("1001", "", "8001", r.at(0))
    e.login("1002", "", "8002", r.at(1))
    e.call_arrived("c1", "sales", "13800000001", r.at(2))
    assert e.answered("c1", "8001", r.at(3))
    e.hangup("c1", r.at(30))  # 1001 hands it on: their part ends


def test_the_second_agent_takes_the_call_over_and_each_counts_it() -> None:
    r = Rig(CONFIG)
    e = r.engine
    handed_to_1002(r)
    assert e.agents.get("1001").state is AgentState.WRAP_UP
    assert e.transfer_answered("c1", "sales", "8002", r.at(35))
    assert e.agents.get("1002").state is AgentState.BUSY and e.agents.get("1002").call == "c1"
    r.at(45)
    assert e.agents.get("1001").state is AgentState.IDLE  # its own wrap-up (10 s) is over
    e.hangup("c1", r.at(95))
    assert e.agents.get("1002").state is AgentState.WRAP_UP  # its own wrap-up: 5 s
    r.at(101)
    assert e.agents.get("1002").state is AgentState.IDLE
    today = e.stats.live(r.host.t)["today"]
    assert today["agents"]["1001"]["answered"] == 1 and today["agents"]["1002"]["answered"] == 1
    assert today["agents"]["1002"]["talk_s"] == 60 and today["agents"]["1001"]["talk_s"] == 27
    assert today["queues"]["sales"]["answered"] == 1 and today["queues"]["sales"]["offered"] == 1
    assert [(d["agent"], d["talk_s"]) for d in r.kinds("call.ended")] == [("1001", 27), ("1002", 60)]
    assert e.agents.get("1002").answered_today == 1
    assert list(e.queues["sales"].handle_times) == [37]  # the call's one handle time (1001's)
    assert e.invariant_errors() == []


def test_a_paused_agent_who_takes_a_transfer_is_paused_again_after_it() -> None:
    r = Rig(CONFIG)
    e = r.engine
    handed_to_1002(r)
    e.pause("1002", "0", r.at(31))
    assert e.transfer_answered("c1", "sales", "8002", r.at(35))
    assert e.agents.get("1002").state is AgentState.BUSY
    e.hangup("c1", r.at(50))
    assert e.agents.get("1002").state is AgentState.PAUSED and e.agents.get("1002").pause_reason == "0"


def test_nobody_logged_in_at_the_extension_takes_nothing_over() -> None:
    r = Rig(CONFIG)
    e = r.engine
    handed_to_1002(r)
    assert not e.transfer_answered("c1", "sales", "8009", r.at(35))
    assert not e.transfer_answered("c1", "nowhere", "8002", r.at(35))
    assert "c1" not in e.talking and e.agents.get("1002").state is AgentState.IDLE
