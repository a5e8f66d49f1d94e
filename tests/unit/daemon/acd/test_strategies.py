"""Each strategy picks the agent it should; rules (sticky, VIP, new caller, time of day, skill) combine
as config data, in order."""

import pytest

from daemon.acd.config import RuleConfig, TimeRange, parse_acd_text
from daemon.acd.strategies import Caller, Candidate, Memory, apply_rules, pick

# four agents with deliberately different histories: each strategy has exactly one right answer
A = [
    Candidate("1001", 0, idle_since=300, answered_today=5, rings_today=9, talk_today=900, skills=(("zh", 3),),
              groups=("day",)),
    Candidate("1002", 1, idle_since=100, answered_today=7, rings_today=8, talk_today=700, skills=(("zh", 9),),
              groups=("day",)),
    Candidate("1003", 2, idle_since=200, answered_today=2, rings_today=6, talk_today=800, skills=(("zh", 5),),
              groups=("night",)),
    Candidate("1004", 3, idle_since=400, answered_today=3, rings_today=2, talk_today=100, skills=(),
              groups=("night", "new")),
]


@pytest.mark.parametrize("strategy, expect", [
    ("ring_all", ["1001", "1002", "1003", "1004"]),
    ("longest_idle", ["1002"]),  # idle since t=100
    ("fewest_calls", ["1003"]),  # 2 answered today
    ("fewest_rings", ["1004"]),  # 2 rings today
    ("least_talk_time", ["1004"]),  # 100 s talk today
    ("highest_skill", ["1002"]),  # zh 9
])
def test_each_strategy_picks_its_agent(strategy: str, expect: list[str]) -> None:
    assert pick(strategy, A, Memory(), skill="zh") == expect
    assert pick(strategy, list(reversed(A)), Memory(), skill="zh") == expect  # input order does not matter


def test_ties_break_on_longest_idle_then_config_order() -> None:
    same = [Candidate("b", 1, idle_since=50), Candidate("a", 0, idle_since=50), Candidate("c", 2, idle_since=10)]
    assert pick("fewest_calls", same, Memory()) == ["c"]
    assert pick("fewest_calls", same[:2], Memory()) == ["a"]


def test_round_robin_remembers_and_skips_busy_agents() -> None:
    mem = Memory()
    got = [pick("round_robin", A, mem)[0] for _ in range(5)]
    assert got == ["1001", "1002", "1003", "1004", "1001"]
    # 1002 is busy now: after 1001 comes 1003, and the memory carries on from there
    assert pick("round_robin", [A[0], A[2], A[3]], mem) == ["1003"]
    assert pick("round_robin", A, mem) == ["1004"]
    assert pick("round_robin", [], mem) == []


NOBODY = Caller()


def plan(rules, caller=NOBODY, waited=0.0, minute=600, skipped=frozenset(), strategy="longest_idle"):
    return apply_rules(rules, strategy, A, caller, waited, minute, skipped)


def test_sticky_goes_to_last_agent_then_falls_back_after_timeout() -> None:
    rules = [RuleConfig("sticky", timeout_s=20)]
    back = Caller("13800138000", known=True, last_agent="1003")
    p = plan(rules, back, waited=5)
    assert p.pool == ("1003",) and p.replan_after_s == 20 and p.applied == ("sticky:1003",)
    assert plan(rules, back, waited=20).pool == tuple(c.id for c in A)  # timed out: everyone
    assert plan(rules, back, waited=5, skipped=frozenset({"1003"})).pool == tuple(c.id for c in A)  # missed
    gone = Caller("13800138000", known=True, last_agent="1999")  # last agent not logged in: no waiting
    assert plan(rules, gone).pool == tuple(c.id for c in A) and plan(rules, gone).replan_after_s is None


def test_new_caller_goes_to_new_customer_group_or_least_answered() -> None:
    new = Caller("13900000000")
    p = plan([RuleConfig("new_caller", group="new")], new)
    assert p.pool == ("1004",)
    p = plan([RuleConfig("new_caller")], new)
    assert p.strategy == "fewest_calls" and pick(p.strategy, A, Memory()) == ["1003"]
    assert plan([RuleConfig("new_caller", group="new")], Caller("1", known=True)).pool == tuple(c.id for c in A)


def test_time_of_day_chooses_groups_by_local_time() -> None:
    rules = [RuleConfig("time_of_day", ranges=(TimeRange(("day",), 8 * 60, 21 * 60), TimeRange(("night",))))]
    assert plan(rules, minute=8 * 60).pool == ("1001", "1002")
    assert plan(rules, minute=21 * 60 - 1).pool == ("1001", "1002")
    assert plan(rules, minute=21 * 60).pool == ("1003", "1004")
    assert plan(rules, minute=3 * 60).pool == ("1003", "1004")
    wrap = [RuleConfig("time_of_day", ranges=(TimeRange(("night",), 22 * 60, 6 * 60),))]
    assert plan(wrap, minute=23 * 60).pool == ("1003", "1004") and plan(wrap, minute=5 * 60).pool == ("1003", "1004")
    assert plan(wrap, minute=12 * 60).pool == tuple(c.id for c in A)  # no range matches: no narrowing


def test_vip_boost_scales_with_level() -> None:
    rules = [RuleConfig("vip", min_level=2, boost=10)]
    assert plan(rules, Caller("1", True, level=3)).boost == 30
    assert plan(rules, Caller("1", True, level=1)).boost == 0


def test_skill_rule_narrows_to_skilled_agents() -> None:
    assert plan([RuleConfig("skill", skill="zh", min_level=5)]).pool == ("1002", "1003")


COMBINED = """
[[agent]]
id = "1001"
groups = ["day"]
[[agent]]
id = "1002"
groups = ["day"]
[[agent]]
id = "1003"
groups = ["night"]
[[agent]]
id = "1004"
groups = ["night", "new"]

[[queue]]
name = "travel"
groups = ["day", "night"]
strategy = "fewest_calls"
[[queue.rule]]
kind = "sticky"
timeout_s = 30
[[queue.rule]]
kind = "vip"
min_level = 1
boost = 100
[[queue.rule]]
kind = "time_of_day"
ranges = [{ from = "08:00", to = "21:00", groups = ["day"] }, { groups = ["night"] }]
"""


def test_combined_sticky_vip_time_of_day_from_config() -> None:
    q = parse_acd_text(COMBINED).queue("travel")
    day, night = 10 * 60, 23 * 60
    vip_back = Caller("13800138000", known=True, level=2, last_agent="1003")
    # a returning VIP in the daytime: lifted, and goes to their night-shift agent first (sticky is first)
    p = apply_rules(q.rules, q.strategy, A, vip_back, 0, day)
    assert (p.pool, p.boost, p.applied) == (("1003",), 200, ("sticky:1003", "vip+200"))
    # after the sticky timeout, time of day decides: day agents, fewest calls among them
    p = apply_rules(q.rules, q.strategy, A, vip_back, 30, day)
    assert p.pool == ("1001", "1002") and p.boost == 200
    assert pick(p.strategy, [c for c in A if c.id in p.pool], Memory()) == ["1001"]
    # an ordinary new caller at night: no boost, night group, fewest calls → 1003
    p = apply_rules(q.rules, q.strategy, A, Caller("13900000000"), 0, night)
    assert (p.pool, p.boost) == (("1003", "1004"), 0)
    assert pick(p.strategy, [c for c in A if c.id in p.pool], Memory()) == ["1003"]
