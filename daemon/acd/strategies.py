"""Routing: which agent(s) a waiting call is offered to.

Two layers, both pure:

* **Rules** (``apply_rules``): a queue's ordered list of ``RuleConfig`` (config data) turns the
  queue's logged-in members and what is known of the caller into a ``Plan``: the pool of agents
  the call may go to now, the strategy to pick with, a priority boost, and when to plan again.
  ``sticky``, ``new_caller``, ``time_of_day`` and ``skill`` *narrow* the pool, in order; a rule that
  would leave nobody logged in is skipped, so earlier rules take precedence over later ones.
  ``vip`` lifts the call's priority by ``boost`` per customer level.
* **Strategies** (``pick``): choose among the *available* agents of the pool. Each returns the agent
  IDs to ring (all of them for ring-all, otherwise one). Ties break on longest idle, then config
  order, so every choice is deterministic.
* **Chains** (``chain``, strategy ``chain`` with the queue's ``order``): an ordered list of
  tie-breakers; each later step decides only among the agents the earlier steps left tied, config
  order last. ``pick_why`` also says which step decided (``call.offered``'s ``decided_by``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from daemon.acd.config import RuleConfig


@dataclass(frozen=True)
class Candidate:
    """What a strategy may know of an agent (a snapshot; ``*_today`` reset at local midnight)."""

    id: str
    order: int  # position in the config (round-robin order, last tie-break)
    idle_since: float = 0.0
    answered_today: int = 0
    rings_today: int = 0
    talk_today: float = 0.0
    skills: tuple[tuple[str, int], ...] = ()
    groups: tuple[str, ...] = ()
    missed_today: int = 0

    def skill(self, name: str) -> int:
        return dict(self.skills).get(name, 0)


@dataclass
class Memory:
    """What a queue's strategy remembers between calls."""

    last_order: int | None = None  # round-robin: config order of the agent last offered a call


def _tie(c: Candidate) -> tuple:
    return (c.idle_since, c.order)


def ring_all(cands: Sequence[Candidate], mem: Memory, skill: str = "") -> list[str]:
    return [c.id for c in sorted(cands, key=lambda c: c.order)]


def round_robin(cands: Sequence[Candidate], mem: Memory, skill: str = "") -> list[str]:
    """The next agent in config order after the one offered last (wrapping), whoever is free."""
    if not cands:
        return []
    ordered = sorted(cands, key=lambda c: c.order)
    last = -1 if mem.last_order is None else mem.last_order
    chosen = next((c for c in ordered if c.order > last), ordered[0])
    mem.last_order = chosen.order
    return [chosen.id]


def _least(key: Callable[[Candidate], tuple]) -> Callable[[Sequence[Candidate], Memory, str], list[str]]:
    def choose(cands: Sequence[Candidate], mem: Memory, skill: str = "") -> list[str]:
        return [min(cands, key=key).id] if cands else []
    return choose


longest_idle = _least(_tie)
fewest_calls = _least(lambda c: (c.answered_today, *_tie(c)))
fewest_rings = _least(lambda c: (c.rings_today, *_tie(c)))
least_talk_time = _least(lambda c: (c.talk_today, *_tie(c)))


def highest_skill(cands: Sequence[Candidate], mem: Memory, skill: str = "") -> list[str]:
    return [min(cands, key=lambda c: (-c.skill(skill), *_tie(c))).id] if cands else []


STRATEGIES: dict[str, Callable[[Sequence[Candidate], Memory, str], list[str]]] = {
    "ring_all": ring_all,
    "round_robin": round_robin,
    "longest_idle": longest_idle,
    "fewest_calls": fewest_calls,
    "fewest_rings": fewest_rings,
    "least_talk_time": least_talk_time,
    "highest_skill": highest_skill,
}


#: a chain's tie-breakers: each ranks the agents still tied, smallest key first
TIE_BREAKERS: dict[str, Callable[[Candidate, str | None, str], object]] = {
    "last_agent": lambda c, last, skill: c.id != last,  # the agent who served this caller last
    "fewest_answered": lambda c, last, skill: c.answered_today,
    "fewest_rings": lambda c, last, skill: c.rings_today,  # offers rung today, answered or not
    "fewest_missed": lambda c, last, skill: c.missed_today,  # offers not answered today
    "least_talk_time": lambda c, last, skill: c.talk_today,
    "longest_idle": lambda c, last, skill: c.idle_since,
    "highest_skill": lambda c, last, skill: -c.skill(skill),
}


def chain(cands: Sequence[Candidate], order: Sequence[str], last_agent: str | None = None,
          skill: str = "") -> tuple[str, str] | None:
    """The agent a chain of tie-breakers picks, and the step that decided (``config_order`` when every
    step left a tie, ``only`` when there was one agent). None when nobody is available."""
    tied = sorted(cands, key=lambda c: c.order)
    if len(tied) <= 1:
        return (tied[0].id, "only") if tied else None
    for step in order:
        key = TIE_BREAKERS[step]
        best = min(key(c, last_agent, skill) for c in tied)
        tied = [c for c in tied if key(c, last_agent, skill) == best]
        if len(tied) == 1:
            return tied[0].id, step
    return tied[0].id, "config_order"


def pick_why(strategy: str, cands: Sequence[Candidate], mem: Memory, skill: str = "", *,
             order: Sequence[str] = (), last_agent: str | None = None) -> tuple[list[str], str | None]:
    """The agent IDs to ring for one call (empty when nobody is available) and, for a chain, the
    tie-breaker that decided (None for the other strategies)."""
    if strategy == "chain":
        got = chain(cands, order, last_agent, skill)
        return ([got[0]], got[1]) if got else ([], None)
    return STRATEGIES[strategy](cands, mem, skill), None


def pick(strategy: str, cands: Sequence[Candidate], mem: Memory, skill: str = "", *,
         order: Sequence[str] = (), last_agent: str | None = None) -> list[str]:
    """The agent IDs to ring for one call (empty when nobody is available)."""
    return pick_why(strategy, cands, mem, skill, order=order, last_agent=last_agent)[0]


# --- rules ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """What routing knows of the caller (from ``customers``; ``level`` 0 and no last agent if new)."""

    number: str | None = None
    known: bool = False  # has called before
    level: int = 0
    last_agent: str | None = None


@dataclass(frozen=True)
class Plan:
    pool: tuple[str, ...]  # agent IDs the call may be offered to now
    strategy: str
    boost: int = 0  # added to the queue's priority
    replan_after_s: float | None = None  # wait (s since queued) at which the plan changes (sticky timeout)
    applied: tuple[str, ...] = field(default=())  # the rules that took effect, e.g. ("sticky:1023", "vip+20")


def apply_rules(rules: Sequence[RuleConfig], strategy: str, members: Sequence[Candidate], caller: Caller,
                waited_s: float, minute_of_day: int, skipped: frozenset[str] = frozenset()) -> Plan:
    """Plan one waiting call. ``members``: the queue's staffed agents (logged in and not paused);
    ``skipped``: agents who missed this call's ring (a sticky agent who does not answer is dropped)."""
    pool = list(members)
    boost = 0
    replan: float | None = None
    applied: list[str] = []

    def narrow(keep: Callable[[Candidate], bool], note: str) -> bool:
        nonlocal pool
        kept = [c for c in pool if keep(c)]
        if not kept:
            return False
        pool = kept
        applied.append(note)
        return True

    for rule in rules:
        match rule.kind:
            case "vip":
                if caller.level >= max(rule.min_level, 1):
                    boost += rule.boost * caller.level
                    applied.append(f"vip+{rule.boost * caller.level}")
            case "sticky":
                last = caller.last_agent
                if last is not None and last not in skipped and waited_s < rule.timeout_s \
                        and narrow(lambda c, last=last: c.id == last, f"sticky:{last}"):
                    replan = rule.timeout_s if replan is None else min(replan, rule.timeout_s)
            case "new_caller":
                if not caller.known and not (
                        rule.group and narrow(lambda c, g=rule.group: g in c.groups, f"new:{rule.group}")):
                    strategy = "fewest_calls"
                    applied.append("new:fewest_calls")
            case "time_of_day":
                rng = next((r for r in rule.ranges if r.contains(minute_of_day)), None)
                if rng is not None:
                    narrow(lambda c, gs=set(rng.groups): bool(gs & set(c.groups)), f"time:{','.join(rng.groups)}")
            case "skill":
                narrow(lambda c, r=rule: c.skill(r.skill) >= r.min_level, f"skill:{rule.skill}>={rule.min_level}")
    return Plan(tuple(c.id for c in pool), strategy, boost, replan, tuple(applied))
