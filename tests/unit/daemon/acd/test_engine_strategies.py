"""Each strategy, inside the engine on the virtual clock: the agents' day is played out as real calls
(answered, talked, missed), then a call to a queue with that strategy rings the agent it should."""

import pytest

from tests.unit.daemon.acd.support import Rig

AGENTS = "".join(f'[[agent]]\nid = "{aid}"\nskills = {{ zh = {zh} }}\n\n'
                 for aid, zh in (("1001", 3), ("1002", 9), ("1003", 5)))
DIRECT = "".join(f'[[queue]]\nname = "to{aid}"\nagents = ["{aid}"]\nring_timeout_s = 15\n\n'
                 for aid in ("1001", "1002", "1003"))
PROBE = '[[queue]]\nname = "probe"\nagents = ["1001", "1002", "1003"]\nstrategy = "{s}"\nskill = "zh"\n'


def played_out_day(strategy: str) -> Rig:
    r = Rig(AGENTS + DIRECT + PROBE.format(s=strategy))
    e = r.engine
    for i, aid in enumerate(("1001", "1002", "1003")):
        e.login(aid, "", f"800{i + 1}", r.at(i))
    # 1002: one long call (300 s, from 11 to 311)
    e.call_arrived("h1", "to1002", "1", r.at(10))
    e.answered("h1", "8002", r.at(11))
    # 1001: two short calls (10 s each)
    for n, t in ((2, 20), (3, 40)):
        e.call_arrived(f"h{n}", "to1001", "1", r.at(t))
        e.answered(f"h{n}", "8001", r.at(t + 1))
        e.hangup(f"h{n}", r.at(t + 11))
    # 1003: misses a ring (rung again, the caller gives up), then one 100 s call
    e.call_arrived("h4", "to1003", "1", r.at(60))
    r.at(75)
    e.hangup("h4", r.at(76))
    e.call_arrived("h5", "to1003", "1", r.at(80))
    e.answered("h5", "8003", r.at(81))
    e.hangup("h5", r.at(181))
    e.hangup("h1", r.at(311))
    r.at(400)
    got = {a.id: (a.answered_today, a.rings_today, a.talk_today, a.idle_since - 1_763_856_000, a.missed_today)
           for a in e.agents}
    assert got == {"1001": (2, 2, 20.0, 51.0, 0), "1002": (1, 1, 300.0, 311.0, 0), "1003": (1, 3, 100.0, 181.0, 1)}
    return r


@pytest.mark.parametrize("strategy, expect", [
    ("longest_idle", ["8001"]),  # idle since 51
    ("fewest_calls", ["8003"]),  # 1 call, like 1002, but idle longer
    ("fewest_rings", ["8002"]),  # 1 ring
    ("least_talk_time", ["8001"]),  # 20 s
    ("highest_skill", ["8002"]),  # zh 9
    ("ring_all", ["8001", "8002", "8003"]),
])
def test_strategy_in_the_engine(strategy: str, expect: list[str]) -> None:
    r = played_out_day(strategy)
    before = len(r.rings())
    r.engine.call_arrived("p1", "probe", "2", r.at(401))
    assert [ext for _, ext, _ in r.rings()[before:]] == expect


def test_round_robin_in_the_engine() -> None:
    r = played_out_day("round_robin")
    e = r.engine
    before = len(r.rings())
    for n, t in enumerate((401, 410, 420, 430)):
        e.call_arrived(f"p{n}", "probe", "2", r.at(t))
        e.answered(f"p{n}", r.rings()[-1][1], r.at(t + 1))
        e.hangup(f"p{n}", r.at(t + 2))
    assert [ext for _, ext, _ in r.rings()[before:]] == ["8001", "8002", "8003", "8001"]
