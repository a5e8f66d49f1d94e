"""Supervisor monitoring through the real socket API, daemon and simulator as separate processes:
``supervisor.listen`` rings the supervisor's phone; once it answers it hears both sides of the agent's
call and nobody hears it; ``supervisor.whisper`` on the same tap lets the agent (only) hear it;
``supervisor.barge`` makes it a 3-way call (everyone hears everyone); ``supervisor.stop`` ends it.
Each step's event (``supervisor.listen`` / ``whisper`` / ``barge`` / ``ended``) reaches a subscriber.
A client that is only an integrator may call none of the supervisor ops nor ``recordings.verify``."""

from __future__ import annotations

import time

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError, ErrorCode
from tests.support.processes import DaemonProcess, wait_for
from tests.support.tone_levels import heard_tones
from tests.support.world import World
from tests.unit.daemon.api.test_roles import _as_nobody

pytestmark = pytest.mark.e2e

TONES = {"8001": 500.0, "8002": 700.0, "8008": 1700.0}


def _heard(w: World) -> dict[str, set[str]]:
    time.sleep(0.3)
    mark = w.tick()
    time.sleep(1.2)
    return {n: heard_tones(w.phone(n).heard(since=mark), {k: f for k, f in TONES.items() if k != n}) for n in TONES}


def _tap_event(events: ApiClient, kind: str, call: str) -> None:
    """Wait for the supervisor event ``kind`` of 8008 tapping ``call`` at 8002, and check its fields."""
    ev = events.next_event(kind, timeout=5)
    assert (ev["supervisor"], ev["call"], ev["extension"]) == ("8008", call, "8002")


def test_listen_whisper_barge_through_the_api(daemon: DaemonProcess) -> None:
    events = ApiClient(str(daemon.api_socket))
    events.call("subscribe", kinds=["supervisor."])
    w = World(daemon.sim)
    caller, agent = w.internal_call("8001", "8002", daemon.api)
    sup = w.phone("8008")
    with pytest.raises(ApiError) as err:
        daemon.api.call("supervisor.listen", extension="8008", target="8006")  # 8006 is in no call
    assert err.value.code == "bad_argument"
    reply = daemon.api.call("supervisor.listen", extension="8008", target="8002")
    assert reply["state"] == "ringing" and reply["mode"] == "listen"
    monitored = reply["monitored"]
    sup.wait_ringing(12, "the supervisor's phone ringing")
    events.call("whoami")  # events sent so far are read with the reply
    assert not events.events  # the tap starts when the supervisor answers
    sup.off_hook()
    _tap_event(events, "supervisor.listen", monitored)
    wait_for(lambda: daemon.api.call("supervisor.taps")[0]["state"] == "active", 3, "the tap active")
    for n, f in TONES.items():
        w.phone(n).send_tone(f)
    assert _heard(w) == {"8001": {"8002"}, "8002": {"8001"}, "8008": {"8001", "8002"}}
    daemon.api.call("supervisor.whisper", extension="8008", target="8002")
    _tap_event(events, "supervisor.whisper", monitored)
    assert _heard(w) == {"8001": {"8002"}, "8002": {"8001", "8008"}, "8008": {"8001", "8002"}}
    reply = daemon.api.call("supervisor.barge", extension="8008", target="8002")
    assert (reply["mode"], reply["state"], reply["monitored"]) == ("barge", "active", monitored)
    _tap_event(events, "supervisor.barge", monitored)
    assert daemon.api.call("supervisor.taps")[0]["mode"] == "barge"
    assert _heard(w) == {"8001": {"8002", "8008"}, "8002": {"8001", "8008"}, "8008": {"8001", "8002"}}
    daemon.api.call("supervisor.stop", extension="8008")
    _tap_event(events, "supervisor.ended", monitored)
    assert daemon.api.call("supervisor.taps") == []
    assert _heard(w) == {"8001": {"8002"}, "8002": {"8001"}, "8008": set()}  # the two talk on, alone
    audit = [r["op"] for r in daemon.api.call("audit.list")]
    assert {"supervisor.listen", "supervisor.whisper", "supervisor.barge", "supervisor.stop"} <= set(audit)
    events.close()
    for p in (caller, agent, sup):
        p.on_hook()


def test_an_integrator_may_not_supervise_nor_verify_copies(reachable_daemon: DaemonProcess) -> None:
    d = reachable_daemon
    d.api.call("config.set", changes=[{"key": "api.tokens.tok-int", "value": "integrator"}])
    ops: list[tuple[str, dict]] = [
        ("supervisor.listen", {"extension": "8008", "target": "8002"}),
        ("supervisor.whisper", {"extension": "8008", "target": "8002"}),
        ("supervisor.barge", {"extension": "8008", "target": "8002"}),
        ("supervisor.stop", {"extension": "8008"}), ("supervisor.taps", {}), ("recordings.verify", {})]
    out = _as_nobody(str(d.api_socket), [("auth", {"token": "tok-int"}), *ops,
                                         ("recordings.status", {})])
    assert out[0]["role"] == "integrator"
    assert out[1:-1] == [{"error": ErrorCode.FORBIDDEN}] * len(ops)
    assert "alarms" in out[-1]  # an integrator op goes through: the role is right, the ops are not
    assert [a["op"] for a in d.api.call("audit.list")] == ["config.set"]  # denied calls change nothing

