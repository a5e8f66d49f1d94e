"""Integrators' calls against a running daemon and simulator: the example screen-pop client prints an
incoming caller, and click-to-dial and hang-up through the API ring the agent, reach the far end and
are audited (bad arguments refused). Nothing here measures timing, so it runs beside other files."""

from __future__ import annotations

import subprocess
import sys

import pytest

from daemon.api.protocol import ApiError
from tests.support.processes import ROOT, DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def test_example_screen_pop_client_prints_the_caller(daemon: DaemonProcess) -> None:
    example = ROOT / "docs" / "examples" / "screen_pop.py"
    proc = subprocess.Popen([sys.executable, str(example), "--socket", str(daemon.api_socket), "--extension", "8001",
                             "--extension", "8002"], stdout=subprocess.PIPE, text=True)
    try:
        assert "connected to" in proc.stdout.readline()
        assert proc.stdout.readline().strip() == "watching calls at 8001, 8002"  # subscribed: no ring missed
        w = World(daemon.sim)
        w.co_call("1/1", "13800138000")
        line = proc.stdout.readline()
        assert "SCREEN POP" in line and "13800138000" in line and "ext 800" in line
    finally:
        proc.terminate()
        proc.wait(5)


def test_click_to_dial_and_hangup_through_the_api_are_audited(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    w.co_scenario("12301", "answer", after_s=1.0)
    agent = w.phone("8003")
    call = daemon.api.call("call.dial", extension="8003", number="12301")["call"]
    agent.wait_ringing(12, "the agent's phone")
    wait_for(lambda: agent.state().get("caller_id") == "12301", 8, "the customer's number on the display")
    agent.off_hook()
    line = wait_for(lambda: w.co_line_with_digits("12301"), 15, "the CO to receive 12301")
    wait_for(lambda: any(c.get("answer") for c in daemon.api.call("calls")), 10, "answer")
    daemon.api.call("call.hangup", call=call)
    (cdr,) = wait_for(lambda: daemon.api.call("cdr.list"), 5, "the CDR")
    assert cdr["id"] == call and cdr["called"] == "12301" and cdr["disposition"] == "ANSWERED"
    wait_for(lambda: w.co_state(line)["hook"] == "on", 3, "the trunk released")
    agent.on_hook()
    ops = [a["op"] for a in daemon.api.call("audit.list")]
    assert ops[:2] == ["call.hangup", "call.dial"]
    with pytest.raises(ApiError) as err:
        daemon.api.call("call.transfer", call="nope", extension="8001")
    assert err.value.code == "not_found"
    with pytest.raises(ApiError) as err:
        daemon.api.call("call.dial", extension="8003", number=12301)
    assert err.value.code == "bad_argument"
