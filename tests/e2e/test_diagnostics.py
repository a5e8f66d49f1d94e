"""Diagnostics against a running daemon and simulator: a test ring with a test caller ID, a test tone
measured at the phone, and live DTMF and caller-ID events (``diag.dtmf``, ``diag.callerid``)."""

from __future__ import annotations

import time

import pytest

from daemon.api.client import ApiClient
from daemon.api.protocol import ApiError
from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess, wait_for
from tests.support.world import World

pytestmark = pytest.mark.e2e


def _state(d: DaemonProcess, port: str) -> str:
    return next(p for p in d.api.call("ports") if p["port"] == port)["state"]


def _events(client: ApiClient, kind: str) -> list[dict]:
    client.call("whoami")  # reading a reply also reads the events queued before it
    return [e for e in client.events if e["kind"] == kind]


def test_ring_an_extension_with_a_test_caller_id(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    phone = w.phone("8003")
    rings = phone.rings()
    reply = daemon.api.call("diag.ring", extension="8003", seconds=3, number="12345", name="TEST")
    assert reply["port"] == "2/3"
    wait_for(lambda: phone.rings() > rings, 10, "8003 ringing")
    st = wait_for(lambda: (s := phone.state()) and s["caller_id"] == "12345" and s, 15, "the test caller ID")
    assert st["caller_name"] == "TEST"
    with pytest.raises(ApiError) as err:  # a port being rung (or in a call) is not rung again
        daemon.api.call("diag.ring", extension="8003")
    assert err.value.code == "bad_argument" and "busy" in err.value.message
    with pytest.raises(ApiError) as err:  # a CO line has no phone to ring
        daemon.api.call("diag.ring", port="1/1")
    assert err.value.code == "bad_argument" and "not an extension" in err.value.message
    wait_for(lambda: _state(daemon, "2/3") == "idle", 6, "the test ring to end")
    time.sleep(1.5)
    assert not phone.state()["ringing"] and not daemon.api.call("calls")
    assert [r for r in daemon.api.call("audit.list") if r["op"] == "diag.ring"]


def test_test_tone_is_heard_at_the_requested_frequency(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    phone = w.phone("8002")
    phone.off_hook()
    time.sleep(0.5)
    daemon.api.call("diag.tone", port="2/2", freq=1234.0, seconds=2)
    time.sleep(0.2)
    mark = w.tick()
    time.sleep(1.0)
    assert tone_frequency(phone.heard(since=mark)) == pytest.approx(1234.0, rel=0.02)
    time.sleep(1.2)  # the test tone has ended: the dial tone it covered comes back
    mark = w.tick()
    time.sleep(0.6)
    assert tone_frequency(phone.heard(since=mark)) == pytest.approx(450.0, rel=0.02)
    with pytest.raises(ApiError):
        daemon.api.call("diag.tone", port="2/2", freq=5000.0)
    with pytest.raises(ApiError):
        daemon.api.call("diag.tone", port="9/9", tone="dial")
    phone.on_hook()


def test_dtmf_and_caller_id_are_shown_live(daemon: DaemonProcess) -> None:
    w = World(daemon.sim)
    with ApiClient(str(daemon.api_socket)) as watcher:
        watcher.call("subscribe", kinds=["diag."])
        phone = w.phone("8001")
        phone.lift()
        phone.dial("80")
        digits = wait_for(lambda: (e := _events(watcher, "diag.dtmf")) and len(e) >= 2 and e, 5, "two digits")
        assert [(e["port"], e["digit"]) for e in digits] == [("2/1", "8"), ("2/1", "0")]
        phone.on_hook()
        w.co_call("1/4", "13912345678", name="ZHANG")
        (cid,) = wait_for(lambda: _events(watcher, "diag.callerid"), 10, "caller ID on 1/4")
        assert (cid["port"], cid["number"], cid["name"]) == ("1/4", "13912345678", "ZHANG")
        w.co_hangup("1/4")
    recent = daemon.api.call("diag.watch")["events"]
    assert [e["digit"] for e in recent if e["kind"] == "diag.dtmf"] == ["8", "0"]
    assert [e["number"] for e in recent if e["kind"] == "diag.callerid"] == ["13912345678"]
