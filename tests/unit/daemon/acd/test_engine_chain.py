"""A chain of tie-breakers (``strategy = "agency_chain"``: the caller's last agent, fewest answered,
fewest rings, longest idle) in the engine on the virtual clock: three agents take repeated calls on
one queue, and every call is decided by the first step that does not tie, against what the later
steps alone would have picked."""

from pathlib import Path

import pytest

from daemon.acd.config import TIE_BREAKERS as CONFIG_TIE_BREAKERS
from daemon.acd.config import ConfigError, parse_acd_text
from daemon.acd.customers import Customers
from daemon.acd.strategies import TIE_BREAKERS, Candidate, chain
from daemon.store.database import Store
from tests.unit.daemon.acd.support import T0, Rig

AGENTS = "".join(f'[[agent]]\nid = "{aid}"\n\n' for aid in ("1001", "1002", "1003"))
# one queue per agent, to give an agent a call of their own (answered or let ring out)
DIRECT = "".join(f'[[queue]]\nname = "to{aid}"\nagents = ["{aid}"]\nring_timeout_s = 10\n\n'
                 for aid in ("1001", "1002", "1003"))
CHAIN = '[[queue]]\nname = "travel"\nagents = ["1001", "1002", "1003"]\nring_timeout_s = 10\n{strategy}\n'
AGENCY = AGENTS + DIRECT + CHAIN.format(strategy='strategy = "agency_chain"')


def counters(r: Rig) -> dict[str, tuple[int, int, float]]:
    """Per agent: (answered today, rings today, idle since — seconds after T0)."""
    return {a.id: (a.answered_today, a.rings_today, a.idle_since - T0) for a in r.engine.agents}


def offer(r: Rig, call: str, caller: str, t: float) -> tuple[str, str]:
    """``call`` from ``caller`` reaches the chain queue at ``t``: the agent rung and the step that
    chose them."""
    r.engine.call_arrived(call, "travel", caller, r.at(t))
    pop = r.kinds("call.offered")[-1]
    assert pop["call"] == call
    return pop["agent"], pop["decided_by"]


def talk(r: Rig, call: str, agent: str, t: float, until: float) -> None:
    r.engine.answered(call, f"800{agent[-1]}", r.at(t))
    r.engine.hangup(call, r.at(until))


def missed_own_call(r: Rig, agent: str, t: float) -> None:
    """A call for ``agent`` alone rings out unanswered (10 s) and, once every agent of its queue has
    missed it, rings again at once until the caller gives up a second later: two rings."""
    r.engine.call_arrived(f"own{agent}{t}", f"to{agent}", "13999999999", r.at(t))
    r.at(t + 10)
    r.engine.hangup(f"own{agent}{t}", r.at(t + 11))


def test_each_step_decides_when_the_ones_before_it_tie(tmp_path: Path) -> None:
    r = Rig(AGENCY, customers=Customers(Store(tmp_path).env))
    e = r.engine
    for i, aid in enumerate(("1001", "1002", "1003")):
        e.login(aid, "", f"800{i + 1}", r.at(i))

    # Nothing tells them apart yet (no last agent, no calls, no rings): the longest idle, 1001.
    assert offer(r, "c1", "13800000001", 10) == ("1001", "longest_idle")
    talk(r, "c1", "1001", 11, 20)
    # 1002 and 1003 tie on answered (0) and rings (0): the longer idle of them, 1002.
    assert offer(r, "c2", "13800000002", 30) == ("1002", "longest_idle")
    talk(r, "c2", "1002", 31, 40)

    # 1003 lets a call of their own ring out, then comes back from a pause: 1003 has rung the most and
    # is idle the shortest — yet fewest answered (0 against 1) decides for 1003.
    missed_own_call(r, "1003", 45)
    e.pause("1003", "0", r.at(56))
    e.resume("1003", r.at(57))
    assert counters(r) == {"1001": (1, 1, 20.0), "1002": (1, 1, 40.0), "1003": (0, 2, 57.0)}
    assert offer(r, "c3", "13800000003", 60) == ("1003", "fewest_answered")
    talk(r, "c3", "1003", 61, 70)

    # 1001 lets a call of their own ring out: all have answered one; 1002 has had one ring, the others
    # three; 1001 is idle longest — fewest rings decides for 1002.
    missed_own_call(r, "1001", 75)
    assert counters(r) == {"1001": (1, 3, 20.0), "1002": (1, 1, 40.0), "1003": (1, 3, 70.0)}
    assert offer(r, "c4", "13800000004", 90) == ("1002", "fewest_rings")
    talk(r, "c4", "1002", 91, 100)

    # The caller of c2 again: 1002 served them last and is chosen, though 1002 has answered the most,
    # and is idle the shortest.
    assert counters(r) == {"1001": (1, 3, 20.0), "1002": (2, 2, 100.0), "1003": (1, 3, 70.0)}
    assert offer(r, "c5", "13800000002", 110) == ("1002", "last_agent")
    # A new caller meanwhile: 1001 and 1003 tie on answered (1) and rings (3): the longer idle, 1001.
    assert offer(r, "c6", "13800000006", 111) == ("1001", "longest_idle")
    assert e.invariant_errors() == []


def test_every_step_tied_goes_by_config_order() -> None:
    r = Rig(AGENTS + CHAIN.format(strategy='order = ["fewest_answered", "fewest_missed"]'))
    for aid in ("1003", "1002", "1001"):
        r.engine.login(aid, "", f"800{aid[-1]}", r.at(0))
    assert offer(r, "c1", "1", 1) == ("1001", "config_order")


def test_a_queue_orders_its_own_chain() -> None:
    """``order`` names the steps: longest idle first makes the others irrelevant."""
    r = Rig(AGENTS + DIRECT + CHAIN.format(strategy='order = ["longest_idle", "fewest_answered"]'))
    for i, aid in enumerate(("1001", "1002", "1003")):
        r.engine.login(aid, "", f"800{i + 1}", r.at(i))
    assert offer(r, "c1", "1", 10) == ("1001", "longest_idle")
    talk(r, "c1", "1001", 11, 20)
    assert offer(r, "c2", "2", 30) == ("1002", "longest_idle")


def test_chain_steps_are_the_ones_config_accepts() -> None:
    assert tuple(TIE_BREAKERS) == CONFIG_TIE_BREAKERS
    cands = [Candidate("a", 0, idle_since=5, missed_today=1), Candidate("b", 1, idle_since=9, missed_today=0)]
    assert chain(cands, ["fewest_missed", "longest_idle"]) == ("b", "fewest_missed")
    assert chain(cands, ["longest_idle"]) == ("a", "longest_idle")
    assert chain(cands[:1], ["longest_idle"]) == ("a", "only")
    assert chain([], ["longest_idle"]) is None


def test_agency_chain_and_order_in_the_config() -> None:
    q = parse_acd_text(AGENCY).queue("travel")
    assert (q.strategy, q.order) == ("chain", ("last_agent", "fewest_answered", "fewest_rings", "longest_idle"))
    q = parse_acd_text(AGENTS + CHAIN.format(strategy='strategy = "chain"\norder = ["fewest_rings"]')).queue("travel")
    assert (q.strategy, q.order) == ("chain", ("fewest_rings",))


@pytest.mark.parametrize("strategy, words", [
    ('order = ["fewest_answered", "oldest"]', "'oldest' is not one of"),
    ('order = []', "at least one tie-breaker"),
    ('order = ["longest_idle", "longest_idle"]', "named twice"),
    ('strategy = "fewest_calls"\norder = ["longest_idle"]', 'drop strategy or set strategy = "chain"'),
    ('strategy = "chain"', "needs its tie-breakers"),
    ('strategy = "agency_chain"\norder = ["longest_idle"]', "agency_chain is a fixed order"),
])
def test_a_bad_chain_is_named_with_file_and_line(strategy: str, words: str) -> None:
    text = AGENTS + CHAIN.format(strategy=strategy)
    with pytest.raises(ConfigError) as exc:
        parse_acd_text(text, "callbox.toml")
    err = exc.value
    key = "order" if "order" in strategy else "strategy"
    assert err.key == f"queue[0].{key}" and words in err.message
    assert err.line == next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(key))
    assert str(err).startswith("callbox.toml:")


def test_highest_skill_in_a_chain_needs_the_skill() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_acd_text(AGENTS + CHAIN.format(strategy='order = ["highest_skill"]'))
    assert exc.value.key == "queue[0].skill"
