"""Reading a flow from TOML: parse, check every key's type, build the ``ivr.flow`` model.

A flow file holds ``[flow]`` (name, start node, keys, defaults), ``[prompts]``, ``[schedules.*]``,
``[lists.*]``, ``[lookups.*]`` and ``[nodes.*]`` (each with a ``kind``). The format is documented in
docs/ivr.md. Errors are collected (not just the first) and raised together as ``FlowError``; each
names the file, line, flow and node. The line comes from ``Locator``, a small scan of the TOML text
(tomllib gives no positions); ``ivr`` keeps its own so it never reaches into the daemon's config code.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr import say
from ivr.flow import (
    NODE_KINDS,
    TRANSFER_KINDS,
    WEEKDAYS,
    CallerList,
    Flow,
    FlowError,
    Issue,
    LookupDef,
    PromptDef,
    Schedule,
)


class Locator:
    """Maps key paths (``("nodes", "main", "choices")``) to the line where they are written."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
    _KEY = re.compile(r'^\s*("[^"]*"|\'[^\']*\'|[A-Za-z0-9_\-]+)\s*=')

    def __init__(self, text: str) -> None:
        self.index: dict[tuple, int] = {}
        table: tuple = ()
        in_multiline = False
        for lineno, raw in enumerate(text.splitlines(), 1):
            if raw.count('"""') % 2 == 1 or raw.count("'''") % 2 == 1:
                in_multiline = not in_multiline
                if not in_multiline:
                    continue
            elif in_multiline:
                continue
            m = self._HEADER.match(raw)
            if m and not raw.lstrip().startswith("[["):
                table = tuple(self._split(m.group(2)))
                self.index.setdefault(table, lineno)
                continue
            m = self._KEY.match(raw)
            if m:
                key = tuple(self._split(m.group(1)))
                self.index.setdefault((*table, *key), lineno)

    @staticmethod
    def _split(dotted: str) -> list[str]:
        return [p.strip().strip("\"'") for p in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', dotted)]

    def line(self, path: tuple) -> int | None:
        path = tuple(str(p) for p in path)
        while path:
            if path in self.index:
                return self.index[path]
            path = path[:-1]
        return None


class _Bad(Exception):
    pass


_DIGIT_KEYS = set("0123456789*#")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_SPAN = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_NUMBER = re.compile(r"^[0-9]+\*?$|^\*$")


def _str(v: Any) -> str:
    if not isinstance(v, str):
        raise _Bad(f"must be a string, not {type(v).__name__} {v!r}")
    return v


def _name(v: Any) -> str:
    v = _str(v)
    if not v:
        raise _Bad("must not be empty")
    return v


def _key(v: Any) -> str | None:
    if v is False or v == "":
        return None
    v = _str(v)
    if len(v) != 1 or v not in _DIGIT_KEYS:
        raise _Bad(f"must be one key of 0-9 * #, or false, not {v!r}")
    return v


def _prompts(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
        raise _Bad("must be a prompt name or a list of prompt names")
    return tuple(v)


def _bool(v: Any) -> bool:
    if not isinstance(v, bool):
        raise _Bad(f"must be true or false, not {v!r}")
    return v


def _seconds(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 < v <= 3600:  # NaN too
        raise _Bad(f"must be a number of seconds above 0 (at most 3600), not {v!r}")
    return float(v)


def _count(lo: int, hi: int) -> Callable[[Any], int]:
    def conv(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise _Bad(f"must be a whole number from {lo} to {hi}, not {v!r}")
        return v
    return conv


def _choice(*values: str) -> Callable[[Any], str]:
    def conv(v: Any) -> str:
        if v not in values:
            raise _Bad(f"must be one of {', '.join(values)}, not {v!r}")
        return v
    return conv


def _str_table(key_check: Callable[[str], None] | None = None) -> Callable[[Any], dict[str, str]]:
    def conv(v: Any) -> dict[str, str]:
        if not isinstance(v, dict):
            raise _Bad("must be a table")
        out = {}
        for k, x in v.items():
            if key_check:
                key_check(k)
            if isinstance(x, bool) or not isinstance(x, str | int | float):
                raise _Bad(f"{k}: must be a string, not {type(x).__name__}")
            out[str(k)] = str(x)
        return out
    return conv


def _digit_key(k: str) -> None:
    if len(k) != 1 or k not in _DIGIT_KEYS:
        raise _Bad(f"choice {k!r} must be one key of 0-9 * #")


def _var_key(k: str) -> None:
    if not _VAR.match(k):
        raise _Bad(f"{k!r} is not a variable name")


def _var(v: Any) -> str:
    v = _str(v)
    if not _VAR.match(v):
        raise _Bad(f"{v!r} is not a variable name")
    return v


def _terminator(v: Any) -> str:
    if v is False or v == "":
        return ""
    v = _str(v)
    if v not in ("#", "*"):
        raise _Bad(f"must be '#', '*' or false, not {v!r}")
    return v


REQ = object()

# kind -> key -> (converter, default or REQ, dataclass field name)
_NODE_SPEC: dict[str, dict[str, tuple[Callable[[Any], Any], Any, str]]] = {
    "play": {"prompt": (_prompts, (), "prompt"), "tts": (_name, None, "tts"), "next": (_name, REQ, "next"),
             "barge_in": (_bool, False, "barge_in")},
    "menu": {"prompt": (_prompts, REQ, "prompt"), "choices": (_str_table(_digit_key), REQ, "choices"),
             "timeout_s": (_seconds, 5.0, "timeout_s"), "retries": (_count(1, 10), 3, "retries"),
             "invalid_prompt": (_prompts, None, "invalid_prompt"),
             "timeout_prompt": (_prompts, None, "timeout_prompt"),
             "on_timeout": (_name, None, "on_timeout"), "fallback": (_name, REQ, "fallback"),
             "back": (_bool, True, "back"), "operator": (_bool, True, "operator")},
    "collect": {"prompt": (_prompts, REQ, "prompt"), "into": (_var, None, "into"),
                "min_digits": (_count(1, 32), 1, "min_digits"), "max_digits": (_count(1, 32), REQ, "max_digits"),
                "terminator": (_terminator, "#", "terminator"),
                "first_digit_timeout_s": (_seconds, 8.0, "first_digit_timeout_s"),
                "inter_digit_timeout_s": (_seconds, 4.0, "inter_digit_timeout_s"),
                "retries": (_count(1, 10), 2, "retries"), "invalid_prompt": (_prompts, None, "invalid_prompt"),
                "timeout_prompt": (_prompts, None, "timeout_prompt"), "next": (_name, REQ, "next"),
                "fallback": (_name, REQ, "fallback")},
    "say": {"as": (_choice(*say.KINDS), REQ, "say_as"), "value": (_name, REQ, "value"),
            "before": (_prompts, (), "before"), "after": (_prompts, (), "after"), "next": (_name, REQ, "next"),
            "on_error": (_name, None, "on_error")},
    "schedule": {"schedule": (_name, REQ, "schedule"), "open": (_name, REQ, "open"),
                 "closed": (_name, REQ, "closed"), "holiday": (_name, None, "holiday")},
    "callers": {"blacklist": (_name, None, "blacklist"), "blacklist_action": (_choice("warn", "drop"), "warn",
                                                                            "blacklist_action"),
                "warning": (_prompts, (), "warning"), "whitelist": (_name, None, "whitelist"),
                "whitelist_to": (_name, None, "whitelist_to"), "next": (_name, REQ, "next")},
    "lookup": {"lookup": (_name, REQ, "lookup"), "params": (_str_table(_var_key), {}, "params"),
               "into": (_var, None, "into"), "timeout_s": (_seconds, None, "timeout_s"),
               "wait_prompt": (_prompts, (), "wait_prompt"), "next": (_name, REQ, "next"),
               "not_found": (_name, None, "not_found"), "fallback": (_name, REQ, "fallback")},
    "set": {"vars": (_str_table(_var_key), REQ, "vars"), "next": (_name, REQ, "next")},
    "transfer": {"to": (_choice(*TRANSFER_KINDS), REQ, "to"), "target": (_name, REQ, "target"),
                 "prompt": (_prompts, (), "prompt"), "on_fail": (_name, None, "on_fail")},
    "record": {"prompt": (_prompts, (), "prompt"), "into": (_var, None, "into"),
               "max_s": (_seconds, 120.0, "max_s"), "silence_s": (_seconds, 5.0, "silence_s"),
               "terminator": (_terminator, "#", "terminator"), "beep": (_bool, True, "beep"),
               "next": (_name, REQ, "next")},
    "hangup": {"prompt": (_prompts, (), "prompt")},
}

_FLOW_KEYS = {"name", "start", "voice", "prompt_dir", "back_key", "operator_key", "operator", "invalid_prompt",
              "timeout_prompt", "say_mode", "fragment_dir"}


class _Reader:
    def __init__(self, file: str, text: str, flow: str) -> None:
        self.file, self.flow = file, flow
        self.loc = Locator(text)
        self.errors: list[Issue] = []

    def error(self, keypath: tuple, node: str | None, message: str) -> None:
        key = ".".join(str(k) for k in keypath[2:] if k != "") if node else ".".join(map(str, keypath))
        msg = f"{key}: {message}" if key else message
        self.errors.append(Issue(self.flow, node, self.loc.line(keypath), msg, self.file))

    def table(self, data: Any, keypath: tuple, node: str | None = None) -> dict:
        if not isinstance(data, dict):
            self.error(keypath, node, "must be a table")
            return {}
        return data

    def field(self, data: dict, keypath: tuple, key: str, conv: Callable[[Any], Any], default: Any,
              node: str | None = None) -> Any:
        if key not in data:
            if default is REQ:
                self.error((*keypath, key), node, "is required")
                return None
            return default
        try:
            return conv(data[key])
        except _Bad as exc:
            self.error((*keypath, key), node, str(exc))
            return None if default is REQ else default

    def unknown(self, data: dict, keypath: tuple, known: set[str], node: str | None = None) -> None:
        for k in data:
            if k not in known:
                self.error((*keypath, k), node, f"unknown key (expected one of: {', '.join(sorted(known))})")


def load_flow(path: Path | str) -> Flow:
    """Read, check and validate a flow file; raise ``FlowError`` listing every problem found."""
    from ivr.validate import validate  # validate imports this module's results, not the reverse

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FlowError([Issue(path.stem, None, None, f"cannot read: {exc.strerror}", str(path))]) from None
    except UnicodeDecodeError as exc:
        raise FlowError([Issue(path.stem, None, None, f"not UTF-8 text: {exc}", str(path))]) from None
    return validate(parse_flow(text, str(path), base_dir=path.parent))


def parse_flow(text: str, file: str = "<flow>", base_dir: Path | None = None) -> Flow:
    """Parse TOML text into a ``Flow`` (types and keys checked; references are ``validate``'s job)."""
    name = Path(file).stem
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise FlowError([Issue(name, None, int(m.group(1)) if m else None, f"TOML syntax: {exc}", file)]) from None
    flow_tbl = data.get("flow", {})
    if isinstance(flow_tbl, dict) and isinstance(flow_tbl.get("name"), str) and flow_tbl["name"]:
        name = flow_tbl["name"]
    r = _Reader(file, text, name)
    r.unknown(data, (), {"flow", "prompts", "schedules", "lists", "lookups", "nodes"})
    f = r.table(flow_tbl, ("flow",))
    r.unknown(f, ("flow",), _FLOW_KEYS)
    base = base_dir or Path(".")
    prompt_dir = base / r.field(f, ("flow",), "prompt_dir", _str, "")
    fragment_dir = r.field(f, ("flow",), "fragment_dir", _str, None)
    settings = dict(
        start=r.field(f, ("flow",), "start", _name, REQ),
        voice=r.field(f, ("flow",), "voice", _name, None),
        back_key=r.field(f, ("flow",), "back_key", _key, "*"),
        operator_key=r.field(f, ("flow",), "operator_key", _key, "0"),
        operator=r.field(f, ("flow",), "operator", _name, None),
        invalid_prompt=r.field(f, ("flow",), "invalid_prompt", _prompts, ()),
        timeout_prompt=r.field(f, ("flow",), "timeout_prompt", _prompts, ()),
        say_mode=r.field(f, ("flow",), "say_mode", _choice("tts", "fragments"), "tts"),
        fragment_dir=str(base / fragment_dir) if fragment_dir is not None else None,
    )
    prompts = _prompt_defs(r, r.table(data.get("prompts", {}), ("prompts",)), prompt_dir)
    schedules = {k: _schedule(r, k, v) for k, v in r.table(data.get("schedules", {}), ("schedules",)).items()}
    lists = {k: _caller_list(r, k, v) for k, v in r.table(data.get("lists", {}), ("lists",)).items()}
    lookups = {k: _lookup_def(r, k, v) for k, v in r.table(data.get("lookups", {}), ("lookups",)).items()}
    nodes_tbl = r.table(data.get("nodes", {}), ("nodes",))
    if not nodes_tbl:
        r.error(("nodes",), None, "a flow needs at least one node ([nodes.NAME] with a kind)")
    nodes = {}
    for node_name, spec in nodes_tbl.items():
        node = _node(r, node_name, spec, settings)
        if node is not None:
            nodes[node_name] = node
    flow = Flow(name=name, nodes=nodes, prompts=prompts, schedules=schedules, lists=lists, lookups=lookups,
                file=file, **settings)
    if r.errors:
        from ivr.validate import reference_errors  # report broken references too, in one go

        if flow.start is None:  # already reported; keep checking the rest
            flow = dataclasses.replace(flow, start=next(iter(nodes), ""))
        others = reference_errors(flow, known_nodes=set(nodes_tbl) if isinstance(nodes_tbl, dict) else set())
        raise FlowError(sorted(r.errors + others, key=lambda i: (i.line or 0)))
    return flow


def _prompt_defs(r: _Reader, tbl: dict, prompt_dir: Path) -> dict[str, PromptDef]:
    out = {}
    for name, spec in tbl.items():
        kp = ("prompts", name)
        line = r.loc.line(kp)
        if isinstance(spec, str):  # shorthand: welcome = "您好……" is TTS text
            out[name] = PromptDef(name, tts=spec, line=line)
            continue
        spec = r.table(spec, kp)
        r.unknown(spec, kp, {"tts", "file", "voice"})
        tts = r.field(spec, kp, "tts", _name, None)
        file = r.field(spec, kp, "file", _name, None)
        voice = r.field(spec, kp, "voice", _name, None)
        if "tts" in spec and "file" in spec:
            r.error(kp, None, "give either tts or file, not both")
        elif "tts" not in spec and "file" not in spec:
            r.error(kp, None, "needs tts (text to speak) or file (a WAV)")
        out[name] = PromptDef(name, tts=tts, file=str(prompt_dir / file) if file else None, voice=voice, line=line)
    return out


def _time(s: str) -> dt.time:
    h, m = s.split(":")
    if int(h) == 24 and int(m) == 0:
        return dt.time.max
    return dt.time(int(h), int(m))


def _day_key(key: str) -> list[str]:
    days: list[str] = []
    for part in key.lower().split(","):
        part = part.strip()
        a, _, b = part.partition("-")
        if a not in WEEKDAYS or b and b not in WEEKDAYS:
            raise _Bad(f"{key!r}: days are mon tue wed thu fri sat sun, or a range like mon-fri")
        i, j = WEEKDAYS.index(a), WEEKDAYS.index(b or a)
        if j < i:
            raise _Bad(f"{key!r}: a range runs forward in the week (mon-fri)")
        days += WEEKDAYS[i:j + 1]
    return days


def _dates(v: Any) -> frozenset[dt.date]:
    if not isinstance(v, list):
        raise _Bad("must be a list of dates (2026-10-01, or a range 2026-10-01..2026-10-07)")
    out = set()
    for item in v:
        if isinstance(item, dt.date) and not isinstance(item, dt.datetime):
            out.add(item)
            continue
        if not isinstance(item, str):
            raise _Bad(f"{item!r} is not a date")
        a, _, b = item.partition("..")
        try:
            first = dt.date.fromisoformat(a.strip())
            last = dt.date.fromisoformat(b.strip()) if b else first
        except ValueError:
            raise _Bad(f"{item!r} is not a date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)") from None
        if last < first or (last - first).days > 366:
            raise _Bad(f"{item!r}: the range must run forward, at most a year")
        out.update(first + dt.timedelta(days=i) for i in range((last - first).days + 1))
    return frozenset(out)


def _schedule(r: _Reader, name: str, spec: Any) -> Schedule:
    kp = ("schedules", name)
    spec = r.table(spec, kp)
    r.unknown(spec, kp, {"timezone", "hours", "holidays", "workdays"})
    tz = r.field(spec, kp, "timezone", _name, "Asia/Shanghai")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.error((*kp, "timezone"), None, f"unknown time zone {tz!r} (e.g. Asia/Shanghai)")
        tz = "Asia/Shanghai"
    hours: dict[str, tuple] = {}
    for day_key, spans in r.table(spec.get("hours", {}), (*kp, "hours")).items():
        try:
            days = _day_key(day_key)
            if isinstance(spans, str):
                spans = [spans]
            if not isinstance(spans, list):
                raise _Bad("must be a list of spans like \"09:00-18:00\"")
            parsed = []
            for s in spans:
                m = _SPAN.match(s) if isinstance(s, str) else None
                if not m or int(m.group(1)) > 24 or int(m.group(3)) > 24 or int(m.group(2)) > 59 \
                        or int(m.group(4)) > 59:
                    raise _Bad(f"{s!r} is not a span like \"09:00-18:00\"")
                a, b = _time(f"{m.group(1)}:{m.group(2)}"), _time(f"{m.group(3)}:{m.group(4)}")
                if b <= a:
                    raise _Bad(f"{s!r} ends before it starts")
                parsed.append((a, b))
        except _Bad as exc:
            r.error((*kp, "hours", day_key), None, str(exc))
            continue
        for d in days:
            hours[d] = hours.get(d, ()) + tuple(parsed)
    holidays = r.field(spec, kp, "holidays", _dates, frozenset())
    workdays = r.field(spec, kp, "workdays", _dates, frozenset())
    return Schedule(name, tz, hours, holidays, workdays, r.loc.line(kp))


def _caller_list(r: _Reader, name: str, spec: Any) -> CallerList:
    kp = ("lists", name)
    spec = r.table(spec, kp)
    r.unknown(spec, kp, {"numbers"})
    numbers = spec.get("numbers", [])
    if not isinstance(numbers, list) or not all(isinstance(n, str) and _NUMBER.match(n) for n in numbers):
        r.error((*kp, "numbers"), None, "must be a list of digit strings (a trailing * matches a prefix)")
        numbers = []
    return CallerList(name, tuple(numbers), r.loc.line(kp))


def _lookup_def(r: _Reader, name: str, spec: Any) -> LookupDef:
    kp = ("lookups", name)
    spec = r.table(spec, kp)
    r.unknown(spec, kp, {"timeout_s", "description"})
    return LookupDef(name, r.field(spec, kp, "timeout_s", _seconds, 3.0), r.loc.line(kp))


def _node(r: _Reader, name: str, spec: Any, settings: dict) -> Any:
    kp = ("nodes", name)
    spec = r.table(spec, kp, name)
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in _NODE_SPEC:
        r.error((*kp, "kind"), name, f"kind must be one of {', '.join(_NODE_SPEC)}, not {kind!r}")
        return None
    fields = _NODE_SPEC[kind]
    r.unknown(spec, kp, {"kind", *fields}, name)
    kwargs: dict[str, Any] = {}
    n_errors = len(r.errors)
    for key, (conv, default, attr) in fields.items():
        value = r.field(spec, kp, key, conv, default, name)
        if value is None and default is not None:
            continue
        kwargs[attr] = value
    if kind in ("menu", "collect"):
        for attr in ("invalid_prompt", "timeout_prompt"):
            if kwargs.get(attr) is None:
                kwargs[attr] = settings[attr]
    if kind == "collect":
        kwargs["into"] = kwargs.get("into") or name
        if kwargs.get("min_digits", 1) > (kwargs.get("max_digits") or 32):
            r.error((*kp, "min_digits"), name, "is more than max_digits")
    if kind in ("lookup", "record"):
        kwargs["into"] = kwargs.get("into") or name
    if kind == "play" and not kwargs.get("prompt") and not kwargs.get("tts"):
        r.error(kp, name, "a play node needs prompt or tts")
    if kind == "callers":
        if kwargs.get("blacklist") and kwargs.get("blacklist_action") == "warn" and not kwargs.get("warning"):
            r.error((*kp, "warning"), name, "blacklist_action = \"warn\" needs a warning prompt")
        if bool(kwargs.get("whitelist")) != bool(kwargs.get("whitelist_to")):
            r.error((*kp, "whitelist"), name, "whitelist and whitelist_to go together")
    if len(r.errors) > n_errors:
        return None
    key_lines = {k: line for k in spec if (line := r.loc.index.get((*kp, k))) is not None}
    return NODE_KINDS[kind](name=name, line=r.loc.line(kp), key_lines=key_lines, **kwargs)
