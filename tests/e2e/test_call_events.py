"""The call events of the socket API (docs/api.md, "Events") against a running daemon and simulator.

Every event kind the API documents must have a test that makes a real call happen and sees the event
arrive at a subscriber, with its documented fields. These scenarios cover the call-control and
extension-feature events: ``call.offered``, ``call.answered``, ``call.held``, ``call.retrieved``,
``call.conference`` (hook flash + 3 and the ``call.conference`` op), ``call.transferred`` (hook flash
and the ``call.transfer`` op), ``call.picked_up``, ``call.waiting``, ``call.recall``,
``call.forwarded`` and ``extension.settings``. Wherever a call gets connected, each party sends its
own tone and the test measures which tones every other party hears: the event is not enough, the
audio must pass (and not pass to a party on hold).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Protocol
from unittest.mock import ANY

import pytest

from daemon.api.client import ApiClient
from tests.support.audio import tone_frequency
from tests.support.processes import DaemonProcess, wait_for
from tests.support.tone_levels import heard_tones
from tests.support.world import Phone, World

pytestmark = pytest.mark.e2e

TONES = {"caller": 1000.0, "8001": 500.0, "8002": 700.0, "8003": 1300.0, "8004": 1700.0, "8005": 1900.0,
         "8007": 2300.0}


class Party(Protocol):
    def send_tone(self, freq: float, level: float = -10.0) -> None: ...
    def silence(self) -> None: ...
    def heard(self, since: int | None = None) -> bytes: ...


class CoLine:
    """The caller behind a central-office line, as a party that sends and hears like a phone."""

    def __init__(self, w: World, line: str) -> None:
        self.w, self.line = w, line

    def send_tone(self, freq: float, level: float = -10.0) -> None:
        self.w.co_send_tone(self.line, freq, level)

    def silence(self) -> None:
        self.w.co_silence(self.line)

    def heard(self, since: int | None = None) -> bytes:
        return self.w.co_heard(self.line, since=since)


@pytest.fixture
def events(daemon: DaemonProcess) -> Iterator[ApiClient]:
    """A second API client subscribed to the call and extension events."""
    with ApiClient(str(daemon.api_socket)) as client:
        client.call("subscribe", kinds=["call.", "extension."])
        yield client


def _has(ev: dict, **fields: Any) -> dict:
    """``ev`` carries every one of ``fields`` with that value (``ANY``: present, any value)."""
    missing = [k for k in fields if k not in ev]
    assert not missing, f"{ev['kind']} lacks {missing}: {ev}"
    assert {k: ev[k] for k in fields} == fields, ev
    return ev


def _talk(w: World, parties: dict[str, Party]) -> dict[str, set[str]]:
    """Each party sends its own tone (``TONES``) for a second: which of the others' tones each one heard."""
    for name, p in parties.items():
        p.send_tone(TONES[name])
    time.sleep(0.3)
    mark = w.tick()
    time.sleep(1.0)
    heard = {name: heard_tones(p.heard(since=mark), {k: TONES[k] for k in parties if k != name})
             for name, p in parties.items()}
    for p in parties.values():
        p.silence()
    return heard


def _hear_each_other(w: World, a: Phone, b: Phone) -> None:
    """Two phones in a call hear each other, and only each other."""
    assert _talk(w, {a.ext: a, b.ext: b}) == {a.ext: {b.ext}, b.ext: {a.ext}}


def _hear_the_caller(w: World, phone: Phone) -> None:
    """``phone`` and the caller on CO line 1/3 hear each other (each measures the other's tone)."""
    at_phone, on_line = w.tones_both_ways(phone, "1/3", TONES[phone.ext], TONES["caller"])
    assert at_phone == pytest.approx(TONES["caller"], rel=0.02), f"{phone.ext} heard {at_phone} Hz"
    assert on_line == pytest.approx(TONES[phone.ext], rel=0.02), f"the caller heard {on_line} Hz"


def _port(ext: str) -> str:
    return f"2/{int(ext) - 8000}"  # the default config: 8001-8008 on span 2


def _dial_and_answer(a: Phone, b: Phone, events: ApiClient) -> str:
    """``a`` (off hook, or lifted now) dials ``b``, which answers: the call's id (from ``call.answered``)."""
    if not a.state()["off_hook"]:
        a.off_hook()
        time.sleep(0.4)
    a.dial(b.ext)
    b.wait_ringing(12, f"{b.ext} ringing")
    b.off_hook()
    answered = events.next_event("call.answered", where=lambda e: e.get("port") == _port(b.ext))
    return answered["call"]


def _three_phones(daemon: DaemonProcess, events: ApiClient) -> tuple[World, Phone, Phone, Phone, str]:
    """8001 calls 8002, which answers; 8003 stands by: the world, the three phones and the call's id."""
    w = World(daemon.sim)
    a, b, c = w.phone("8001"), w.phone("8002"), w.phone("8003")
    return w, a, b, c, _dial_and_answer(a, b, events)


def _caller_reaches_8003(w: World, events: ApiClient) -> tuple[str, CoLine, Phone]:
    """A caller on CO line 1/3 (PSTN-3 hunts from 8003) is offered and answered at 8003: the call's id,
    the caller, 8003."""
    caller, agent = CoLine(w, "1/3"), w.phone("8003")
    w.co_call("1/3", "13800138000")
    offered = _has(events.next_event("call.offered"), call=ANY, port="1/3", caller="13800138000",
                   line="PSTN-3", called=ANY, category=ANY)
    call = offered["call"]
    agent.wait_ringing(12, "8003 ringing")
    agent.off_hook()
    _has(events.next_event("call.answered"), call=call, port="2/3")
    return call, caller, agent


def _caller_hangs_up(w: World, events: ApiClient, call: str, phone: Phone) -> None:
    """The caller on CO line 1/3 and ``phone`` talk, then the caller hangs up: the call ends."""
    _hear_the_caller(w, phone)
    w.co_hangup("1/3")
    events.next_event("call.ended", where=lambda e: e["call"] == call)
    phone.on_hook()


def _code(phone: Phone, digits: str) -> None:
    """``phone`` lifts and dials a feature code (the test hangs up once its event came)."""
    phone.lift()
    phone.dial(digits)


def test_trunk_call_offered_answered_held_and_retrieved(daemon: DaemonProcess, events: ApiClient) -> None:
    w = World(daemon.sim)
    call, caller, agent = _caller_reaches_8003(w, events)
    _hear_the_caller(w, agent)

    agent.flash()
    _has(events.next_event("call.held"), call=call, port="2/3")
    time.sleep(0.3)
    assert _talk(w, {"caller": caller, "8003": agent}) == {"caller": set(), "8003": set()}  # on hold

    agent.flash()  # at dial tone: back to the held caller
    _has(events.next_event("call.retrieved"), call=call, port="2/3")
    _caller_hangs_up(w, events, call, agent)


def test_flash_consultation_three_way_then_attended_transfer(daemon: DaemonProcess, events: ApiClient) -> None:
    w, a, b, c, held = _three_phones(daemon, events)
    b.flash()
    _has(events.next_event("call.held"), call=held, port="2/2")
    time.sleep(0.6)
    consult = _dial_and_answer(b, c, events)  # from the second dial tone
    assert consult != held
    assert _talk(w, {"8001": a, "8002": b, "8003": c}) == {"8001": set(), "8002": {"8003"}, "8003": {"8002"}}

    b.flash()  # the third party waits; 3 within 3 s = conference
    time.sleep(0.6)
    b.dial("3")
    _has(events.next_event("call.conference"), calls=[held, consult], ports=["2/1", "2/2", "2/3"])
    assert _talk(w, {"8001": a, "8002": b, "8003": c}) == {
        "8001": {"8002", "8003"}, "8002": {"8001", "8003"}, "8003": {"8001", "8002"}}

    b.on_hook()  # the agent leaves: the other two talk on
    _has(events.next_event("call.transferred"), call=held, port="2/3", to="8003", attended=True, caller="8001")
    _hear_each_other(w, a, c)
    a.on_hook()
    c.on_hook()


def test_conference_and_transfer_ops_then_pickup(daemon: DaemonProcess, events: ApiClient) -> None:
    w = World(daemon.sim)
    call, caller, agent = _caller_reaches_8003(w, events)
    colleague = w.phone("8005")

    reply = daemon.api.call("call.conference", call=call, extension="8005")
    assert reply == {"call": call, "extension": "8005", "leg": ANY}
    colleague.wait_ringing(12, "8005 ringing")
    assert wait_for(lambda: colleague.state().get("caller_id"), 8, "caller ID on 8005") == "8003"  # the call's extension
    colleague.off_hook()
    _has(events.next_event("call.conference"), call=call, extension="8005", port="2/5", leg=reply["leg"])
    assert _talk(w, {"caller": caller, "8003": agent, "8005": colleague}) == {
        "caller": {"8003", "8005"}, "8003": {"caller", "8005"}, "8005": {"caller", "8003"}}
    colleague.on_hook()  # the colleague leaves: a plain call again
    time.sleep(0.3)
    _hear_the_caller(w, agent)

    assert daemon.api.call("call.transfer", call=call, extension="8006") == {"call": call, "extension": "8006"}
    _has(events.next_event("call.transferred"), call=call, extension="8006", port="2/6", caller="13800138000")
    agent.on_hook()
    wait_for(lambda: w.phone("8006").state()["ringing"], 7, "8006 ringing")
    other = w.phone("8007")  # picks up the call ringing at 8006
    _code(other, "*8006#")
    _has(events.next_event("call.picked_up"), call=call, port="2/7", extension="8007", ringing="8006")
    _has(events.next_event("call.answered", where=lambda e: e["call"] == call and e["port"] == "2/7"),
         transferred=True)
    assert not w.phone("8006").state()["ringing"]
    _caller_hangs_up(w, events, call, other)


def test_call_waiting_swap_and_recall(daemon: DaemonProcess, events: ApiClient) -> None:
    w, a, b, c, first = _three_phones(daemon, events)
    c.lift()
    c.dial("8002")  # 8002 is talking: the call waits
    second = _has(events.next_event("call.waiting"), call=ANY, port="2/2", extension="8002", caller="8003")["call"]
    mark = w.tick()
    time.sleep(1.2)
    assert tone_frequency(b.heard(since=mark)) == pytest.approx(450.0, rel=0.02)  # the call-waiting tone

    b.flash()  # answers the waiting call, the first one goes on hold
    _has(events.next_event("call.answered", where=lambda e: e["call"] == second), port="2/2", waiting=True)
    _has(events.next_event("call.held"), call=first, port="2/2")
    assert _talk(w, {"8001": a, "8002": b, "8003": c}) == {"8001": set(), "8002": {"8003"}, "8003": {"8002"}}

    b.flash()  # swap
    _has(events.next_event("call.held"), call=second, port="2/2")
    _has(events.next_event("call.retrieved"), call=first, port="2/2")
    assert _talk(w, {"8001": a, "8002": b, "8003": c}) == {"8001": {"8002"}, "8002": {"8001"}, "8003": set()}

    b.on_hook()  # ends the call with 8001; 8003 is still on hold: 8002 rings back
    events.next_event("call.ended", where=lambda e: e["call"] == first)
    _has(events.next_event("call.recall"), call=second, port="2/2")
    b.wait_ringing(12, "8002 rung back")
    time.sleep(1.0)
    b.off_hook()
    _has(events.next_event("call.retrieved"), call=second, port="2/2")
    _hear_each_other(w, b, c)
    for p in (a, b, c):
        p.on_hook()


def test_forwarding_and_do_not_disturb_codes(daemon: DaemonProcess, events: ApiClient) -> None:
    w = World(daemon.sim)
    a, p4, p5, p6, p7 = (w.phone(n) for n in ("8001", "8004", "8005", "8006", "8007"))
    _code(p4, "*728005#")
    ev = _has(events.next_event("extension.settings"), extension="8004", forward_always="8005")
    assert ev.keys() == {"type", "kind", "extension", "forward_always"}  # only what changed
    p4.on_hook()
    a.lift()
    a.dial("8004")
    call = _has(events.next_event("call.forwarded"), call=ANY, extension="8004", to="8005", reason="always")["call"]
    p5.wait_ringing(12, "8005 ringing for 8004")
    assert not p4.state()["ringing"]
    p5.off_hook()
    _has(events.next_event("call.answered"), call=call, port="2/5")
    _hear_each_other(w, a, p5)
    a.on_hook()
    p5.on_hook()
    time.sleep(1.0)
    _code(p4, "*73")
    _has(events.next_event("extension.settings"), extension="8004", forward_always="")
    p4.on_hook()

    _code(p6, "*78")
    _has(events.next_event("extension.settings"), extension="8006", dnd=True)
    p6.on_hook()
    time.sleep(1.0)
    _code(p6, "*908007#")
    _has(events.next_event("extension.settings"), extension="8006", forward_busy="8007")
    p6.on_hook()
    a.lift()
    a.dial("8006")
    call = _has(events.next_event("call.forwarded"), call=ANY, extension="8006", to="8007", reason="dnd")["call"]
    p7.wait_ringing(12, "8007 ringing for 8006")
    p7.off_hook()
    _has(events.next_event("call.answered"), call=call, port="2/7")
    _hear_each_other(w, a, p7)
    a.on_hook()
    p7.on_hook()
