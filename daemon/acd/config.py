"""The ACD's configuration: ``[acd]``, ``[[agent]]`` and ``[[queue]]`` (with ``[[queue.rule]]``).

``parse_acd(checker, top)`` is called by ``daemon.config.model.parse_config`` with its ``Checker`` and the
top-level TOML table; every mistake is a located ``ConfigError`` naming the key. The format is
described in docs/acd.md.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from daemon.config.checks import Checker, ConfigError
from daemon.config.pin_policy import read_pin

_ID_RE = re.compile(r"^[0-9]{1,8}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
_NUMBER_RE = re.compile(r"^[0-9*#]+$")
_HHMM_RE = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")

STRATEGIES = ("ring_all", "round_robin", "longest_idle", "fewest_calls", "fewest_rings", "least_talk_time",
              "highest_skill", "chain", "agency_chain")
# a chain's tie-breakers (``order``), as ``daemon.acd.strategies.TIE_BREAKERS`` ranks them
TIE_BREAKERS = ("last_agent", "fewest_answered", "fewest_rings", "fewest_missed", "least_talk_time",
                "longest_idle", "highest_skill")
AGENCY_CHAIN = ("last_agent", "fewest_answered", "fewest_rings", "longest_idle")
RULES = ("sticky", "vip", "new_caller", "time_of_day", "skill")
# a queue may name a rule as its strategy: it becomes that rule (defaults) over longest_idle
RULE_STRATEGIES = {"sticky": "sticky", "new_caller": "new_caller", "time_of_day": "time_of_day",
                   "vip_first": "vip"}
OVERFLOW_KINDS = ("queue", "voicemail", "callback", "extension", "hangup")
# when a queue's always-ring extensions (the bell) ring for its waiting callers
BELL_WHEN = ("always", "no_agents", "closed", "no_agents_or_closed")


@dataclass(frozen=True)
class AcdSettings:
    """``[acd]``: box-wide ACD settings."""

    utc_offset_min: int = 480  # local time for time-of-day rules, "today" and intervals (China: +08:00)
    interval_min: int = 15  # statistics interval length
    short_abandon_s: float = 5.0  # abandons sooner than this are reported apart
    service_level_s: float = 20.0  # default X of the X/Y service level (a queue may override)
    recent_calls: int = 20  # handle times kept per queue for the estimated wait
    pause_after_missed: int = 0  # consecutive missed rings that pause an agent (0 = never: stays available)
    missed_pause_reason: str = "missed"
    pause_reasons: tuple[tuple[str, str], ...] = (("0", "pause"),)  # (code, label)


@dataclass(frozen=True)
class AgentConfig:
    """``[[agent]]``: a person who logs in at any extension (hot-desking)."""

    id: str  # digits, announced to callers ("工号1023为您服务")
    name: str
    pin: str = ""
    skills: tuple[tuple[str, int], ...] = ()  # (skill, level 1..10)
    groups: tuple[str, ...] = ()
    supervisor: bool = False
    wrap_up_s: float | None = None  # overrides the queue's wrap-up time for this agent
    extension: str = ""  # where the agent usually sits (informational; login names the extension)
    cos: tuple[str, ...] = ()  # class of service while logged in (() = the extension's own)

    def skill(self, name: str) -> int:
        return dict(self.skills).get(name, 0)


@dataclass(frozen=True)
class TimeRange:
    """A time-of-day range (minutes after local midnight, ``end`` exclusive; wraps midnight if
    ``end <= start``; ``start is None``: "otherwise") and the groups that serve it."""

    groups: tuple[str, ...]
    start: int | None = None
    end: int | None = None

    def contains(self, minute: int) -> bool:
        if self.start is None or self.end is None:
            return True
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


@dataclass(frozen=True)
class RuleConfig:
    """One routing rule of a queue (``[[queue.rule]]``), applied in order (docs/acd.md)."""

    kind: str  # sticky | vip | new_caller | time_of_day | skill
    timeout_s: float = 20.0  # sticky: how long to wait for the last agent before falling back
    min_level: int = 1  # vip: customer level from which the boost applies; skill: minimum skill level
    boost: int = 10  # vip: priority added per customer level
    group: str = ""  # new_caller: the new-customer group ("" = the least-answered agent)
    skill: str = ""  # skill: agents with this skill
    ranges: tuple[TimeRange, ...] = ()  # time_of_day


@dataclass(frozen=True)
class Overflow:
    kind: str = "hangup"  # queue | voicemail | callback | extension | hangup
    target: str = ""  # the queue name, voicemail box or extension number

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


@dataclass(frozen=True)
class QueueConfig:
    """``[[queue]]``."""

    name: str
    priority: int = 0  # higher is served first when agents are shared between queues
    groups: tuple[str, ...] = ()  # agents of these groups are members ...
    agents: tuple[str, ...] = ()  # ... and these agent IDs
    strategy: str = "longest_idle"
    order: tuple[str, ...] = ()  # strategy "chain": the tie-breakers, in order
    rules: tuple[RuleConfig, ...] = ()
    skill: str = ""  # highest_skill ranks by this skill
    ring_timeout_s: float = 15.0  # an offer not answered in this time is a missed ring
    wrap_up_s: float = 0.0
    max_wait_s: float = 0.0  # 0: no limit
    max_length: int = 0  # 0: no limit
    overflow: Overflow = field(default_factory=Overflow)
    announce_first_s: float = 30.0
    announce_every_s: float = 30.0  # 0: no position/wait announcements
    announce_position: bool = True
    announce_wait: bool = True
    announce_agent_id: bool = True  # "工号1023为您服务" before connecting
    music: str = ""  # music-on-hold file ("" = the box default)
    always_ring: tuple[str, ...] = ()  # extensions rung for every waiting call (night bell)
    always_ring_when: str = "always"  # always | no_agents | closed | no_agents_or_closed (BELL_WHEN)
    open_hours: tuple[TimeRange, ...] = ()  # local times the queue is open (for always_ring_when "closed")
    default_handle_s: float = 180.0  # handle time assumed for the estimated wait before there is history
    callback_retries: int = 2  # a dial-back the customer does not answer is tried again this many times
    callback_retry_s: float = 300.0  # ... this long after the failed try (the callback keeps its place)
    service_level_s: float | None = None  # X of X/Y (None: [acd] service_level_s)


@dataclass(frozen=True)
class AcdConfig:
    settings: AcdSettings = field(default_factory=AcdSettings)
    agents: tuple[AgentConfig, ...] = ()
    queues: tuple[QueueConfig, ...] = ()

    def agent(self, agent_id: str) -> AgentConfig | None:
        return next((a for a in self.agents if a.id == agent_id), None)

    def queue(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)

    def members(self, queue: QueueConfig) -> list[AgentConfig]:
        """The queue's agents, in config order."""
        return [a for a in self.agents if a.id in queue.agents or set(a.groups) & set(queue.groups)]


_NUM = (int, float)


def parse_acd(c: Checker, top: dict, extensions: set[str] | None = None) -> AcdConfig:
    """Check and build the ACD sections of the top-level table ``top``. ``extensions`` (the
    configured extension numbers), if given, is checked against agents' ``extension``, ``always_ring``
    and overflow targets."""
    settings = _parse_settings(c, top.get("acd", {}))
    agents = _parse_agents(c, top.get("agent", []), extensions)
    queues = _parse_queues(c, top.get("queue", []), {a.id for a in agents}, extensions)
    return AcdConfig(settings, agents, queues)


def parse_acd_text(text: str, path: str = "<acd>", extensions: set[str] | None = None) -> AcdConfig:
    """Parse a TOML text holding only the ACD sections (tests, tools, the docs' examples)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", None, f"TOML syntax: {exc}") from exc
    c = Checker(Path(path), text)
    c.table(data, (), {"acd", "agent", "queue"})
    return parse_acd(c, data, extensions)


def _parse_settings(c: Checker, data: dict) -> AcdSettings:
    kp = ("acd",)
    t = c.table(data, kp, set(AcdSettings.__dataclass_fields__))
    reasons_raw = t.get("pause_reasons", {"0": "pause"})
    if not isinstance(reasons_raw, dict) or not reasons_raw:
        raise c.fail((*kp, "pause_reasons"), 'must be a table of code = "label", e.g. {1 = "午餐"}')
    for code, label in reasons_raw.items():
        if not code.isdigit() or not isinstance(label, str):
            raise c.fail((*kp, "pause_reasons", code), "codes are digits and labels are strings")
    s = AcdSettings(
        utc_offset_min=c.get(t, kp, "utc_offset_min", int, 480, minimum=-720),
        interval_min=c.get(t, kp, "interval_min", int, 15, choices=(5, 10, 15, 30, 60)),
        short_abandon_s=float(c.get(t, kp, "short_abandon_s", _NUM, 5.0, minimum=0)),
        service_level_s=float(c.get(t, kp, "service_level_s", _NUM, 20.0, minimum=1)),
        recent_calls=c.get(t, kp, "recent_calls", int, 20, minimum=1),
        pause_after_missed=c.get(t, kp, "pause_after_missed", int, 0, minimum=0),
        missed_pause_reason=c.get(t, kp, "missed_pause_reason", str, "missed"),
        pause_reasons=tuple(sorted(reasons_raw.items())),
    )
    if s.utc_offset_min > 840:
        raise c.fail((*kp, "utc_offset_min"), f"must be at most 840, not {s.utc_offset_min}")
    return s


def _parse_agents(c: Checker, raw: list, extensions: set[str] | None) -> tuple[AgentConfig, ...]:
    if not isinstance(raw, list):
        raise c.fail(("agent",), "must be an array of tables ([[agent]])")
    agents: list[AgentConfig] = []
    for i, a in enumerate(raw):
        kp = ("agent", i)
        c.table(a, kp, set(AgentConfig.__dataclass_fields__))
        skills_raw = a.get("skills", {})
        if not isinstance(skills_raw, dict):
            raise c.fail((*kp, "skills"), "must be a table of skill = level, e.g. {mandarin = 5}")
        for name, level in skills_raw.items():
            if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
                raise c.fail((*kp, "skills", name), f"must be a level 1..10, not {level!r}")
        wrap = a.get("wrap_up_s")
        agent = AgentConfig(
            id=c.get(a, kp, "id", str, pattern=_ID_RE),
            name=c.get(a, kp, "name", str, ""),
            pin=read_pin(c, a, kp, (str(a.get("id", "")), str(a.get("extension", "")))),
            skills=tuple(sorted(skills_raw.items())),
            groups=c.str_list(a, kp, "groups", (), pattern=_NAME_RE),
            supervisor=c.get(a, kp, "supervisor", bool, False),
            wrap_up_s=None if wrap is None else float(c.get(a, kp, "wrap_up_s", _NUM, minimum=0)),
            extension=c.get(a, kp, "extension", str, "", pattern=re.compile(r"^[0-9*#]*$")),
            cos=c.str_list(a, kp, "cos", ()),
        )
        if extensions is not None and agent.extension and agent.extension not in extensions:
            raise c.fail((*kp, "extension"), f"{agent.extension!r} is not a configured extension number")
        for j, other in enumerate(agents):
            if other.id == agent.id:
                raise c.fail((*kp, "id"), f"agent {agent.id} is already agent[{j}]")
        agents.append(agent)
    return tuple(agents)


def _parse_overflow(c: Checker, kp: tuple, text: str) -> Overflow:
    kind, _, target = text.partition(":")
    if kind not in OVERFLOW_KINDS:
        raise c.fail((*kp, "overflow"), f"{text!r}: kind must be one of {', '.join(OVERFLOW_KINDS)}")
    if kind in ("queue", "extension") and not target:
        raise c.fail((*kp, "overflow"), f'{kind} overflow names its target, e.g. "{kind}:...')
    return Overflow(kind, target)


def _parse_hhmm(c: Checker, kp: tuple, text: object) -> int:
    m = _HHMM_RE.match(text) if isinstance(text, str) else None
    if m is None or int(m.group(1)) * 60 + int(m.group(2)) > 24 * 60:
        raise c.fail(kp, f"must be a time HH:MM, not {text!r}")
    return int(m.group(1)) * 60 + int(m.group(2))


def _parse_rule(c: Checker, kp: tuple, r: dict) -> RuleConfig:
    c.table(r, kp, {"kind", "timeout_s", "min_level", "boost", "group", "skill", "ranges"})
    kind = c.get(r, kp, "kind", str, choices=RULES)
    ranges: list[TimeRange] = []
    raw_ranges = r.get("ranges", [])
    if not isinstance(raw_ranges, list):
        raise c.fail((*kp, "ranges"), "must be an array of {from, to, groups} tables")
    for j, rg in enumerate(raw_ranges):
        rkp = (*kp, "ranges", j)
        c.table(rg, rkp, {"from", "to", "groups"})
        if ("from" in rg) != ("to" in rg):
            raise c.fail(rkp, "give both from and to, or neither (\"otherwise\")")
        start = _parse_hhmm(c, (*rkp, "from"), rg["from"]) if "from" in rg else None
        end = _parse_hhmm(c, (*rkp, "to"), rg["to"]) if "to" in rg else None
        ranges.append(TimeRange(c.str_list(rg, rkp, "groups", (), pattern=_NAME_RE), start, end))
    if kind == "time_of_day" and not ranges:
        raise c.fail((*kp, "ranges"), "a time_of_day rule needs at least one range")
    if kind == "skill" and not r.get("skill"):
        raise c.fail((*kp, "skill"), "a skill rule names the skill")
    return RuleConfig(
        kind=kind,
        timeout_s=float(c.get(r, kp, "timeout_s", _NUM, 20.0, minimum=0)),
        min_level=c.get(r, kp, "min_level", int, 1, minimum=0),
        boost=c.get(r, kp, "boost", int, 10),
        group=c.get(r, kp, "group", str, ""),
        skill=c.get(r, kp, "skill", str, ""),
        ranges=tuple(ranges),
    )


def _parse_open_hours(c: Checker, kp: tuple, q: dict) -> tuple[TimeRange, ...]:
    """``open_hours = [{ from = "08:00", to = "21:00" }, ...]``: when the queue is open (local time)."""
    raw = q.get("open_hours", [])
    if not isinstance(raw, list):
        raise c.fail((*kp, "open_hours"), 'must be an array of { from = "HH:MM", to = "HH:MM" } tables')
    hours = []
    for j, rg in enumerate(raw):
        rkp = (*kp, "open_hours", j)
        c.table(rg, rkp, {"from", "to"})
        if "from" not in rg or "to" not in rg:
            raise c.fail(rkp, 'give both from and to, e.g. { from = "08:00", to = "21:00" }')
        hours.append(TimeRange((), _parse_hhmm(c, (*rkp, "from"), rg["from"]), _parse_hhmm(c, (*rkp, "to"), rg["to"])))
    return tuple(hours)


def _parse_order(c: Checker, kp: tuple, q: dict, strategy: str) -> tuple[str, tuple[str, ...]]:
    """A queue's chain of tie-breakers: ``order = [...]`` (strategy ``chain``, or none given) or
    ``strategy = "agency_chain"`` (the agencies' chain). Returns the strategy and the order."""
    if strategy == "agency_chain":
        if "order" in q:
            raise c.fail((*kp, "order"), 'agency_chain is a fixed order: drop order, or use strategy = "chain"')
        return "chain", AGENCY_CHAIN
    if "order" not in q:
        if strategy == "chain":
            raise c.fail((*kp, "strategy"), 'strategy "chain" needs its tie-breakers, e.g. '
                                         'order = ["last_agent", "fewest_answered", "fewest_rings", "longest_idle"]')
        return strategy, ()
    if "strategy" in q and strategy != "chain":
        raise c.fail((*kp, "order"), f'order is the tie-breakers of strategy "chain", not of {strategy!r}: '
                                     'drop strategy or set strategy = "chain"')
    order = c.str_list(q, kp, "order", (), choices=TIE_BREAKERS)
    if not order:
        raise c.fail((*kp, "order"), f"name at least one tie-breaker: {', '.join(TIE_BREAKERS)}")
    for step in order:
        if order.count(step) > 1:
            raise c.fail((*kp, "order"), f"{step!r} is named twice")
    return "chain", order


def _parse_queues(c: Checker, raw: list, agent_ids: set[str],
                  extensions: set[str] | None) -> tuple[QueueConfig, ...]:
    if not isinstance(raw, list):
        raise c.fail(("queue",), "must be an array of tables ([[queue]])")
    known = set(QueueConfig.__dataclass_fields__) | {"rule"}
    queues: list[QueueConfig] = []
    for i, q in enumerate(raw):
        kp = ("queue", i)
        c.table(q, kp, known)
        if "rule" in q and "rules" in q:
            raise c.fail((*kp, "rule"), "use either rules = [...] or [[queue.rule]], not both")
        raw_rules = q.get("rules", q.get("rule", []))
        if not isinstance(raw_rules, list):
            raise c.fail((*kp, "rules"), "must be an array of rule tables")
        rules = [_parse_rule(c, (*kp, "rules", j), r) for j, r in enumerate(raw_rules)]
        strategy = c.get(q, kp, "strategy", str, "longest_idle", choices=STRATEGIES + tuple(RULE_STRATEGIES))
        if strategy in RULE_STRATEGIES:
            kind = RULE_STRATEGIES[strategy]
            if kind == "time_of_day" and not any(r.kind == kind for r in rules):
                raise c.fail((*kp, "strategy"), "time_of_day needs a [[queue.rule]] with its ranges")
            if not any(r.kind == kind for r in rules):
                rules.append(RuleConfig(kind))
            strategy = "longest_idle"
        strategy, order = _parse_order(c, kp, q, strategy)
        sl = q.get("service_level_s")
        queue = QueueConfig(
            name=c.get(q, kp, "name", str, pattern=_NAME_RE),
            priority=c.get(q, kp, "priority", int, 0),
            groups=c.str_list(q, kp, "groups", (), pattern=_NAME_RE),
            agents=c.str_list(q, kp, "agents", (), pattern=_ID_RE),
            strategy=strategy,
            order=order,
            rules=tuple(rules),
            skill=c.get(q, kp, "skill", str, ""),
            ring_timeout_s=float(c.get(q, kp, "ring_timeout_s", _NUM, 15.0, minimum=2)),
            wrap_up_s=float(c.get(q, kp, "wrap_up_s", _NUM, 0.0, minimum=0)),
            max_wait_s=float(c.get(q, kp, "max_wait_s", _NUM, 0.0, minimum=0)),
            max_length=c.get(q, kp, "max_length", int, 0, minimum=0),
            overflow=_parse_overflow(c, kp, c.get(q, kp, "overflow", str, "hangup")),
            announce_first_s=float(c.get(q, kp, "announce_first_s", _NUM, 30.0, minimum=0)),
            announce_every_s=float(c.get(q, kp, "announce_every_s", _NUM, 30.0, minimum=0)),
            announce_position=c.get(q, kp, "announce_position", bool, True),
            announce_wait=c.get(q, kp, "announce_wait", bool, True),
            announce_agent_id=c.get(q, kp, "announce_agent_id", bool, True),
            music=c.get(q, kp, "music", str, ""),
            always_ring=c.str_list(q, kp, "always_ring", (), pattern=_NUMBER_RE),
            always_ring_when=c.get(q, kp, "always_ring_when", str, "always", choices=BELL_WHEN),
            open_hours=_parse_open_hours(c, kp, q),
            default_handle_s=float(c.get(q, kp, "default_handle_s", _NUM, 180.0, minimum=1)),
            callback_retries=c.get(q, kp, "callback_retries", int, 2, minimum=0),
            callback_retry_s=float(c.get(q, kp, "callback_retry_s", _NUM, 300.0, minimum=10)),
            service_level_s=None if sl is None else float(c.get(q, kp, "service_level_s", _NUM, minimum=1)),
        )
        if queue.always_ring_when in ("closed", "no_agents_or_closed") and not queue.open_hours:
            raise c.fail((*kp, "always_ring_when"), f"{queue.always_ring_when!r} rings outside the queue's "
                         'open_hours: give them, e.g. open_hours = [{ from = "08:00", to = "21:00" }]')
        if (queue.strategy == "highest_skill" or "highest_skill" in queue.order) and not queue.skill:
            raise c.fail((*kp, "skill"), "highest_skill ranks agents by a skill: name it")
        for aid in queue.agents:
            if aid not in agent_ids:
                raise c.fail((*kp, "agents"), f"{aid!r} is not a configured agent id")
        if extensions is not None:
            for ext in queue.always_ring:
                if ext not in extensions:
                    raise c.fail((*kp, "always_ring"), f"{ext!r} is not a configured extension number")
            if queue.overflow.kind == "extension" and queue.overflow.target not in extensions:
                raise c.fail((*kp, "overflow"), f"{queue.overflow.target!r} is not a configured extension")
        if any(o.name == queue.name for o in queues):
            raise c.fail((*kp, "name"), f"queue {queue.name!r} is defined twice")
        queues.append(queue)
    names = {q.name for q in queues}
    for i, queue in enumerate(queues):
        if queue.overflow.kind == "queue" and (queue.overflow.target not in names
                                               or queue.overflow.target == queue.name):
            raise c.fail(("queue", i, "overflow"), f"{queue.overflow.target!r} is not another configured queue")
    return tuple(queues)


__all__ = ["AcdConfig", "AcdSettings", "AgentConfig", "ConfigError", "Overflow", "QueueConfig", "RuleConfig",
           "TimeRange", "parse_acd", "parse_acd_text"]
