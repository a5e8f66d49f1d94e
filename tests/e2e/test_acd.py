"""The ACD through the socket API against the running daemon and simulator: customer records,
agents logging in, pausing and out, the supervisor's snapshot, a queued call's screen pop to the
agent's subscriber with the customer record, and the CDR and audit trail it leaves; and a caller who
came through the IVR popping up with the flow's path and the keys entered."""

from __future__ import annotations

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError, ErrorCode
from tests.support.processes import AGENT_PINS, DaemonProcess, agent_pin, wait_for
from tests.support.world import World
from tests.unit.daemon.api.test_roles import _as_nobody


def test_agents_customers_snapshot_and_screen_pop_through_the_api(acd_daemon: DaemonProcess) -> None:
    api = acd_daemon.api
    created = api.call("customer.create", number="13800138000", name="张三", level=1)
    assert created["name"] == "张三" and created["level"] == 1
    with pytest.raises(ApiError) as err:
        api.call("customer.create", number="13800138000", name="again")
    assert err.value.code == "refused"
    assert api.call("customer.update", number="13800138000", notes="常客")["notes"] == "常客"
    listing = api.call("customer.list")
    assert listing["total"] == 1 and listing["customers"][0]["number"] == "13800138000"
    with pytest.raises(ApiError) as err:
        api.call("customer.update", number="13800138000", level=12)
    assert err.value.code == "bad_argument"

    watcher = ApiClient(str(acd_daemon.api_socket))
    watcher.call("subscribe", kinds=["agent.", "queue.stats", "call.queued", "call.connected", "call.ended"],
                 filters={"queue": ["domestic"], "agent": ["1001"]})
    with pytest.raises(ApiError) as err:
        api.call("agent.login", agent="1001", pin="0000", extension="8002")
    assert err.value.code == "refused" and "PIN" in err.value.message
    with pytest.raises(ApiError) as err:
        api.call("agent.login", agent="9999", pin="1", extension="8002")
    assert err.value.code == "not_found"
    assert api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")["state"] == "idle"
    assert api.call("agent.pause", agent="1001", reason="1")["state"] == "paused"
    assert api.call("agent.resume", agent="1001")["state"] == "idle"
    snap = api.call("acd.snapshot")
    me = next(a for a in snap["agents"] if a["id"] == "1001")
    assert me["extension"] == "8002" and me["state"] == "idle"
    assert snap["queues"]["domestic"]["staffed"] == 1

    with ApiClient(str(acd_daemon.api_socket)) as pop:
        pop.call("subscribe", kinds=["call.ringing"], filters={"agent": ["1001"]})
        w = World(acd_daemon.sim)
        w.co_call("1/3", "13800138000")
        ev = pop.next_event("call.ringing")
        assert (ev["agent"], ev["extension"], ev["queue"], ev["caller"]) == ("1001", "8002", "domestic",
                                                                             "13800138000")
        assert ev["customer"]["name"] == "张三" and ev["customer"]["notes"] == "常客"
    agent = w.phone("8002")
    agent.wait_ringing(12, "the agent's phone")
    bridged = acd_daemon.subscriber("call.answered")
    agent.off_hook()
    call = wait_for(lambda: next((c for c in api.call("calls") if c.get("agent") == "1001"), None), 10,
                    "the call connected to the agent")
    assert call["queue"] == "domestic"
    bridged.next_event("call.answered", 15)  # after "工号一零零一为您服务" to the caller
    bridged.close()
    at_agent, at_caller = w.tones_both_ways(agent, "1/3")
    assert at_agent == pytest.approx(1000.0, rel=0.02) and at_caller == pytest.approx(600.0, rel=0.02)
    api.call("call.hangup", call=call["id"])
    (cdr,) = wait_for(lambda: api.call("cdr.list"), 5, "the CDR")
    assert (cdr["queue"], cdr["agent"], cdr["dst"]) == ("domestic", "1001", "8002")
    agent.on_hook()
    wait_for(lambda: next(a for a in api.call("acd.snapshot")["agents"] if a["id"] == "1001")["state"]
             == "wrap_up", 5, "wrap-up")
    stats = api.call("acd.snapshot")["stats"]["today"]["queues"]["domestic"]
    assert stats["offered"] == 1 and stats["answered"] == 1
    assert isinstance(api.call("acd.intervals", since=0), list)
    assert api.call("customer.get", number="13800138000")["last_agent"] == "1001"

    assert api.call("agent.logout", agent="1001")["state"] == "logged_out"
    states = []
    while not states or states[-1]["state"] != "logged_out":
        states.append(watcher.next_event("agent.state"))
    seen = [e["state"] for e in states]
    assert seen[:6] == ["idle", "paused", "idle", "reserved", "busy", "wrap_up"] and seen[-1] == "logged_out"
    queued = watcher.next_event("call.queued")
    assert queued["customer"]["name"] == "张三" and queued["position"] == 1
    assert watcher.next_event("call.connected")["agent"] == "1001"
    assert watcher.next_event("queue.stats")["live"]["staffed"] >= 0
    ended = watcher.next_event("call.ended")
    assert ended.get("agent") == "1001" or ended["cdr"]["agent"] == "1001"
    watcher.close()
    assert api.call("customer.delete", number="13800138000") == {"deleted": "13800138000"}
    with pytest.raises(ApiError) as err:
        api.call("customer.get", number="13800138000")
    assert err.value.code == "not_found"
    audit = api.call("audit.list")
    login = next(a for a in audit if a["op"] == "agent.login")
    assert login["args"]["pin"] == "****"


def test_a_caller_through_the_ivr_pops_up_at_the_agent_with_the_keys_and_customer(ivr_daemon: DaemonProcess) -> None:
    """PSTN-1's flow: the caller keys 1 (routes) then 1 (domestic) and waits in the domestic queue;
    the agent's subscriber gets the screen pop with the customer record, the flow, path and keys."""
    api = ivr_daemon.api
    api.call("customer.create", number="13900139000", name="李四", level=2, notes="上次去了云南")
    api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")
    w = World(ivr_daemon.sim)
    with ApiClient(str(ivr_daemon.api_socket)) as pop:
        pop.call("subscribe", kinds=["call.ringing"], filters={"agent": ["1001"]})
        w.co_call("1/1", "13900139000")
        wait_for(lambda: w.co_state("1/1")["hook"] == "off", 12, "the IVR to answer")
        ivr_daemon.wait_ivr_node("main")
        w.co_keys("1/1", "1")  # barges into the welcome: routes menu
        ivr_daemon.wait_ivr_node("routes")
        w.co_dial("1/1", "1")  # domestic: the queue
        ev = pop.next_event("call.ringing", 20)
    assert (ev["agent"], ev["extension"], ev["queue"], ev["caller"]) == ("1001", "8002", "domestic", "13900139000")
    assert (ev["customer"]["name"], ev["customer"]["level"], ev["customer"]["notes"]) == ("李四", 2, "上次去了云南")
    assert ev["ivr"]["flow"] == "travel-agency" and ev["ivr"]["keys"] == "11"
    assert ev["ivr"]["path"] == ["screen", "hours", "main", "routes", "domestic"], ev["ivr"]
    agent = w.phone("8002")
    agent.wait_ringing(12, "the agent's phone")
    bridged = ivr_daemon.subscriber("call.answered")
    agent.off_hook()
    bridged.next_event("call.answered", 15)  # after the agent's ID to the caller
    bridged.close()
    at_agent, at_caller = w.tones_both_ways(agent, "1/1")
    assert at_agent == pytest.approx(1000.0, rel=0.02) and at_caller == pytest.approx(600.0, rel=0.02)
    w.co_hangup("1/1")
    agent.on_hook()


def test_an_agent_connection_acts_only_for_its_own_agent(reachable_daemon: DaemonProcess) -> None:
    """As the user nobody (the agent role): nothing on any agent until logged in with the PIN, then
    pause and resume of that agent only; no customer records; an agent token binds the same way."""
    d = reachable_daemon
    d.api.call("customer.create", number="13800138000", name="张三")
    d.api.call("config.set", changes=[{"key": "api.tokens.tok-1002", "value": "agent:1002"}])
    d.api.call("agent.login", agent="1002", pin=agent_pin(d.config, "1002"), extension="8003")
    pin = agent_pin(d.config, "1001")
    out = _as_nobody(str(d.api_socket), [
        ("agent.logout", {"agent": "1002"}), ("agent.pause", {"agent": "1002", "reason": "1"}),
        ("agent.login", {"agent": "1001", "pin": pin, "extension": "8002"}),
        ("agent.pause", {"agent": "1001", "reason": "1"}), ("agent.resume", {"agent": "1001"}),
        ("agent.pause", {"agent": "1002", "reason": "1"}), ("agent.logout", {"agent": "1002"}),
        ("customer.get", {"number": "13800138000"}), ("customer.list", {}),
        ("auth", {"token": "tok-1002"}), ("agent.pause", {"agent": "1002", "reason": "1"}),
        ("agent.logout", {"agent": "1001"})])
    forbidden = {"error": ErrorCode.FORBIDDEN}
    assert out[:2] == [forbidden] * 2
    assert (out[2]["id"], out[2]["state"], out[3]["state"], out[4]["state"]) == ("1001", "idle", "paused", "idle")
    assert out[5:9] == [forbidden] * 4
    assert (out[9]["role"], out[9]["agent"]) == ("agent", "1002") and out[10]["state"] == "paused"
    assert out[11] == forbidden
    states = {a["id"]: (a["state"], a["extension"]) for a in d.api.call("acd.snapshot")["agents"]}
    assert states["1001"] == ("idle", "8002") and states["1002"] == ("paused", "8003")
    mine = [(a["op"], a["args"]["agent"]) for a in d.api.call("audit.list") if "nobody" in a["who"]]
    assert mine[::-1] == [("agent.login", "1001"), ("agent.pause", "1001"), ("agent.resume", "1001"),
                          ("agent.pause", "1002")]  # refused calls change nothing
