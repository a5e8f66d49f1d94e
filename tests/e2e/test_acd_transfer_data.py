"""The caller's data follows the call, through the socket against the running daemon and simulator: a
caller who came through the IVR into the domestic queue, answered by agent 1001 at 8002, is handed to
8003 (agent 1002) by each kind of transfer — the API's ``call.transfer``, a hook-flash blind ``*10``
and an attended one — and 1002's subscriber gets a ``call.ringing`` with the same customer record,
queue and IVR flow, path and keys as 1001's screen pop, plus ``transferred_by`` (and, for the
attended transfer's consultation, the customer's call id); 8003's display shows the customer's name."""

from __future__ import annotations

import time

import pytest

from daemon.api.client import ApiClient
from tests.support.processes import AGENT_PINS, DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kind", ["api", "blind", "attended"])
def test_every_transfer_rings_the_second_agent_with_the_callers_data(ivr_daemon: DaemonProcess, kind: str) -> None:
    api = ivr_daemon.api
    api.call("customer.create", number="13900139000", name="李四", level=2, notes="上次去了云南")
    api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")
    api.call("agent.login", agent="1002", pin=AGENT_PINS["1002"], extension="8003")
    w = World(ivr_daemon.sim)
    first, second = w.phone("8002"), w.phone("8003")
    events = ApiClient(str(ivr_daemon.api_socket))
    events.call("subscribe", kinds=["call.ringing", "call.answered", "call.held", "call.transferred"])
    pops = ApiClient(str(ivr_daemon.api_socket))
    pops.call("subscribe", kinds=["call.ringing"], filters={"agent": ["1002"]})
    w.co_call("1/1", "13900139000")
    wait_for(lambda: w.co_state("1/1")["hook"] == "off", 12, "the IVR to answer")
    time.sleep(1.5)
    w.co_dial("1/1", "1")  # barges into the welcome: routes menu
    time.sleep(1.0)
    w.co_dial("1/1", "1")  # domestic: the queue
    pop1 = events.next_event("call.ringing", 20, where=lambda e: e.get("agent") == "1001")
    call = pop1["call"]
    first.wait_ringing(12, "1001's phone")
    first.off_hook()
    events.next_event("call.answered", where=lambda e: e.get("agent") == "1001")  # after "工号..."

    if kind == "api":
        api.call("call.transfer", call=call, extension="8003")
    else:
        first.flash()
        assert events.next_event("call.held")["call"] == call
        first.dial("*108003#" if kind == "blind" else "8003")
    pop2 = pops.next_event("call.ringing", 10)
    assert (pop2["agent"], pop2["extension"]) == ("1002", "8003")
    for key in ("queue", "customer", "ivr"):
        assert pop2[key] == pop1[key], key
    assert pop2["queue"] == "domestic" and pop2["customer"]["notes"] == "上次去了云南"
    assert pop2["ivr"]["keys"] == "11" and pop2["ivr"]["path"][-1] == "domestic"
    assert pop2["transferred_by"] == {"agent": "1001", "extension": "8002"}
    if kind == "attended":  # the consultation is a call of its own, from 1001, about the customer's call
        assert pop2["call"] != call and pop2["customer_call"] == call and pop2["caller"] == "8002"
    else:
        assert pop2["call"] == call and pop2["caller"] == "13900139000" and "customer_call" not in pop2
    wait_for(lambda: second.state()["caller_name"], 8, "the caller ID on 8003's display")
    assert second.state()["caller_name"] == "李四"
    assert second.state()["caller_id"] == ("8002" if kind == "attended" else "13900139000")

    second.off_hook()
    if kind != "api":
        first.on_hook()
    if kind == "attended":  # once the hang-up is told from a flash, the transfer completes
        assert events.next_event("call.transferred", 5)["attended"] is True
    at_agent, at_caller = w.tones_both_ways(second, "1/1")
    assert at_agent == pytest.approx(1000.0, rel=0.02) and at_caller == pytest.approx(600.0, rel=0.02)
    w.co_hangup("1/1")
    second.on_hook()
    first.on_hook()
    events.close()
    pops.close()
