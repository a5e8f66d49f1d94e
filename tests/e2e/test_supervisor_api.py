"""Supervisor monitoring through the real socket API, daemon and simulator as separate processes:
``supervisor.listen`` rings the supervisor's phone; once it answers it hears both sides of the agent's
call and nobody hears it; ``supervisor.whisper`` on the same tap lets the agent (only) hear it."""

from __future__ import annotations

import time

import pytest

from daemon.api.protocol import ApiError
from tests.support.processes import DaemonProcess, wait_for
from tests.support.tone_levels import heard_tones
from tests.support.world import World

pytestmark = pytest.mark.e2e

TONES = {"8001": 500.0, "8002": 700.0, "8008": 1700.0}


def _heard(w: World) -> dict[str, set[str]]:
    time.sleep(0.3)
    mark = w.tick()
    time.sleep(1.2)
    return {n: heard_tones(w.phone(n).heard(since=mark), {k: f for k, f in TONES.items() if k != n}) for n in TONES}


def test_listen_then_whisper_through_the_api(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    caller, agent, sup = w.phone("8001"), w.phone("8002"), w.phone("8008")
    caller.off_hook()
    time.sleep(0.5)
    caller.dial("8002")
    wait_for(lambda: agent.state()["ringing"], 5, "8002 ringing")
    agent.off_hook()
    wait_for(lambda: any(c["answer"] for c in daemon.api.call("calls")), 3, "answered")
    with pytest.raises(ApiError) as err:
        daemon.api.call("supervisor.listen", extension="8008", target="8006")  # 8006 is in no call
    assert err.value.code == "bad_argument"
    reply = daemon.api.call("supervisor.listen", extension="8008", target="8002")
    assert reply["state"] == "ringing" and reply["mode"] == "listen"
    wait_for(lambda: sup.state()["ringing"], 5, "the supervisor's phone ringing")
    sup.off_hook()
    wait_for(lambda: daemon.api.call("supervisor.taps")[0]["state"] == "active", 3, "the tap active")
    for n, f in TONES.items():
        w.phone(n).send_tone(f)
    assert _heard(w) == {"8001": {"8002"}, "8002": {"8001"}, "8008": {"8001", "8002"}}
    daemon.api.call("supervisor.whisper", extension="8008", target="8002")
    assert _heard(w) == {"8001": {"8002"}, "8002": {"8001", "8008"}, "8008": {"8001", "8002"}}
    daemon.api.call("supervisor.stop", extension="8008")
    time.sleep(0.5)
    assert daemon.api.call("supervisor.taps") == []
    assert [r for r in daemon.api.call("audit.list") if r["op"] == "supervisor.listen"]
    for p in (caller, agent, sup):
        p.on_hook()
