"""A queued caller handed from one agent to another against the running daemon and simulator, through
the socket: after an API ``call.transfer`` and after a hook-flash blind transfer (``*10<ext>#``) the
first agent goes to wrap-up at once and then idle, the second is busy while talking and wraps up when
the caller hangs up; the statistics count the call once for each agent and once for the queue."""

from __future__ import annotations

import pytest

from daemon.api.client import ApiClient
from tests.support.processes import AGENT_PINS, DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def state(api: ApiClient, agent: str) -> str:
    return next(a["state"] for a in api.call("acd.snapshot")["agents"] if a["id"] == agent)


@pytest.mark.parametrize("kind", ["api", "flash"])
def test_agent_states_and_statistics_after_a_transfer(acd_daemon: DaemonProcess, kind: str) -> None:
    api = acd_daemon.api
    api.call("agent.login", agent="1001", pin=AGENT_PINS["1001"], extension="8002")
    api.call("agent.login", agent="1004", pin=AGENT_PINS["1004"], extension="8005")
    w = World(acd_daemon.sim)
    first, second = w.phone("8002"), w.phone("8005")
    answers = ApiClient(str(acd_daemon.api_socket))
    answers.call("subscribe", kinds=["call.answered"])
    w.co_call("1/3", "13800138000")
    first.wait_ringing(12, "1001 (longest idle) ringing")
    first.off_hook()
    # "工号一零零一为您服务" to the caller, then the bridge
    answers.next_event("call.answered", where=lambda e: e.get("agent") == "1001")
    answers.close()
    call = wait_for(lambda: next((c for c in api.call("calls") if c.get("agent") == "1001"), None), 10,
                    "the call connected to 1001")
    wait_for(lambda: state(api, "1001") == "busy", 5, "1001 busy")
    if kind == "api":
        assert api.call("call.transfer", call=call["id"], extension="8005")["extension"] == "8005"
    else:
        with ApiClient(str(acd_daemon.api_socket)) as held:
            held.call("subscribe", kinds=["call.held"])
            first.flash()
            assert held.next_event("call.held")["call"] == call["id"]
        first.dial("*108005#")
    second.wait_ringing(12, "8005 ringing for the transferred call")
    assert state(api, "1001") == "wrap_up" and state(api, "1004") == "idle"
    first.on_hook()
    second.off_hook()
    wait_for(lambda: state(api, "1004") == "busy", 5, "1004 busy talking")
    at_agent, at_caller = w.tones_both_ways(second, "1/3")
    assert at_agent == pytest.approx(1000.0, rel=0.02) and at_caller == pytest.approx(600.0, rel=0.02)
    wait_for(lambda: state(api, "1001") == "idle", 15, "1001 idle after the wrap-up (10 s)")
    assert state(api, "1004") == "busy"

    w.co_hangup("1/3")
    wait_for(lambda: state(api, "1004") == "wrap_up", 10, "1004 in wrap-up once the caller hung up")
    second.on_hook()
    wait_for(lambda: state(api, "1004") == "idle", 15, "1004 idle after the wrap-up")
    today = api.call("acd.snapshot")["stats"]["today"]
    assert today["agents"]["1001"]["answered"] == 1 and today["agents"]["1004"]["answered"] == 1
    assert today["queues"]["domestic"]["offered"] == 1 and today["queues"]["domestic"]["answered"] == 1
