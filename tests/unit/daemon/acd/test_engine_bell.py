"""The bell phone (a queue's ``always_ring``) on the virtual clock: it rings for waiting callers only
when ``always_ring_when`` says (no member staffed, outside the queue's ``open_hours``, either, or
always), stops when that no longer holds, sends its screen pop (``call.offered`` with ``bell``) with the
caller's data like an agent's, and shows the customer's name on its display."""

from pathlib import Path

import pytest

from daemon.acd.config import ConfigError, parse_acd_text
from daemon.acd.customers import Customers
from daemon.store.database import Store
from tests.unit.daemon.acd.support import T0, Rig

AGENTS = '[[agent]]\nid = "1001"\n\n[[agent]]\nid = "1002"\n\n'
QUEUE = '[[queue]]\nname = "sales"\nagents = ["1001", "1002"]\nalways_ring = ["8009"]\nannounce_every_s = 0\n{when}\n'
HOUR = 3600.0  # T0 is 08:00 local time (UTC+8)


def bell_rings(r: Rig) -> list[tuple[float, str]]:
    return [(t, call) for t, ext, call in r.rings() if ext == "8009"]


def bell_stops(r: Rig) -> list[tuple[float, str]]:
    return [(t - T0, call) for _, t, ext, call in r.host.of("stop_ring") if ext == "8009"]


def test_bell_rings_only_while_no_agent_is_staffed(tmp_path: Path) -> None:
    customers = Customers(Store(tmp_path).env)
    customers.create("13800000001", name="张先生", level=0, notes="去三亚")
    r = Rig(AGENTS + QUEUE.format(when='always_ring_when = "no_agents"'), customers=customers)
    e = r.engine
    e.login("1001", "", "8001", r.at(0))
    e.call_arrived("c1", "sales", "13800000001", r.at(1))  # an agent is there: the bell keeps quiet
    assert bell_rings(r) == [] and r.rings() == [(1, "8001", "c1")]
    e.logout("1001", r.at(5))  # nobody staffed now: the bell rings for the waiting caller
    assert bell_rings(r) == [(5, "c1")]
    pop = r.kinds("call.offered")[-1]
    assert (pop["extension"], pop["agent"], pop["bell"], pop["queue"], pop["caller"]) == \
        ("8009", None, True, "sales", "13800000001")
    assert pop["customer"]["name"] == "张先生" and pop["customer"]["notes"] == "去三亚"
    assert r.host.shown[-1] == ("8009", "13800000001", "张先生")  # the bell phone's caller-ID display
    e.login("1002", "", "8002", r.at(8))  # someone to take it: the bell stops, the agent rings
    assert bell_stops(r) == [(8, "c1")] and r.rings()[-1] == (8, "8002", "c1")
    e.pause("1002", "0", r.at(9))  # a paused agent takes no calls: the bell rings again
    assert bell_rings(r) == [(5, "c1"), (9, "c1")]
    e.resume("1002", r.at(12))
    assert bell_stops(r) == [(8, "c1"), (12, "c1")]
    assert e.answered("c1", "8002", r.at(13))
    assert e.invariant_errors() == []


def test_bell_rings_only_outside_the_open_hours() -> None:
    when = 'always_ring_when = "closed"\nopen_hours = [{ from = "08:00", to = "09:07" }, { from = "10:04", to = "20:53" }]'
    r = Rig(AGENTS + QUEUE.format(when=when))
    e = r.engine
    e.call_arrived("c1", "sales", "13800000001", r.at(600))  # 08:10, open: nobody to ring, no bell
    assert r.rings() == []
    r.at(HOUR + 419)
    assert r.rings() == []
    r.at(HOUR + 421)  # 09:07 closed: the bell rings on the minute, woken by the engine
    assert bell_rings(r) == [(HOUR + 420, "c1")]
    assert r.kinds("call.offered")[-1]["bell"] is True
    r.at(2 * HOUR + 241)  # 10:04 open again: the bell stops
    assert bell_stops(r) == [(2 * HOUR + 240, "c1")]
    r.at(13 * HOUR - 421)
    assert len(bell_rings(r)) == 1
    r.at(13 * HOUR - 419)  # 20:53: closed for the night
    assert bell_rings(r) == [(HOUR + 420, "c1"), (13 * HOUR - 420, "c1")]
    e.call_arrived("c2", "sales", "13800000002", r.at(14 * HOUR))  # waits: the bell is c1's
    assert e.answered("c1", "8009", r.at(14 * HOUR + 1))
    assert bell_rings(r)[-1] == (14 * HOUR + 1, "c2")
    e.login("1001", "", "8001", r.at(14 * HOUR + 2))  # staffed, but closed: "closed" ignores staffing
    assert r.rings()[-1] == (14 * HOUR + 2, "8001", "c2") and "c2" in e.bell_busy.values()
    assert e.invariant_errors() == []


def test_no_agents_or_closed_rings_for_either() -> None:
    when = 'always_ring_when = "no_agents_or_closed"\nopen_hours = [{ from = "08:00", to = "09:00" }]'
    r = Rig(AGENTS + QUEUE.format(when=when))
    e = r.engine
    e.login("1001", "", "8001", r.at(0))
    e.call_arrived("busy", "sales", "1", r.at(1))
    e.answered("busy", "8001", r.at(2))
    e.call_arrived("c1", "sales", "13800000001", r.at(10))  # open and staffed (though busy): no bell
    assert bell_rings(r) == []
    e.logout("1001", r.at(20))  # logged out after the call: then nobody staffed
    e.hangup("busy", r.at(30))
    assert bell_rings(r) == [(30, "c1")]


def test_always_is_the_default_and_rings_day_and_night() -> None:
    r = Rig(AGENTS + QUEUE.format(when=""))
    assert r.config.queue("sales").always_ring_when == "always"
    r.engine.login("1001", "", "8001", r.at(0))
    r.engine.call_arrived("c1", "sales", "1", r.at(1))
    assert sorted(ext for _, ext, _ in r.rings()) == ["8001", "8009"]


@pytest.mark.parametrize("when, key, words", [
    ('always_ring_when = "night"', "queue[0].always_ring_when", "must be one of always, no_agents"),
    ('always_ring_when = "closed"', "queue[0].always_ring_when", "open_hours"),
    ('always_ring_when = "closed"\nopen_hours = [{ from = "08:00" }]', "queue[0].open_hours[0]", "both from and to"),
    ('always_ring_when = "closed"\nopen_hours = [{ from = "08:00", to = "25:00" }]', "queue[0].open_hours[0].to",
     "HH:MM"),
])
def test_a_bad_bell_setting_is_named_with_its_line(when: str, key: str, words: str) -> None:
    text = AGENTS + QUEUE.format(when=when)
    with pytest.raises(ConfigError) as exc:
        parse_acd_text(text, "callbox.toml")
    assert exc.value.key == key and words in exc.value.message
    assert exc.value.line is not None and str(exc.value).startswith("callbox.toml:")
