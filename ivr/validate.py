"""Checking a parsed flow as a whole: references, reachability and loops that never wait for input.

Errors (the flow is rejected, ``FlowError``): a reference to a node, prompt, schedule, caller list
or lookup that does not exist; a prompt file that is missing or not a WAV; a template naming an
unknown reading; a cycle of nodes that can go round without the caller pressing anything (a silent
caller, or a menu's timeout path, would keep the call in the IVR forever).
Warnings (``flow.warnings``): nodes that cannot be reached from the start (or the operator node),
prompts no node uses, an operator key with no operator node.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ivr import say
from ivr.flow import (
    Callers,
    Edge,
    Flow,
    FlowError,
    Issue,
    Lookup,
    Menu,
    Node,
    Play,
    ScheduleBranch,
    template_names,
)

_PROMPT_KEYS = ("prompt", "invalid_prompt", "timeout_prompt", "before", "after", "warning", "wait_prompt")


def _issue(flow: Flow, node: Node | None, message: str, line: int | None = None) -> Issue:
    return Issue(flow.name, node.name if node else None, line if line is not None else node.line if node else None,
                 message, flow.file)


def _check_template(flow: Flow, node: Node | None, where: str, text: str, line: int | None) -> list[Issue]:
    return [_issue(flow, node, f"{where}: {{{name}|{kind}}}: no reading {kind!r} (use one of {', '.join(say.KINDS)})",
                   line)
            for name, kind in template_names(text) if kind and kind not in say.KINDS]


def validate(flow: Flow) -> Flow:
    """Return ``flow`` with its warnings filled in, or raise ``FlowError`` listing every error."""
    warnings: list[Issue] = []
    errors = reference_errors(flow, warnings=warnings)
    if not errors:
        errors += _inputless_loops(flow)
    if errors:
        raise FlowError(errors)
    return dataclasses.replace(flow, warnings=tuple(warnings))


def reference_errors(flow: Flow, known_nodes: set[str] | None = None,
                     warnings: list[Issue] | None = None) -> list[Issue]:
    """Missing nodes, prompts (and their files), schedules, lists and lookups; fills ``warnings``.

    ``known_nodes`` (for a flow whose nodes did not all parse) also counts as existing.
    """
    errors: list[Issue] = []
    if warnings is None:
        warnings = []
    names = set(flow.nodes) | (known_nodes or set())

    for p in flow.prompts.values():
        if p.file:
            path = Path(p.file)
            try:
                with open(path, "rb") as fh:
                    head = fh.read(12)
            except OSError as exc:
                errors.append(_issue(flow, None, f"prompt {p.name!r}: file {path}: {exc.strerror}", p.line))
                continue
            if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                errors.append(_issue(flow, None, f"prompt {p.name!r}: {path} is not a WAV file", p.line))
        if p.tts:
            errors += _check_template(flow, None, f"prompt {p.name!r}", p.tts, p.line)

    if flow.start not in names:
        errors.append(_issue(flow, None, f"start: no node named {flow.start!r}"))
    if flow.operator and flow.operator not in names:
        errors.append(_issue(flow, None, f"operator: no node named {flow.operator!r}"))
    if flow.operator_key and not flow.operator and any(isinstance(n, Menu) and n.operator
                                                       for n in flow.nodes.values()):
        warnings.append(_issue(flow, None, f"operator_key {flow.operator_key!r} is set but there is no operator "
                                           "node: menus will treat it as a wrong key"))
    if flow.say_mode == "fragments":
        if not (flow.fragment_dir and Path(flow.fragment_dir).is_dir()):
            errors.append(_issue(flow, None, f"say_mode = \"fragments\" needs fragment_dir, a directory of WAVs "
                                             f"({flow.fragment_dir!r} is not one)"))
        else:
            missing = [n for n in say.FRAGMENT_NAMES if not (Path(flow.fragment_dir) / f"{n}.wav").is_file()]
            if missing:
                errors.append(_issue(flow, None, f"fragment_dir {flow.fragment_dir} lacks {len(missing)} of the "
                                                 f"say fragments: {', '.join(f'{n}.wav' for n in missing[:8])}"
                                                 + (" ..." if len(missing) > 8 else "")))
    for name in (*flow.invalid_prompt, *flow.timeout_prompt):
        if name not in flow.prompts:
            errors.append(_issue(flow, None, f"no prompt named {name!r} (flow default invalid/timeout prompt)"))

    used_prompts: set[str] = set(flow.invalid_prompt) | set(flow.timeout_prompt)
    for node in flow.nodes.values():
        for e in node.edges():
            if e.target not in names:
                errors.append(_issue(flow, node, f"{e.label}: no node named {e.target!r}", node.line_of(e.label)))
        for name in node.prompts():
            used_prompts.add(name)
            if name not in flow.prompts:
                key = next((k for k in _PROMPT_KEYS if name in (getattr(node, k, None) or ())), "prompt")
                errors.append(_issue(flow, node, f"{key}: no prompt named {name!r}", node.line_of(key)))
        if isinstance(node, ScheduleBranch) and node.schedule not in flow.schedules:
            errors.append(_issue(flow, node, f"schedule: no schedule named {node.schedule!r}", node.line_of("schedule")))
        if isinstance(node, Callers):
            for key, lst in (("blacklist", node.blacklist), ("whitelist", node.whitelist)):
                if lst and lst not in flow.lists:
                    errors.append(_issue(flow, node, f"{key}: no caller list named {lst!r}", node.line_of(key)))
        if isinstance(node, Lookup) and node.lookup not in flow.lookups:
            errors.append(_issue(flow, node, f"lookup: no lookup named {node.lookup!r}", node.line_of("lookup")))
        if isinstance(node, Play) and node.tts:
            errors += _check_template(flow, node, "tts", node.tts, node.line_of("tts"))

    # reachability (warnings)
    roots = [r for r in (flow.start, flow.operator) if r in flow.nodes]
    seen = set(roots)
    todo = list(roots)
    while todo:
        for e in flow.nodes[todo.pop()].edges():
            if e.target in flow.nodes and e.target not in seen:
                seen.add(e.target)
                todo.append(e.target)
    for node in flow.nodes.values():
        if node.name not in seen:
            warnings.append(_issue(flow, node, "cannot be reached from the start node"))
    for p in flow.prompts.values():
        if p.name not in used_prompts:
            warnings.append(_issue(flow, None, f"prompt {p.name!r} is not used by any node", p.line))
    return errors


def _inputless_loops(flow: Flow) -> list[Issue]:
    """Cycles made only of edges taken without caller input, each reported once."""
    graph: dict[str, list[Edge]] = {
        n.name: [e for e in n.edges() if not e.needs_input and e.target in flow.nodes] for n in flow.nodes.values()}
    colour: dict[str, int] = {}  # 1 on the stack, 2 done
    issues: list[Issue] = []
    reported: set[frozenset[str]] = set()

    def visit(start: str) -> None:
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        colour[start] = 1
        while stack:
            name, i = stack[-1]
            edges = graph[name]
            if i == len(edges):
                colour[name] = 2
                stack.pop()
                path.pop()
                continue
            stack[-1] = (name, i + 1)
            target = edges[i].target
            if colour.get(target) == 1:
                cycle = path[path.index(target):]
                key = frozenset(cycle)
                if key not in reported:
                    reported.add(key)
                    node = flow.nodes[target]
                    issues.append(_issue(flow, node, "loop without caller input: " + " -> ".join([*cycle, target])
                                         + " can repeat forever without a key press"))
            elif target not in colour:
                colour[target] = 1
                stack.append((target, 0))
                path.append(target)

    for name in flow.nodes:
        if name not in colour:
            visit(name)
    return issues
