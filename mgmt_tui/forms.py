"""The configuration forms of the TUI as rows of text, each optionally editing one setting: the ACD
(``[acd]``, agents, queues and their strategies) through ``config.set``, and the IVR flows (prompts'
TTS text, menus' prompts and digit targets, schedules and holidays, black/white lists, transfer
targets) through ``ivr.flow.set``. The ACD form's agent rows also show each agent's live state (from
``acd.snapshot``) and carry the agent's ID for the login / logout / pause / resume keys. No urwid
here; the daemon validates every change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mgmt_tui.acd_views import state_label
from mgmt_tui.text import cell
from mgmt_tui.views import Field, as_list, show_value


@dataclass(frozen=True)
class Row:
    """One line of a form: ``field`` is edited by Enter, ``open`` (a detail form) is opened by Enter,
    ``add`` is the prompt ``a`` starts here, ``delete`` the one ``d`` starts; ``agent`` the ACD agent
    the agent keys (log in, log out, pause, resume) act on here."""

    text: str
    field: Field | None = None
    open: tuple[str, str] | None = None
    add: Field | None = None
    delete: Field | None = None
    agent: str | None = None

    @property
    def selectable(self) -> bool:
        return self.field is not None or self.open is not None or self.add is not None or self.agent is not None


def _row(label: str, f: Field, cols: int = 18) -> Row:
    return Row(f"  {cell(label, cols)} {show_value(f.value)}", f)


# --- ACD -------------------------------------------------------------------------------------------

ACD_SETTINGS = (("utc_offset_min", int, "local time, minutes east of UTC"), ("interval_min", int,
                "statistics interval (5 10 15 30 60)"), ("service_level_s", float, "service level T, s"),
                ("short_abandon_s", float, "short abandon under, s"), ("recent_calls", int,
                "calls for the estimated wait"), ("pause_after_missed", int, "missed rings that pause (0 never)"),
                ("missed_pause_reason", str, "pause reason after missed rings"))
# (key, type, type of a table's values); the values allowed (a queue's strategy, ...) are the daemon's to check
AGENT_FIELDS = (("name", str, str), ("pin", str, str), ("groups", list, str), ("skills", dict, int),
                ("extension", str, str), ("wrap_up_s", float, str), ("supervisor", bool, str))
QUEUE_FIELDS = (("strategy", str, str), ("priority", int, str), ("groups", list, str), ("agents", list, str),
                ("skill", str, str), ("ring_timeout_s", float, str), ("wrap_up_s", float, str),
                ("max_wait_s", float, str), ("max_length", int, str), ("overflow", str, str),
                ("announce_first_s", float, str), ("announce_every_s", float, str), ("announce_position", bool, str),
                ("announce_wait", bool, str), ("announce_agent_id", bool, str), ("music", str, str),
                ("always_ring", list, str), ("default_handle_s", float, str), ("service_level_s", float, str))
ID_KEYS = {"agent": "id", "queue": "name"}
ADD_AGENT = Field("agent", "new agent id (digits)", "", action="add")
ADD_QUEUE = Field("queue", "new queue name", "", action="add")


def _rule_text(rule: dict) -> str:
    kind = rule.get("kind", "?")
    if kind == "time_of_day":
        ranges = [f"{r.get('from', '')}-{r.get('to', '')}:{'+'.join(r.get('groups', []))}".lstrip("-")
                  for r in rule.get("ranges", [])]
        return f"time_of_day {' '.join(ranges)}"
    extra = {k: v for k, v in rule.items() if k != "kind"}
    return kind + ("(" + ",".join(f"{k}={v}" for k, v in extra.items()) + ")" if extra else "")


AGENT_KEYS_HINT = "l/o log in/out  p/u pause/resume"


def acd_rows(data: dict | None, open_: tuple[str, str] | None = None, live: dict[str, dict] | None = None) -> list[Row]:
    """The ACD form: settings, agents (with their live state from ``live``, the snapshot's agents by
    ID) and queues, one line each (Enter opens its form), or the form of the agent / queue ``open_``
    names (``("agent", "1023")``, ``("queue", "travel")``). ``data`` None (the configuration is not
    readable with this connection's role): only the agents from ``live``, for the agent keys."""
    if data is None:
        return _live_agents(live)
    if open_ is not None:
        return _entry_form(data, *open_)
    acd = data.get("acd") or {}
    rows = [Row("ACD settings ([acd])   Enter edits; Tab jumps to the next section")]
    for key, kind, label in ACD_SETTINGS:
        rows.append(Row(f"  {cell(key, 20)} {cell(show_value(acd.get(key)), 14)} {label}",
                        Field(f"acd.{key}", f"acd {key}", acd.get(key), kind)))
    reasons = acd.get("pause_reasons")
    rows.append(_row("pause_reasons", Field("acd.pause_reasons", "acd pause_reasons (code=label ...)", reasons,
                                            dict), 20))

    def agent_row(a: dict) -> str:
        return _agent_line(a, (live or {}).get(str(a.get("id"))), live is not None)

    def queue_line(q: dict) -> str:
        members = ",".join([*q.get("groups", []), *q.get("agents", [])])
        return (f"  {cell(str(q.get('name')), 12)} {cell(q.get('strategy', 'longest_idle'), 15)} members "
                f"{cell(members or '-', 18)} overflow {cell(q.get('overflow', 'hangup'), 14)}")

    rows += _entries("agent", data.get("agent") or [], agent_row, ADD_AGENT, AGENT_KEYS_HINT)
    rows += _entries("queue", data.get("queue") or [], queue_line, ADD_QUEUE)
    return rows


def _agent_line(a: dict, now: dict | None, acd_up: bool = True) -> str:
    """An agent on the list: ID, name, live state and extension (``now``: its snapshot entry; ``-``
    without one), groups and skills."""
    state, ext = "-", ""
    if now is not None:
        state = state_label(now)
        ext = (now.get("extension") or "") if now.get("state") != "logged_out" else ""
    elif acd_up:
        state = "?"  # configured, but not (yet) in the running ACD
    skills = show_value(a.get("skills")) if a.get("skills") else ""
    return (f"  {cell(str(a.get('id')), 6)} {cell(a.get('name'), 10)} {cell(state, 7)} {cell(ext or ' ', 5)} "
            f"groups {cell(show_value(a.get('groups') or []), 12)} {cell(skills, 22)}")


def _live_agents(live: dict[str, dict] | None) -> list[Row]:
    """Without the configuration (a supervisor's connection): the running ACD's agents, for the keys."""
    rows = [Row("ACD settings, agents' and queues' forms: the admin role only (config.get)"), Row("")]
    if live is None:
        return [*rows, Row("Agents: the ACD is not available")]
    rows.append(Row(f"Agents ({len(live)})   {AGENT_KEYS_HINT}"))
    for ident, a in live.items():
        rows.append(Row(_agent_line({"id": ident, "name": a.get("name")}, a).rstrip(), agent=ident))
    return rows


def _entries(kind: str, entries: list[dict], line: Callable[[dict], str], add: Field, keys: str = "") -> list[Row]:
    """A list section of the ACD screen: a heading, one row per entry (Enter opens, d deletes), a adds;
    agents' rows also carry the agent for the agent keys (``keys``: their help on the heading)."""
    rows = [Row(""), Row(f"{kind.capitalize()}s ({len(entries)})   Enter opens, a adds, d deletes"
                         + (f"; {keys}" if keys else ""))]
    for e in entries:
        ident = str(e.get(ID_KEYS[kind]))
        rows.append(Row(line(e).rstrip(), open=(kind, ident), add=add,
                        delete=Field(f"{kind}[{ident}]", f"delete {kind} {ident}? (y/n)", "", action="delete"),
                        agent=ident if kind == "agent" else None))
    if not entries:
        rows.append(Row(f"  (none: press a to add {'an' if kind[0] in 'aeiou' else 'a'} {kind})", add=add))
    return rows


def acd_entry(data: dict, kind: str, ident: str) -> dict | None:
    """The ``[[agent]]`` (``kind`` ``"agent"``, by id) or ``[[queue]]`` (by name) ``ident`` of ``data``."""
    return next((e for e in data.get(kind) or [] if str(e.get(ID_KEYS[kind])) == ident), None)


def _entry_form(data: dict, kind: str, ident: str) -> list[Row]:
    entry = acd_entry(data, kind, ident)
    if entry is None:
        return [Row(f"{kind} {ident} is no longer in the configuration   Esc: back")]
    title = f"{'Agent' if kind == 'agent' else 'Queue'} {ident}" + (f" {entry.get('name', '')}" if kind == "agent"
                                                                    else "")
    rows = [Row(f"{title}   Enter edits, Esc back to the list")]
    for key, ftype, item in AGENT_FIELDS if kind == "agent" else QUEUE_FIELDS:
        value = entry.get(key)
        f = Field(f"{kind}[{ident}].{key}", f"{kind} {ident} {key}", value, ftype, item=item,
                  secret=kind == "agent" and key == "pin")
        shown = "*" * len(str(value)) if f.secret and value else show_value(value)
        rows.append(Row(f"  {cell(key, 18)} {shown}", f))
    if kind == "queue":
        rules = entry.get("rule") or entry.get("rules") or []
        rows.append(Row(f"  {cell('rules', 18)} {'; '.join(_rule_text(r) for r in rules) or '(none)'}"
                        "   (edit in the file)"))
    return rows


# --- IVR flows -------------------------------------------------------------------------------------

def _prompt_field(flow: str, name: str, spec: object) -> Field:
    if isinstance(spec, dict) and "file" in spec:
        return Field(f"prompts.{name}.file", f"prompt {name} file (WAV)", spec.get("file"), flow=flow)
    if isinstance(spec, dict):
        return Field(f"prompts.{name}.tts", f"prompt {name} TTS text", spec.get("tts"), flow=flow)
    return Field(f"prompts.{name}", f"prompt {name} TTS text", spec, flow=flow)


def _prompt_text(spec: object) -> str:
    if isinstance(spec, dict):
        return f"(file {spec['file']})" if "file" in spec else str(spec.get("tts", ""))
    return str(spec) if spec is not None else "(missing)"


def ivr_rows(flow: str, data: dict, flows: list[str], open_: tuple[str, str] | None = None) -> list[Row]:
    """One flow file's form: prompts (TTS text), menus (Enter opens: prompt, digit targets, timeouts),
    schedules and holidays, caller black/white lists, screening and transfer targets."""
    nodes = data.get("nodes") or {}
    prompts = data.get("prompts") or {}
    if open_ is not None:
        return _menu(flow, open_[1], nodes.get(open_[1]), prompts)
    others = f"   f: next flow ({len(flows)})" if len(flows) > 1 else ""
    rows = [Row(f"IVR flow {flow}   Enter edits or opens; Tab jumps to the next section{others}"), Row(""),
            Row("Prompts: name and TTS text (or WAV file)")]
    for name, spec in prompts.items():
        rows.append(Row(f"  {cell(name, 14)} {_prompt_text(spec)}", _prompt_field(flow, name, spec)))
    rows += [Row(""), Row("Menus: prompt and digit targets (Enter opens)")]
    for name, node in nodes.items():
        if node.get("kind") == "menu":
            keys = " ".join(f"{k}={v}" for k, v in (node.get("choices") or {}).items())
            prompt = show_value(node.get("prompt"))
            rows.append(Row(f"  {cell(name, 12)} {cell(prompt, 14)} {keys}", open=("menu", name)))
    rows += [Row(""), Row("Schedules and holidays (dates: 2026-10-01 or 2026-10-01..2026-10-07)")]
    for name, spec in (data.get("schedules") or {}).items():
        for key, kind, item in (("timezone", str, str), ("hours", dict, list), ("holidays", list, str),
                                ("workdays", list, str)):
            value = spec.get(key)
            if kind is list and value is not None:
                value = [str(v) for v in value]
            f = Field(f"schedules.{name}.{key}", f"schedule {name} {key}" + (
                " (day=HH:MM-HH:MM,... e.g. mon-fri=09:00-18:00)" if key == "hours" else ""), value, kind, flow,
                item)
            rows.append(Row(f"  {cell(name, 10)} {cell(key, 9)} {show_value(value)}", f))
    rows += [Row(""), Row("Caller lists (black/white): numbers, a trailing * matches a prefix")]
    for name, spec in (data.get("lists") or {}).items():
        nums = spec.get("numbers") or []
        f = Field(f"lists.{name}.numbers", f"list {name} numbers", nums, list, flow)
        rows.append(Row(f"  {cell(name, 12)} {show_value(nums) or '(empty)'}", f))
    screening = [(n, s) for n, s in nodes.items() if s.get("kind") == "callers"]
    if screening:
        rows += [Row(""), Row("Screening (callers nodes)")]
    for name, node in screening:
        for key, choices in (("blacklist", ()), ("blacklist_action", ("warn", "drop")), ("warning", ()),
                             ("whitelist", ()), ("whitelist_to", ())):
            label = f"node {name} {key}" + (f" ({'|'.join(choices)})" if choices else "")
            f = Field(f"nodes.{name}.{key}", label, node.get(key), flow=flow, choices=choices)
            rows.append(Row(f"  {cell(name, 10)} {cell(key, 16)} {show_value(node.get(key))}", f))
    transfers = [(n, s) for n, s in nodes.items() if s.get("kind") == "transfer"]
    if transfers:
        rows += [Row(""), Row("Transfers: where each goes (queue name, extension, voicemail box)")]
    for name, node in transfers:
        f = Field(f"nodes.{name}.target", f"node {name} ({node.get('to')}) target", node.get("target"), flow=flow)
        rows.append(Row(f"  {cell(name, 12)} {cell(node.get('to'), 10)} {show_value(node.get('target'))}", f))
    return rows


def _menu(flow: str, name: str, node: dict | None, prompts: dict) -> list[Row]:
    if node is None:
        return [Row(f"menu {name} is no longer in the flow   Esc: back")]
    rows = [Row(f"Menu {name} of flow {flow}   Enter edits (empty: key removed), Esc back")]
    prompt = as_list(node.get("prompt"))
    rows.append(_row("prompt", Field(f"nodes.{name}.prompt", f"menu {name} prompt (prompt names)", prompt, list,
                                     flow)))
    for p in prompt or []:
        spec = prompts.get(p)
        rows.append(Row(f"  {cell('  ' + p + ':', 18)} {_prompt_text(spec)}", _prompt_field(flow, p, spec)))
    for key, target in (node.get("choices") or {}).items():
        rows.append(_row(f"key {key}", Field(f"nodes.{name}.choices.{key}", f"menu {name} key {key} goes to",
                                             target, flow=flow)))
    rows.append(Row(f"  {cell('add a key', 18)} (Enter: key=node, e.g. 4=complaints)",
                    Field(f"nodes.{name}.choices", f"menu {name} new key (key=node)", None, dict, flow,
                          action="add")))
    for key, kind in (("timeout_s", float), ("retries", int), ("fallback", str), ("on_timeout", str),
                      ("invalid_prompt", list), ("timeout_prompt", list)):
        value = as_list(node.get(key)) if kind is list else node.get(key)
        rows.append(_row(key, Field(f"nodes.{name}.{key}", f"menu {name} {key}", value, kind, flow)))
    return rows
