"""The flow model: a call flow as named nodes of a few kinds, plus the prompts, schedules, caller lists
and lookups they refer to. Built by ``ivr.flow_config`` from TOML, checked by ``ivr.validate``, run
by ``ivr.engine``. Plain frozen data, with the small pure helpers that read it (schedule and list
matching, text templates, each node's outgoing edges).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from ivr import say

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRANSFER_KINDS = ("extension", "queue", "voicemail", "number")


@dataclass(frozen=True)
class PromptDef:
    """A named prompt: TTS text (may hold ``{var}`` / ``{var|money}`` templates) or a recorded file."""

    name: str
    tts: str | None = None
    file: str | None = None  # resolved path
    voice: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class Schedule:
    """Opening hours per weekday, holiday dates (closed) and extra working days (Monday's hours)."""

    name: str
    timezone: str = "Asia/Shanghai"
    hours: dict[str, tuple[tuple[dt.time, dt.time], ...]] = field(default_factory=dict)  # "mon" -> spans
    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()  # 调休: weekend days worked with Monday's hours
    line: int | None = None

    def state(self, when: dt.datetime) -> str:
        """``"holiday"``, ``"open"`` or ``"closed"`` at the aware datetime ``when``."""
        local = when.astimezone(ZoneInfo(self.timezone)) if when.tzinfo else when
        day = local.date()
        if day in self.holidays:
            return "holiday"
        spans = self.hours.get("mon" if day in self.workdays else WEEKDAYS[day.weekday()], ())
        t = local.time().replace(tzinfo=None)
        return "open" if any(a <= t < b for a, b in spans) else "closed"


@dataclass(frozen=True)
class CallerList:
    """Numbers, exact or as prefixes ending in ``*``."""

    name: str
    numbers: tuple[str, ...] = ()
    line: int | None = None

    def matches(self, number: str | None) -> bool:
        if not number:
            return False
        return any(n == number or n.endswith("*") and number.startswith(n[:-1]) for n in self.numbers)


@dataclass(frozen=True)
class LookupDef:
    """A named integrator lookup (answered over the API), with its default timeout."""

    name: str
    timeout_s: float = 3.0
    line: int | None = None


@dataclass(frozen=True)
class Edge:
    label: str  # the key that names it (for messages): "next", "choices.1", "fallback" ...
    target: str
    needs_input: bool  # taken only after the caller pressed something


@dataclass(frozen=True)
class Node:
    name: str
    line: int | None  # the node's [nodes.NAME] header
    key_lines: dict[str, int] = field(default_factory=dict, compare=False, repr=False)  # key -> its line

    kind = "node"

    def line_of(self, key: str) -> int | None:
        """The line of one of the node's keys (``choices.2`` → the ``choices`` line), else the header's."""
        return self.key_lines.get(key.split(".")[0], self.line)

    def edges(self) -> list[Edge]:
        return []

    def prompts(self) -> list[str]:
        return []


@dataclass(frozen=True)
class Play(Node):
    prompt: tuple[str, ...] = ()
    tts: str | None = None  # inline text instead of / after the named prompts
    next: str = ""
    barge_in: bool = False
    kind = "play"

    def edges(self) -> list[Edge]:
        return [Edge("next", self.next, False)]

    def prompts(self) -> list[str]:
        return list(self.prompt)


@dataclass(frozen=True)
class Menu(Node):
    prompt: tuple[str, ...] = ()
    choices: dict[str, str] = field(default_factory=dict)
    timeout_s: float = 5.0
    retries: int = 3
    invalid_prompt: tuple[str, ...] = ()
    timeout_prompt: tuple[str, ...] = ()
    on_timeout: str | None = None
    fallback: str = ""
    back: bool = True
    operator: bool = True
    kind = "menu"

    def edges(self) -> list[Edge]:
        out = [Edge(f"choices.{d}", n, True) for d, n in self.choices.items()]
        if self.on_timeout:
            out.append(Edge("on_timeout", self.on_timeout, False))
        out.append(Edge("fallback", self.fallback, False))
        return out

    def prompts(self) -> list[str]:
        return [*self.prompt, *self.invalid_prompt, *self.timeout_prompt]


@dataclass(frozen=True)
class Collect(Node):
    prompt: tuple[str, ...] = ()
    into: str = ""
    min_digits: int = 1
    max_digits: int = 1
    terminator: str = "#"
    first_digit_timeout_s: float = 8.0
    inter_digit_timeout_s: float = 4.0
    retries: int = 2
    invalid_prompt: tuple[str, ...] = ()
    timeout_prompt: tuple[str, ...] = ()
    next: str = ""
    fallback: str = ""
    kind = "collect"

    def edges(self) -> list[Edge]:
        return [Edge("next", self.next, True), Edge("fallback", self.fallback, False)]

    def prompts(self) -> list[str]:
        return [*self.prompt, *self.invalid_prompt, *self.timeout_prompt]


@dataclass(frozen=True)
class Say(Node):
    say_as: str = "number"
    value: str = ""  # template, e.g. "{tour.price}"
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    next: str = ""
    on_error: str | None = None  # the value is missing or unreadable; default: next
    kind = "say"

    def edges(self) -> list[Edge]:
        out = [Edge("next", self.next, False)]
        if self.on_error:
            out.append(Edge("on_error", self.on_error, False))
        return out

    def prompts(self) -> list[str]:
        return [*self.before, *self.after]


@dataclass(frozen=True)
class ScheduleBranch(Node):
    schedule: str = ""
    open: str = ""
    closed: str = ""
    holiday: str | None = None  # default: closed
    kind = "schedule"

    def edges(self) -> list[Edge]:
        out = [Edge("open", self.open, False), Edge("closed", self.closed, False)]
        if self.holiday:
            out.append(Edge("holiday", self.holiday, False))
        return out


@dataclass(frozen=True)
class Callers(Node):
    blacklist: str | None = None
    blacklist_action: str = "warn"  # warn (play warning, hang up) | drop (hang up silently)
    warning: tuple[str, ...] = ()
    whitelist: str | None = None
    whitelist_to: str | None = None
    next: str = ""
    kind = "callers"

    def edges(self) -> list[Edge]:
        out = [Edge("next", self.next, False)]
        if self.whitelist_to:
            out.append(Edge("whitelist_to", self.whitelist_to, False))
        return out

    def prompts(self) -> list[str]:
        return list(self.warning)


@dataclass(frozen=True)
class Lookup(Node):
    lookup: str = ""
    params: dict[str, str] = field(default_factory=dict)  # name -> template
    into: str = ""  # results land in variables "<into>.<field>"
    timeout_s: float | None = None  # default: the lookup's own
    wait_prompt: tuple[str, ...] = ()
    next: str = ""
    not_found: str | None = None  # the integrator answered "no such thing"; default: fallback
    fallback: str = ""  # timeout or error
    kind = "lookup"

    def edges(self) -> list[Edge]:
        out = [Edge("next", self.next, False), Edge("fallback", self.fallback, False)]
        if self.not_found:
            out.append(Edge("not_found", self.not_found, False))
        return out

    def prompts(self) -> list[str]:
        return list(self.wait_prompt)


@dataclass(frozen=True)
class SetVars(Node):
    vars: dict[str, str] = field(default_factory=dict)
    next: str = ""
    kind = "set"

    def edges(self) -> list[Edge]:
        return [Edge("next", self.next, False)]


@dataclass(frozen=True)
class Transfer(Node):
    to: str = "extension"
    target: str = ""  # template
    prompt: tuple[str, ...] = ()
    on_fail: str | None = None  # the daemon reports busy / no answer / unreachable
    kind = "transfer"

    def edges(self) -> list[Edge]:
        return [Edge("on_fail", self.on_fail, False)] if self.on_fail else []

    def prompts(self) -> list[str]:
        return list(self.prompt)


@dataclass(frozen=True)
class Record(Node):
    prompt: tuple[str, ...] = ()
    into: str = ""
    max_s: float = 120.0
    silence_s: float = 5.0
    terminator: str = "#"
    beep: bool = True
    next: str = ""
    kind = "record"

    def edges(self) -> list[Edge]:
        return [Edge("next", self.next, False)]

    def prompts(self) -> list[str]:
        return list(self.prompt)


@dataclass(frozen=True)
class Hangup(Node):
    prompt: tuple[str, ...] = ()
    kind = "hangup"

    def prompts(self) -> list[str]:
        return list(self.prompt)


NODE_KINDS: dict[str, type[Node]] = {cls.kind: cls for cls in (
    Play, Menu, Collect, Say, ScheduleBranch, Callers, Lookup, SetVars, Transfer, Record, Hangup)}


@dataclass(frozen=True)
class Issue:
    """One finding about a flow, located: ``file:line: flow 'f', node 'n': message``."""

    flow: str
    node: str | None
    line: int | None
    message: str
    file: str = ""

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}: " if self.file and self.line else f"{self.file}: " if self.file else ""
        node = f", node {self.node!r}" if self.node else ""
        return f"{where}flow {self.flow!r}{node}: {self.message}"


class FlowError(Exception):
    """A flow that must not be loaded; ``issues`` lists every error found."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues
        super().__init__("\n".join(map(str, issues)))


@dataclass(frozen=True)
class Flow:
    name: str
    start: str
    nodes: dict[str, Node]
    prompts: dict[str, PromptDef] = field(default_factory=dict)
    schedules: dict[str, Schedule] = field(default_factory=dict)
    lists: dict[str, CallerList] = field(default_factory=dict)
    lookups: dict[str, LookupDef] = field(default_factory=dict)
    voice: str | None = None
    back_key: str | None = "*"
    operator_key: str | None = "0"
    operator: str | None = None  # node the operator key leads to
    invalid_prompt: tuple[str, ...] = ()
    timeout_prompt: tuple[str, ...] = ()
    say_mode: str = "tts"  # tts | fragments
    fragment_dir: str | None = None
    file: str = ""
    warnings: tuple[Issue, ...] = ()

    def tts_texts(self) -> list[tuple[str, str | None]]:
        """Every fixed (template-free) TTS text with its voice: what to synthesise ahead, on load."""
        out = []
        for p in self.prompts.values():
            if p.tts and not _TEMPLATE.search(p.tts):
                out.append((p.tts, p.voice or self.voice))
        for n in self.nodes.values():
            if isinstance(n, Play) and n.tts and not _TEMPLATE.search(n.tts):
                out.append((n.tts, self.voice))
        return out


_TEMPLATE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)(?:\|([a-z]+))?\}")


def template_names(text: str) -> list[tuple[str, str | None]]:
    """The ``{name}`` / ``{name|kind}`` references in a template."""
    return [(m.group(1), m.group(2)) for m in _TEMPLATE.finditer(text)]


def render(text: str, variables: dict[str, str]) -> str:
    """Fill a template: ``{name}`` → the value, ``{name|money}`` → its Mandarin reading.

    A missing variable raises ``KeyError``; an unreadable value ``ValueError``.
    """
    def one(m: re.Match) -> str:
        value = variables[m.group(1)]
        return say.say(m.group(2), value).text if m.group(2) else value
    return _TEMPLATE.sub(one, text)
